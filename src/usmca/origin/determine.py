"""Origin determination: the legal tests in order, with a trace citing each step.

Order (CUSMA Rules of Origin Regulations, Part 2, and USMCA Art. 4.2): production in the territory;
self-produced
materials with their own bills first (s.3(8), s.7(4)-(5), s.8(6)); (A) wholly obtained, s.3(1); sets, s.6;
(C) exclusively from originating materials, s.3(3); (B) the product-specific rule of HTSUS GN 11(o), s.3(2),
with de minimis (s.5) and regional value content (s.7); (D) the parts fallback, s.3(4); then the other
applicable requirements (automotive, Part 6). A material of unknown origin is non-originating (it cannot be
shown to originate); when the answer would change had it been originating, ``needs`` names it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from usmca.errors import DataError, InputError, ReferenceNotFound, UsmcaError
from usmca.nomenclature.codes import format_code
from usmca.origin import criteria as K
from usmca.origin import rvc as R
from usmca.origin.case import TERRITORY, Material, OriginCase
from usmca.rules.grammar import Alternative, RegionalValueContent, Rule

GN = "HTSUS General Note 11(o)"


@dataclass(frozen=True)
class Determination:
    """The answer in the interchange format, section 2 (``to_json_dict``), plus the sub-bill answers."""

    status: str  # originating | non_originating | unresolved
    criterion: str | None  # A | B | C | D
    rule: dict[str, str] | None
    tests: list[dict[str, Any]]
    rvc: dict[str, Any]
    de_minimis: dict[str, Any]
    needs: list[str]
    trace: list[dict[str, str]]
    vintage: dict[str, str | None]
    good: dict[str, Any] = field(default_factory=dict)  # hts, description, date, country: for memos
    parts: dict[str, Determination] = field(default_factory=dict)  # self-produced materials by path

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "criterion": self.criterion,
            "rule": self.rule,
            "tests": self.tests,
            "rvc": self.rvc,
            "de_minimis": self.de_minimis,
            "needs": self.needs,
            "trace": self.trace,
            "vintage": self.vintage,
        }


# --- context: corpus, provisions, schedule ------------------------------------------------------------------


@dataclass
class _Ctx:
    date: dt.date
    method: str
    corpus: Any
    conn: sqlite3.Connection | None
    general: Any  # module usmca.rules.general or None
    automotive: Any  # module usmca.rules.automotive or None
    seen_rules: dict[str, Any] = field(default_factory=dict)
    # Lookups that depend only on a good's code and stated facts, kept for this call: the materials of unknown
    # origin are weighed by evaluating the good again with each taken as originating (``_what_if``), and
    # the parts fallback reads the same schedule text once per branch.
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)


def _memo(ctx: _Ctx, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    if key not in ctx.memo:
        ctx.memo[key] = compute()
    return ctx.memo[key]


_CORPUS: dict[int, Any] = {}


def _load_corpus(conn: sqlite3.Connection | None) -> Any:
    key = id(conn)
    if key not in _CORPUS:
        from usmca.rules.corpus import load_corpus

        _CORPUS[key] = load_corpus(conn)
    return _CORPUS[key]


def _optional(mod: str) -> Any:
    """The rules modules written by other parts of the program; None while they are absent."""
    import importlib

    try:
        return importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        if exc.name != mod:
            raise
        return None


def determine(case: OriginCase, *, corpus: Any = None, conn: sqlite3.Connection | None = None) -> Determination:
    """Decide whether ``case.good`` originates, by which criterion, and why (interchange section 2)."""
    if corpus is None:
        if conn is None:
            from usmca.store import store

            conn = store()
        corpus = _load_corpus(conn)
    ctx = _Ctx(
        case.date,
        case.method,
        corpus,
        conn,
        _optional("usmca.rules.general"),
        # a corpus may carry its own Part 6 rules (scenario overlays: usmca.scenarios.overlay)
        getattr(corpus, "automotive", None) or _optional("usmca.rules.automotive"),
    )
    schedule_rev = _check_codes(case, ctx)
    g = case.good
    tv = (
        R.adjusted_transaction_value(g.transaction_value, g.international_shipment)
        if g.transaction_value is not None
        else None
    )
    nc = (
        g.net_cost
        if g.net_cost is not None
        else (
            R.net_cost(g.total_cost, g.excluded_costs.total() if g.excluded_costs else 0)
            if g.total_cost is not None
            else None
        )
    )
    gv = K.GoodView(
        path="good",
        label=g.id or g.description or format_code(g.hts),
        hts=g.hts,
        country=g.country_of_production,
        use=g.use,
        tv=tv,
        total_cost=g.total_cost,
        net_cost=nc,
        weight=g.weight_kg,
        wholly_obtained=g.wholly_obtained,
        is_set=g.set,
        unassembled=g.unassembled,
        facts=dict(g.facts),
    )
    res = _determine(gv, case.materials, "materials", ctx, depth=0)
    pre: list[dict[str, str]] = []
    if g.international_shipment:
        pre.append(
            _t(
                "transaction value adjusted for international shipment",
                'CUSMA Rules of Origin Regulations s.1(1) "adjusted to exclude any costs incurred in the '
                'international shipment of the good"',
                f"{K.money(g.transaction_value)} - {K.money(g.international_shipment)} = {K.money(tv)}",
            )
        )
    if g.total_cost is not None and g.excluded_costs is not None:
        pre.append(
            _t(
                "net cost from total cost",
                K.cite("7(11)"),
                f"total cost {K.money(g.total_cost)} - excluded costs {K.money(g.excluded_costs.total())} "
                f"= {K.money(nc)}",
            )
        )
    vintage = {"rules": getattr(corpus, "version", None), "schedule": schedule_rev}
    return _finish(
        res,
        vintage,
        pre,
        {
            "hts": g.hts,
            "description": g.description,
            "id": g.id,
            "date": case.date.isoformat(),
            "country": g.country_of_production,
        },
    )


def _check_codes(case: OriginCase, ctx: _Ctx) -> str | None:
    """Codes must exist in the schedule on the date (good and materials); returns the schedule revision."""
    if ctx.conn is None:
        return None
    from usmca.nomenclature import schedule as sched

    conn = ctx.conn
    rev = sched.revision_on(case.date, conn=conn)

    def check(code: str, field: str) -> None:
        key = (id(conn), code, rev.id)
        ok = _EXISTS.get(key)
        if ok is None:
            ok = _EXISTS[key] = sched.exists(code, case.date, conn=conn)
        if not ok:
            raise ReferenceNotFound(
                field,
                format_code(code),
                f"no such code in the tariff schedule on {case.date} (revision {rev.label})",
            )

    def walk(ms: Sequence[Material], path: str) -> None:
        for i, m in enumerate(ms):
            check(m.hts, f"{path}[{i}].hts")
            walk(m.materials, f"{path}[{i}].materials")

    check(case.good.hts, "good.hts")
    walk(case.materials, "materials")
    return rev.label


_EXISTS: dict[tuple[int, str, str], bool] = {}
_EXCLUDED: dict[tuple[int, str, str], Any] = {}


# --- the engine ---------------------------------------------------------------------------------------------


@dataclass
class _Res:
    status: str
    criterion: str | None
    rule: dict[str, str] | None = None
    checks: list[K.Check] = field(default_factory=list)
    trace: list[dict[str, str]] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    rvc: dict[str, Any] = field(
        default_factory=lambda: {
            "transaction_value": None,
            "net_cost": None,
            "required": {"transaction_value": None, "net_cost": None},
        }
    )
    de_minimis: dict[str, Any] = field(default_factory=lambda: {"applied": False, "share": 0.0, "limit": 0.10})
    vnm: Decimal | None = None
    rvc_subject: bool = False  # the deciding path has an RVC requirement (s.8(6) proviso)
    intermediates_with_rvc: tuple[str, ...] = ()
    parts: dict[str, _Res] = field(default_factory=dict)
    lines: list[K.Line] = field(default_factory=list)
    label: str = ""
    hts: str = ""


def _t(step: str, citation: str, result: str) -> dict[str, str]:
    return {"step": step, "citation": citation, "result": result}


def _determine(gv: K.GoodView, materials: Sequence[Material], path: str, ctx: _Ctx, depth: int) -> _Res:
    parts: dict[str, _Res] = {}
    sub_trace: list[dict[str, str]] = []
    lines = [_line(m, f"{path}[{i}]", gv, ctx, depth, parts, sub_trace) for i, m in enumerate(materials)]
    res = _evaluate(gv, lines, ctx)
    res.trace = sub_trace + res.trace
    res.parts = parts
    res.lines = lines
    nested: list[str] = []
    for ln in lines:
        if ln.self_produced:
            sub = parts[ln.path]
            if ln.intermediate and sub.rvc_subject:
                nested.append(ln.path)
            nested.extend(sub.intermediates_with_rvc)
    res.intermediates_with_rvc = tuple(nested)
    # Uncertain materials (unknown origin; sub-bill unresolved): would the answer change had they originated?
    uncertain = [ln for ln in lines if ln.uncertain]
    if uncertain and res.status != "originating":
        _what_if(gv, lines, uncertain, res, parts, ctx)
    return res


def _what_if(
    gv: K.GoodView, lines: list[K.Line], uncertain: list[K.Line], res: _Res, parts: dict[str, _Res], ctx: _Ctx
) -> None:
    def flipped(which: set[str]) -> str:
        alt = [
            K.Line(
                path=ln.path,
                label=ln.label,
                hts=ln.hts,
                status="originating",
                kind=ln.kind,
                value=ln.value,
                vnm=Decimal(0),
                weight=ln.weight,
                component=ln.component,
                wholly_obtained=ln.wholly_obtained,
            )
            if ln.path in which
            else ln
            for ln in lines
        ]
        return _evaluate(gv, alt, ctx).status

    changed = [ln for ln in uncertain if flipped({ln.path}) == "originating"]
    if not changed and len(uncertain) > 1 and flipped({ln.path for ln in uncertain}) == "originating":
        changed = uncertain
    if not changed:
        return
    joint = len(changed) > 1 and changed == uncertain and all(flipped({ln.path}) != "originating" for ln in changed)
    for ln in changed:
        sub = parts.get(ln.path)
        if sub is not None:
            res.needs.extend(sub.needs)
            state = "unresolved" if sub.status == "unresolved" else "not shown (see its needs)"
            res.needs.append(
                f"{ln.path} ({ln.label}): its origin is {state}; the good would originate if it were originating"
            )
            if sub.status == "unresolved":
                res.status = "unresolved"
        else:
            res.needs.append(unknown_origin_need(ln.path, ln.label, joint))
    res.trace.append(
        _t(
            "materials of unknown origin",
            K.cite("3(2)") + "; USMCA Art. 5.2 (certification)",
            f"treated as non-originating; the answer would change for {K.names(changed)}",
        )
    )


def unknown_origin_need(path: str, label: str, joint: bool) -> str:
    """What a material of unknown origin asks when the good would originate were it (``joint``: were it and
    the other materials of unknown origin) originating."""
    together = " together with the other unknown materials" if joint else ""
    return (
        f"{path}.origin ({label}): origin unknown, treated as non-originating; the good "
        f"would originate if it were originating{together} (a certification of origin from the supplier settles it)"
    )


def _line(
    m: Material,
    path: str,
    parent: K.GoodView,
    ctx: _Ctx,
    depth: int,
    parts: dict[str, _Res],
    trace: list[dict[str, str]],
) -> K.Line:
    label = m.id or m.description or path
    if m.materials:
        return _self_produced(m, path, label, parent, ctx, depth, parts, trace)
    if m.kind == "indirect":
        return K.Line(path, label, m.hts, "originating", kind="indirect", vnm=Decimal(0))
    unknown = m.origin == "unknown"
    status: K.Status = "originating" if m.origin == "originating" else "non_originating"
    value: Decimal | None = None
    if m.value is not None:
        value = (
            R.material_value(m.value, m.deductions.total())
            if (status == "non_originating" and m.deductions)
            else m.value
        )
    vnm = Decimal(0) if status == "originating" else value
    return K.Line(
        path,
        label,
        m.hts,
        status,
        kind=m.kind,
        value=value,
        vnm=vnm,
        weight=m.weight_kg,
        elastomeric=m.elastomeric,
        component=m.component,
        wholly_obtained=m.wholly_obtained,
        uncertain=unknown,
    )


def _self_produced(
    m: Material,
    path: str,
    label: str,
    parent: K.GoodView,
    ctx: _Ctx,
    depth: int,
    parts: dict[str, _Res],
    trace: list[dict[str, str]],
) -> K.Line:
    if depth > 25:
        raise InputError(path, label, "the bill is nested more than 25 levels deep")
    gv = K.GoodView(
        path=path,
        label=label,
        hts=m.hts,
        country=parent.country,
        use=parent.use,
        tv=m.value,
        total_cost=None,
        net_cost=m.net_cost,
        weight=m.weight_kg,
        facts=dict(m.facts),
    )
    sub = _determine(gv, m.materials, f"{path}.materials", ctx, depth + 1)
    sub.label, sub.hts = label, m.hts
    parts[path] = sub
    for p, r in sub.parts.items():
        parts[p] = r
    if m.intermediate and sub.rvc_subject and sub.intermediates_with_rvc:
        raise InputError(
            f"{path}.intermediate",
            True,
            f"{label} is subject to an RVC requirement and {', '.join(sub.intermediates_with_rvc)} inside "
            "it, also subject to one, is designated too: successive designations are not allowed (s.8(6))",
        )
    originating = sub.status == "originating"
    crit = f" (criterion {sub.criterion})" if sub.criterion else ""
    how = "accumulated from the supplier's statement (s.9)" if m.accumulated else "self-produced"
    vnm: Decimal | None
    needs: tuple[str, ...] = ()
    if m.intermediate:
        # s.7(4)(b): an originating intermediate material adds nothing to VNM; a non-originating one adds its
        # value (s.8(8)) in full.
        vnm = Decimal(0) if originating else m.value
    elif m.accumulated and originating:
        vnm = Decimal(0)  # s.7(4)(a): originating materials acquired from another producer
    elif originating and parent.use in ("passenger_vehicle", "light_truck", "heavy_truck"):
        vnm = Decimal(0)  # s.14(1), s.15(1): roll-up of originating materials for vehicles and their parts
    else:
        vnm = sub.vnm  # s.7(5)(a) (self-produced) or s.9(3) (statement): the non-originating inputs' value
        if vnm is None:
            needs = tuple(n for n in sub.needs if n.endswith(".value")) or (f"{path}: values of its materials",)
    detail = [f"{sub.status}{crit}"]
    if sub.rule:
        detail.append(f"rule {sub.rule['id']}")
    figs = [
        f"{sub.rvc[k]}% {lab}" for k, lab in (("transaction_value", "TV"), ("net_cost", "NC")) if sub.rvc[k] is not None
    ]
    if figs:
        detail.append(
            f"RVC {' / '.join(figs)} (its value as a material, s.8(1)(c), standing for its transaction value)"
        )
    if sub.needs:
        detail.append("needs: " + "; ".join(sub.needs))
    detail.append(
        f"adds {K.money(vnm)} to VNM" + (" (designated intermediate material, s.8(6))" if m.intermediate else "")
    )
    trace.append(
        _t(
            f"{path} {label} ({format_code(m.hts)}): {how}, determined first",
            K.cite("9(1)") if m.accumulated else K.cite("3(8)") + "; " + K.cite("7(4)-(5)"),
            "; ".join(detail),
        )
    )
    # A non-originating self-produced material may stand for its non-originating inputs in the shift test.
    look = () if originating else tuple(_nonorig_direct(sub.lines))
    return K.Line(
        path,
        label,
        m.hts,
        "originating" if originating else "non_originating",
        kind=m.kind,
        value=m.value,
        vnm=vnm,
        vnm_needs=needs,
        weight=m.weight_kg,
        elastomeric=m.elastomeric,
        component=m.component,
        uncertain=sub.status == "unresolved" or (not originating and bool(sub.needs)),
        look_through=look,
        self_produced=True,
        intermediate=m.intermediate,
    )


def _nonorig_direct(lines: Sequence[K.Line]) -> list[K.Line]:
    return [ln for ln in lines if ln.kind == "direct" and ln.non_originating]


# --- one level: the criteria in order -----------------------------------------------------------------------


def _evaluate(gv: K.GoodView, lines: list[K.Line], ctx: _Ctx) -> _Res:
    res = _Res(status="non_originating", criterion=None, label=gv.label, hts=gv.hts, lines=lines)
    tr = res.trace
    fig = K.rvc_figures(gv, lines)
    res.vnm = fig.vnm
    if fig.vnm is not None:
        # VNM is part of what the good costs and sells for: more than either means a value is wrong.
        for base, name in ((gv.tv, "transaction_value"), (gv.net_cost, "net_cost")):
            if base is not None and fig.vnm > base:
                field = "value" if (gv.path != "good" and name == "transaction_value") else name
                raise InputError(
                    f"{gv.path}.{field}",
                    str(base),
                    f"the non-originating materials are worth {K.money(fig.vnm)} (sub-bills included), more "
                    f"than the {'adjusted transaction value' if name == 'transaction_value' else 'net cost'}",
                    "check the values and the currency",
                )

    # Production in the territory (s.3(2)-(4) "produced entirely in the territory"; s.9(1)(a)).
    if gv.country not in TERRITORY:
        c = K.Check(
            "territory",
            False,
            f"produced in {gv.country}, outside the USMCA territory (US, MX, CA)",
            K.cite("3") + "; " + K.cite("9(1)(a)"),
        )
        res.checks.append(c)
        tr.append(_t("production in the territory", c.citation, c.detail))
        return res
    tr.append(_t("production in the territory", K.cite("9(1)(a)"), f"produced in {gv.country}"))

    # (A) wholly obtained or produced.
    a = K.wholly_obtained(gv, lines)
    tr.append(_t("(A) wholly obtained or produced", a.citation, a.detail))
    if a.passed:
        res.checks.append(a)
        return _other_requirements(gv, lines, res, "A", ctx, fig)

    # Sets (s.6).
    if gv.is_set:
        return _set(gv, lines, res, ctx, fig)

    # (C) produced exclusively from originating materials.
    c = K.exclusively_originating(lines)
    tr.append(_t("(C) produced exclusively from originating materials", c.citation, c.detail))
    if c.passed:
        res.checks.append(c)
        return _other_requirements(gv, lines, res, "C", ctx, fig)

    # (B) the product-specific rule.
    match = _memo(
        ctx, ("rules", gv.hts, gv.use, gv.country, gv.facts.get("trade")), lambda: _rules_for(ctx.corpus, gv, ctx.date)
    )
    notes = list(getattr(match, "chapter_notes", ()) or ())
    need = rule_lookup_need(gv.path, gv.hts, match)
    if need is not None:
        status = getattr(match, "status", "found")
        reason = getattr(match, "reason", "") or status
        tr.append(_t("(B) product-specific rule", GN, f"{status}: {reason}"))
        res.checks.append(K.Check("rule", None, reason, GN, needs=(need,)))
        res.status, res.needs = "unresolved", [need]
        return _schedule_2(gv, res, ctx)
    note_checks = _note_requirements(gv, notes)
    au = _memo(ctx, ("auto", gv.path, gv.hts, gv.use), lambda: _auto(gv, ctx))
    b = _psr(gv, lines, match.rules, res, ctx, fig, au)
    if b is True and note_checks:
        for ch in note_checks:
            res.checks.append(ch)
            tr.append(_t("(B) chapter rule", ch.citation, ch.detail))
        v = _all(note_checks)
        if v is not True:
            res.status = "unresolved" if v is None else "non_originating"
            res.needs = [n for ch in note_checks for n in ch.needs]
            return res
    if b is True:
        return _other_requirements(gv, lines, res, "B", ctx, fig)

    # (D) the parts fallback.
    d = _parts(gv, lines, match.rules, res, ctx, fig)
    if d is True:
        return _other_requirements(gv, lines, res, "D", ctx, fig)
    if b is None or d is None:
        res.status = "unresolved"
    return _schedule_2(gv, res, ctx)


def _schedule_2(gv: K.GoodView, res: _Res, ctx: _Ctx) -> _Res:
    """s.3(7): a good referred to in Schedule 2 (the US list is HTSUS GN 11(p)) is originating when imported
    from the territory of a CUSMA country, however produced. Only for the good itself (a self-produced
    material is not imported). No certification criterion A-D corresponds: ``criterion`` stays null."""
    gen = ctx.general
    if gv.path != "good" or gen is None or not hasattr(gen, "deemed_originating"):
        return res
    do = _memo(ctx, ("schedule_2", gv.hts), lambda: gen.deemed_originating(gv.hts, conn=ctx.conn))
    if do.status == "not_listed":
        return res
    if do.status == "unresolved":
        res.trace.append(_t("s.3(7) Schedule 2", do.citation, do.reason))
        return res
    missing = [k for k in do.needs if gv.facts.get(k) is None]
    if any(gv.facts.get(k) is False for k in do.needs):
        return res
    if missing:
        res.trace.append(_t("s.3(7) Schedule 2", do.citation, f"listed if {', '.join(missing)}: {do.reason}"))
        if res.status == "non_originating":
            res.status = "unresolved"
        res.needs.extend(f"{gv.path}.facts.{k}: true if the good is as Schedule 2 describes it" for k in missing)
        return res
    res.trace.append(
        _t(
            "s.3(7) Schedule 2: deemed originating",
            do.citation,
            f"{do.reason}; originating when imported from the territory of a CUSMA country "
            "(no certification criterion A-D corresponds: state s.3(7) / GN 11(p) as the basis)",
        )
    )
    res.status, res.criterion, res.needs = "originating", None, []
    return res


def rule_lookup_need(path: str, hts: str, match: Any) -> str | None:
    """What a good must state when the rule lookup (``Corpus.rules_for``) found no usable rule: its use, the
    trade direction, the date, or (ambiguous mapping, conflict, no rule) a check of its classification; None
    when the lookup found the rule(s). The good is then unresolved on (B), and Schedule 2 may still apply."""
    status = getattr(match, "status", "found")
    if status == "found" and match.rules:
        return None
    reason = getattr(match, "reason", "") or status
    return {
        "needs_use": f"{path}.use: {reason}",
        "needs_trade": f"{path}.facts.trade (CA-US, MX-US or other): {reason}",
        "needs_date": f"date: {reason}",
    }.get(status, f"{path}.hts {format_code(hts)}: no usable product-specific rule - {status}: {reason}")


def _rules_for(corpus: Any, gv: K.GoodView, on: dt.date) -> Any:
    """Ask the corpus; the trade direction of GN 11 (goods of Canada or Mexico imported into the US)
    follows from
    the country of production unless ``good.facts.trade`` states it (CA-US, MX-US, other)."""
    trade = gv.facts.get("trade") or {"CA": "CA-US", "MX": "MX-US"}.get(gv.country)
    try:
        return corpus.rules_for(gv.hts, on=on, use=gv.use, trade=trade)
    except TypeError:  # a corpus without trade directions
        return corpus.rules_for(gv.hts, on=on, use=gv.use)


def _note_requirements(gv: K.GoodView, notes: Sequence[Any]) -> list[K.Check]:
    """Chapter notes of GN 11(o) that add a requirement ("... shall be considered originating only if ...",
    "... must be formed and finished ..."): the producer states whether it is met (or does not apply), as
    ``good.facts["<note id>"]``; interpretive notes are for reading only."""
    out: list[K.Check] = []
    for n in notes:
        kind = getattr(n, "kind", "")
        text = n.text if hasattr(n, "text") else str(n)  # (str(n) only when needed: a dataclass repr is costly)
        if kind == "underscoring" or not ("only if" in text or " must be " in text):
            continue
        nid = getattr(n, "id", "note")
        val = gv.facts.get(nid)
        cit = getattr(n, "citation", "") or GN
        short = text if len(text) <= 200 else text[:197] + "..."
        if val is None:
            out.append(
                K.Check(
                    "chapter_rule",
                    None,
                    f"{nid}: {short}",
                    cit,
                    needs=(
                        f"{gv.path}.facts.{nid}: true if this requirement is met or does not apply "
                        f"to the good ({short})",
                    ),
                )
            )
        else:
            out.append(
                K.Check(
                    "chapter_rule",
                    bool(val),
                    f"{nid}: producer states {'met or not applicable' if val else 'not met'}",
                    cit,
                )
            )
    return out


def _rule_ref(rule: Rule, alt: Alternative | None) -> dict[str, str]:
    text = (alt.text if alt is not None and alt.text else rule.text).strip()
    if len(text) > 240:
        text = text[:237] + "..."
    return {"id": rule.id, "citation": rule.citation, "summary": text}


def _psr(
    gv: K.GoodView,
    lines: list[K.Line],
    rules: Sequence[Rule],
    res: _Res,
    ctx: _Ctx,
    fig: K.RvcFigures,
    au: _Auto,
) -> bool | None:
    """s.3(2): every non-originating material satisfies the rule; one alternative is enough (s.3(6),
    s.5(2))."""
    pending: list[tuple[Rule, Alternative, list[K.Check]]] = []
    failed: list[tuple[Rule, Alternative, list[K.Check]]] = []
    for rule in rules:
        defect = rule_defect(rule)
        if rule.good is not None:  # rules of one scope told apart by what the good is ("For a body stamping ...")
            sib = [r.good for r in rules if r is not rule and r.good is not None]
            q = K.qualifier(rule.good, gv, sib, rule.citation)
            res.trace.append(_t(f"(B) which rule: {rule.id}", rule.citation, q.detail))
            if q.passed is False:
                continue
            if q.passed is None:
                pending.append((rule, rule.alternatives[0] if rule.alternatives else Alternative(""), [q]))
                continue
        for alt in rule.alternatives:
            if alt.target and not alt.target.contains(gv.hts):
                continue  # the branch changes to other codes of the rule's scope
            checks = _alternative(gv, lines, rule, alt, ctx, fig, defect, au)
            verdict = _all(checks)
            where = f"{rule.citation}{', ' + K.alternative_label(alt) if alt.label else ''}"
            for ch in checks:
                cit = ch.citation if where in ch.citation else f"{ch.citation}; {where}"
                res.trace.append(_t(f"(B) {K.alternative_label(alt)}: {ch.kind.replace('_', ' ')}", cit, ch.detail))
            if verdict is True:
                res.checks, res.rule, res.status = checks, _rule_ref(rule, alt), "originating"
                _record(res, checks, alt, ctx, gv)
                return True
            (pending if verdict is None else failed).append((rule, alt, checks))
    if pending:
        rule, alt, checks = pending[0]
        res.checks, res.rule = checks, _rule_ref(rule, alt)
        res.needs = list(dict.fromkeys(n for _r, _a, cs in pending for ch in cs for n in ch.needs))
        _record(res, checks, alt, ctx, gv)
        return None
    if not failed:
        # The rule covers the code, yet each branch is written for other codes of its scope (a scope extended
        # to a new HS 2022 subheading by correlation, say): which branch governs is not for us to guess.
        rule = rules[0]
        why = no_branch_reason(rule.id, gv.hts)
        res.trace.append(_t("(B) which alternative", rule.citation, why))
        res.rule = _rule_ref(rule, None)
        res.needs = [f"{gv.path}.hts: {why}"]
        return None
    # Report the alternative that went furthest: one whose RVC was computed, else the first.
    rule, alt, checks = next((f for f in failed if any("required" in c.figures for c in f[2])), failed[0])
    res.checks, res.rule = checks, _rule_ref(rule, alt)
    _record(res, checks, alt, ctx, gv)
    return False


def no_branch_reason(rule_id: str, hts: str) -> str:
    """Why (B) is undecided when every branch of the good's rule is written for other codes of its scope."""
    return (
        f"no alternative of {rule_id} is written for {format_code(hts)}: its branches name other codes "
        "of the rule's scope (see the rule's mapping notes); check the official GN 11(o) text"
    )


