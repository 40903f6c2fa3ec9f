"""Bounded local load test of the duty and qualify endpoints (loopback only; stops by itself).

Starts `usmca serve` on 127.0.0.1 with a throwaway SQLite application database, then drives a mix of
POST /api/v1/duty and POST /api/v1/qualify?record=false from C client threads for the duration (and at most
--max-requests requests). Every --interval seconds it prints throughput, p50/p99 latency per endpoint, errors and
the server's RSS; at the end the totals and the RSS growth from the first to the last interval.
Needs the reference store at $USMCA_HOME.

    .venv/bin/python benchmarks/load_api.py                 # 60 s
    .venv/bin/python benchmarks/load_api.py --minutes 10    # the full soak (issue #9)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ENTRY = {
    "entry_date": "2025-08-15",
    "lines": [
        {
            "id": "L1",
            "hts": "9401.61.4011",
            "country_of_origin": "CA",
            "entered_value": 10000,
            "usmca_claim": False,
            "transport": "ocean",
        },
        {"id": "L2", "hts": "7402.00.0000", "country_of_origin": "MX", "entered_value": 2500, "usmca_claim": True},
    ],
}
CASE = {
    "date": "2026-03-01",
    "good": {
        "description": "copper anode",
        "hts": "7402.00.0000",
        "country_of_production": "US",
        "transaction_value": 100,
    },
    "materials": [
        {"id": "scrap", "hts": "7404.00", "origin": "non_originating", "value": 5},
        {"id": "matte", "hts": "7401.00", "origin": "non_originating", "value": 30},
    ],
}
ENDPOINTS = {"duty": ("/api/v1/duty", ENTRY), "qualify": ("/api/v1/qualify?record=false", CASE)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = {k: [] for k in ENDPOINTS}
        self.all_lat: dict[str, list[float]] = {k: [] for k in ENDPOINTS}
        self.errors: dict[str, int] = {k: 0 for k in ENDPOINTS}
        self.first_error: str | None = None
        self.count = 0

    def add(self, name: str, secs: float, ok: bool, why: str = "") -> None:
        with self.lock:
            self.count += 1
            if ok:
                self.lat[name].append(secs)
                self.all_lat[name].append(secs)
            else:
                self.errors[name] += 1
                self.first_error = self.first_error or why

    def take(self) -> dict[str, list[float]]:
        with self.lock:
            out, self.lat = self.lat, {k: [] for k in ENDPOINTS}
            return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--minutes", type=float, default=None, help="overrides --seconds")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-requests", type=int, default=2_000_000)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    duration = args.minutes * 60 if args.minutes else args.seconds

    port = free_port()
    base = f"http://127.0.0.1:{port}"  # loopback only, by construction
    tmp = Path(tempfile.mkdtemp(prefix="usmca-load-"))
    env = {**os.environ, "USMCA_DB": f"sqlite:///{tmp / 'app.sqlite'}"}
    exe = Path(sys.executable).with_name("usmca")
    server = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        t_up = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > t_up:
                err = server.stderr.read().decode()[-2000:] if server.stderr else ""
                print(f"server did not start: {err}")
                return 2
            time.sleep(0.2)
        for name, (path, body) in ENDPOINTS.items():  # fail fast on a broken endpoint
            r = httpx.post(base + path, json=body, timeout=30)
            if r.status_code != 200:
                print(f"{name}: HTTP {r.status_code} {r.text[:300]}")
                return 2

        stats = Stats()
        stop = threading.Event()
        end = time.monotonic() + duration

        def client(i: int) -> None:
            names = list(ENDPOINTS)
            n = i
            with httpx.Client(base_url=base, timeout=30) as c:
                while not stop.is_set() and time.monotonic() < end and stats.count < args.max_requests:
                    name = names[n % len(names)]
                    n += 1
                    path, body = ENDPOINTS[name]
                    t = time.perf_counter()
                    try:
                        r = c.post(path, json=body)
                        ok, why = r.status_code == 200, f"HTTP {r.status_code} {r.text[:200]}"
                    except httpx.HTTPError as exc:
                        ok, why = False, repr(exc)
                    stats.add(name, time.perf_counter() - t, ok, why)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.concurrency)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        rss: list[float] = []
        print(f"load test: {duration:.0f} s, {args.concurrency} clients, {base} (duty + qualify, record=false)")
        print(
            f"{'t(s)':>6} {'req/s':>7} {'duty p50':>9} {'duty p99':>9} {'qual p50':>9} {'qual p99':>9} "
            f"{'errors':>6} {'RSS MiB':>8}"
        )
        last = t0
        while any(t.is_alive() for t in threads):
            time.sleep(min(args.interval, max(0.05, end - time.monotonic() + 0.05)))
            now = time.monotonic()
            win = stats.take()
            n = sum(len(v) for v in win.values())
            rss.append(rss_mb(server.pid))
            print(
                f"{now - t0:6.0f} {n / (now - last):7.0f} {pct(win['duty'], 0.5):9.1f} {pct(win['duty'], 0.99):9.1f} "
                f"{pct(win['qualify'], 0.5):9.1f} {pct(win['qualify'], 0.99):9.1f} "
                f"{sum(stats.errors.values()):6d} {rss[-1]:8.1f}",
                flush=True,
            )
            last = now
        stop.set()
        total = time.monotonic() - t0
        ok_n = sum(len(v) for v in stats.all_lat.values())
        print(
            f"\ntotal: {stats.count} requests in {total:.1f} s = {stats.count / total:.0f} req/s; "
            f"ok {ok_n}, errors {sum(stats.errors.values())}"
        )
        for name, xs in stats.all_lat.items():
            print(
                f"  {name:8} n={len(xs):7d}  p50 {pct(xs, 0.5):6.1f} ms  p99 {pct(xs, 0.99):6.1f} ms  "
                f"errors {stats.errors[name]}"
            )
        if rss:
            print(
                f"  server RSS: first {rss[0]:.1f} MiB, last {rss[-1]:.1f} MiB, max {max(rss):.1f} MiB, "
                f"growth {rss[-1] - rss[0]:+.1f} MiB"
            )
        if stats.first_error:
            print(f"  first error: {stats.first_error}")
        return 1 if sum(stats.errors.values()) else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
