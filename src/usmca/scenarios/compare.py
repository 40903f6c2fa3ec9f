"""Baseline and scenarios on the same portfolio: which SKUs flip, RVC margins, duty at stake, and the cheapest
change that restores qualification.

Each run is the portfolio engine (``usmca.portfolio.run.run_portfolio``) with the scenario's corpus (rule and
Part 6 overlays), the scenario's bill-of-materials effects, then the named-country caps; duty comes from the
duty engine (``usmca.measures.stack.Engine``) built on the scenario's measure set, once per distinct
(hts, country of origin, date), checked proportional to value and scaled by each SKU's annual value.
Unknown duty stays unknown (null with a note), never zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from usmca.scenarios.model import Scenario
from usmca.scenarios.overlay import content_caps, overlay_corpus, overlay_measures, overlay_portfolio

BASELINE = "baseline"
MICRO = 1_000_000


@dataclass(frozen=True)
class ScenarioRun:
    name: str
    results: pl.DataFrame  # one row per SKU: status, rvc, margin, blockers, duty_claim/duty_no_claim/duty_owed
    notes: tuple[str, ...]
    vintage: dict[str, Any]
    engine_counts: dict[str, int]
    run: Any = field(default=None, repr=False, compare=False)  # the portfolio engine's RunResult

    def summary(self) -> dict[str, Any]:
        r = self.results
        st = r.group_by("status").len()
        return {
            "scenario": self.name,
            "skus": r.height,
            "by_status": dict(sorted(zip(st["status"].to_list(), st["len"].to_list(), strict=True))),
            "duty_owed": _sum(r, "duty_owed"),
            "duty_owed_unknown_skus": int(r["duty_owed"].is_null().sum()),
            "duty_at_stake": _sum(r, "duty_at_stake"),
        }


@dataclass(frozen=True)
class Comparison:
    date: dt.date
    baseline: ScenarioRun
    runs: tuple[ScenarioRun, ...]
    scenarios: tuple[Scenario, ...]
    flips: pl.DataFrame  # scenario, sku, status_before, status_after, margins, duty before/after, reason
    remedies: pl.DataFrame  # scenario, sku, method, components, arithmetic, verified
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "baseline": self.baseline.summary(),
            "scenarios": [
                {
                    **run.summary(),
                    "title": sc.title,
                    "notes": list(run.notes),
                    "vintage": run.vintage,
                    "flips": self.flips.filter(pl.col("scenario") == run.name).to_dicts(),
                    "remedies": self.remedies.filter(pl.col("scenario") == run.name).to_dicts(),
                    "assumptions": list(sc.assumptions),
                    "sources": [s.model_dump(exclude_none=True) for s in sc.sources],
                }
                for run, sc in zip(self.runs, self.scenarios, strict=True)
            ],
            "assumptions": list(self.assumptions),
        }


def _sum(df: pl.DataFrame, col: str) -> float | None:
    if col not in df.columns or df.height == 0:
        return 0.0
    return round(float(df[col].fill_null(0).sum()), 2)


ASSUMPTIONS = (
    "Duty owed per SKU = duty on its entry line (hts, country of origin, annual value) with the USMCA "
    "claim when "
    "the SKU originates, without it otherwise; duty at stake = without claim minus with claim.",
    "Duty is computed once per distinct (hts, country, date) at 10,000 and 20,000 of value and used only "
    "when "
    "proportional; otherwise the SKU's duty is unknown (null), never zero.",
    "Only goods of Canada or Mexico (country_of_origin CA/MX) can claim; others have no duty at stake.",
    "Remedies re-source the named non-originating components from a supplier in the producer's own country "
    "at "
    "the same price (value unchanged, origin becomes originating); each remedy is re-run through the engine "
    "(verified) on the changed bill.",
)


# ------------------------------------------------------------------------------------------------ duty


def duty_rates(keys: pl.DataFrame, measures: Any, conn: sqlite3.Connection) -> pl.DataFrame:
    """Per distinct (hts, country_of_origin, date): duty rate (fraction of value) with and without the claim
    under ``measures``; nulls with ``duty_note`` where unresolved or not proportional."""
    from usmca.errors import NotFoundError
    from usmca.measures.entry import parse_line
    from usmca.measures.stack import Engine, apply_plan

    eng = Engine(conn, measures=measures)
    base, base2 = Decimal(10000), Decimal(20000)
    rows: list[dict[str, Any]] = []
    for hts, coo, when in keys.iter_rows():
        rec: dict[str, Any] = {"hts": hts, "country_of_origin": coo, "date": when}
        note = None
        for claim, col in ((True, "rate_claim"), (False, "rate_no_claim")):
            rec[col] = None
            if claim and coo not in ("CA", "MX"):
                continue
            try:
                plan = eng.plan_for(hts, when, coo, claim, None)
            except NotFoundError as exc:
                note = f"duty unresolved: {exc}"
                continue
            t = []
            for v in (base, base2):
                ld = apply_plan(
                    plan,
                    parse_line(
                        {
                            "id": "x",
                            "hts": hts,
                            "country_of_origin": coo,
                            "entered_value": v,
                            "usmca_claim": claim,
                        }
                    ),
                )
                t.append(ld.total_duty if ld.status == "complete" else None)
            if t[0] is None or t[1] is None:
                note = "duty unresolved for this line (see `usmca duty`): unknown"
            elif t[1] != 2 * t[0]:
                note = "duty is not proportional to value (specific or compound rate): quantities needed"
            else:
                rec[col] = float(t[0] / base)
        rec["duty_note"] = note
        rows.append(rec)
    return pl.DataFrame(
        rows,
        schema={
            "hts": pl.String,
            "country_of_origin": pl.String,
            "date": pl.Date,
            "rate_claim": pl.Float64,
            "rate_no_claim": pl.Float64,
            "duty_note": pl.String,
        },
    )


def add_duty(
    results: pl.DataFrame,
    products: pl.DataFrame,
    on: dt.date,
    measures: Any,
    conn: sqlite3.Connection,
    cache: dict[tuple[str, int], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Duty with and without the claim, duty owed and at stake per SKU. ``cache`` (keyed by the measure set
    and the lines asked) lets runs sharing a measure set price the lines once."""
    r = (
        results.drop([c for c in ("date",) if c in results.columns])
        .join(products.select("sku", pl.col("date").fill_null(on).alias("date")), on="sku", how="left")
        .with_columns(pl.col("date").fill_null(on))
    )
    keys = (
        r.filter(pl.col("country_of_origin").is_not_null())
        .select("hts", "country_of_origin", "date")
        .unique()
        .sort("hts", "country_of_origin", "date")
    )
    ck = (str(measures.vintage), hash(tuple(keys.hash_rows().to_list())))
    if cache is not None and ck in cache:
        rates = cache[ck]
    else:
        rates = duty_rates(keys, measures, conn)
        if cache is not None:
            cache[ck] = rates
    r = r.join(rates, on=["hts", "country_of_origin", "date"], how="left")
    av = pl.col("annual_value")
    claim_ok = pl.col("country_of_origin").is_in(["CA", "MX"]).fill_null(False)
    return (
        r.with_columns(
            (pl.col("rate_claim") * av).round(2).alias("duty_claim"),
            (pl.col("rate_no_claim") * av).round(2).alias("duty_no_claim"),
        )
        .with_columns(
            pl.when((pl.col("status") == "originating") & claim_ok)
            .then(pl.col("duty_claim"))
            .otherwise(pl.col("duty_no_claim"))
            .alias("duty_owed"),
            pl.when(claim_ok)
            .then(pl.col("duty_no_claim") - pl.col("duty_claim"))
            .otherwise(0.0)
            .round(2)
            .alias("duty_at_stake"),
            pl.when(av.is_null())
            .then(pl.lit("annual_value missing: duty unknown"))
            .otherwise(pl.col("duty_note"))
            .alias("duty_note"),
        )
        .drop("rate_claim", "rate_no_claim")
    )


