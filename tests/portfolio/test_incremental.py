"""Incremental re-runs give the full re-run's answer while re-evaluating only the SKUs a change touches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from usmca.nomenclature.codes import CodeSet
from usmca.portfolio.incremental import initial_state
from usmca.portfolio.kernel import RuleTables
from usmca.portfolio.read import DECLARATION_COLUMNS, check_portfolio
from usmca.portfolio.run import run_portfolio
from usmca.rules.grammar import TariffShift

from .rulekit import alt, rule
from .test_agreement import _corpus, _frames
from .test_kernel import RULES

ON = dt.date(2026, 3, 1)


def _decl(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    d = pl.DataFrame(
        [{c: r.get(c) for c in DECLARATION_COLUMNS} for r in rows],
        schema={c: pl.String for c in DECLARATION_COLUMNS},
    ).with_row_index("_row", offset=2)
    return d.with_columns(pl.col("_row").cast(pl.Int64))


PRODS = [
    {"sku": f"K{i}", "hts": h, "country_of_production": "MX", "transaction_value": "100"}
    for i, h in enumerate(["9404901000", "9404901000", "9401999081", "9405210000", "9404901000"])
]
BOM = [
    {"parent_sku": "K0", "component_id": "silk", "component_hts": "5007.20", "value": "30", "supplier": "S1"},
    {
        "parent_sku": "K1",
        "component_id": "frame",
        "component_hts": "9403.99",
        "value": "30",
        "supplier": "S2",
    },
    {"parent_sku": "K2", "component_id": "part", "component_hts": "9401.99", "value": "30", "supplier": "S1"},
    {"parent_sku": "K3", "component_id": "lamp", "component_hts": "9405.49", "value": "30", "supplier": "S3"},
    {
        "parent_sku": "K4",
        "component_id": "wood",
        "component_hts": "4407.11",
        "value": "30",
        "origin": "non_originating",
    },
]
DECL = [
    {"supplier": "S1", "originating": "yes", "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
    {"supplier": "S2", "originating": "no"},
]


def _checked(decl: list[dict[str, str | None]]) -> Any:
    p, b = _frames(PRODS, BOM)
    return check_portfolio(p, b, _decl(decl), on=ON)


def test_declaration_change_reevaluates_only_touched_skus(conn: Any) -> None:
    corpus = _corpus(RULES)
    tables = RuleTables.from_rules(RULES)
    state = initial_state(_checked(DECL), on=ON, corpus=corpus, tables=tables, exposure=False)
    before = {r["sku"]: r["status"] for r in state.result.results.iter_rows(named=True)}
    assert before["K0"] == "originating" and before["K2"] == "originating"  # S1 declared originating
    new = [{**DECL[0], "originating": "no"}, DECL[1]]
    pf_new = _checked(new)
    res = state.update_declarations(pf_new.declarations)
    assert state.last_reevaluated == 2  # K0 and K2 use supplier S1
    full = run_portfolio(pf_new, on=ON, corpus=corpus, tables=tables, exposure=False)
    cols = ["sku", "status", "criterion", "rule_id", "rvc_transaction_value", "rvc_net_cost", "blockers"]
    assert res.results.select(cols).sort("sku").equals(full.results.select(cols).sort("sku"))
    after = {r["sku"]: r["status"] for r in res.results.iter_rows(named=True)}
    assert after["K0"] == "non_originating"  # silk from 5007 is excluded by rule 3
    # an unchanged table touches nothing
    state.update_declarations(pf_new.declarations)
    assert state.last_reevaluated == 0


def test_rule_change_reevaluates_only_its_goods(conn: Any) -> None:
    corpus = _corpus(RULES)
    tables = RuleTables.from_rules(RULES)
    state = initial_state(_checked(DECL), on=ON, corpus=corpus, tables=tables, exposure=False)
    # rule 3 loses its exclusion of silk: only the 9404.90 goods (K0, K1, K4) are re-evaluated
    new3 = rule("3", "9404.90", alt("", TariffShift("any_other", "chapter", except_from=CodeSet.of("5111-5113"))))
    res = state.update_rules([new3])
    assert state.last_reevaluated == 3
    rules2 = [new3 if r.id == "T/3" else r for r in RULES]
    full = run_portfolio(
        _checked(DECL), on=ON, corpus=_corpus(rules2), tables=RuleTables.from_rules(rules2), exposure=False
    )
    cols = ["sku", "status", "criterion", "rule_id", "rvc_transaction_value", "rvc_net_cost"]
    assert res.results.select(cols).sort("sku").equals(full.results.select(cols).sort("sku"))