def unparsed_branch_need(path: str, rule: Rule, alt: Alternative) -> str:
    """What a branch that could not be structured asks: to be read by hand."""
    return f"{path}: {rule.id} {K.alternative_label(alt)} needs reading by hand ({alt.unparsed_reason})"


def rule_defect(rule: Rule) -> str | None:
    """Why a rule the source marks defective, or that could not be structured, cannot be weighed: every branch
    of it is then undecided, asking for this (None: the rule is usable)."""
    if rule.status == "defective":
        why = rule.unparsed_reason or "; ".join(rule.provenance.defects) or "flagged by the source's MANIFEST"
        if len(why) > 300:
            why = why[:297] + "..."
        return f"{rule.id} is marked defective in the source ({why}); check the official GN 11(o) text"
    if rule.status == "unparsed":
        return f"{rule.id} could not be structured: {rule.unparsed_reason or 'unparsed'}"
    return None


def _all(checks: Sequence[K.Check]) -> bool | None:
    if any(c.passed is False for c in checks):
        return False
    if any(c.passed is None for c in checks):
        return None
    return True


def _alternative(
    gv: K.GoodView,
    lines: list[K.Line],
    rule: Rule,
    alt: Alternative,
    ctx: _Ctx,
    fig: K.RvcFigures,
    defect: str | None,
    au: _Auto,
) -> list[K.Check]:
    where = f"{rule.citation}{', ' + K.alternative_label(alt) if alt.label else ''}"
    checks: list[K.Check] = []
    un = au.unresolved
    if un is not None and alt.rvc is not None:  # Part 6 may replace this branch's RVC threshold
        checks.append(
            K.Check(
                "automotive",
                None,
                un[0],
                "CUSMA Rules of Origin Regulations Part 6",
                needs=un[1] or (f"{gv.path}.use",),
            )
        )
    if defect:
        checks.append(K.Check("rule", None, defect, where, needs=(f"{gv.path}: {defect}",)))
        return checks
    if alt.unparsed_reason:
        checks.append(
            K.Check(
                "rule",
                None,
                f"this alternative could not be structured: {alt.unparsed_reason}",
                where,
                needs=(unparsed_branch_need(gv.path, rule, alt),),
            )
        )
        return checks
    if alt.good_qualifier is not None:
        sib = [a.good_qualifier for a in rule.alternatives if a is not alt and a.good_qualifier is not None]
        q = K.qualifier(alt.good_qualifier, gv, sib, where)
        if q.applicable:
            checks.append(q)
        if q.passed is False:
            return checks  # the branch is for another good: its other tests do not matter
    for cond in alt.conditions:
        checks.append(K.condition(cond, gv, lines, where))
    failing: tuple[K.Line, ...] = ()
    if alt.shift is not None:
        sl = K.shift_lines(gv, lines)
        sr = K.tariff_shift(alt.shift, gv.hts, sl)
        failing = sr.failing
        via = (
            f"; {', '.join(sr.via_self_produced)} pass through their own inputs (s.3(8))"
            if sr.via_self_produced
            else ""
        )
        if sr.undecided:
            digits = alt.shift.needs_digits()
            checks.append(
                K.Check(
                    "tariff_shift",
                    None,
                    f"{K.names(sr.undecided)}: the code is too short to decide '{alt.shift.text or alt.shift.kind}'",
                    where,
                    needs=tuple(f"{ln.path}.hts: classify to at least {digits} digits" for ln in sr.undecided),
                )
            )
        if not failing:
            checks.append(
                K.Check(
                    "tariff_shift",
                    True if not sr.undecided else None,
                    f"{sr.tested - len(sr.undecided)} non-originating material(s) make the shift "
                    f"'{alt.shift.text or alt.shift.kind}'{via}",
                    where,
                )
            )
        else:
            checks.append(
                K.Check(
                    "tariff_shift",
                    False,
                    f"{K.names(failing)} do(es) not make the shift '{alt.shift.text or alt.shift.kind}'",
                    where,
                    figures={"failing": failing},
                )
            )
            dm = _de_minimis(gv, failing, lines, ctx)
            if dm.passed:  # s.5(1): the failing materials are tolerated; the shift requirement is met
                checks[-1] = replace(checks[-1], passed=True, detail=checks[-1].detail + " - tolerated by de minimis")
            elif dm.passed is None:  # de minimis undecided: so is the shift requirement
                checks[-1] = replace(checks[-1], passed=None, needs=dm.needs)
            checks.append(dm)
    req = _required_rvc(alt.rvc, au)
    if au.part is not None and getattr(au.part, "rvc_only", False) and au.part.status == "applies" and req is None:
        checks.append(
            K.Check(
                "automotive",
                False,
                "a core part of Table A.1 for use as original equipment originates "
                "only by its regional value content: this branch has none",
                au.part.citation,
            )
        )
    if req is not None:
        checks.extend(_rvc_checks(gv, lines, req, ctx, fig, where))
    elif alt.shift is not None:
        checks.append(K.Check("rvc", True, "not required by the rule", where, applicable=False))
    return checks


