"""Core API benchmark: a real `warroom serve` on 127.0.0.1, bounded load, printed figures.

make bench                       # SQLite in a temporary directory
BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench make bench
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import free_port, percentile

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))


def run(label: str, client_call: object, count: int) -> list[object]:
    latencies: list[float] = []
    results: list[object] = []

    def one(i: int) -> object:
        started = time.perf_counter()
        result = client_call(i)  # type: ignore[operator]
        latencies.append((time.perf_counter() - started) * 1000)
        return result

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - began
    print(
        f"{label:<28} {count / elapsed:8.1f} req/s   p50 {statistics.median(latencies):6.1f} ms"
        f"   p99 {percentile(latencies, 0.99):6.1f} ms   ({count} requests, "
        f"{CONCURRENCY} clients)"
    )
    return results


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{data_dir / 'bench.db'}")
    port = free_port()
    env = dict(os.environ, WARROOM_DATABASE_URL=url, WARROOM_DATA_DIR=str(data_dir))
    warroom = [sys.executable, "-m", "warroom"]
    subprocess.run([*warroom, "db", "upgrade"], env=env, check=True, capture_output=True)
    token = subprocess.run(
        [*warroom, "token", "create", "--name", f"bench-{port}", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    server = subprocess.Popen(
        [*warroom, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        print(f"warroom core benchmark on {url.split('://')[0]}")
        with httpx.Client(
            base_url=base,
            headers=headers,
            timeout=60,
            limits=httpx.Limits(max_connections=CONCURRENCY),
        ) as client:
            ids = run(
                "POST /incidents (P1)",
                lambda i: client.post(
                    "/api/v1/incidents", json={"title": f"bench {i}", "severity": "P1"}
                ).json()["id"],
                REQUESTS,
            )
            run(
                "GET /incidents/{id}",
                lambda i: client.get(f"/api/v1/incidents/{ids[i % len(ids)]}").raise_for_status(),
                REQUESTS,
            )
            run(
                "POST /incidents/{id}/acknowledge",
                lambda i: client.post(f"/api/v1/incidents/{ids[i]}/acknowledge").raise_for_status(),
                REQUESTS,
            )
            run(
                "GET /incidents?limit=50",
                lambda i: client.get("/api/v1/incidents", params={"limit": 50}).raise_for_status(),
                REQUESTS // 4,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