# ------------------------------------------------------------------------------------------------ runs


def run_one(
    pf: Any,
    scenario: Scenario | None,
    *,
    on: dt.date,
    conn: sqlite3.Connection,
    corpus: Any,
    measures: Any,
    tables: Any = None,
    fallback_limit: int | None = None,
    duty_cache: dict[tuple[str, int], pl.DataFrame] | None = None,
    baseline: tuple[Any, Any] | None = None,
) -> ScenarioRun:
    """One run. ``baseline`` = (RunResult of the baseline, its corpus): a scenario with no rule or bill
    overlay (measures only) reuses those determinations (the rules and the bills are the same objects), so
    only the duty is recomputed."""
    from usmca.portfolio.run import run_portfolio

    name = BASELINE if scenario is None else scenario.name
    notes: list[str] = []
    c, ms, p = corpus, measures, pf
    if scenario is not None:
        c = overlay_corpus(corpus, scenario)
        ms = overlay_measures(measures, scenario)
        p, notes = overlay_portfolio(pf, scenario)
    if baseline is not None and c is baseline[1] and p is pf:
        rr = baseline[0]
        notes.append("no rule or bill change: the baseline determinations apply; only the measures differ")
    else:
        rr = run_portfolio(
            p,
            on=on,
            conn=conn,
            corpus=c,
            tables=tables if c is corpus else None,
            exposure=False,
            fallback_limit=fallback_limit,
        )
    res = rr.results.drop("duty_at_stake", "exposure_note")
    if scenario is not None:
        res = content_caps(res, p, scenario, c)
    else:
        res = res.with_columns(pl.lit(None, pl.String).alias("scenario_rule"))
    res = add_duty(res, p.products, on, ms, conn, duty_cache)
    skipped = len(rr.skipped)
    if skipped:
        notes.append(f"{skipped} SKU(s) skipped by the engine (see `usmca portfolio run` for the reasons)")
    vintage = {**rr.vintage, "measures": ms.vintage}
    return ScenarioRun(name, res.sort("sku"), tuple(notes), vintage, rr.engine_counts, rr)