def _de_minimis(gv: K.GoodView, failing: Sequence[K.Line], lines: Sequence[K.Line], ctx: _Ctx) -> K.Check:
    """The de minimis tests open to the good (rules.general: s.5(1) by value with the s.5(3) exceptions;
    s.5(6)
    by the weight of a textile good; s.5(7) by the weight of an apparel good's classifying component)."""
    gen = ctx.general
    if gen is None:
        raise DataError("the general provisions (usmca.rules.general) are not installed: de minimis cannot be applied")
    policy = gen.de_minimis_policy(gv.hts)

    def excluded(g: str, m: str) -> Any:
        key = (id(ctx.conn), g, m)
        if key not in _EXCLUDED:  # the answer depends on the two codes only; facts are weighed by the caller
            _EXCLUDED[key] = gen.de_minimis_excluded(g, m, conn=ctx.conn)
        return _EXCLUDED[key]

    results = [
        K.de_minimis_value(gv, failing, excluded, gen.chapters_1_27_limit)
        if t.basis == "value"
        else K.de_minimis_weight(gv, failing, lines)
        for t in policy.tests
    ]
    if not results:
        return K.Check("de_minimis", False, "no de minimis is open to this good", policy.citation)
    for want in (True, None):
        for r in results:
            if r.passed is want:
                return r
    return results[0]


