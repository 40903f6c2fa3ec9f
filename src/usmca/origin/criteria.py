"""The legal tests of origin as pure functions (CUSMA Rules of Origin Regulations, SOR/2020-155; USMCA Ch. 4).

Each function takes the good and its bill as the engine sees them (``GoodView``, ``Line``: sub-bills already
determined) and returns a ``Check``: passed True/False, or None with the facts that would settle it
(``needs``). No I/O here: rules come in as grammar objects, the general provisions (de minimis exceptions)
as callables, so the single-good engine and the batch kernel can share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from usmca.errors import InputError
from usmca.nomenclature.codes import LEVEL_DIGITS, CodeRange, CodeSet, format_code
from usmca.origin import rvc as R
from usmca.rules.grammar import Alternative, Condition, RegionalValueContent, TariffShift

REGS = "CUSMA Rules of Origin Regulations"
TEN_PCT = Decimal("0.10")
SEVEN_PCT = Decimal("0.07")
PARTS_RVC = RegionalValueContent(transaction_value=60.0, net_cost=50.0, text="s.3(4): 60% TV or 50% NC")

Status = Literal["originating", "non_originating"]
VEHICLE_USES = ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle")


def cite(section: str) -> str:
    return f"{REGS} s.{section}"


@dataclass(frozen=True, slots=True)
class GoodView:
    """The good under determination (the top-level good or a self-produced material)."""

    path: str  # "good" or "materials[2]"
    label: str
    hts: str
    country: str
    use: str | None
    tv: Decimal | None  # adjusted for international shipment
    total_cost: Decimal | None
    net_cost: Decimal | None
    weight: Decimal | None
    wholly_obtained: str | None = None
    is_set: bool = False
    unassembled: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def chapter(self) -> int:
        return int(self.hts[:2])

    @property
    def apparel(self) -> bool:  # chapters 61-63: component rule (s.5(7)-(9)), no parts fallback (s.3(4))
        return 61 <= self.chapter <= 63


@dataclass(frozen=True, slots=True)
class Line:
    """A line of the bill after its own origin is settled."""

    path: str
    label: str
    hts: str
    status: Status
    kind: str = "direct"
    value: Decimal | None = None  # value as a material (s.8(1)), after s.8(2) deductions when non-originating
    vnm: Decimal | None = None  # what the line adds to VNM (s.7(4)-(5), s.9(3)); None = unknown
    vnm_needs: tuple[str, ...] = ()
    weight: Decimal | None = None
    elastomeric: bool = False
    component: bool = False
    wholly_obtained: bool = False
    uncertain: bool = False  # origin unknown, or its sub-bill unresolved: treated as non-originating
    look_through: tuple[Line, ...] = ()  # non-originating inputs of a non-originating self-produced material
    self_produced: bool = False
    intermediate: bool = False

    @property
    def non_originating(self) -> bool:
        return self.status == "non_originating"


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    passed: bool | None
    detail: str
    citation: str
    needs: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    applicable: bool = True  # False: the rule does not ask for this test (printed as passed: null)

    def test(self) -> dict[str, Any]:
        return {"kind": self.kind, "passed": self.passed if self.applicable else None, "detail": self.detail}


def money(x: Decimal | None) -> str:
    return "?" if x is None else f"{x:,.2f}"


def pct(x: Decimal) -> str:
    return f"{R.round_pct(x):.1f}%"


# --- which lines count for what -----------------------------------------------------------------------------


def shift_lines(good: GoodView, lines: Sequence[Line]) -> list[Line]:
    """Non-originating lines that must make the tariff shift: packaging (s.8(14)(a)), accessories
    (s.8(24)(b)),
    packing (s.8(17)) and indirect materials (s.8(13), originating) are left out; for ch. 61-63 only the
    component that determines the classification counts (s.5(9))."""
    out = [ln for ln in lines if ln.kind == "direct" and ln.non_originating]
    if good.apparel and any(ln.component for ln in lines):
        out = [ln for ln in out if ln.component]
    return out


def rvc_lines(lines: Sequence[Line]) -> list[Line]:
    """Lines whose value enters VNM: direct materials, packaging (s.8(15)) and accessories (s.8(25))."""
    return [ln for ln in lines if ln.kind in ("direct", "packaging", "accessory")]


# --- s.3(1), s.3(3): wholly obtained; exclusively originating -----------------------------------------------


def wholly_obtained(good: GoodView, lines: Sequence[Line]) -> Check:
    c = cite("3(1)")
    if good.wholly_obtained:
        return Check(
            "wholly_obtained",
            True,
            f"the producer states the good is a good of s.3(1)({good.wholly_obtained})",
            cite(f"3(1)({good.wholly_obtained})"),
        )
    relevant = [ln for ln in lines if ln.kind == "direct"]  # s.8(14)(b), 8(17), 8(24)(a); indirect s.8(13)
    if relevant and all(ln.wholly_obtained and not ln.non_originating for ln in relevant):
        return Check(
            "wholly_obtained", True, "produced exclusively from goods of s.3(1)(a)-(j)", cite("3(1)(k)")
        )
    return Check("wholly_obtained", False, "not claimed or not every material is wholly obtained", c)


def exclusively_originating(lines: Sequence[Line]) -> Check:
    relevant = [ln for ln in lines if ln.kind in ("direct", "packaging", "accessory")]
    bad = [ln for ln in relevant if ln.non_originating]
    if not relevant:
        return Check("exclusively_originating", False, "no materials listed", cite("3(3)"))
    if bad:
        return Check(
            "exclusively_originating",
            False,
            f"{len(bad)} non-originating material(s): {names(bad)}",
            cite("3(3)"),
        )
    return Check(
        "exclusively_originating",
        True,
        f"all {len(relevant)} materials are originating "
        "(indirect materials count as originating, s.8(13); packing is disregarded, s.8(17))",
        cite("3(3)"),
    )


def names(lines: Iterable[Line], limit: int = 6) -> str:
    ls = list(lines)
    s = ", ".join(f"{ln.label} ({format_code(ln.hts)})" for ln in ls[:limit])
    return s + (f" and {len(ls) - limit} more" if len(ls) > limit else "")


# --- tariff shift -------------------------------------------------------------------------------------------


def _ambiguous(cs: CodeSet, code: str) -> bool:
    """A range wider than the code that covers part, but not all, of the codes under it."""
    for r in cs.ranges:
        if r.width > len(code):
            span = CodeRange(code.ljust(r.width, "0"), code.ljust(r.width, "9"))
            if r.overlaps(span) and not r.contains(code):
                return True
    return False


def shift_decidable(shift: TariffShift, code: str) -> bool:
    if shift.kind != "no_change" and len(code) < LEVEL_DIGITS[shift.level]:
        return False
    if shift.also_from_level is not None and len(code) < LEVEL_DIGITS[shift.also_from_level]:
        return False
    return not any(_ambiguous(cs, code) for cs in (shift.except_from, shift.from_codes, shift.group))


@dataclass(frozen=True, slots=True)
class ShiftResult:
    failing: tuple[Line, ...]
    undecided: tuple[Line, ...]
    tested: int
    via_self_produced: tuple[str, ...] = ()


def tariff_shift(shift: TariffShift, good_hts: str, lines: Sequence[Line]) -> ShiftResult:
    """Every non-originating material must make the shift (s.3(2)); ``TariffShift.allows`` is the test.

    A non-originating self-produced material passes if it makes the shift itself (the producer's choice,
    s.3(8)) or if each of its own non-originating inputs does (they are materials incorporated in the good).
    """
    failing: list[Line] = []
    undecided: list[Line] = []
    via: list[str] = []
    for ln in lines:
        own = _one(shift, good_hts, ln)
        verdict = _passes(shift, good_hts, ln, own)
        if verdict is None:
            undecided.append(ln)
        elif not verdict:
            failing.append(ln)
        elif own is not True:
            via.append(ln.label)
    return ShiftResult(tuple(failing), tuple(undecided), len(lines), tuple(via))


def _one(shift: TariffShift, good_hts: str, ln: Line) -> bool | None:
    if not shift_decidable(shift, ln.hts):
        return None
    return shift.allows(ln.hts, good_hts)


def _passes(shift: TariffShift, good_hts: str, ln: Line, own: bool | None) -> bool | None:
    if own is True or not ln.look_through:
        return own
    inner = [_passes(shift, good_hts, x, _one(shift, good_hts, x)) for x in ln.look_through]
    if all(v is True for v in inner):
        return True
    if own is False and any(v is False for v in inner):
        return False
    return None if (own is None or any(v is None for v in inner)) else False


# --- de minimis ---------------------------------------------------------------------------------------------

ExclusionFn = Callable[[str, str], Any]  # (good_hts, material_hts) -> falsy or a reason/citation


def de_minimis_value(
    good: GoodView,
    failing: Sequence[Line],
    excluded: ExclusionFn | None,
    limit_1_27: ExclusionFn | None = None,
) -> Check:
    """s.5(1): failing non-originating materials worth no more than 10% of the adjusted TV or total cost,
    except the materials s.5(3)(a)-(k) name (``excluded`` answers per material: None, a reason, or an
    exclusion that depends on facts, with ``certain`` and ``needs`` as ``rules.general.Exclusion`` has
    them)."""
    c = cite("5(1)")
    if not failing:
        return Check("de_minimis", True, "no material fails the shift", c, figures={"share": Decimal(0)})
    share = value_share_check("de_minimis", good, failing, c, "failing non-originating materials")
    if share.passed is not True:
        return share  # over the limit (or not computable): the exceptions need not be looked at
    needs: list[str] = []
    for ln in failing:
        for fn in (limit_1_27, excluded):  # the certain s.5(3)(k) answer first
            if fn is None:
                continue
            try:
                why = fn(good.hts, ln.hts)
            except InputError as exc:  # e.g. s.5(3)(k) needs six digits
                needs.append(f"{ln.path}.hts: {exc}")
                continue
            if not why:
                continue
            if isinstance(why, str):
                return Check(
                    "de_minimis",
                    False,
                    f"de minimis does not apply to {ln.label} ({format_code(ln.hts)}) "
                    f"in a good of {format_code(good.hts)}: {why}",
                    cite("5(3)"),
                )
            text = f"{getattr(why, 'citation', 's.5(3)')}: {getattr(why, 'text', '')}".strip(": ")
            if getattr(why, "certain", True):
                return Check(
                    "de_minimis",
                    False,
                    f"de minimis does not apply to {ln.label} ({format_code(ln.hts)}) "
                    f"in a good of {format_code(good.hts)} ({text})",
                    getattr(why, "citation", cite("5(3)")),
                )
            facts = [good.facts.get(k) for k in why.needs]
            if any(f is True for f in facts):
                return Check(
                    "de_minimis",
                    False,
                    f"de minimis does not apply to {ln.label}: the producer states "
                    f"{', '.join(why.needs)} ({text})",
                    why.citation,
                )
            if any(f is None for f in facts):
                needs.extend(
                    exclusion_fact_need(good.path, k, why.citation, ln.label)
                    for k, f in zip(why.needs, facts, strict=True)
                    if f is None
                )
    if needs:
        return Check(
            "de_minimis",
            None,
            "whether de minimis may be used depends on facts not given",
            c,
            needs=tuple(dict.fromkeys(needs)),
        )
    return share


def exclusion_fact_need(good_path: str, key: str, citation: str, label: str) -> str:
    """What a s.5(3) exception that depends on a fact of the good asks, for the material ``label``."""
    return f"{good_path}.facts.{key}: true or false (decides {citation} for {label})"


def _tv_field(good: GoodView) -> str:
    # a self-produced material has no sale: its value as a material (s.8(1)(c)) stands for its TV
    return f"{good.path}.transaction_value" if good.path == "good" else f"{good.path}.value"


def _nc_field(good: GoodView) -> str:
    if good.path == "good":
        return f"{good.path}.total_cost (with excluded_costs) or {good.path}.net_cost"
    return f"{good.path}.net_cost"


def value_share_check(
    kind: str, good: GoodView, ls: Sequence[Line], citation: str, what: str, limit: Decimal = TEN_PCT
) -> Check:
    """Value of ``ls`` (s.8(1)-(6)) against ``limit`` of the adjusted TV (s.5(1)(a)(i)) or total cost (ii):
    meeting either base is enough."""
    missing = [f"{ln.path}.value" for ln in ls if ln.vnm is None]
    needs = tuple(missing) + tuple(n for ln in ls for n in ln.vnm_needs)
    if needs:
        return Check(kind, None, f"the value of {what} is not known", citation, needs=needs)
    total = sum((ln.vnm for ln in ls if ln.vnm is not None), Decimal(0))
    bases = [
        (n, b)
        for n, b in (("adjusted transaction value", good.tv), ("total cost", good.total_cost))
        if b is not None
    ]
    if not bases:
        return Check(
            kind,
            None,
            f"{what} are worth {money(total)}: the good's transaction value or total cost "
            "is needed to compare",
            citation,
            needs=(
                f"{_tv_field(good)} or {good.path}.total_cost" if good.path == "good" else _tv_field(good),
            ),
        )
    best = min(((R.share(total, b), n, b) for n, b in bases), key=lambda t: t[0])
    s, n, b = best
    ok = s <= limit
    return Check(
        kind,
        ok,
        f"{what} worth {money(total)} are {s * 100:.1f}% of the {n} {money(b)} "
        f"({'within' if ok else 'above'} the {limit * 100:.0f}% limit)",
        citation,
        figures={"share": s, "limit": limit, "value": total},
    )


def de_minimis_weight(good: GoodView, failing: Sequence[Line], all_lines: Sequence[Line]) -> Check:
    """Textiles: s.5(6) (ch. 50-60, 96.19: weight of the good) and s.5(7)-(9) (ch. 61-63: weight of the
    component that determines the classification); elastomeric content at most 7% (same provisions)."""
    apparel = good.apparel
    sec = "5(7)" if apparel else "5(6)"
    c = cite(sec)
    if not failing:
        return Check("de_minimis", True, "no material fails the shift", c, figures={"share": Decimal(0)})
    needs = [f"{ln.path}.weight_kg" for ln in failing if ln.weight is None]
    if apparel:
        comp = [ln for ln in all_lines if ln.component and ln.kind == "direct"] or [
            ln for ln in all_lines if ln.kind == "direct"
        ]
        needs += [f"{ln.path}.weight_kg" for ln in comp if ln.weight is None]
        base = None if needs else sum((ln.weight for ln in comp if ln.weight is not None), Decimal(0))
        base_name = "component that determines the classification"
    else:
        if good.weight is None:
            needs.append(f"{good.path}.weight_kg")
        base = good.weight
        base_name = "good"
    if needs or base is None or base <= 0:
        return Check(
            "de_minimis",
            None,
            f"weights are needed for the textile de minimis ({base_name})",
            c,
            needs=tuple(dict.fromkeys(needs)) or (f"{good.path}.weight_kg",),
        )
    w = sum((ln.weight for ln in failing if ln.weight is not None), Decimal(0))
    e = sum((ln.weight for ln in failing if ln.elastomeric and ln.weight is not None), Decimal(0))
    s, es = w / base, e / base
    ok = s <= TEN_PCT and es <= SEVEN_PCT
    detail = (
        f"failing non-originating materials weigh {w} kg, {s * 100:.1f}% of the {base_name} ({base} kg; "
        f"limit 10%); elastomeric {es * 100:.1f}% (limit 7%)"
    )
    return Check("de_minimis", ok, detail, c, figures={"share": s, "limit": TEN_PCT})


# --- conditions, regional value content ---------------------------------------------------------------------


ANY_GOOD = frozenset({"a", "an", "any", "any good", "a good"})
OTHER = "*other*"


def _norm(x: Any) -> str:
    return " ".join(str(x).lower().replace('"', "").split())


def qualifier(cond: Condition, good: GoodView, siblings: Sequence[Condition] = (), where: str = "") -> Check:
    """What the good must be for a branch or rule ("A change to body stampings of ..."):
    ``good.facts.good_type``
    names it; "*other*" is any good the sibling branches do not name; "a good" is any good."""
    c = where or "HTSUS General Note 11(o)"
    named = [v for v in cond.values if v != OTHER]
    if not cond.values or all(_norm(v) in ANY_GOOD for v in cond.values):
        return Check("good_type", True, "any good of the codes", c, applicable=False)
    if cond.kind == "use":  # the branch is for a class of vehicle: the good's stated use decides
        key, val = f"{good.path}.use", good.use
    else:
        key, val = f"{good.path}.facts.good_type", good.facts.get("good_type")
    others = sorted({v for s in siblings for v in s.values if v != OTHER and _norm(v) not in ANY_GOOD})
    if val is None and cond.kind == "use":
        return Check(
            "good_type",
            None,
            f"the branch is for {cond.text}",
            c,
            needs=(f"{key}: the class of vehicle the good is ({', '.join(named or others)} or other)",),
        )
    if val is None:
        options = "; ".join(f'"{v}"' for v in (named or others))
        what = f"is the good {options}" + ("" if named else " or any other good")
        return Check(
            "good_type",
            None,
            f"the branch is for {cond.text}",
            c,
            needs=(f'{key}: {what}? (state the description the rule names, or "other")',),
        )
    if named:
        ok = any(_norm(val) == _norm(v) for v in named)
        return Check("good_type", ok, f"the branch is for {cond.text}: {key} = {val!r}", c)
    ok = not any(_norm(val) == _norm(v) for v in others)
    return Check(
        "good_type", ok, f"the branch is for any good not named by the other branches: {key} = {val!r}", c
    )


def condition(cond: Condition, good: GoodView, lines: Sequence[Line] = (), where: str = "") -> Check:
    """A proviso of the rule, settled by a fact: ``good.use`` for use conditions, ``good.facts[name]`` else.

    A proviso about certain materials (``code_groups``) does not bite when no non-originating material
    falls in
    those codes. Shares (``max_percent=N``) compare a number; other provisos are yes/no facts."""
    c = where or "HTSUS General Note 11(o)"
    if cond.kind == "good_type":
        return qualifier(cond, good, where=c)
    if cond.code_groups:
        hit = [
            ln
            for ln in lines
            if ln.non_originating
            and ln.kind == "direct"
            and any(g.contains(ln.hts) for g in cond.code_groups)
        ]
        if not hit:
            return Check(
                "condition",
                True,
                f"not applicable (no non-originating material in the codes it names): {cond.text}",
                c,
                applicable=False,
            )
    if cond.kind == "use" or cond.name in ("use", "good.use"):
        val: Any = good.use
        key = f"{good.path}.use"
    else:
        val = good.facts.get(cond.name)
        key = f"{good.path}.facts.{cond.name}"
    if val is None:
        return Check("condition", None, f"the rule requires: {cond.text}", c, needs=(f"{key}: {cond.text}",))
    limits = {
        k: float(v)
        for k, _, v in (x.partition("=") for x in cond.values)
        if k in ("max_percent", "min_percent")
    }
    if limits:
        if isinstance(val, bool) or not isinstance(val, int | float | Decimal):
            return Check(
                "condition",
                None,
                f"{key} must be a percentage for: {cond.text}",
                c,
                needs=(f"{key}: a percentage ({cond.text})",),
            )
        x = float(val)
        ok = x <= limits.get("max_percent", float("inf")) and x >= limits.get("min_percent", float("-inf"))
        return Check("condition", ok, f"{cond.text}: {key} = {x:g}%", c)
    if cond.values and cond.values != ("true",):
        ok = str(val) in cond.values
    elif isinstance(val, bool):
        ok = val
    else:
        return Check(
            "condition",
            None,
            f"{key} = {val!r} cannot be read as yes/no for: {cond.text}",
            c,
            needs=(f"{key}: true or false ({cond.text})",),
        )
    return Check("condition", ok, f"{cond.text}: {key} = {val!r}", c)


@dataclass(frozen=True, slots=True)
class RvcFigures:
    vnm: Decimal | None
    tv_pct: Decimal | None
    nc_pct: Decimal | None
    needs: tuple[str, ...]


def rvc_figures(good: GoodView, lines: Sequence[Line]) -> RvcFigures:
    ls = rvc_lines(lines)
    needs = [f"{ln.path}.value" for ln in ls if ln.vnm is None] + [n for ln in ls for n in ln.vnm_needs]
    if needs:
        return RvcFigures(None, None, None, tuple(dict.fromkeys(needs)))
    vnm = sum((ln.vnm for ln in ls if ln.vnm is not None), Decimal(0))
    tv = R.transaction_value_rvc(good.tv, vnm) if good.tv is not None else None
    nc = R.net_cost_rvc(good.net_cost, vnm) if good.net_cost is not None else None
    return RvcFigures(vnm, tv, nc, ())


def rvc_test(req: RegionalValueContent, good: GoodView, fig: RvcFigures, method: str, citation: str) -> Check:
    """s.7: the methods the rule allows (NC only when it gives no TV threshold, s.7(6)); ``best`` tries
    each."""
    allowed: list[tuple[str, float]] = []
    if req.transaction_value is not None and method in ("best", "transaction_value"):
        allowed.append(("transaction_value", req.transaction_value))
    if req.net_cost is not None and (method in ("best", "net_cost") or req.transaction_value is None):
        allowed.append(("net_cost", req.net_cost))
    if not allowed and req.net_cost is not None:
        allowed.append(("net_cost", req.net_cost))
    if fig.needs:
        return Check("rvc", None, "material values are missing for the RVC", citation, needs=fig.needs)
    parts: list[str] = []
    results: list[bool] = []
    needs: list[str] = []
    for m, thr in allowed:
        val = fig.tv_pct if m == "transaction_value" else fig.nc_pct
        label = "transaction value" if m == "transaction_value" else "net cost"
        if val is None:
            needs.append(_tv_field(good) if m == "transaction_value" else _nc_field(good))
            parts.append(f"{label}: not computable (needs {needs[-1]})")
            continue
        ok = val >= R.dec(thr)
        results.append(ok)
        parts.append(f"{label}: {pct(val)} {'>=' if ok else '<'} {thr:g}%")
    detail = f"RVC (VNM {money(fig.vnm)}): " + "; ".join(parts)
    if method == "transaction_value" and req.transaction_value is None:
        detail += " (the rule has no transaction value method: net cost is required, s.7(6))"
    if any(results):
        return Check("rvc", True, detail, citation)
    if needs:
        return Check("rvc", None, detail, citation, needs=tuple(needs))
    return Check("rvc", False, detail, citation)


# --- the parts fallback (criterion D) -----------------------------------------------------------------------


def parts_fallback_applies(
    good: GoodView,
    shift: TariffShift | None,
    failing: Sequence[Line],
    parts_in_nomenclature: bool | None = None,
) -> Check:
    """s.3(4)(a): the only failures are materials that cannot shift because they share the good's subheading
    (or its heading, where the heading is not subdivided) and that subheading provides for the good and its
    parts
    (s.3(5)); s.3(4)(b): imported unassembled, classified as assembled under GRI 2(a). Never for ch. 61-63.

    ``parts_in_nomenclature`` is what the schedule's text says (the subheading's description names parts);
    where it does not, only a Section or Chapter Note can bring the parts in (s.3(5)): the producer states it
    as ``good.facts.materials_are_parts``."""
    if good.apparel:
        return Check("parts_fallback", False, "not available for goods of chapters 61-63", cite("3(4)"))
    if good.unassembled:
        return Check(
            "parts_fallback",
            True,
            "the good was imported unassembled and is classified as assembled (GRI 2(a))",
            cite("3(4)(b)"),
        )
    if shift is None or not failing:
        return Check("parts_fallback", False, "no material fails a tariff shift of the rule", cite("3(4)(a)"))
    undivided = good.hts[4:6] == "00"
    same = [ln for ln in failing if ln.hts[:6] == good.hts[:6] or (undivided and ln.hts[:4] == good.hts[:4])]
    if len(same) != len(failing):
        other = [ln for ln in failing if ln not in same]
        return Check(
            "parts_fallback",
            False,
            f"{names(other)} fail(s) the shift for another reason than sharing the good's subheading",
            cite("3(4)(a)"),
        )
    where = "heading (not subdivided)" if undivided else "subheading"
    stated = good.facts.get("materials_are_parts")
    if parts_in_nomenclature is True:
        return Check(
            "parts_fallback",
            True,
            f"{names(same)} cannot shift: same {where} as the good, which provides "
            "for the good and its parts",
            cite("3(4)(a)") + ", 3(5)(a)",
        )
    if isinstance(stated, bool):
        return Check(
            "parts_fallback",
            stated,
            f"{names(same)} share the good's {where}; the producer states they "
            f"{'are' if stated else 'are not'} parts the {where} provides for by a Section or Chapter Note",
            cite("3(5)"),
        )
    why = (
        "the schedule's text for the subheading does not name parts"
        if parts_in_nomenclature is False
        else "the schedule was not consulted"
    )
    return Check(
        "parts_fallback",
        None,
        f"{names(same)} share the good's {where}; {why}",
        cite("3(5)"),
        needs=(parts_statement_need(good.path, undivided),),
    )


def parts_statement_need(path: str, undivided: bool) -> str:
    """What the parts fallback asks when the schedule's text does not settle that the failing materials are
    parts the good's subheading (``undivided``: its heading, not subdivided) provides for (s.3(5))."""
    where = "heading (not subdivided)" if undivided else "subheading"
    return (
        f"{path}.facts.materials_are_parts: does the {where} provide for the good and its "
        "parts (by a Section or Chapter Note, s.3(5)), the failing materials being such parts?"
    )


def alternative_label(alt: Alternative) -> str:
    return f"rule branch ({alt.label})" if alt.label else "the rule"