def _flips(base: ScenarioRun, run: ScenarioRun) -> pl.DataFrame:
    b = base.results.select(
        "sku",
        "hts",
        pl.col("status").alias("status_before"),
        pl.col("rvc_margin").alias("margin_before"),
        pl.col("duty_owed").alias("duty_before"),
    )
    a = run.results.select(
        "sku",
        pl.col("status").alias("status_after"),
        pl.col("rvc_margin").alias("margin_after"),
        pl.col("duty_owed").alias("duty_after"),
        "blockers",
        "needs",
        "scenario_rule",
        "rule_id",
    )
    j = b.join(a, on="sku", how="full", coalesce=True)
    changed = (
        (pl.col("status_before") != pl.col("status_after")).fill_null(True)
        | ((pl.col("duty_before") != pl.col("duty_after")).fill_null(False))
        | ((pl.col("margin_before") != pl.col("margin_after")).fill_null(False))
    )
    return (
        j.filter(changed)
        .with_columns(
            pl.lit(run.name).alias("scenario"),
            (pl.col("status_before") != pl.col("status_after")).fill_null(True).alias("flipped"),
            (pl.col("duty_after") - pl.col("duty_before")).round(2).alias("duty_change"),
            pl.coalesce(
                pl.col("scenario_rule"),
                pl.when(pl.col("blockers").list.len() > 0).then(
                    pl.lit("tariff shift fails: ") + pl.col("blockers").list.join(", ")
                ),
                pl.when(pl.col("margin_after") < 0).then(
                    pl.lit("RVC short by ") + pl.col("margin_after").abs().round(1).cast(pl.String) + pl.lit(" points")
                ),
                pl.col("needs").list.join("; "),
            ).alias("reason"),
        )
        .select(
            "scenario",
            "sku",
            "hts",
            "flipped",
            "status_before",
            "status_after",
            "margin_before",
            "margin_after",
            "duty_before",
            "duty_after",
            "duty_change",
            "reason",
            "rule_id",
        )
        .sort("flipped", "sku", descending=[True, False])
    )


