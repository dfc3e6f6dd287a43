"""Server processes: start them pinned and in their own process group, observe, stop them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies, even if the benchmark is killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def proc_status(pid: int, field_name: str) -> int:
    """A kB field of /proc/PID/status (VmHWM, VmRSS), in bytes; 0 if unreadable."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) of each thread of the process, by thread id."""
    used = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            used[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def cpus_busy(cpus: set[int]) -> float:
    """Seconds the given CPUs spent not idle, by anything (from /proc/stat)."""
    total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(v) for v in values]
                total += sum(ticks[:8]) - ticks[3] - ticks[4]  # all but idle and iowait
    return total / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
    return pids


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:port (for a warroom we did not start)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                for fd in (entry / "fd").iterdir():
                    if os.readlink(fd) in inodes:
                        return int(entry.name)
    return None


class Server:
    """A server process of ours, in its own process group, pinned to the server CPUs."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cpus: set[int], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")

        def setup() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)
            die_with_parent()

        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=setup,
        )
        self.pid = self.proc.pid

    def pids(self) -> list[int]:
        return group_pids(self.pid) or [self.pid]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # children left in the group (a server that forks workers)
        for pid in group_pids(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None
        self._log.close()


@dataclass
class Watched:
    """What the benchmark can observe of a server: its processes, maybe not ours."""

    name: str
    pids: Callable[[], list[int]]

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def peak_rss(self) -> int:
        return sum(proc_status(pid, "VmHWM") for pid in self.pids())

    def settle(self, cpus: set[int], limit: float = 15.0, idle_share: float = 0.05) -> float:
        """Wait until the server's CPUs (or, unpinned, the server) are under `idle_share` busy
        for 0.5 s, at most `limit` seconds: the server has calmed down and nothing else runs
        there. Returns the seconds waited."""

        def used() -> float:
            return cpus_busy(cpus) / len(cpus) if cpus else self.cpu()

        began = time.monotonic()
        before = used()
        while time.monotonic() - began < limit:
            time.sleep(0.5)
            now = used()
            if now - before < idle_share * 0.5:
                break
            before = now
        return time.monotonic() - began
