"""Duty-quote endpoint under a bounded local load (loopback only).

Starts `usmca serve` on 127.0.0.1 with a throwaway SQLite database, checks one answer, then drives
POST /api/v1/duty over C keep-alive connections for D seconds (and at most N requests), and prints
throughput, p50/p90/p99 latency and error count. Needs the reference store at $USMCA_HOME.

The load generator is `wrk` (C; Debian package `wrk`) when it is installed: on 2 cores the client competes
with the server for CPU, and a Python client (httpx in threads) saturated near 350 req/s, measuring itself
rather than the server. Without wrk, or with ``--client python``, a lean asyncio client (raw HTTP/1.1 over
keep-alive sockets) is used; it still takes about a core, so its figures understate the server.

    .venv/bin/python benchmarks/bench_app.py [--seconds 10] [--concurrency 16] [--max-requests 100000]
        [--workers 1] [--no-access-log] [--client wrk|python]

Target (issue #7): >= 1,000 requests/s at p99 <= 50 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
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
        }
    ],
}
PATH = "/api/v1/duty"

# wrk (one thread) stops after --max-requests answers (wrk.thread:stop) and prints one parsable line.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %(body)s
local budget = %(budget)d
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= budget then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%%d seconds=%%.3f p50=%%.3f p90=%%.3f p99=%%.3f max=%%.3f errors=%%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_wrk(port: int, seconds: float, conns: int, max_requests: int, tmp: Path) -> dict[str, float]:
    script = tmp / "duty.lua"
    script.write_text(
        WRK_SCRIPT % {"body": json.dumps(json.dumps(ENTRY)), "budget": max(1, max_requests)}  # one wrk thread
    )
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script),
           f"http://127.0.0.1:{port}{PATH}"]
    print("load generator:", " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if m is None:
        raise SystemExit(f"wrk gave no result:\n{out}")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


async def _python_load(port: int, seconds: float, conns: int, max_requests: int) -> dict[str, float]:
    body = json.dumps(ENTRY).encode()
    req = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    lat: list[float] = []
    errors = 0
    budget = [max_requests]
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop_at and budget[0] > 0:
                budget[0] -= 1
                t0 = time.perf_counter()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                await reader.readexactly(int(m.group(1)) if m else 0)
                lat.append(time.perf_counter() - t0)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        finally:
            writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(conns)))
    wall = time.monotonic() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {"requests": len(lat), "seconds": wall, "p50": q[49] * 1000, "p90": q[89] * 1000,
            "p99": q[98] * 1000, "max": lat[-1] * 1000, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-access-log", action="store_true", help="start the server with --no-access-log")
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    args = ap.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"

    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="usmca-bench-"))
    env = {**os.environ, "USMCA_DB": f"sqlite:///{tmp / 'app.sqlite'}", "USMCA_SECRET": "bench"}
    exe = Path(sys.executable).with_name("usmca")
    serve = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    if args.no_access_log:
        serve.append("--no-access-log")
    print("server:", " ".join(serve[1:]))
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{PATH}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.post(url, json=ENTRY, timeout=30)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"server did not start; see {tmp / 'server.log'}")
            time.sleep(0.3)
        answer = r.json()
        line = answer["lines"][0]
        if line.get("status") == "unresolved" or line.get("total_duty") is None:
            raise SystemExit(f"the quote under load is not a resolved duty: {line}")
        with httpx.Client(timeout=30) as c:  # warm every engine cache and connection
            for _ in range(50):
                c.post(url, json=ENTRY)

        if client == "wrk":
            res = run_wrk(port, args.seconds, args.concurrency, args.max_requests, tmp)
        else:
            print(f"load generator: asyncio raw HTTP/1.1 client, {args.concurrency} connections")
            res = asyncio.run(_python_load(port, args.seconds, args.concurrency, args.max_requests))
        if client == "wrk" and res["requests"] >= args.max_requests:
            # wrk's clock runs for the whole -d even after the budget stopped the load: no throughput then.
            raise SystemExit(f"the budget of {args.max_requests} requests ran out before {args.seconds} s: "
                             "throughput not measured; raise --max-requests or lower --seconds")
        rps = res["requests"] / res["seconds"]
        print(f"requests {int(res['requests'])} in {res['seconds']:.1f} s = {rps:.0f} req/s "
              f"(concurrency {args.concurrency}, server workers {args.workers}, client {client}, "
              f"access log {'off' if args.no_access_log else 'on'})")
        print(f"latency p50 {res['p50']:.1f} ms  p90 {res['p90']:.1f} ms  p99 {res['p99']:.1f} ms  "
              f"max {res['max']:.1f} ms")
        print(f"errors {int(res['errors'])}")
        ok = rps >= 1000 and res["p99"] <= 50 and res["errors"] == 0
        print(f"target (>= 1,000 req/s at p99 <= 50 ms, no errors): {'met' if ok else 'NOT met'}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
