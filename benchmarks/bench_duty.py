"""Duty engine speed: one line in-process (target <= 1 ms median) and a batch of 1,000,000 lines (<= 60 s).

Run: USMCA_HOME=... .venv/bin/python benchmarks/bench_duty.py [--lines N] [--object-lines N]
- one line: duty_line, warm plan cache (the first call, which builds the plan, is printed too);
- object batch (duty_lines): lines sharing (hts, date, country, claim, facts) share one plan; per-line
  arithmetic on Decimal objects;
- columnar batch (usmca.measures.batch.duty_columns): Polars table, plans per key, integer-cent arithmetic
  for linear plans, the object path for the rest. This is the 1,000,000-line path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from decimal import Decimal

import polars as pl

from usmca.measures.batch import duty_columns
from usmca.measures.entry import EntryLine, MetalContent
from usmca.measures.stack import duty_line, duty_lines, engine

CODES = [
    ("6109100012", "CA"),
    ("6109100012", "CN"),
    ("7326908688", "MX"),
    ("8703230190", "MX"),
    ("8481801020", "CN"),
    ("3926901000", "MX"),
    ("8708295160", "CA"),
    ("6109100012", "VN"),
]
DATES = [
    dt.date(2025, 3, 4),
    dt.date(2025, 8, 15),
    dt.date(2025, 11, 20),
    dt.date(2026, 3, 2),
    dt.date(2026, 5, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--object-lines", type=int, default=100_000)
    args = ap.parse_args()
    e = engine()
    one = EntryLine.model_validate(
        {
            "id": "L1",
            "hts": "6109.10.00.12",
            "country_of_origin": "CA",
            "entered_value": "10000",
            "usmca_claim": False,
        }
    )
    t0 = time.perf_counter()
    duty_line(one, dt.date(2025, 8, 15))
    cold = time.perf_counter() - t0
    times = []
    for i in range(2000):
        ln = one.model_copy(update={"entered_value": Decimal(1000 + i)})
        t = time.perf_counter()
        duty_line(ln, dt.date(2025, 8, 15))
        times.append(time.perf_counter() - t)
    print(
        f"one line: first call (plan built) {cold * 1000:.2f} ms; "
        f"median {statistics.median(times) * 1000:.3f} ms, "
        f"p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.3f} ms "
        "(target <= 1 ms median)"
    )

    rng = random.Random(7)
    t = time.perf_counter()
    n_valid = 20_000
    for i in range(n_valid):
        EntryLine.model_validate(
            {
                "id": f"V{i}",
                "hts": "7326908688",
                "country_of_origin": "MX",
                "entered_value": "5000",
                "metal_content": {"steel": "2000"},
            }
        )
    v_rate = (time.perf_counter() - t) / n_valid
    items = []
    for i in range(args.object_lines):
        code, ctry = CODES[rng.randrange(len(CODES))]
        claim = ctry in ("CA", "MX") and rng.random() < 0.5
        items.append(
            (
                EntryLine.model_construct(
                    id=f"L{i}",
                    hts=code,
                    country_of_origin=ctry,
                    entered_value=Decimal(rng.randrange(100, 100000)),
                    quantity=(),
                    usmca_claim=claim,
                    metal_content=MetalContent.model_construct(
                        steel=Decimal(1000), aluminum=Decimal(100), copper=None
                    ),
                    us_content_value=None,
                    transport="ocean",
                    facts={},
                    description=None,
                ),
                DATES[rng.randrange(len(DATES))],
            )
        )
    t = time.perf_counter()
    out = duty_lines(items)
    batch = time.perf_counter() - t
    done = sum(1 for r in out if r.status == "complete")
    n = args.object_lines
    print(
        f"object batch: {n:,} lines in {batch:.1f} s ({batch / n * 1e6:.1f} us/line; "
        f"{len(e._plans)} plans; {done:,} complete)"
    )
    print(f"validation (EntryLine.model_validate): {v_rate * 1e6:.1f} us/line")

    n = args.lines
    picks = [rng.randrange(len(CODES)) for _ in range(n)]
    df = pl.DataFrame(
        {
            "id": [f"L{i}" for i in range(n)],
            "hts": [CODES[k][0] for k in picks],
            "country_of_origin": [CODES[k][1] for k in picks],
            "entry_date": [DATES[rng.randrange(len(DATES))] for _ in range(n)],
            "entered_value": [float(rng.randrange(100, 10_000_000)) / 100 for _ in range(n)],
            "usmca_claim": [CODES[k][1] in ("CA", "MX") and rng.random() < 0.5 for k in picks],
            "steel": [1000.0] * n,
            "aluminum": [100.0] * n,
        }
    )
    t = time.perf_counter()
    c0 = time.process_time()
    res = duty_columns(df)
    wall, cpu = time.perf_counter() - t, time.process_time() - c0
    done = res.filter(pl.col("status") == "complete").height
    print(
        f"columnar batch: {n:,} lines in {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"({wall / n * 1e6:.1f} us/line; {res['plan'].n_unique()} plans; {done:,} complete) "
        "(target <= 60 s for 1,000,000)"
    )


if __name__ == "__main__":
    main()
