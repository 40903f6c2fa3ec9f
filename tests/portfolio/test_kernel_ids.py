"""The kernel's SKU ids taken from the read (``bom._pid`` and ``Portfolio.sku_names``) equal the ids it looks
up itself, and ids that do not fit the names given are not used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from usmca.portfolio.kernel import RuleTables, _read_ids_fit, evaluate, sku_ids
from usmca.portfolio.read import read_portfolio
from usmca.portfolio.synth import SynthSpec, codes_from_store, good_codes_with_rules, synth_portfolio, write_portfolio

ON = dt.date(2026, 3, 1)


def _portfolio(conn: Any, tmp_path: Path, shuffle: bool) -> tuple[Any, RuleTables]:
    from usmca.rules.corpus import load_corpus

    tables = RuleTables.from_rules(load_corpus(conn).rules)
    codes = codes_from_store(conn, ON)
    products, bom, decl = synth_portfolio(
        SynthSpec(skus=300, lines=6, seed=5, multi_level=0.0, date=ON), good_codes_with_rules(codes, tables), codes
    )
    if shuffle:  # a bill in no order: the run-wise lookup gives way to a join over the lines
        bom = bom.sample(fraction=1.0, shuffle=True, seed=3)
    paths = write_portfolio(tmp_path, products, bom, decl)
    pf = read_portfolio(paths["products"], paths["bom"], paths["declarations"], on=ON)
    return pf, tables


def test_read_ids_give_the_kernel_the_same_answers(conn: Any, tmp_path: Path) -> None:
    for shuffle in (False, True):
        pf, tables = _portfolio(conn, tmp_path / str(shuffle), shuffle)
        assert pf.sku_names is not None and pf.bom.schema["_pid"] == pl.UInt32
        # a subset of the products, as after the screen: lines of the others must drop out
        flat = pf.products.filter(pl.int_range(pl.len()) % 7 != 3)
        names = flat["sku"]
        assert _read_ids_fit(pf.bom, pf.sku_names)
        mine = sku_ids(pf.bom.drop("_pid"), names)
        assert sku_ids(pf.bom, names, pf.sku_names).equals(mine.cast(pl.UInt32), check_names=False)
        assert mine.null_count() > 0  # the lines of the SKUs left out
        a = evaluate(flat, pf.bom, tables, read_names=pf.sku_names)
        b = evaluate(flat, pf.bom.drop("_pid"), tables)
        assert a.results.height > 200
        assert a.results.sort("sku").equals(b.results.sort("sku"))
        assert a.fallback.sort("sku").equals(b.fallback.sort("sku"))


def test_ids_from_another_read_are_not_used(conn: Any, tmp_path: Path) -> None:
    pf, _tables = _portfolio(conn, tmp_path, False)
    assert pf.sku_names is not None
    names = pf.products["sku"]
    other = pf.sku_names.reverse()  # the same SKUs in another order: every id names another SKU
    assert not _read_ids_fit(pf.bom, other)
    assert not _read_ids_fit(pf.bom, pf.sku_names.head(10))  # ids out of range
    assert not _read_ids_fit(pf.bom.with_columns(pl.col("_pid").cast(pl.Int64)), pf.sku_names)
    want = sku_ids(pf.bom.drop("_pid"), names)
    assert sku_ids(pf.bom, names, other).equals(want, check_names=False)