def compare_portfolio(
    pf: Any,
    scenarios: list[Scenario],
    *,
    on: dt.date,
    conn: sqlite3.Connection | None = None,
    corpus: Any = None,
    measures: Any = None,
    remedies: bool = True,
    remedy_limit: int = 200,
    fallback_limit: int | None = None,
) -> Comparison:
    """Baseline plus each scenario on the same checked portfolio (``usmca.portfolio.read.Portfolio``).

    ``remedy_limit`` caps the SKUs per scenario for which a remedy is searched and verified;
    ``fallback_limit`` (benchmarks) caps single-good engine calls per run: SKUs beyond it are reported
    ``unresolved`` by the portfolio engine with the reason, never dropped."""
    from usmca.measures.records import load_measures
    from usmca.portfolio.run import load_rule_tables
    from usmca.rules.corpus import load_corpus

    if conn is None:
        from usmca.store import store

        conn = store()
    corpus = corpus if corpus is not None else load_corpus(conn)
    measures = measures if measures is not None else load_measures()
    tables, _ = load_rule_tables(conn, corpus)
    cache: dict[tuple[str, int], pl.DataFrame] = {}  # by measure-set vintage (names the scenario)
    base = run_one(
        pf,
        None,
        on=on,
        conn=conn,
        corpus=corpus,
        measures=measures,
        tables=tables,
        fallback_limit=fallback_limit,
        duty_cache=cache,
    )
    runs, flips, rems = [], [], []
    for sc in scenarios:
        run = run_one(
            pf,
            sc,
            on=on,
            conn=conn,
            corpus=corpus,
            measures=measures,
            tables=tables,
            fallback_limit=fallback_limit,
            duty_cache=cache,
            baseline=(base.run, corpus),
        )
        runs.append(run)
        fl = _flips(base, run)
        flips.append(fl)
        if remedies:
            lost = fl.filter(
                pl.col("flipped")
                & (pl.col("status_before") == "originating")
                & (pl.col("status_after") != "originating")
            )["sku"].to_list()
            rems.append(remedy(pf, sc, run, lost[:remedy_limit], on=on, conn=conn, corpus=corpus))
    flips_df = pl.concat(flips, how="vertical_relaxed") if flips else _flips(base, base).head(0)
    rem_df = pl.concat(rems, how="vertical_relaxed") if rems else pl.DataFrame(schema=REMEDY_SCHEMA)
    return Comparison(on, base, tuple(runs), tuple(scenarios), flips_df, rem_df, ASSUMPTIONS)


# ------------------------------------------------------------------------------------------------ remedies

REMEDY_SCHEMA: dict[str, Any] = {
    "scenario": pl.String,
    "sku": pl.String,
    "components": pl.List(pl.String),
    "value_resourced": pl.Float64,
    "arithmetic": pl.String,
    "verified": pl.Boolean,
    "result": pl.String,
}


def _m(u: float | int | None) -> str:
    return "?" if u is None else f"{u / MICRO:,.2f}"


def _cover(items: list[tuple[str, int]], gap: int) -> list[tuple[str, int]] | None:
    """Fewest components whose values reach ``gap`` (largest first), then the last pick swapped for the
    smallest single component that still reaches it (less value moved)."""
    items = sorted(items, key=lambda t: (-t[1], t[0]))
    chosen: list[tuple[str, int]] = []
    total = 0
    for it in items:
        if total >= gap:
            break
        chosen.append(it)
        total += it[1]
    if total < gap:
        return None
    if chosen:
        rest = total - chosen[-1][1]
        need = gap - rest
        pool = [it for it in items if it not in chosen[:-1] and it[1] >= need]
        if pool:
            chosen[-1] = min(pool, key=lambda t: (t[1], t[0]))
    return chosen


