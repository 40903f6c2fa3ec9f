"""Incremental re-runs: after a supplier declaration or a rule changes, re-evaluate only the SKUs it touches.

``PortfolioState`` keeps the previous results and three indexes, all columnar:
component -> SKUs and supplier -> SKUs (from the bill, closed upward through self-produced materials, so a
parent whose sub-assembly changes is re-evaluated too) and rule -> SKUs (the rule each SKU was decided under,
plus every SKU whose good code falls in a changed rule's old or new scope: an interval test, never expanded).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from usmca.portfolio.kernel import RuleTables, match_rules
from usmca.portfolio.read import Portfolio, apply_declarations, self_produced_lines
from usmca.portfolio.run import RunResult, run_portfolio
from usmca.rules.grammar import Rule


@dataclass
class PortfolioState:
    portfolio: Portfolio
    result: RunResult
    tables: RuleTables
    corpus: Any
    on: dt.date
    conn: sqlite3.Connection | None = None
    exposure: bool = True
    last_reevaluated: int = 0

    # ---- indexes
    def skus_by_component(self) -> pl.DataFrame:
        return self.portfolio.bom.select("component_id", pl.col("parent_sku").alias("sku")).unique()

    def skus_by_supplier(self) -> pl.DataFrame:
        return self.portfolio.bom.select("supplier", pl.col("parent_sku").alias("sku")).drop_nulls().unique()

    def skus_by_rule(self) -> pl.DataFrame:
        return self.result.results.select("rule_id", "sku").drop_nulls().unique()

    def with_ancestors(self, skus: set[str]) -> set[str]:
        """Add every SKU that uses one of ``skus`` as a self-produced material, at any depth."""
        edges = self_produced_lines(self.portfolio.bom, "component_id", "parent_sku")
        out, frontier = set(skus), set(skus)
        while frontier:
            up = set(edges.filter(pl.col("component_id").is_in(list(frontier)))["parent_sku"].to_list()) - out
            out |= up
            frontier = up
        return out

    # ---- what a change touches
    def touched_by_declarations(self, old: pl.DataFrame, new: pl.DataFrame) -> set[str]:
        """SKUs with a line whose (supplier[, component]) has a declaration row added, removed or changed."""
        key = ["supplier", "component_id", "originating", "valid_from", "valid_to", "certificate_id"]
        changed = pl.concat(
            [
                old.select(key).join(new.select(key), on=key, how="anti", nulls_equal=True),
                new.select(key).join(old.select(key), on=key, how="anti", nulls_equal=True),
            ]
        )
        if changed.height == 0:
            return set()
        bom = self.portfolio.bom.select("parent_sku", "supplier", "component_id")
        wide = changed.filter(pl.col("component_id").is_null()).select("supplier").unique()
        specific = changed.filter(pl.col("component_id").is_not_null()).select("supplier", "component_id").unique()
        hit = pl.concat(
            [
                bom.join(wide, on="supplier", how="semi"),
                bom.join(specific, on=["supplier", "component_id"], how="semi"),
            ]
        )
        return self.with_ancestors(set(hit["parent_sku"].to_list()))

    def touched_by_rules(self, changed: list[Rule], old_tables: RuleTables) -> set[str]:
        ids = {r.id for r in changed}
        by_rule = set(self.skus_by_rule().filter(pl.col("rule_id").is_in(list(ids)))["sku"].to_list())
        # goods whose code falls in the old or new scope of a changed rule (a rule added, or widened)
        prods = self.portfolio.products.select("sku", "hts")
        scoped: set[str] = set()
        for tables in (old_tables, RuleTables.from_rules(changed)):
            # (every rule covering the code, the less specific too: a change to any of them may matter)
            m = (
                match_rules(prods["hts"].unique(), tables, most_specific=False)
                .explode("rule_idxs")
                .drop_nulls("rule_idxs")
            )
            m = m.join(tables.rule_info.select(pl.col("rule_idx").alias("rule_idxs"), "rule_id"), on="rule_idxs")
            codes = m.filter(pl.col("rule_id").is_in(list(ids)))["hts"].unique().to_list()
            scoped |= set(prods.filter(pl.col("hts").is_in(codes))["sku"].to_list())
        return self.with_ancestors(by_rule | scoped)

    # ---- re-evaluation
    def _rerun(self, skus: set[str], pf: Portfolio, tables: RuleTables, corpus: Any) -> RunResult:
        # a multi-level SKU's case needs its descendants' bills: keep them in the sub-portfolio
        keep, frontier = set(skus), set(skus)
        edges = self_produced_lines(pf.bom, "parent_sku", "component_id")
        while frontier:
            down = set(edges.filter(pl.col("parent_sku").is_in(list(frontier)))["component_id"].to_list()) - keep
            keep |= down
            frontier = down
        sub = Portfolio(
            products=pf.products.filter(pl.col("sku").is_in(list(keep))),
            bom=pf.bom.filter(pl.col("parent_sku").is_in(list(keep))),
            declarations=pf.declarations,
            errors=[],
            skipped={},
        )
        part = run_portfolio(sub, on=self.on, conn=self.conn, corpus=corpus, tables=tables, exposure=self.exposure)
        new_rows = part.results.filter(pl.col("sku").is_in(list(skus)))
        merged = pl.concat(
            [self.result.results.filter(~pl.col("sku").is_in(list(skus))), new_rows], how="vertical_relaxed"
        ).sort("sku")
        skipped = {k: v for k, v in self.result.skipped.items() if k not in skus}
        skipped.update({k: v for k, v in part.skipped.items() if k in skus})
        self.last_reevaluated = len(skus)
        return replace(self.result, results=merged, skipped=skipped)

    def update_declarations(self, declarations: pl.DataFrame) -> RunResult:
        """New declarations table (checked, as ``read`` gives it): re-evaluate the SKUs they touch."""
        old = self.portfolio.declarations
        touched = self.touched_by_declarations(old, declarations)
        raw = self.portfolio.bom.drop("declaration", "self_produced")
        # lines whose origin came from a declaration are re-settled; origins written in the bill stay
        raw = (
            raw.with_columns(pl.when(pl.col("_declared")).then(None).otherwise(pl.col("origin")).alias("origin"))
            if "_declared" in raw.columns
            else raw
        )
        bom = apply_declarations(
            raw.drop("_declared", strict=False), self.portfolio.products.select("sku", "date"), declarations
        )
        bom = bom.with_columns(
            pl.col("declaration").is_not_null().alias("_declared"),
            pl.col("component_id").is_in(self.portfolio.products["sku"].implode()).alias("self_produced"),
        )
        pf = replace(self.portfolio, bom=bom, declarations=declarations)
        res = self._rerun(touched, pf, self.tables, self.corpus) if touched else self.result
        self.portfolio, self.result = pf, res
        self.last_reevaluated = len(touched)
        return res

    def update_rules(self, rules: list[Rule]) -> RunResult:
        """Replace (or add) rules by id: re-evaluate the SKUs decided under them or now in their scope."""
        old_tables = self.tables
        by_id = {r.id: r for r in self.tables.rules}
        changed = [r for r in rules if by_id.get(r.id) != r]
        if not changed:
            self.last_reevaluated = 0
            return self.result
        by_id.update({r.id: r for r in changed})
        tables = RuleTables.from_rules(list(by_id.values()))
        corpus = _with_rules(self.corpus, tuple(by_id.values()))
        touched = self.touched_by_rules(changed, old_tables)
        res = self._rerun(touched, self.portfolio, tables, corpus) if touched else self.result
        self.tables, self.corpus, self.result = tables, corpus, res
        self.last_reevaluated = len(touched)
        return res


def _with_rules(corpus: Any, rules: tuple[Rule, ...]) -> Any:
    """The same corpus with its rules replaced (the single-good engine must see the change too)."""
    from usmca.rules.corpus import Corpus

    if isinstance(corpus, Corpus):
        return Corpus(rules, corpus.notes, dict(corpus.meta))
    raise TypeError("incremental rule updates need a usmca.rules.corpus.Corpus")


def initial_state(
    pf: Portfolio,
    *,
    on: dt.date,
    conn: sqlite3.Connection | None = None,
    corpus: Any = None,
    tables: RuleTables | None = None,
    exposure: bool = True,
) -> PortfolioState:
    """Run the whole portfolio once and keep what incremental updates need."""
    from usmca.portfolio.run import load_rule_tables

    if tables is None or corpus is None:
        tables, corpus = load_rule_tables(conn, corpus)
    bom = pf.bom.with_columns(pl.col("declaration").is_not_null().alias("_declared"))
    pf = replace(pf, bom=bom)
    res = run_portfolio(pf, on=on, conn=conn, corpus=corpus, tables=tables, exposure=exposure)
    return PortfolioState(
        portfolio=pf,
        result=res,
        tables=tables,
        corpus=corpus,
        on=on,
        conn=conn,
        exposure=exposure,
        last_reevaluated=res.results.height,
    )
