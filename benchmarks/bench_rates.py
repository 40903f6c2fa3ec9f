"""Rate grammar throughput: parse every distinct rate text of every HTS revision (cold, i.e. uncached) and
evaluate each parsed general-column rate once.

Reads the HTS revisions from the synced sources (``$USMCA_HOME/sources/hts/revisions``) or from the directory
given as the first argument (e.g. ``../shared/data/hts/revisions``). Target: parsing the few thousand
distinct texts in well under a second (the store build parses each distinct text once).

    .venv/bin/python benchmarks/bench_rates.py [REVISIONS_DIR]
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

from usmca.config import sources_dir
from usmca.rates import RateParseError, evaluate, grammar, parse_rate, parse_special


def main() -> None:
    rev_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else sources_dir() / "hts" / "revisions"
    files = sorted(rev_dir.glob("hts_*.json.gz"))
    if not files:
        sys.exit(f"no HTS revisions in {rev_dir}: run `usmca data sync` or pass the directory")
    cols: dict[str, set[str]] = {"general": set(), "special": set(), "other": set()}
    t0 = time.perf_counter()
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for row in json.load(fh):
                for c, seen in cols.items():
                    t = row.get(c)
                    if isinstance(t, str) and t.strip():
                        seen.add(t)
    load_s = time.perf_counter() - t0
    n = sum(len(s) for s in cols.values())
    print(f"{len(files)} revisions read in {load_s:.1f} s; {n} distinct non-blank rate texts")

    for rnd in ("cold", "warm (cached)"):
        if rnd == "cold":
            grammar._parse_cached.cache_clear()
            grammar._parse_special_cached.cache_clear()
        ok = bad = 0
        t0 = time.perf_counter()
        for c, texts in cols.items():
            parse = parse_special if c == "special" else parse_rate
            for t in texts:
                try:
                    parse(t)
                    ok += 1
                except RateParseError:
                    bad += 1
        dt = time.perf_counter() - t0
        total = ok + bad
        print(f"parse {rnd}: {total} texts in {dt * 1000:.1f} ms ({total / dt:,.0f}/s); {bad} unparsed")

    rates = [parse_rate(t) for t in cols["general"]]
    t0 = time.perf_counter()
    for r in rates:
        q = {u: Decimal(40) for u in r.units_needed()}
        evaluate(r, Decimal("1000.00"), q, base_duty=Decimal(1) if r.needs_base_duty else None)
    dt = time.perf_counter() - t0
    print(f"evaluate: {len(rates)} general rates in {dt * 1000:.1f} ms ({len(rates) / dt:,.0f}/s)")


if __name__ == "__main__":
    main()