@dataclass(frozen=True)
class _Auto:
    """Part 6 for this good: the vehicle rule (s.13) or the part's thresholds (s.14-15, s.20), if any."""

    vehicle: Any = None  # automotive.VehicleRequirement
    part: Any = None  # automotive.CorePartRequirement

    @property
    def threshold(self) -> Any:
        for r in (self.vehicle, self.part):
            if r is not None and getattr(r, "status", "") in ("resolved", "applies") and r.rvc is not None:
                return r.rvc
        return None

    @property
    def unresolved(self) -> tuple[str, tuple[str, ...]] | None:
        for r in (self.vehicle, self.part):
            if r is not None and r.status == "unresolved":
                return (r.unresolved_reason or "Part 6 cannot be applied", tuple(r.needs))
        return None


def _auto(gv: K.GoodView, ctx: _Ctx) -> _Auto:
    auto = ctx.automotive
    if auto is None:
        if gv.hts[:2] == "87" or gv.use in K.VEHICLE_USES:
            raise DataError("the automotive rules (usmca.rules.automotive) are not installed: Part 6 cannot be applied")
        return _Auto()
    if gv.hts[:4] in ("8701", "8702", "8703", "8704", "8705", "8706"):
        vr = auto.vehicle_requirement(gv.hts, gv.use, ctx.date, facts=gv.facts, conn=ctx.conn)
        if vr is not None:
            return _Auto(vehicle=vr)
    cp = auto.core_part(gv.hts, gv.use, ctx.date, facts=gv.facts, conn=ctx.conn)
    return _Auto(part=cp)


