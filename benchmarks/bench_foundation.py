"""Foundation speed figures: store build, point lookup, search, CLI cold start.

Run after `usmca data sync` (it reads the synced sources of $USMCA_HOME and builds a scratch store beside the
real one, which it does not touch):

    .venv/bin/python benchmarks/bench_foundation.py [--skip-build] [--queries 1000]

Targets (issue #2): build of all revisions <= 90 s on 2 cores; point lookup median <= 1 ms in-process;
search p95 <= 20 ms over 1,000 queries; `usmca --help` cold start <= 0.5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def _verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "OVER TARGET"


def bench_build(out: Path) -> Path:
    from usmca.data.build import build_store

    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), _cpu_seconds()
    report = build_store(out=out, only=("schedule",))
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    figs = report["steps"]["schedule"]
    print(
        f"build (schedule step, {figs['revisions']} revisions, {figs['source_rows']:,} source rows -> "
        f"{figs['line_versions']:,} line versions): {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"[target <= 90 s wall on 2 cores: {_verdict(wall, 90)}] (load average at start {load:.1f}, "
        f"{os.cpu_count()} cores)"
    )
    return out


def bench_lookup(store: Path, n: int = 2000) -> None:
    from usmca.nomenclature import schedule
    from usmca.store import open_store

    conn = open_store(store)
    revs = schedule.revisions(conn)
    rng = random.Random(2)
    rows = conn.execute("SELECT code, valid_from, coalesce(valid_to, '2026-06-08') FROM hts_line").fetchall()
    sample = rng.sample(rows, n)
    asks = []
    for code, a, b in sample:
        d0, d1 = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        day = d0 + dt.timedelta(days=rng.randrange(max(1, (d1 - d0).days)))
        asks.append((code, day))
    schedule.lookup(asks[0][0], asks[0][1], conn)  # warm the revision cache
    times = []
    for code, day in asks:
        t = time.perf_counter()
        schedule.lookup(code, day, conn)
        times.append((time.perf_counter() - t) * 1000)
    med = statistics.median(times)
    print(
        f"point lookup (in-process, {n} random code/date pairs over {len(revs)} revisions): "
        f"median {med:.3f} ms, "
        f"p95 {_pct(times, 95):.3f} ms [target median <= 1 ms: {_verdict(med, 1.0)}]"
    )


def bench_search(store: Path, n: int) -> None:
    from usmca.nomenclature import schedule
    from usmca.store import open_store

    conn = open_store(store)
    rng = random.Random(7)
    descs = [r[0] for r in conn.execute("SELECT description FROM hts_fts")]
    words = [
        w
        for d in rng.sample(descs, 3000)
        for w in d.lower().replace(",", " ").split()
        if w.isalpha() and len(w) > 3
    ]
    revs = schedule.revisions(conn)
    queries = []
    for _ in range(n):
        k = rng.choice((1, 1, 2, 2, 3))
        day = revs[rng.randrange(len(revs))].effective_date
        queries.append((" ".join(rng.sample(words, k)), day))
    times, hits = [], 0
    for q, day in queries:
        t = time.perf_counter()
        res = schedule.search(q, day, limit=20, conn=conn)
        times.append((time.perf_counter() - t) * 1000)
        hits += bool(res.hits)
    p95 = _pct(times, 95)
    print(
        f"search ({n} queries of 1-3 words, limit 20, {hits} with hits): "
        f"median {statistics.median(times):.2f} ms, "
        f"p95 {p95:.2f} ms, max {max(times):.1f} ms [target p95 <= 20 ms: {_verdict(p95, 20)}]"
    )


def bench_cli(runs: int = 10) -> None:
    exe = Path(sys.executable).with_name("usmca")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "usmca.cli", "--help"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(
        f"CLI cold start (`usmca --help`, {runs} runs): median {med:.3f} s, min {min(times):.3f} s "
        f"[target <= 0.5 s: {_verdict(med, 0.5)}]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-build", action="store_true", help="use the current store instead of building one")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    from usmca.config import store_path

    if args.skip_build:
        store = store_path()
        bench_lookup(store)
        bench_search(store, args.queries)
    else:
        with tempfile.TemporaryDirectory(
            dir=store_path().parent if store_path().parent.exists() else None
        ) as d:
            store = bench_build(Path(d) / "bench.sqlite")
            bench_lookup(store)
            bench_search(store, args.queries)
    bench_cli()


if __name__ == "__main__":
    main()