def _plan_one(
    sku: str, row: dict[str, Any], prod: dict[str, Any], lines: list[dict[str, Any]]
) -> tuple[list[str], int, str]:
    """(components to re-source, value moved in micros, arithmetic text) for one SKU."""
    nonorig = [(ln["component_id"], int(ln["value_u"] or 0)) for ln in lines if ln["origin"] != "originating"]
    forced = [c for c in (row.get("blockers") or []) if c in {x[0] for x in nonorig}]
    text: list[str] = []
    if forced:
        text.append(f"tariff shift: source {', '.join(forced)} in the region (they fail the rule's shift)")
    margin = row.get("rvc_margin")
    vnm = sum(v for _, v in nonorig)
    forced_v = sum(v for c, v in nonorig if c in forced)
    picked = list(forced)
    moved = forced_v
    if margin is not None and margin < 0 and not row.get("_required"):
        text.append("RVC: the thresholds that apply could not be read from the single-good engine")
    elif margin is not None and margin < 0:
        atv = prod.get("transaction_value_u")
        atv = None if atv is None else atv - (prod.get("international_shipment_u") or 0)
        nc = prod.get("net_cost_u") if prod.get("net_cost_u") is not None else prod.get("total_cost_u")
        best: tuple[int, list[tuple[str, int]], str] | None = None
        required = row.get("_required") or {}
        for label, b, fig, req in (
            ("transaction value", atv, row.get("rvc_transaction_value"), required.get("transaction_value")),
            ("net cost", nc, row.get("rvc_net_cost"), required.get("net_cost")),
        ):
            if not b or fig is None or req is None:
                continue
            allowed = int(b * (100 - req) / 100)  # the most VNM the threshold allows
            gap = (vnm - forced_v) - allowed
            pool = [x for x in nonorig if x[0] not in forced]
            cov = [] if gap <= 0 else _cover(pool, gap)
            if cov is None:
                continue
            mv = sum(v for _, v in cov)
            new_vnm = vnm - forced_v - mv
            arith = (
                f"RVC ({label}) = ({_m(b)} - VNM) / {_m(b)}: now VNM {_m(vnm)} -> {fig:.1f}% < required "
                f"{req:.1f}%; "
                f"VNM may be at most {_m(b)} x (100 - {req:.1f})% = {_m(allowed)}; "
                + (f"source {', '.join(f'{c} ({_m(v)})' for c, v in cov)} in the region: " if cov else "")
                + f"VNM {_m(new_vnm)} -> RVC {(100 * (b - new_vnm) / b):.1f}% >= {req:.1f}%"
            )
            if best is None or mv < best[0]:
                best = (mv, cov, arith)
        if best is None:
            text.append("RVC: no re-sourcing of the bill's non-originating materials reaches the threshold")
        else:
            picked += [c for c, _ in best[1]]
            moved += best[0]
            text.append(best[2])
    return picked, moved, "; ".join(text)


