"""Bounded local load test of the duty and qualify endpoints (loopback only; stops by itself).

Starts `usmca serve` on 127.0.0.1 with a throwaway SQLite application database, checks one duty and one qualify
answer, warms the server up, then runs consecutive intervals (--interval s) for the duration (--seconds, or
--minutes; at most one hour, and it stops after the interval in which --max-requests is reached). In each interval
two load generators run at once, one on POST /api/v1/duty and one on POST /api/v1/qualify?record=false, each with
half of --concurrency connections. Per interval it prints requests per endpoint, total req/s, p50/p99 per endpoint,
errors (socket errors + non-2xx answers) and the server's RSS (server process and its children); at the end the
totals, the worst interval p99 per endpoint, RSS first/last/max, the RSS growth from the first to the last third of
the run (median of each), and a verdict for the issue-7 target and for "no memory growth".
Exit status 1 on any error or on memory growth beyond --max-growth-pct / --max-growth-mib; 2 if the server does
not start or answers wrongly before the load.

The load generator is `wrk` (C; Debian package `wrk`) with benchmarks/load_api.lua when it is installed: on 2
cores a Python client takes most of a core and caps the run near 600 req/s. `--client python` (httpx in threads)
is kept for machines without wrk; its figures understate the server.
Needs the reference store at $USMCA_HOME.

    .venv/bin/python benchmarks/load_api.py                             # 60 s check
    .venv/bin/python benchmarks/load_api.py --minutes 10                # the soak (issue #9)
    .venv/bin/python benchmarks/load_api.py --seconds 60 --interval 15 --client python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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
HOST = "127.0.0.1"  # loopback only, by construction: no option changes it
LUA = Path(__file__).with_name("load_api.lua")
MAX_SECONDS = 3600  # the longest run this tool will do
WRK_TIMEOUT_S = 2  # wrk counts an answer slower than this as a timeout error
TARGET_RPS, TARGET_P99_MS = 1000.0, 50.0  # issue #7, on 2 cores


@dataclass(frozen=True)
class Window:
    """One endpoint over one interval."""

    requests: int
    seconds: float
    p50: float  # ms
    p99: float  # ms
    max: float  # ms
    socket_errors: int  # connect, read, write, timeout
    non2xx: int
    first_error: str = ""

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants (uvicorn workers and their helpers), from /proc children lists."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass  # gone meanwhile
    return out


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of the server and its children, in MiB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class RssSampler(threading.Thread):
    """Samples the server's RSS once a second for the growth check (interval-end samples alone are too few)."""

    def __init__(self, pid: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.t0 = pid, t0
        self.samples: list[tuple[float, float]] = []  # (seconds since t0, MiB)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.monotonic() - self.t0, rss_mb(self.pid)))
            self.halt.wait(1.0)


# --- wrk client --------------------------------------------------------------------------------------------------


def parse_wrk(name: str, out: str, err: str) -> Window:
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if m is None:
        raise RuntimeError(f"wrk on {name} gave no result:\n{out[-1500:]}\n{err[-1500:]}")
    v = {k: float(x) for k, x in (kv.split("=", 1) for kv in m.group(1).split())}
    bad = re.search(r"^FIRST_BAD (.*)$", out, re.M)
    sock = int(v["connect"] + v["read"] + v["write"] + v["timeout"])
    # summary.errors.status (>= 400) is a subset of the script's non-2xx count: use the latter, not both
    return Window(
        requests=int(v["requests"]),
        seconds=v["seconds"],
        p50=v["p50"],
        p99=v["p99"],
        max=v["max"],
        socket_errors=sock,
        non2xx=int(max(v["non2xx"], v["status"])),
        first_error=f"HTTP {bad.group(1)}" if bad else ("socket errors: " + m.group(1) if sock else ""),
    )


def wrk_interval(base: str, seconds: int, conns_each: int) -> dict[str, Window]:
    """Both endpoints at once, one wrk process (one thread) each, for `seconds` (wrk's -d, whole seconds)."""
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, (path, body) in ENDPOINTS.items():
            cmd = [
                "wrk", "-t1", f"-c{conns_each}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT_S}s",
                "-s", str(LUA), base + path, "--", json.dumps(body),
            ]  # fmt: skip
            procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        res = {}
        for name, p in procs.items():
            out, err = p.communicate(timeout=seconds + 30)  # wrk stops at -d; this bounds a stuck one
            if p.returncode != 0:
                raise RuntimeError(f"wrk on {name} exited {p.returncode}: {err[-1500:]}")
            res[name] = parse_wrk(name, out, err)
        return res
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


# --- Python client -----------------------------------------------------------------------------------------------


def pct_ms(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


def python_interval(base: str, seconds: int, concurrency: int) -> dict[str, Window]:
    """httpx in threads, each alternating between the endpoints, for `seconds`."""
    lock = threading.Lock()
    lat: dict[str, list[float]] = {k: [] for k in ENDPOINTS}
    sock = dict.fromkeys(ENDPOINTS, 0)
    non2xx = dict.fromkeys(ENDPOINTS, 0)
    first: dict[str, str] = {}
    end = time.monotonic() + seconds

    def client(i: int) -> None:
        names = list(ENDPOINTS)
        n = i
        with httpx.Client(base_url=base, timeout=WRK_TIMEOUT_S) as c:
            while time.monotonic() < end:
                name = names[n % len(names)]
                n += 1
                path, body = ENDPOINTS[name]
                t = time.perf_counter()
                try:
                    r = c.post(path, json=body)
                    secs = time.perf_counter() - t
                    with lock:
                        lat[name].append(secs)
                        if not 200 <= r.status_code < 300:
                            non2xx[name] += 1
                            first.setdefault(name, f"HTTP {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    with lock:
                        sock[name] += 1
                        first.setdefault(name, repr(exc))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    wall = time.monotonic() - t0
    return {
        k: Window(len(lat[k]), wall, pct_ms(lat[k], 0.5), pct_ms(lat[k], 0.99), pct_ms(lat[k], 1.0), sock[k],
                  non2xx[k], first.get(k, ""))
        for k in ENDPOINTS
    }  # fmt: skip


# --- server ------------------------------------------------------------------------------------------------------


def check_answers(base: str) -> str | None:
    """One duty and one qualify answer must be right before any load: else the load measures error pages."""
    r = httpx.post(base + ENDPOINTS["duty"][0], json=ENTRY, timeout=30)
    if r.status_code != 200:
        return f"duty: HTTP {r.status_code} {r.text[:300]}"
    lines = r.json().get("lines") or []
    if len(lines) != len(ENTRY["lines"]) or any(
        ln.get("status") == "unresolved" or ln.get("total_duty") is None for ln in lines
    ):
        return f"duty: not a resolved quote for every line: {r.text[:500]}"
    r = httpx.post(base + ENDPOINTS["qualify"][0], json=CASE, timeout=30)
    if r.status_code != 200:
        return f"qualify: HTTP {r.status_code} {r.text[:300]}"
    out = r.json()
    status = (out.get("determination") or {}).get("status")
    if status not in ("originating", "non_originating") or out.get("record") is not None:
        return f"qualify: not a determination without a record: {r.text[:500]}"
    return None


def server_log_errors(path: Path) -> list[str]:
    """Tracebacks and ERROR lines the server wrote to stderr (a 5xx shows up there as well as in the counts)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.startswith("ERROR") or ln.startswith("Traceback")]


def median_in(samples: list[tuple[float, float]], lo: float, hi: float) -> float:
    xs = [mib for t, mib in samples if lo <= t <= hi]
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60, help="run length (default 60)")
    ap.add_argument("--minutes", type=float, default=None, help="run length in minutes; overrides --seconds")
    ap.add_argument("--interval", type=int, default=30, help="seconds per reporting interval (default 30)")
    ap.add_argument("--concurrency", type=int, default=16, help="connections in all, half per endpoint")
    ap.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring (default 5; 0: none)")
    ap.add_argument("--max-requests", type=int, default=5_000_000, help="stop after the interval reaching this")
    ap.add_argument("--max-growth-pct", type=float, default=5.0, help="RSS growth limit, percent (default 5)")
    ap.add_argument("--max-growth-mib", type=float, default=20.0, help="RSS growth limit, MiB (default 20)")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    ap.add_argument("--no-access-log", action="store_true", help="start the server with --no-access-log")
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="default: wrk if installed")
    args = ap.parse_args()
    duration = round(args.minutes * 60) if args.minutes is not None else args.seconds
    if not 1 <= duration <= MAX_SECONDS:
        ap.error(f"the run must last 1 to {MAX_SECONDS} seconds, not {duration}")
    if not 1 <= args.interval <= duration:
        ap.error(f"--interval must be 1 to {duration} seconds (the run), not {args.interval}")
    if args.concurrency < 2:
        ap.error(f"--concurrency must be at least 2 (one connection per endpoint), not {args.concurrency}")
    if not 0 <= args.warmup <= 60:
        ap.error(f"--warmup must be 0 to 60 seconds, not {args.warmup}")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        ap.error("--client wrk: wrk is not installed (Debian: apt-get install wrk)")
    conns_each = args.concurrency // 2
    run_interval: Callable[[str, int], dict[str, Window]]
    if client == "wrk":
        run_interval = lambda base, s: wrk_interval(base, s, conns_each)  # noqa: E731
        load_desc = f"wrk, {conns_each} connections per endpoint (2 processes, 1 thread each)"
    else:
        run_interval = lambda base, s: python_interval(base, s, args.concurrency)  # noqa: E731
        load_desc = f"httpx, {args.concurrency} threads alternating between the endpoints"

    port = free_port()
    base = f"http://{HOST}:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="usmca-load-"))
    env = {**os.environ, "USMCA_DB": f"sqlite:///{tmp / 'app.sqlite'}"}
    exe = Path(sys.executable).with_name("usmca")
    serve = [str(exe), "serve", "--host", HOST, "--port", str(port), "--workers", str(args.workers)]
    if args.no_access_log:
        serve.append("--no-access-log")
    err_log = tmp / "server.err"
    err_file = err_log.open("wb")
    # stdout carries the access log (kept on by default, as deployed, so its cost is measured); nobody reads it
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
    try:
        t_up = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > t_up:
                print(f"server did not start: {err_log.read_text(errors='replace')[-2000:]}")
                return 2
            time.sleep(0.2)
        problem = check_answers(base)
        if problem:
            print(problem)
            return 2

        print(f"server: usmca {' '.join(serve[1:])}")
        print(f"load:   {load_desc}; {duration} s in {args.interval} s intervals, duty + qualify (record=false)")
        if args.warmup:
            w = run_interval(base, args.warmup)
            print(f"warm-up {args.warmup} s (not counted): " + ", ".join(f"{k} {v.requests}" for k, v in w.items())
                  + f" requests, {sum(v.errors for v in w.values())} errors, RSS {rss_mb(server.pid):.1f} MiB")
        print(
            f"{'t(s)':>5} {'duty n':>8} {'qual n':>8} {'req/s':>6} {'duty p50':>8} {'duty p99':>8} "
            f"{'qual p50':>8} {'qual p99':>8} {'errors':>6} {'RSS MiB':>8}"
        )
        t0 = time.monotonic()
        sampler = RssSampler(server.pid, t0)
        sampler.start()
        windows: list[dict[str, Window]] = []
        rss_ends: list[float] = []
        stopped = ""
        while (left := duration - round(time.monotonic() - t0)) > 0:
            w = run_interval(base, min(args.interval, left))
            windows.append(w)
            rss_ends.append(rss_mb(server.pid))
            n = {k: v.requests for k, v in w.items()}
            rps = sum(v.requests / v.seconds for v in w.values() if v.seconds > 0)
            print(
                f"{time.monotonic() - t0:5.0f} {n['duty']:8d} {n['qualify']:8d} {rps:6.0f} "
                f"{w['duty'].p50:8.1f} {w['duty'].p99:8.1f} {w['qualify'].p50:8.1f} {w['qualify'].p99:8.1f} "
                f"{sum(v.errors for v in w.values()):6d} {rss_ends[-1]:8.1f}",
                flush=True,
            )
            if server.poll() is not None:
                stopped = f"the server exited with status {server.returncode}"
                break
            if sum(v.requests for win in windows for v in win.values()) >= args.max_requests:
                stopped = f"--max-requests {args.max_requests} reached"
                break
        wall = time.monotonic() - t0
        sampler.halt.set()
        sampler.join()
        log_errors = server_log_errors(err_log)

        per = {k: sum(win[k].requests for win in windows) for k in ENDPOINTS}
        total = sum(per.values())
        rps = total / wall
        worst = {k: max(win[k].p99 for win in windows) for k in ENDPOINTS}
        sock = sum(win[k].socket_errors for win in windows for k in ENDPOINTS)
        non2xx = sum(win[k].non2xx for win in windows for k in ENDPOINTS)
        errors = sock + non2xx + len(log_errors)
        samples = [*sampler.samples, (wall, rss_ends[-1])]
        mibs = [m for _, m in samples]
        first3 = median_in(samples, 0, wall / 3)
        last3 = median_in(samples, 2 * wall / 3, wall)
        if first3 != first3 or last3 != last3:  # NaN: a run too short for a sample in each third
            first3, last3 = mibs[0], mibs[-1]
        growth = last3 - first3
        growth_pct = 100 * growth / first3
        grew = not (growth < args.max_growth_mib and growth_pct < args.max_growth_pct)
        met = rps >= TARGET_RPS and max(worst.values()) <= TARGET_P99_MS and errors == 0

        print()
        if stopped:
            print(f"stopped early: {stopped}")
        print(f"total: {total} requests in {wall:.1f} s = {rps:.0f} req/s "
              f"(duty {per['duty']}, qualify {per['qualify']}; client {client}, server workers {args.workers}, "
              f"access log {'off' if args.no_access_log else 'on'})")
        print("worst interval p99: " + ", ".join(f"{k} {worst[k]:.1f} ms" for k in ENDPOINTS)
              + "; max latency: " + ", ".join(f"{k} {max(win[k].max for win in windows):.1f} ms" for k in ENDPOINTS))
        print(f"errors: {errors} (socket {sock}, non-2xx {non2xx}, server log {len(log_errors)})")
        for k in ENDPOINTS:
            first_err = next((win[k].first_error for win in windows if win[k].first_error), "")
            if first_err:
                print(f"  first {k} error: {first_err}")
        for ln in log_errors[:3]:
            print(f"  server log: {ln[:300]}")
        print(f"server RSS: first {mibs[0]:.1f} MiB, last {mibs[-1]:.1f} MiB, max {max(mibs):.1f} MiB "
              f"({len(samples)} samples, 1/s); median first third {first3:.1f} MiB, last third {last3:.1f} MiB: "
              f"growth {growth:+.1f} MiB ({growth_pct:+.1f} %)")
        print(f"target (#7: >= {TARGET_RPS:,.0f} req/s, worst interval p99 <= {TARGET_P99_MS:.0f} ms per endpoint, "
              f"no errors): {'met' if met else 'NOT met'}")
        print(f"memory (growth < {args.max_growth_pct:g} % and < {args.max_growth_mib:g} MiB, last third vs first "
              f"third): {'GROWTH' if grew else 'no growth'}")
        return 1 if errors or grew else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        err_file.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
