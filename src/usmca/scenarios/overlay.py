"""Scenario overlays as pure functions: each takes the baseline (rule corpus, Part 6 rules, measure set,
portfolio) and returns a NEW one; nothing is mutated. Every changed item says which scenario changed it.

- ``overlay_corpus``: RVC thresholds and tariff-shift levels of GN 11(o) rules in a scope. A rule only partly
  inside the scope is split at the alternative level (``Alternative.target``): its original alternatives keep
  the codes outside the scope, the changed copies take the codes inside, so the rule's own scope (and so the
  "most specific rule prevails" choice of ``Corpus.rules_for``) is untouched.
- ``AutomotiveOverlay``: Part 6 vehicle RVC, core-part RVC, LVC and steel/aluminum, delegating the rest to
  ``usmca.rules.automotive``; the origin engine takes it from the corpus (``corpus.automotive``).
- ``overlay_measures``: change rate or validity of measures; add measures (checked by ``parse_measure``).
- ``overlay_portfolio``: bill-of-materials effects (melted-and-poured steel; producer input duties).
- ``content_caps``: the named-country cap and de minimis exclusion, applied to results after the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from usmca.nomenclature.codes import CodeRange, CodeSet
from usmca.rules.corpus import Corpus
from usmca.rules.grammar import Alternative, RegionalValueContent, Rule, TariffShift
from usmca.scenarios.model import (
    ContentCap,
    CorePartsRvc,
    InputCost,
    Lvc,
    MeasureAdd,
    MeasureChange,
    RvcThreshold,
    Scenario,
    Scope,
    SteelAluminum,
    TariffShiftLevel,
    VehicleRvc,
    pct_fraction,
)

# ------------------------------------------------------------------------------------------ code ranges


def _span(r: CodeRange, w: int) -> tuple[int, int]:
    return int(r.start.ljust(w, "0")), int(r.end.ljust(w, "9"))


def _split(cs: CodeSet, prefixes: Sequence[str]) -> tuple[CodeSet, CodeSet]:
    """(inside, outside) of ``cs`` with respect to the union of ``prefixes`` (ranges compared at the wider
    width; pieces are written at that width)."""
    inside: list[CodeRange] = []
    outside: list[CodeRange] = []
    for r in cs.ranges:
        w = max([r.width, *(len(p) for p in prefixes)])
        lo, hi = _span(r, w)
        cuts = sorted(
            (max(lo, a), min(hi, b))
            for a, b in (_span(CodeRange.single(p), w) for p in prefixes)
            if max(lo, a) <= min(hi, b)
        )
        if not cuts:
            outside.append(r)
            continue
        cur = lo
        for a, b in cuts:
            if a > cur:
                outside.append(CodeRange(str(cur).zfill(w), str(a - 1).zfill(w)))
            inside.append(CodeRange(str(a).zfill(w), str(b).zfill(w)))
            cur = max(cur, b + 1)
        if cur <= hi:
            outside.append(CodeRange(str(cur).zfill(w), str(hi).zfill(w)))
    return CodeSet(tuple(inside)), CodeSet(tuple(outside))


# ------------------------------------------------------------------------------------------ rule corpus


def _new_rvc(rvc: RegionalValueContent, ov: RvcThreshold, tag: str) -> RegionalValueContent:
    if ov.raise_by is not None:
        tv = None if rvc.transaction_value is None else min(100.0, rvc.transaction_value + ov.raise_by)
        nc = None if rvc.net_cost is None else min(100.0, rvc.net_cost + ov.raise_by)
    else:
        # a method the rule does not allow stays unavailable; a given figure replaces the rule's
        tv = (
            ov.transaction_value
            if (ov.transaction_value is not None and rvc.transaction_value is not None)
            else (rvc.transaction_value)
        )
        nc = ov.net_cost if (ov.net_cost is not None and rvc.net_cost is not None) else rvc.net_cost
    return RegionalValueContent(transaction_value=tv, net_cost=nc, text=f"[{tag}] {rvc.text}".strip())


def _change_alt(a: Alternative, overlays: Sequence[Any], tag: str) -> Alternative:
    out = a
    for ov in overlays:
        if isinstance(ov, RvcThreshold) and out.rvc is not None:
            out = dataclasses.replace(out, rvc=_new_rvc(out.rvc, ov, tag))
        elif (
            isinstance(ov, TariffShiftLevel)
            and out.shift is not None
            and out.shift.kind in ("any_other", "including_group")
            and out.shift.level == ov.from_level
        ):
            sh: TariffShift = dataclasses.replace(
                out.shift,
                level=ov.to_level,
                text=f"[{tag}: {ov.from_level} -> {ov.to_level}] {out.shift.text}",
            )
            out = dataclasses.replace(out, shift=sh)
    if out is not a:
        out = dataclasses.replace(out, text=f"[{tag}] {a.text}")
    return out


def _rule_in(rule: Rule, scope: Scope) -> tuple[str, CodeSet, CodeSet]:
    """("all" | "none" | "part", inside, outside)."""
    if scope.everything or rule.id in scope.rule_ids:
        return "all", rule.scope, CodeSet()
    pre = scope.prefixes()
    if not pre:
        return "none", CodeSet(), rule.scope
    inside, outside = _split(rule.scope, pre)
    if not inside:
        return "none", inside, outside
    if not outside:
        return "all", inside, outside
    return "part", inside, outside


def _overlay_rule(rule: Rule, overlays: Sequence[Any], tag: str) -> Rule:
    alts: list[Alternative] = list(rule.alternatives)
    for ov in overlays:
        where, _inside, _ = _rule_in(rule, ov.scope)
        if where == "none":
            continue
        new: list[Alternative] = []
        for a in alts:
            changed = _change_alt(a, (ov,), tag)
            if changed is a:
                new.append(a)
                continue
            if where == "all":
                new.append(changed)
                continue
            # split: the branch's codes (its target, else the rule's scope) inside / outside the overlay
            base = a.target if a.target else rule.scope
            t_in, t_out = _split(base, ov.scope.prefixes())
            if t_out:
                new.append(dataclasses.replace(a, target=t_out))
            if t_in:
                new.append(dataclasses.replace(changed, target=t_in))
        alts = new
    if alts == list(rule.alternatives):
        return rule
    return dataclasses.replace(rule, alternatives=tuple(alts))


class ScenarioCorpus(Corpus):
    """A corpus with a scenario's overlays; ``automotive`` (or None) is the Part 6 rules the origin engine
    uses for it; ``base`` the corpus it was derived from."""

    def __init__(
        self,
        rules: tuple[Rule, ...],
        notes: Any,
        meta: dict[str, str],
        *,
        base: Corpus,
        automotive: Any = None,
        changed: tuple[str, ...] = (),
    ) -> None:
        super().__init__(rules, notes, meta)
        self.base = base
        self.automotive = automotive
        self.changed_rules = changed


def overlay_corpus(corpus: Corpus, scenario: Scenario, automotive: Any = None) -> Corpus:
    """A new corpus with the scenario's rule overlays (the argument is not changed). When the scenario changes
    nothing in the rules, the same corpus object is returned, so a no-op scenario is the baseline exactly."""
    rule_ovs = [o for o in scenario.rules if isinstance(o, RvcThreshold | TariffShiftLevel)]
    auto = automotive_overlay(scenario, automotive)
    if not rule_ovs and auto is None:
        return corpus
    tag = f"scenario {scenario.name}"
    rules: list[Rule] = []
    changed: list[str] = []
    for r in corpus.rules:
        nr = _overlay_rule(r, rule_ovs, tag) if rule_ovs else r
        if nr is not r:
            changed.append(r.id)
        rules.append(nr)
    meta = dict(corpus.meta)
    meta["version"] = f"{corpus.version}+{scenario.name}"
    meta["scenario"] = scenario.name
    base = getattr(corpus, "base", corpus)
    return ScenarioCorpus(tuple(rules), corpus.notes, meta, base=base, automotive=auto, changed=tuple(changed))


# ------------------------------------------------------------------------------------------ Part 6


def _threshold(thr: Any, ov: VehicleRvc | CorePartsRvc, tag: str) -> Any:
    if thr is None:
        return None
    if ov.raise_by is not None:
        nc = None if thr.net_cost is None else min(100.0, thr.net_cost + ov.raise_by)
        tv = None if thr.transaction_value is None else min(100.0, thr.transaction_value + ov.raise_by)
    else:
        nc = ov.net_cost if (ov.net_cost is not None and thr.net_cost is not None) else thr.net_cost
        tv = (
            ov.transaction_value
            if (ov.transaction_value is not None and thr.transaction_value is not None)
            else thr.transaction_value
        )
    return dataclasses.replace(thr, net_cost=nc, transaction_value=tv, citation=f"{thr.citation}; as changed by {tag}")


class AutomotiveOverlay:
    """``usmca.rules.automotive`` with a scenario's Part 6 changes; every other name is the module's."""

    def __init__(self, scenario: Scenario, module: Any) -> None:
        self._m = module
        self._sc = scenario
        self._tag = f"scenario {scenario.name}"
        self._ovs = [o for o in scenario.rules if isinstance(o, VehicleRvc | CorePartsRvc | Lvc | SteelAluminum)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)

    def vehicle_requirement(self, hts: str, use: str | None, on: Any, **kw: Any) -> Any:
        vr = self._m.vehicle_requirement(hts, use, on, **kw)
        if vr is None or vr.status != "resolved":
            return vr
        out = vr
        for ov in self._ovs:
            if isinstance(ov, VehicleRvc) and vr.vehicle_class in ov.classes and out.rvc is not None:
                out = dataclasses.replace(out, rvc=_threshold(out.rvc, ov, self._tag))
            elif isinstance(ov, Lvc) and out.lvc is not None:
                hw = ov.high_wage_material_labour_min
                out = dataclasses.replace(
                    out,
                    lvc=dataclasses.replace(
                        out.lvc,
                        total=ov.total,
                        high_wage_material_labour_min=out.lvc.high_wage_material_labour_min if hw is None else hw,
                        citation=f"{out.lvc.citation}; as changed by {self._tag}",
                    ),
                )
            elif isinstance(ov, SteelAluminum) and out.steel_aluminum is not None:
                sa = out.steel_aluminum
                out = dataclasses.replace(
                    out,
                    steel_aluminum=dataclasses.replace(
                        sa,
                        percent=sa.percent if ov.percent is None else ov.percent,
                        originating_steel_rule="melted_and_poured"
                        if ov.melted_and_poured
                        else sa.originating_steel_rule,
                        originating_steel_text=(
                            "melted and poured in the CUSMA countries (" + self._tag + ")"
                            if ov.melted_and_poured
                            else sa.originating_steel_text
                        ),
                        citation=f"{sa.citation}; as changed by {self._tag}",
                    ),
                )
        return out

    def core_part(self, hts: str, vehicle_use: str | None, on: Any, **kw: Any) -> Any:
        cp = self._m.core_part(hts, vehicle_use, on, **kw)
        if cp is None or cp.status != "applies" or cp.rvc is None:
            return cp
        out = cp
        for ov in self._ovs:
            if isinstance(ov, CorePartsRvc) and (not ov.tables or cp.table in ov.tables):
                out = dataclasses.replace(out, rvc=_threshold(out.rvc, ov, self._tag))
        return out


def automotive_overlay(scenario: Scenario, module: Any = None) -> AutomotiveOverlay | None:
    if not any(isinstance(o, VehicleRvc | CorePartsRvc | Lvc | SteelAluminum) for o in scenario.rules):
        return None
    if module is None:
        import usmca.rules.automotive as module
    return AutomotiveOverlay(scenario, module)


# ------------------------------------------------------------------------------------------ measures


def _selected(m: Any, ov: MeasureChange) -> bool:
    s = ov.select
    return m.id in s.ids or m.program in s.programs or m.authority in s.authorities


def overlay_measures(ms: Any, scenario: Scenario) -> Any:
    """A new ``MeasureSet`` with the scenario's measure overlays (``ms`` unchanged; same object when the
    scenario has none). A change that selects no measure is an error (a typo must not pass silently)."""
    from usmca.errors import InputError
    from usmca.measures.records import MeasureSet, parse_measure

    if not scenario.measures:
        return ms
    measures = list(ms.measures)
    tag = f"scenario {scenario.name}"
    for i, ov in enumerate(scenario.measures):
        if isinstance(ov, MeasureChange):
            hit = False
            for k, m in enumerate(measures):
                if not _selected(m, ov):
                    continue
                hit = True
                upd: dict[str, Any] = {}
                if ov.rate_percent is not None:
                    upd["rate"] = pct_fraction(ov.rate_percent)
                    upd["country_rates"] = {}
                if ov.valid_to is not None:
                    upd["valid_to"] = ov.valid_to
                if ov.open_ended:
                    upd["valid_to"] = None
                if ov.status is not None:
                    upd["status"] = ov.status
                elif "valid_to" in upd and m.status == "expired":
                    upd["status"] = "in_force"  # extended: collected again inside the new window
                upd["status_note"] = f"{tag}: {ov.note or 'changed'}; was: {m.status_note}".strip()
                measures[k] = dataclasses.replace(m, **upd)
            if not hit:
                raise InputError(
                    f"scenario {scenario.name}: measures[{i}].select",
                    ov.select.model_dump(),
                    "selects no measure",
                )
        elif isinstance(ov, MeasureAdd):
            m = parse_measure(ov.measure, f"scenario {scenario.name}")
            if any(x.id == m.id for x in measures):
                raise InputError(f"scenario {scenario.name}: measures[{i}].measure.id", m.id, "id already used")
            measures.append(m)
    return MeasureSet(tuple(measures), f"{ms.vintage} + {tag}")


# ------------------------------------------------------------------------------------------ portfolio


def overlay_portfolio(pf: Any, scenario: Scenario) -> tuple[Any, list[str]]:
    """(new portfolio, notes): bill-of-materials effects of the scenario. ``pf`` is not changed."""
    sa = [o for o in scenario.rules if isinstance(o, SteelAluminum) and o.melted_and_poured]
    ic = [o for o in scenario.rules if isinstance(o, InputCost)]
    if not sa and not ic:
        return pf, []
    bom: pl.DataFrame = pf.bom
    prod: pl.DataFrame = pf.products
    notes: list[str] = []
    for ov in sa:
        ch = list(ov.material_chapters)
        declared = (
            pl.col("melted_and_poured").cast(pl.String).str.to_lowercase().is_in(["yes", "y", "true", "1"])
            if "melted_and_poured" in bom.columns
            else pl.lit(False)
        )
        hit = (pl.col("origin") == "originating") & pl.col("component_hts").str.slice(0, 2).is_in(ch) & ~declared
        n = int(bom.select(hit.sum()).item())
        bom = bom.with_columns(pl.when(hit).then(pl.lit("unknown")).otherwise(pl.col("origin")).alias("origin"))
        notes.append(
            f"steel/aluminum melted and poured: {n} originating BOM line(s) of chapters {', '.join(ch)} "
            "without a "
            "melted-and-poured declaration now have origin unknown (treated as non-originating and named "
            "in needs)"
        )
    for ov2 in ic:
        rates = pl.DataFrame(
            {"_ch": list(ov2.chapter_rates), "_rate": list(ov2.chapter_rates.values())},
            schema={"_ch": pl.String, "_rate": pl.Float64},
        )
        producers = prod.filter(pl.col("country_of_production").is_in(list(ov2.producer_countries)))["sku"]
        b = bom.with_columns(pl.col("component_hts").str.slice(0, 2).alias("_ch")).join(rates, on="_ch", how="left")
        hit = (
            pl.col("parent_sku").is_in(producers.implode())
            & (pl.col("origin") != "originating")
            & pl.col("country").is_in(list(ov2.from_countries))
        )
        b = b.with_columns(pl.when(hit).then(pl.col("_rate").fill_null(ov2.default_rate)).otherwise(0.0).alias("_rate"))
        b = b.with_columns((pl.col("value_u") * pl.col("_rate") / 100.0).round(0).cast(pl.Int64).alias("_add"))
        n = b.filter(pl.col("_add") > 0).height
        if ov2.pass_through:
            add = b.group_by("parent_sku").agg(pl.col("_add").sum()).rename({"parent_sku": "sku"})
            money = [c for c in ("transaction_value_u", "total_cost_u", "net_cost_u") if c in prod.columns]
            prod = (
                prod.join(add, on="sku", how="left")
                .with_columns(*[(pl.col(c) + pl.col("_add").fill_null(0)).alias(c) for c in money])
                .drop("_add")
            )
        bom = b.with_columns((pl.col("value_u") + pl.col("_add")).alias("value_u")).drop("_ch", "_rate", "_add")
        notes.append(
            f"input duties: {n} non-originating BOM line(s) from {', '.join(ov2.from_countries)} used by "
            "producers in "
            f"{', '.join(ov2.producer_countries)} raised by their chapter's rate; "
            + (
                "price and cost raised by the same amount"
                if ov2.pass_through
                else "price and cost unchanged (absorbed)"
            )
        )
    return dataclasses.replace(pf, products=prod, bom=bom), notes


def content_caps(results: pl.DataFrame, pf: Any, scenario: Scenario, corpus: Corpus) -> pl.DataFrame:
    """Apply the scenario's named-country caps to engine results: an originating SKU whose non-originating
    materials from the named countries exceed ``max_share`` of its transaction value (net cost when no
    value), or that relied on de minimis for such a material, becomes ``non_originating`` with the reason in
    ``needs``-free ``blockers``. Returns a new frame (adds ``scenario_rule``)."""
    caps = [o for o in scenario.rules if isinstance(o, ContentCap)]
    out = results.with_columns(pl.lit(None, pl.String).alias("scenario_rule"))
    if not caps:
        return out
    bom: pl.DataFrame = pf.bom
    prod: pl.DataFrame = pf.products
    base = prod.select(
        "sku",
        pl.coalesce(
            pl.col("transaction_value_u") - pl.col("international_shipment_u").fill_null(0),
            pl.col("net_cost_u"),
            pl.col("total_cost_u"),
        ).alias("_base"),
    )
    for ov in caps:
        # (lazily: the filter copies the three columns used, not the whole bill)
        named = bom.lazy().filter((pl.col("origin") != "originating") & pl.col("country").is_in(list(ov.countries)))
        share = (
            named.group_by("parent_sku")
            .agg(pl.col("value_u").sum().alias("_named"), pl.col("component_id"))
            .collect()
            .rename({"parent_sku": "sku"})
            .join(base, on="sku", how="left")
            .with_columns((100.0 * pl.col("_named") / pl.col("_base")).alias("_share"))
        )
        fails: dict[str, str] = {}
        if ov.max_share is not None:
            for sku, sh, comps in (
                share.filter(pl.col("_share") > ov.max_share).select("sku", "_share", "component_id").iter_rows()
            ):
                fails[sku] = (
                    f"non-originating content from {', '.join(ov.countries)} is {sh:.1f}% of value, above "
                    "the "
                    f"{ov.max_share:g}% cap ({', '.join(comps[:6])})"
                )
        if ov.exclude_from_de_minimis:
            dm = out.filter(pl.col("de_minimis").fill_null(False) & (pl.col("status") == "originating"))
            lines = named.filter(pl.col("parent_sku").is_in(dm["sku"].implode()))
            rule_of = dict(zip(dm["sku"].to_list(), dm["rule_id"].to_list(), strict=True))
            hts_of = dict(zip(prod["sku"].to_list(), prod["hts"].to_list(), strict=True))
            for sku, cid, mh in lines.select("parent_sku", "component_id", "component_hts").collect().iter_rows():
                if sku in fails:
                    continue
                if _fails_every_shift(corpus, rule_of.get(sku), mh, hts_of.get(sku, "")):
                    fails[sku] = (
                        f"de minimis excluded for materials from {', '.join(ov.countries)}: {cid} ({mh}) "
                        "does not "
                        "make the tariff shift"
                    )
        if not fails:
            continue
        f = pl.DataFrame(
            {"sku": list(fails), "_why": list(fails.values())}, schema={"sku": pl.String, "_why": pl.String}
        )
        out = (
            out.join(f, on="sku", how="left")
            .with_columns(
                pl.when(pl.col("_why").is_not_null() & (pl.col("status") == "originating"))
                .then(pl.lit("non_originating"))
                .otherwise(pl.col("status"))
                .alias("status"),
                pl.when(pl.col("_why").is_not_null() & (pl.col("status") == "originating"))
                .then(pl.lit(f"scenario {scenario.name}: ") + pl.col("_why"))
                .otherwise(pl.col("scenario_rule"))
                .alias("scenario_rule"),
            )
            .drop("_why")
        )
    return out


def _fails_every_shift(corpus: Corpus, rule_id: str | None, material_hts: str, good_hts: str) -> bool:
    """True when the material fails the tariff shift of every alternative of the rule that has one."""
    if not rule_id or not good_hts:
        return True  # the rule is unknown: the de minimis allowance may have covered it (stated in the report)
    try:
        rule = corpus.rule(rule_id)
    except Exception:
        return True
    shifts = [a.shift for a in rule.alternatives if a.shift is not None]
    if not shifts:
        return False
    return not any(s.allows(material_hts, good_hts) for s in shifts if len(material_hts) >= s.needs_digits())


def apply(scenario: Scenario, corpus: Corpus, measures: Any, automotive: Any = None) -> tuple[Corpus, Any]:
    """(corpus, measure set) under the scenario: both new objects, or the arguments when nothing changes."""
    return overlay_corpus(corpus, scenario, automotive), overlay_measures(measures, scenario)


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items() if x not in ((), {}, [], None)) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


def describe(scenario: Scenario) -> list[str]:
    """One line per overlay, for ``scenarios show`` and reports."""
    out: list[str] = []
    for o in scenario.rules:
        d = o.model_dump(mode="json", exclude_none=True, exclude={"kind"})
        out.append(f"rules/{o.kind}: " + ", ".join(f"{k}={_show(v)}" for k, v in d.items() if v not in ([], {})))
    for m in scenario.measures:
        if isinstance(m, MeasureChange):
            d = m.model_dump(mode="json", exclude_none=True, exclude={"kind"})
            out.append(
                "measures/change: " + ", ".join(f"{k}={_show(v)}" for k, v in d.items() if v not in ([], {}, False, ""))
            )
        else:
            mm = m.measure
            out.append(
                f"measures/add: {mm.get('id')} {mm.get('name', '')} rate "
                f"{Decimal(str(mm.get('rate', 0))) * 100}% "
                f"countries {mm.get('countries')} from {mm.get('valid_from')} to "
                f"{mm.get('valid_to') or 'open'}"
            )
    return out
