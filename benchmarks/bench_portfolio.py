"""Portfolio benchmark: lines per second and peak memory of the embedded kernel (issue 6).

Target: 1,000,000 SKUs x 20 BOM lines (20 million lines) in <= 20 s, <= 8 GiB peak, on 2 cores.

    .venv/bin/python benchmarks/bench_portfolio.py --skus 100000 --lines 20 [--fallback 10000] [--exposure]

The synthetic portfolio (real codes, real rules; `usmca portfolio synth`) is generated in a child process and
written as Parquet, so this process's peak memory is the run's own. Timed: reading and checking the three
tables (codes checked against the schedule, declarations applied), and the kernel. The single-good fallback
is counted and timed in full (on a capped sample, ``--fallback``, when there are more, with the full cost
extrapolated), never hidden.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ON = dt.date(2026, 3, 1)


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def catalogue_stamp(skus: int, lines: int, seed: int, multi_level: float) -> str:
    """The stamp of the catalogue ``usmca portfolio synth`` would generate with these options (its date: ON)."""
    from usmca.portfolio.synth import SynthSpec, drawn_codes
    from usmca.portfolio.synth import catalogue_stamp as stamp_of
    from usmca.store import store

    spec = SynthSpec(skus=skus, lines=lines, seed=seed, multi_level=multi_level, date=ON)
    return stamp_of(spec, *drawn_codes(store(), ON))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--multi-level", type=float, default=0.0)
    ap.add_argument("--fallback", type=int, default=10000, help="single-good calls to time (all when fewer)")
    ap.add_argument("--exposure", action="store_true", help="also price the duty at stake")
    ap.add_argument("--data", type=Path, default=None, help="reuse a synthetic portfolio folder")
    a = ap.parse_args()

    data = a.data or Path(f"/tmp/usmca-bench-portfolio-{a.skus}x{a.lines}-s{a.seed}-m{a.multi_level}")
    # A kept catalogue is reused only if this code would generate the same one: the goods are drawn among the
    # codes whose rule the kernel takes, which move with the store and the kernel (``catalogue_stamp``).
    stamp, kept = catalogue_stamp(a.skus, a.lines, a.seed, a.multi_level), data / "catalogue.stamp"
    stale = (data / "bom.parquet").exists() and (not kept.exists() or kept.read_text().strip() != stamp)
    if stale and a.data is None:
        print(f"{data}: generated from other codes or by another generator; generating it again")
        shutil.rmtree(data)
    elif stale:
        print(f"warning: {data} is not what this code would generate (no or another catalogue.stamp)")
    if not (data / "bom.parquet").exists():
        t = time.perf_counter()
        exe = Path(sys.executable).with_name("usmca")
        subprocess.run(
            [
                str(exe),
                "portfolio",
                "synth",
                "--skus",
                str(a.skus),
                "--lines",
                str(a.lines),
                "--seed",
                str(a.seed),
                "--multi-level",
                str(a.multi_level),
                "--out",
                str(data),
            ],
            check=True,
        )
        kept.write_text(stamp + "\n")
        print(f"synth: {time.perf_counter() - t:.1f} s (not timed below)")

    import polars as pl

    from usmca.portfolio.kernel import evaluate
    from usmca.portfolio.read import read_portfolio, self_produced_lines
    from usmca.portfolio.run import (
        deemed_hook,
        flush_memo,
        general_hooks,
        load_rule_tables,
        note_needs_hook,
        part6_hook,
        parts_hook,
        rule_lookup_hook,
        schedule_checker,
        screen,
    )
    from usmca.store import store

    conn = store()
    t0 = time.perf_counter()
    tables, corpus = load_rule_tables(conn)
    t_rules = time.perf_counter() - t0

    t = time.perf_counter()
    pf = read_portfolio(
        data / "products.parquet",
        data / "bom.parquet",
        data / "declarations.parquet",
        on=ON,
        known_codes=schedule_checker(conn),
    )
    t_read = time.perf_counter() - t
    peak_read = peak_gib()
    n_lines = pf.bom.height
    n_skus = pf.products.height

    t = time.perf_counter()
    multi = self_produced_lines(pf.bom, "parent_sku").select(pl.col("parent_sku").alias("sku")).unique()
    flat = pf.products.join(multi, on="sku", how="anti")
    scr = screen(flat, ON, conn, corpus)
    flat = flat.join(scr, on="sku", how="anti")
    t_screen = time.perf_counter() - t

    exclusion, mode = general_hooks()
    t = time.perf_counter()
    kr = evaluate(
        flat,
        pf.bom,
        tables,
        dm_exclusion=exclusion,
        dm_mode=mode,
        parts_in_nomenclature=parts_hook(ON, conn),
        deemed_originating=deemed_hook(conn),
        note_needs=note_needs_hook(corpus),
        part6_open=part6_hook(ON, conn),
        rule_lookup=rule_lookup_hook(corpus),
        read_names=pf.sku_names,
    )
    t_kernel = time.perf_counter() - t
    flush_memo(conn)
    # (counted on the read's integer parent ids: a join of the bill's 2*10^7 parent names would set this
    # process's peak memory, which is the evaluation's to report)
    decided = kr.results.select(pl.col("sku").alias("parent_sku"))
    ids = pl.DataFrame({"parent_sku": pf.sku_names}).with_row_index("_pid")
    decided_ids = ids.join(decided, on="parent_sku", how="semi")["_pid"].cast(pf.bom.schema["_pid"])
    kernel_lines = int(pf.bom.select(pl.col("_pid").is_in(decided_ids.implode()).sum()).item())
    n_fb = kr.fallback.height + scr.height + multi.height

    total = t_read + t_screen + t_kernel
    print(
        f"portfolio: {n_skus:,} SKUs, {n_lines:,} BOM lines ({a.skus:,} x ~{a.lines}); rows skipped: "
        f"{len(pf.skipped):,}; row problems: {len(pf.errors):,}"
    )
    print(f"rule tables: {t_rules:.2f} s ({len(tables.rules)} rules)")
    print(
        f"read+check+declarations: {t_read:.2f} s  ({n_lines / t_read:,.0f} lines/s; peak so far {peak_read:.2f} GiB)"
    )
    print(f"screen (Part 6, Schedule 2 per distinct code): {t_screen:.2f} s")
    print(
        f"kernel: {t_kernel:.2f} s  ({kernel_lines:,} lines decided, {kernel_lines / t_kernel:,.0f} lines/s; "
        f"{kr.results.height:,} SKUs)"
    )
    print(f"end to end (read + screen + kernel): {total:.2f} s  ({n_lines / total:,.0f} lines/s)")
    print(f"left to the single-good engine: {n_fb:,} SKUs ({100 * n_fb / max(n_skus, 1):.1f}%)")
    reasons = pl.concat([kr.fallback, scr]).group_by("reason").len().sort("len", descending=True)
    for r in reasons.head(8).iter_rows():
        print(f"   {r[1]:>9,}  {r[0]}")
    if a.fallback and n_fb:
        from usmca.portfolio.run import _fallback, fallback_workers

        sample = pl.concat([kr.fallback, scr]).head(a.fallback)
        skipped: dict[str, str] = {}
        t = time.perf_counter()
        got = _fallback(pf, sample, ON, conn, corpus, skipped, None, None)
        t_fb = time.perf_counter() - t
        per = t_fb / max(sample.height, 1)
        workers = fallback_workers(sample.height)
        if sample.height == n_fb:
            print(
                f"single-good engine: all {n_fb:,} SKUs in {t_fb:.1f} s ({workers} process(es); {got.height:,} "
                f"answered, {len(skipped):,} rejected as input errors)"
            )
            whole = total + t_fb
            print(f"end to end with the single-good engine: {whole:.2f} s  ({n_lines / whole:,.0f} lines/s)")
        else:
            print(
                f"single-good fallback sample: {sample.height:,} SKUs in {t_fb:.1f} s ({1000 * per:.1f} ms/SKU, "
                f"{workers} process(es); {got.height:,} answered, {len(skipped):,} rejected as input errors); "
                f"all {n_fb:,} would take ~{per * n_fb:.0f} s on this machine"
            )
    if a.exposure:
        from usmca.portfolio.run import add_exposure

        t = time.perf_counter()
        res = kr.results.join(pf.products.select("sku", "hts", "country_of_origin", "annual_value", "date"), on="sku")
        _out, how = add_exposure(res, conn)
        print(f"exposure: {time.perf_counter() - t:.1f} s ({how})")
        flush_memo(conn)  # (the prices are kept as the per-code answers are: a second run reads them)
    print(f"peak memory (this process, max RSS): {peak_gib():.2f} GiB; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