def remedy(
    pf: Any,
    scenario: Scenario,
    run: ScenarioRun,
    skus: list[str],
    *,
    on: dt.date,
    conn: sqlite3.Connection,
    corpus: Any,
) -> pl.DataFrame:
    """For SKUs that stop qualifying: the cheapest re-sourcing (fewest components, then least value) that
    restores qualification under the scenario, checked by re-running the engine on the changed bill."""
    from usmca.portfolio.read import self_produced_lines
    from usmca.portfolio.run import run_portfolio

    if not skus:
        return pl.DataFrame(schema=REMEDY_SCHEMA)
    p, _ = overlay_portfolio(pf, scenario)
    res = run.results.filter(pl.col("sku").is_in(skus))
    prod = {r["sku"]: r for r in p.products.filter(pl.col("sku").is_in(skus)).iter_rows(named=True)}
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for ln in p.bom.filter(pl.col("parent_sku").is_in(skus)).iter_rows(named=True):
        by_parent.setdefault(ln["parent_sku"], []).append(ln)
    c = overlay_corpus(corpus, scenario)
    plans: dict[str, tuple[list[str], int, str]] = {}
    for row in res.iter_rows(named=True):
        if not row.get("scenario_rule") and row.get("rvc_margin") is not None and row["rvc_margin"] < 0:
            row["_required"] = _required(row["sku"], p, by_parent, on, c, conn)
        if row.get("scenario_rule"):
            # a named-country cap: re-source the named-country materials, largest first
            plans[row["sku"]] = _cap_plan(row, scenario, by_parent.get(row["sku"], []), prod.get(row["sku"], {}), c)
        else:
            plans[row["sku"]] = _plan_one(row["sku"], row, prod.get(row["sku"], {}), by_parent.get(row["sku"], []))
    # verify: the scenario run on the changed bills of these SKUs only
    change = pl.DataFrame(
        [(s, c) for s, (cs, _, _) in plans.items() for c in cs],
        schema={"parent_sku": pl.String, "_cid": pl.String},
        orient="row",
    )
    keep = set(skus)
    below = (
        self_produced_lines(p.bom, "parent_sku", "component_id")
        .filter(pl.col("parent_sku").is_in(skus))["component_id"]
        .to_list()
    )
    keep |= set(below)
    bom2 = (
        p.bom.filter(pl.col("parent_sku").is_in(list(keep)))
        .join(
            change.with_columns(pl.lit(True).alias("_hit")),
            left_on=["parent_sku", "component_id"],
            right_on=["parent_sku", "_cid"],
            how="left",
        )
        .join(
            p.products.select(pl.col("sku").alias("parent_sku"), pl.col("country_of_production").alias("_cop")),
            on="parent_sku",
            how="left",
        )
        .with_columns(
            # re-sourced: originating, from a supplier in the producer's own country (an assumption)
            pl.when(pl.col("_hit").fill_null(False))
            .then(pl.lit("originating"))
            .otherwise(pl.col("origin"))
            .alias("origin"),
            pl.when(pl.col("_hit").fill_null(False)).then(pl.col("_cop")).otherwise(pl.col("country")).alias("country"),
        )
        .drop("_hit", "_cop")
    )
    pf2 = dataclasses.replace(p, products=p.products.filter(pl.col("sku").is_in(list(keep))), bom=bom2)
    rr = run_portfolio(pf2, on=on, conn=conn, corpus=c, exposure=False)
    after = content_caps(rr.results.drop("duty_at_stake", "exposure_note"), pf2, scenario, c)
    st = dict(zip(after["sku"].to_list(), after["status"].to_list(), strict=True))
    rows = []
    for s, (cs, mv, text) in plans.items():
        ok = st.get(s) == "originating"
        rows.append(
            {
                "scenario": scenario.name,
                "sku": s,
                "components": cs,
                "value_resourced": round(mv / MICRO, 2),
                "arithmetic": text,
                "verified": ok,
                "result": "originating under the scenario after the change"
                if ok
                else (
                    f"engine says {st[s]} after the change: not restored by re-sourcing alone"
                    if s in st
                    else f"not verified: the engine skipped the changed case ({rr.skipped.get(s, 'no reason given')})"
                ),
            }
        )
    return pl.DataFrame(rows, schema=REMEDY_SCHEMA)


