"""The worker process ``serve`` starts: the job worker and the alert ingester, beside the
web server rather than inside it.

The web server then only answers requests and stores alerts; ingesting them (routing,
incidents) and running jobs (events, pages, timers) happen in this child, which runs at a
lower CPU priority: when both are busy (an alert storm), the kernel gives the server most
of the CPU, so every alert is accepted quickly and durably, and the child catches up; when
the server is idle, the child has the CPU to itself. The server tells the child through a
pipe whenever it stored alerts; when the server is gone, even killed, the child sees the
pipe close and ends. A child that dies is started again after a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading

logger = logging.getLogger("warroom")
NICE = 5  # the child's CPU priority below the server's (weights 1024 : 335)
RESTART_SECONDS = 1.0
STOP_SECONDS = 10.0


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._stopping = threading.Event()
        self._process = self._spawn()
        threading.Thread(target=self._supervise, name="warroom-supervise", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "warroom", "worker"]
        argv += ["--wake-fd", str(self._read), "--nice", str(NICE)]
        return subprocess.Popen(argv, env=self._env, pass_fds=(self._read,))

    def poke(self) -> None:
        """Alerts were stored: ingest them."""
        with contextlib.suppress(BlockingIOError):  # full: the child has plenty to read
            os.write(self._write, b"!")

    def _supervise(self) -> None:
        while True:
            code = self._process.wait()
            if self._stopping.wait(RESTART_SECONDS):
                return
            logger.error("the worker process ended (exit code %s); starting it again", code)
            self._process = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        self._process.terminate()
        try:
            self._process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._write)
        os.close(self._read)
