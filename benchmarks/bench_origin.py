"""One origin determination of a 50-line bill, in-process (target: median <= 2 ms).

Uses the reference store at $USMCA_HOME (real corpus, general provisions, Part 6, schedule checks) for a
furniture good of 9403.60 whose rule has two branches (a chapter change; or a change from 9403.91/99 with an
RVC), so each run does the shift test on every line, de minimis, and both RVC methods. Prints the figures.

    USMCA_HOME=... .venv/bin/python benchmarks/bench_origin.py [--runs 300]
"""

from __future__ import annotations

import argparse
import statistics
import time

from usmca.origin.case import parse_case
from usmca.origin.determine import determine
from usmca.rules.corpus import load_corpus
from usmca.store import store

CODES = [
    "4407.91",
    "4412.31",
    "9403.91",
    "8302.42",
    "7318.15",
    "3208.20",
    "3506.91",
    "9403.99",
    "4421.99",
    "7326.90",
]


def bill(n: int = 50) -> dict:
    mats = []
    for i in range(n):
        origin = ("originating", "non_originating", "unknown")[i % 3]
        mats.append(
            {
                "id": f"m{i}",
                "hts": CODES[i % len(CODES)],
                "origin": origin,
                "value": 1 + (i % 7),
                "deductions": {"freight": 0.1} if origin != "originating" else None,
            }
        )
    for m in mats:
        if m["deductions"] is None:
            del m["deductions"]
    # imported legs of 9403.91: they fail the chapter change and exceed de minimis, so the RVC branch decides
    mats[0] = {"id": "legs", "hts": "9403.91", "origin": "non_originating", "value": 80}
    return {
        "date": "2026-03-01",
        "method": "best",
        "good": {
            "hts": "9403.60.8040",
            "country_of_production": "MX",
            "transaction_value": 600,
            "total_cost": 540,
            "excluded_costs": {"royalties": 10},
        },
        "materials": mats,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    conn = store()
    corpus = load_corpus(conn)
    case = parse_case(bill())
    d = determine(case, corpus=corpus, conn=conn)  # warm caches (corpus, schedule lookups)
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        determine(case, corpus=corpus, conn=conn)
        times.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    for _ in range(20):
        parse_case(bill())
    parse_ms = (time.perf_counter() - t) * 1000 / 20
    times.sort()
    print(
        f"origin determination, 50-line bill: status={d.status} criterion={d.criterion} "
        f"rvc={d.rvc['transaction_value']}/{d.rvc['net_cost']}"
    )
    print(
        f"  runs={args.runs} median={statistics.median(times):.3f} ms "
        f"p90={times[int(len(times) * 0.9)]:.3f} ms "
        f"min={times[0]:.3f} ms (target median <= 2 ms)"
    )
    print(f"  case validation (parse_case, 50 lines): {parse_ms:.3f} ms")


if __name__ == "__main__":
    main()