def _required_rvc(req: RegionalValueContent | None, au: _Auto) -> RegionalValueContent | None:
    """The rule's RVC, with the Part 6 thresholds in force on the date where Part 6 sets them (vehicles, s.13;
    core, principal and complementary parts, s.14(13), (15), (17); heavy-truck parts s.15; other vehicles
    s.20)."""
    thr = au.threshold
    if req is None or thr is None:
        return req
    tv = thr.transaction_value
    if getattr(thr, "transaction_value_if_rule_allows", False) and req.transaction_value is None:
        tv = None
    return RegionalValueContent(transaction_value=tv, net_cost=thr.net_cost, text=thr.citation)


def _rvc_checks(
    gv: K.GoodView,
    lines: Sequence[K.Line],
    req: RegionalValueContent,
    ctx: _Ctx,
    fig: K.RvcFigures,
    where: str,
) -> list[K.Check]:
    # s.5(4): all non-originating materials within 10% -> the RVC requirement need not be met.
    nonorig = [ln for ln in K.rvc_lines(lines) if ln.non_originating]
    dm = K.value_share_check("rvc_de_minimis", gv, nonorig, K.cite("5(4)"), "all non-originating materials")
    if dm.passed:
        figures = {**dm.figures, "required": req, "waived": True}
        return [K.Check("rvc", True, f"not required: {dm.detail}", K.cite("5(4)"), figures=figures)]
    cit = f"{K.cite('7')}; {where}" + (f"; {req.text}" if req.text and req.text.startswith(("CUSMA", "Part")) else "")
    return [replace(K.rvc_test(req, gv, fig, ctx.method, cit), figures={"required": req})]


