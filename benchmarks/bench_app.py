"""Duty-quote endpoint under a bounded local load (loopback only).

Starts `usmca serve` on 127.0.0.1 with a throwaway SQLite database, then drives POST /api/v1/duty from
C concurrent client threads for D seconds (and at most N requests), and prints throughput, p50/p90/p99
latency and error count. Needs the reference store at $USMCA_HOME.

    .venv/bin/python benchmarks/bench_app.py [--seconds 10] [--concurrency 8] [--max-requests 50000]

Target (issue #7): >= 1,000 requests/s at p99 <= 50 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ENTRY = {"entry_date": "2025-08-15", "lines": [{"id": "L1", "hts": "9401.61.4011", "country_of_origin": "CA",
                                                "entered_value": 10000, "usmca_claim": False,
                                                "transport": "ocean"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-requests", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="usmca-bench-"))
    env = {**os.environ, "USMCA_DB": f"sqlite:///{tmp / 'app.sqlite'}", "USMCA_SECRET": "bench"}
    exe = Path(sys.executable).with_name("usmca")
    server = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1/duty"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(url, json=ENTRY, timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        for _ in range(20):  # warm every engine cache
            httpx.post(url, json=ENTRY, timeout=30)

        lat: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        budget = [args.max_requests]

        def client() -> None:
            nonlocal errors
            with httpx.Client(timeout=30) as c:
                while time.monotonic() < stop_at:
                    with lock:
                        if budget[0] <= 0:
                            return
                        budget[0] -= 1
                    t0 = time.perf_counter()
                    try:
                        ok = c.post(url, json=ENTRY).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    dt_ = time.perf_counter() - t0
                    with lock:
                        lat.append(dt_)
                        errors += 0 if ok else 1

        t0 = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        lat.sort()
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
        print(f"requests {len(lat)} in {wall:.1f} s = {len(lat) / wall:.0f} req/s "
              f"(concurrency {args.concurrency}, server workers {args.workers})")
        print(f"latency p50 {q[49] * 1000:.1f} ms  p90 {q[89] * 1000:.1f} ms  p99 {q[98] * 1000:.1f} ms  "
              f"max {lat[-1] * 1000:.1f} ms")
        print(f"errors {errors}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
