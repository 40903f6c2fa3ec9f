"""The Spark backend (local mode) gives the embedded kernel's results, SKU for SKU.

Starting a Spark session takes ~15 s: one session for the module; runs in CI (marked slow, not skipped).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

ON = dt.date(2026, 3, 1)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Any:
    from usmca.portfolio.spark import local_session

    s = local_session("usmca-test")
    yield s
    s.stop()


def test_spark_equals_embedded(conn: Any, spark: Any) -> None:
    from usmca.portfolio.kernel import evaluate, match_rules
    from usmca.portfolio.read import check_portfolio
    from usmca.portfolio.run import deemed_hook, general_hooks, load_rule_tables, parts_hook, rule_lookup_hook
    from usmca.portfolio.spark import evaluate_spark
    from usmca.portfolio.synth import SynthSpec, codes_from_store, good_codes_with_rules, synth_portfolio

    tables, corpus = load_rule_tables(conn)
    codes = codes_from_store(conn, ON)
    goods = good_codes_with_rules(codes, tables)
    # about a tenth of the goods on codes the rule tables cannot place (the engine's rule lookup answers them)
    m = match_rules(pl.Series("hts", codes, pl.String), tables)
    odd = m.filter(pl.col("ambiguous") | (pl.col("rule_idxs").list.len() != 1))["hts"].sort().to_list()
    products, bom, decl = synth_portfolio(
        SynthSpec(skus=600, lines=8, seed=3, multi_level=0.0, date=ON),
        goods + odd * max(1, len(goods) // (10 * len(odd))),
        codes,
    )
    idx = [pl.col("_row").cast(pl.Int64)]
    pf = check_portfolio(
        products.with_row_index("_row", offset=2).with_columns(idx),
        bom.with_row_index("_row", offset=2).with_columns(idx),
        decl.with_row_index("_row", offset=2).with_columns(idx),
        on=ON,
    )
    exclusion, mode = general_hooks()
    kw = {
        "dm_exclusion": exclusion,
        "dm_mode": mode,
        "parts_in_nomenclature": parts_hook(ON, conn),
        "deemed_originating": deemed_hook(conn),
        "rule_lookup": rule_lookup_hook(corpus),
    }
    emb = evaluate(pf.products, pf.bom, tables, **kw)
    spk = evaluate_spark(pf.products, pf.bom, tables, spark=spark, partitions=3, **kw)
    assert emb.results.height > 300
    # some goods are answered from the engine's rule lookup (the synthetic mix holds codes the tables cannot
    # place): on the workers as on the driver
    assert emb.results.filter(pl.col("needs").list.first().str.contains("no usable product-specific rule")).height
    a = emb.results.sort("sku")
    b = spk.results.sort("sku")
    assert a.columns == b.columns
    assert a.equals(b)
    assert emb.fallback.sort("sku").equals(spk.fallback.sort("sku"))