def _record(res: _Res, checks: Sequence[K.Check], alt: Alternative | None, ctx: _Ctx, gv: K.GoodView) -> None:
    for ch in checks:
        if ch.kind == "de_minimis" and "share" in ch.figures:
            res.de_minimis = {
                # (at a share of 0 too: failing materials worth nothing are tolerated by s.5(1) all the same)
                "applied": bool(ch.passed),
                "share": round(float(ch.figures["share"]), 4),
                "limit": float(ch.figures.get("limit", K.TEN_PCT)),
            }
        if ch.kind == "rvc" and "required" in ch.figures:
            req: RegionalValueContent = ch.figures["required"]
            res.rvc_subject = True
            res.rvc["required"] = {"transaction_value": req.transaction_value, "net_cost": req.net_cost}
            _fill_rvc(res, gv, K.rvc_figures(gv, res.lines))
        if ch.kind == "rvc" and ch.figures.get("waived"):
            res.de_minimis = {"applied": True, "share": round(float(ch.figures["share"]), 4), "limit": 0.10}


def _fill_rvc(res: _Res, gv: K.GoodView, fig: K.RvcFigures) -> None:
    res.rvc["transaction_value"] = R.round_pct(fig.tv_pct) if fig.tv_pct is not None else None
    res.rvc["net_cost"] = R.round_pct(fig.nc_pct) if fig.nc_pct is not None else None


