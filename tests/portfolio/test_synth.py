"""The synthetic portfolio is a valid input: its values hold together, so every SKU is evaluated and none is
set aside as an input error (a catalogue for benchmarks and demos must not show errors it did not mean to)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from usmca.portfolio import run as run_mod
from usmca.portfolio.read import check_portfolio
from usmca.portfolio.synth import SynthSpec, codes_from_store, good_codes_with_rules, synth_portfolio

ON = dt.date(2026, 3, 1)


@pytest.mark.parametrize("seed", [3, 7])
def test_synthetic_values_hold_together(conn: Any, seed: int) -> None:
    from usmca.rules.corpus import load_corpus

    corpus = load_corpus(conn)
    tables = run_mod.RuleTables.from_rules(corpus.rules)
    codes = codes_from_store(conn, ON)
    # (many sub-assemblies, and sub-assemblies of sub-assemblies: their prices must carry up the levels)
    spec = SynthSpec(skus=400, lines=8, seed=seed, multi_level=0.4, date=ON)
    products, bom, decl = synth_portfolio(spec, good_codes_with_rules(codes, tables), codes)

    # the materials are part of the cost: no bill worth more than its good's total cost where one is given
    worth = bom.group_by("parent_sku").agg(pl.col("value").cast(pl.Float64).sum().alias("mat"))
    both = products.join(worth, left_on="sku", right_on="parent_sku").filter(pl.col("total_cost").is_not_null())
    assert both.height > 100
    over = both.filter(pl.col("mat") > pl.col("total_cost").cast(pl.Float64) + 1e-6)
    assert over.height == 0, over.head()

    def rows(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))

    pf = check_portfolio(rows(products), rows(bom), rows(decl), on=ON)
    assert pf.errors == [] and pf.skipped == {}
    # the single-good engine answers the multi-level bills, checking every sub-bill against its price
    res = run_mod.run_portfolio(pf, on=ON, conn=conn, corpus=corpus, tables=tables, exposure=False)
    assert res.engine_counts.get("single_good", 0) > 20
    assert res.skipped == {}, list(res.skipped.items())[:3]
    assert res.results.height == products.height


def test_catalogue_stamp_names_what_the_catalogue_is_drawn_from() -> None:
    """A benchmark keeps a generated catalogue only while this stamp holds: the same spec and codes give the same
    stamp; another seed, or another set of goods (the kernel taking other rules), another."""
    from usmca.portfolio.synth import catalogue_stamp

    spec = SynthSpec(skus=10, lines=3, seed=1, multi_level=0.0, date=ON)
    goods, codes = ["9401200000", "9404901000"], ["940199", "730890"]
    same = catalogue_stamp(spec, goods, codes)
    assert same == catalogue_stamp(SynthSpec(skus=10, lines=3, seed=1, multi_level=0.0, date=ON), list(goods), codes)
    others = {
        catalogue_stamp(SynthSpec(skus=10, lines=3, seed=2, multi_level=0.0, date=ON), goods, codes),
        catalogue_stamp(spec, goods[:1], codes),
        catalogue_stamp(spec, goods, codes[:1]),
    }
    assert same not in others and len(others) == 3