def _required(
    sku: str,
    p: Any,
    by_parent: dict[str, list[dict[str, Any]]],
    on: dt.date,
    corpus: Any,
    conn: sqlite3.Connection,
) -> dict[str, Any] | None:
    """The RVC thresholds the single-good engine applies to the SKU under the scenario (Part 6 included)."""
    from usmca.errors import UsmcaError
    from usmca.origin.case import parse_case
    from usmca.origin.determine import determine
    from usmca.portfolio.read import self_produced_lines
    from usmca.portfolio.run import case_dict

    below = (
        self_produced_lines(p.bom, "parent_sku", "component_id")
        .filter(pl.col("parent_sku") == sku)["component_id"]
        .to_list()
    )
    prods = {r["sku"]: r for r in p.products.filter(pl.col("sku").is_in([sku, *below])).iter_rows(named=True)}
    bills = dict(by_parent)
    for ln in p.bom.filter(pl.col("parent_sku").is_in(below)).iter_rows(named=True):
        bills.setdefault(ln["parent_sku"], []).append(ln)
    try:
        d = determine(parse_case(case_dict(sku, prods, bills, on)), corpus=corpus, conn=conn)
    except UsmcaError:
        return None
    req = (d.rvc or {}).get("required") or {}
    return req if any(v is not None for v in req.values()) else None


def _cap_plan(
    row: dict[str, Any], scenario: Scenario, lines: list[dict[str, Any]], prod: dict[str, Any], corpus: Any
) -> tuple[list[str], int, str]:
    """Re-source named-country materials: first those de minimis no longer covers (they fail every shift of
    the rule, when the scenario excludes them from de minimis and the SKU used it), then the fewest needed to
    bring the named-country share under the cap."""
    from usmca.scenarios.model import ContentCap
    from usmca.scenarios.overlay import _fails_every_shift

    caps = [o for o in scenario.rules if isinstance(o, ContentCap)]
    countries = {c for o in caps for c in o.countries}
    named_lines = [ln for ln in lines if ln["origin"] != "originating" and ln.get("country") in countries]
    named = sorted(((ln["component_id"], int(ln["value_u"] or 0)) for ln in named_lines), key=lambda t: (-t[1], t[0]))
    forced: list[tuple[str, int]] = []
    if any(o.exclude_from_de_minimis for o in caps) and row.get("de_minimis"):
        forced = [
            (ln["component_id"], int(ln["value_u"] or 0))
            for ln in named_lines
            if _fails_every_shift(corpus, row.get("rule_id"), ln["component_hts"], row.get("hts") or "")
        ]
    text: list[str] = []
    if forced:
        text.append(
            f"de minimis no longer covers {', '.join(f'{c} ({_m(v)})' for c, v in forced)} from "
            f"{', '.join(sorted(countries))} (fail the tariff shift): source them in the region"
        )
    base = prod.get("transaction_value_u")
    if base is not None:
        base -= prod.get("international_shipment_u") or 0
    else:
        base = prod.get("net_cost_u") if prod.get("net_cost_u") is not None else prod.get("total_cost_u")
    cap = min((o.max_share for o in caps if o.max_share is not None), default=None)
    total = sum(v for _, v in named)
    left = total - sum(v for _, v in forced)
    cov: list[tuple[str, int]] = []
    if cap is not None and base and left > int(base * cap / 100):
        allowed = int(base * cap / 100)
        pool = [x for x in named if x not in forced]
        cov = _cover(pool, left - allowed) or pool
        after = left - sum(v for _, v in cov)
        text.append(
            f"named-country content {_m(left)} of {_m(base)} = {100 * left / base:.1f}% > cap {cap:g}%; at "
            "most "
            f"{_m(allowed)} allowed; source {', '.join(f'{c} ({_m(v)})' for c, v in cov)} in the region: "
            f"{_m(after)} = {100 * after / base:.1f}% <= {cap:g}%"
        )
    picked = forced + cov
    if not picked:
        picked = named
        text.append(f"source every non-originating material from {', '.join(sorted(countries))} elsewhere")
    return [c for c, _ in picked], sum(v for _, v in picked), "; ".join(text)