def _parts(
    gv: K.GoodView, lines: list[K.Line], rules: Sequence[Rule], res: _Res, ctx: _Ctx, fig: K.RvcFigures
) -> bool | None:
    """(D) s.3(4): RVC >= 60% (TV) or 50% (NC) when materials cannot shift because they share the good's
    subheading, or the good came in unassembled; never for ch. 61-63."""
    best: bool | None = False
    for rule in rules:
        if rule_defect(rule):
            continue
        for alt in rule.alternatives:
            if alt.shift is None or alt.unparsed_reason:
                continue
            if alt.target and not alt.target.contains(gv.hts):
                # s.3(4)(a) is about the change the rule sets for this good: a branch written for other codes
                # of the rule's scope is not that change (as in (B), ``_psr``)
                continue
            sr = K.tariff_shift(alt.shift, gv.hts, K.shift_lines(gv, lines))
            nom = _memo(ctx, ("parts", gv.hts), lambda: _parts_in_nomenclature(gv, ctx))
            ap = K.parts_fallback_applies(gv, alt.shift, sr.failing, nom)
            step = _t("(D) parts fallback - applicability", ap.citation, ap.detail)
            if step not in res.trace:
                res.trace.append(step)
            if ap.passed is False:
                if gv.apparel:
                    return False
                continue
            req = PARTS_REQ
            if alt.rvc is not None:  # the rule's own RVC still applies where it asks more
                req = RegionalValueContent(
                    transaction_value=max(60.0, alt.rvc.transaction_value or 0),
                    net_cost=max(50.0, alt.rvc.net_cost or 0),
                    text="s.3(4) and the rule's RVC",
                )
            checks = [ap, *_rvc_checks(gv, lines, req, ctx, fig, K.cite("3(4)"))]
            for ch in checks[1:]:
                res.trace.append(_t("(D) parts fallback - regional value content", ch.citation, ch.detail))
            v = _all(checks)
            if v is True:
                res.checks, res.rule, res.status = checks, _rule_ref(rule, alt), "originating"
                res.rvc_subject = True
                res.rvc["required"] = {"transaction_value": req.transaction_value, "net_cost": req.net_cost}
                _record(res, checks, alt, ctx, gv)
                return True
            if v is None:
                best = None
                res.needs = list(dict.fromkeys([*res.needs, *(n for c in checks for n in c.needs)]))
    return best


PARTS_REQ = K.PARTS_RVC


def _parts_in_nomenclature(gv: K.GoodView, ctx: _Ctx) -> bool | None:
    return parts_in_nomenclature(gv.hts, ctx.date, ctx.conn)


def parts_in_nomenclature(hts: str, on: dt.date, conn: sqlite3.Connection | None) -> bool | None:
    """Does the good's subheading (or its heading, when not subdivided) provide for parts (s.3(5)(a))? Read
    from the descriptions under the heading in the schedule in force; None without a store or for a code the
    schedule does not have on that date. The portfolio kernel asks the same (``run.parts_hook``)."""
    if conn is None:
        return None
    from usmca.nomenclature import schedule as sched

    try:
        path = sched.path(hts, on, conn=conn)
    except UsmcaError:
        return None
    texts = path if hts[4:6] == "00" else path[1:]
    return any("part" in t.lower() for t in texts)


def _set(gv: K.GoodView, lines: list[K.Line], res: _Res, ctx: _Ctx, fig: K.RvcFigures) -> _Res:
    """s.6: a set originates if every good in it does, or the non-originating goods are at most 10% of the
    value of the set (valued as for s.7 and s.8)."""
    goods = [ln for ln in lines if ln.kind in ("direct", "packaging", "accessory")]
    bad = [ln for ln in goods if ln.non_originating]
    if not bad:
        c = K.Check("set", True, f"every good in the set ({len(goods)}) is originating", K.cite("6(2)"))
        res.checks.append(c)
        res.trace.append(_t("set: every good originating", c.citation, c.detail))
        return _other_requirements(gv, lines, res, "C", ctx, fig)
    c = K.value_share_check("set", gv, bad, K.cite("6(3)"), "the non-originating goods in the set")
    res.checks.append(c)
    res.trace.append(_t("set: non-originating goods at most 10% of the set's value", c.citation, c.detail))
    if c.passed:
        res.de_minimis = {"applied": True, "share": round(float(c.figures["share"]), 4), "limit": 0.10}
        return _other_requirements(gv, lines, res, "B", ctx, fig)
    if c.passed is None:
        res.status, res.needs = "unresolved", list(c.needs)
    return res


def _other_requirements(
    gv: K.GoodView, lines: list[K.Line], res: _Res, criterion: str, ctx: _Ctx, fig: K.RvcFigures
) -> _Res:
    """The other applicable requirements: for a vehicle, Part 6 (s.14(4) core parts, s.17 steel and aluminum,
    s.18 labour value content), facts the producer certifies."""
    # (the facts that would have settled other paths, (B)'s pending branches before (D) decides, are moot)
    res.status, res.criterion, res.needs = "originating", criterion, []
    if gv.hts[:4] not in ("8701", "8702", "8703", "8704", "8705", "8706"):
        return res
    au = _auto(gv, ctx)
    vr = au.vehicle
    if vr is None:
        return res
    checks: list[K.Check] = []
    if vr.status == "unresolved":
        checks.append(
            K.Check(
                "automotive",
                None,
                vr.unresolved_reason or "vehicle rule unresolved",
                vr.citation,
                needs=tuple(vr.needs),
            )
        )
    else:
        if criterion in ("A", "C") and vr.rvc is not None:
            checks.append(K.Check("rvc", True, "produced from originating materials only: RVC 100%", vr.citation))
        checks.extend(vehicle_fact_checks(ctx.automotive, vr, gv.facts))
    for ch in checks:
        res.checks.append(ch)
        res.trace.append(_t(f"automotive: {ch.kind.replace('_', ' ')}", ch.citation, ch.detail))
    v = _all(checks)
    if v is False:
        res.status, res.criterion = "non_originating", None
    elif v is None:
        res.status, res.criterion = "unresolved", None
        res.needs.extend(n for ch in checks for n in ch.needs)
    return res


def vehicle_fact_checks(auto: Any, vr: Any, facts: dict[str, Any]) -> list[K.Check]:
    """The requirements a vehicle's s.13 rule adds to its RVC, settled by the producer's facts: core parts
    (s.14(4)), steel and aluminum (s.17), labour value content (s.18)."""
    checks: list[K.Check] = []
    if vr.core_parts_required:
        checks.append(_fact_check("core_parts", auto.check_core_parts(facts)))
    if vr.steel_aluminum is not None:
        checks.append(_fact_check("steel_aluminum", auto.check_steel_aluminum(vr.steel_aluminum, facts)))
    if vr.lvc is not None:
        checks.append(_fact_check("labour_value_content", auto.check_lvc(vr.lvc, facts)))
    return checks


def _fact_check(kind: str, fc: Any) -> K.Check:
    return K.Check(kind, fc.passed, fc.detail, fc.citation, needs=tuple(fc.needs))


# --- output -------------------------------------------------------------------------------------------------


def _finish(
    res: _Res, vintage: dict[str, str | None], pre: list[dict[str, str]], good: dict[str, Any]
) -> Determination:
    def conv(r: _Res, g: dict[str, Any], v: dict[str, str | None]) -> Determination:
        if r.status != "originating":
            r.criterion = None
        if r.rvc["transaction_value"] is None and r.rvc["net_cost"] is None and r.vnm is not None:
            pass
        return Determination(
            status=r.status,
            criterion=r.criterion,
            rule=r.rule,
            tests=[c.test() for c in r.checks],
            rvc=r.rvc,
            de_minimis=r.de_minimis,
            needs=list(dict.fromkeys(r.needs)),
            trace=r.trace,
            vintage=v,
            good=g,
            parts={p: conv(s, {"hts": s.hts, "description": s.label}, v) for p, s in r.parts.items()},
        )

    res.trace = pre + res.trace
    res.trace.append(
        _t(
            "outcome",
            "USMCA Art. 4.2; " + K.cite("3"),
            f"{res.status}"
            + (f", criterion {res.criterion}" if res.criterion else "")
            + (f"; needs: {'; '.join(res.needs)}" if res.needs else ""),
        )
    )
    return conv(res, good, vintage)
