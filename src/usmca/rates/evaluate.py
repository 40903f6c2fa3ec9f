"""Evaluation of parsed rates against an entered value and quantities.

One strategy per rate kind; each returns the amount and the formula text beside it ("5.3% x 10,000.00 =
530.00", "1.1¢/kg x 120 kg = 1.32"). A missing quantity, part value or referenced duty gives ``amount=None``
with ``needs`` naming it: an unknown duty is never zero.

Amounts are exact Decimals (no rounding), so that sums of components and scaling stay exact; ``money()``
rounds a figure to cents (half up) for display and for totals. Formulas show figures rounded to cents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from usmca.errors import InputError
from usmca.rates.grammar import (
    AdValorem,
    ChapterRef,
    Compound,
    Free,
    Graduated,
    Limited,
    Rate,
    SeeRef,
    Specific,
    clean,
)
from usmca.rates.units import convert, fmt_qty, need_text, normalize_unit, unit_label

CENT = Decimal("0.01")
BASE_DUTY = "base_duty"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Result of ``evaluate``: ``amount`` (None when something is missing), the ``formula`` text, what is
    missing (``needs``: readable; ``need_keys``: the ``quantities`` keys, or ``base_duty``) and ``notes``
    (conditions the evaluator reports but cannot decide)."""

    amount: Decimal | None
    formula: str
    needs: tuple[str, ...] = ()
    need_keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.amount is not None


def money(d: Decimal) -> Decimal:
    """Round to cents, half up."""
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_money(d: Decimal) -> str:
    return f"{money(d):,.2f}"


@dataclass
class _Part:
    amount: Decimal | None
    expr: str
    detail: str | None = None
    needs: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Ctx:
    value: Decimal
    quantities: dict[str, Decimal]
    base_duty: Decimal | None


def _missing(expr: str, key: str, need: str) -> _Part:
    return _Part(None, expr, needs=[need], keys=[key])


def _label(rate: Rate, fallback: str) -> str:
    return clean(rate.text) if rate.text.strip() else fallback


def _fmt_cents(dollars: Decimal) -> str:
    if dollars >= 1:
        return f"${fmt_qty(dollars)}"
    return f"{fmt_qty(dollars * 100)}¢"


def _specific_label(r: Specific) -> str:
    if r.unit == "no" and r.per == 1:
        return _label(r, f"{_fmt_cents(r.amount)} each")
    per = f"{fmt_qty(r.per)} " if r.per != 1 else ""
    over = f" over {fmt_qty(r.over)}" if r.over is not None else ""
    return _label(r, f"{_fmt_cents(r.amount)}/{per}{unit_label(r.unit)}{over}")


def _ad_valorem_label(r: AdValorem) -> str:
    on = f" on {r.basis_label}" if r.basis_label else ""
    return _label(r, f"{fmt_qty(r.percent)}%{on}")


def _eval_free(r: Free, ctx: _Ctx) -> _Part:
    notes = [f"free {r.condition}"] if r.condition else []
    return _Part(Decimal(0), "Free", notes=notes)


def _eval_ad_valorem(r: AdValorem, ctx: _Ctx) -> _Part:
    label = _ad_valorem_label(r)
    if r.basis is None:
        base = ctx.value
    else:
        if r.basis not in ctx.quantities:
            return _missing(f"{label} x ?", r.basis, need_text(r.basis))
        base = ctx.quantities[r.basis]
    return _Part(r.percent * base / 100, f"{label} x {fmt_money(base)}")


def _eval_specific(r: Specific, ctx: _Ctx) -> _Part:
    label = _specific_label(r)
    ulabel = unit_label(r.unit)
    found = convert(r.unit, ctx.quantities)
    if found is None:
        return _missing(f"{label} x ? {ulabel}", r.unit, need_text(r.unit))
    q, note = found
    conv = f" ({note})" if note else ""
    if r.over is not None:
        dutiable = max(q - r.over, Decimal(0))
        expr = f"{label} x ({fmt_qty(q)} - {fmt_qty(r.over)}) {ulabel}{conv}"
    else:
        dutiable = q
        expr = f"{label} x {fmt_qty(q)} {ulabel}{conv}"
    return _Part(r.amount * dutiable / r.per, expr)


def _combine(parts: list[_Part]) -> tuple[list[str], list[str], list[str]]:
    needs = [n for p in parts for n in p.needs]
    keys = [k for p in parts for k in p.keys]
    notes = [n for p in parts for n in p.notes]
    return needs, keys, notes


def _eval_compound(r: Compound, ctx: _Ctx) -> _Part:
    parts = [_eval(t, ctx) for t in r.terms]
    needs, keys, notes = _combine(parts)
    expr = " + ".join(p.expr for p in parts)
    if any(p.amount is None for p in parts):
        return _Part(None, expr, needs=needs, keys=keys, notes=notes)
    amounts = [p.amount for p in parts if p.amount is not None]
    detail = " + ".join(fmt_money(a) for a in amounts)
    return _Part(sum(amounts, Decimal(0)), expr, detail, needs, keys, notes)


def _eval_graduated(r: Graduated, ctx: _Ctx) -> _Part:
    base, step, floor = _specific_label(r.base), _specific_label(r.step), _specific_label(r.floor)
    head = f"{base} less {step} per degree under {fmt_qty(r.below)}, not less than {floor}"
    found = convert(r.base.unit, ctx.quantities)
    pol = ctx.quantities.get("polarity")
    part = _Part(None, f"{head} x ? {unit_label(r.base.unit)}")
    if pol is None:
        part.needs.append(need_text("polarity"))
        part.keys.append("polarity")
    if found is None:
        part.needs.append(need_text(r.base.unit))
        part.keys.append(r.base.unit)
    if found is None or pol is None:
        return part
    q, note = found
    conv = f" ({note})" if note else ""
    short = max(r.below - pol, Decimal(0))
    per_unit = r.base.amount - r.step.amount * short
    floored = per_unit < r.floor.amount
    if floored:
        per_unit = r.floor.amount
    rate_txt = f"{fmt_qty(per_unit * 100)}¢/kg" + (" (floor)" if floored else "")
    expr = (
        f"({base} - {step} x {fmt_qty(short)} degrees under {fmt_qty(r.below)}) = {rate_txt} "
        f"x {fmt_qty(q)} {unit_label(r.base.unit)}{conv}"
    )
    return _Part(per_unit * q, expr)


def _eval_limited(r: Limited, ctx: _Ctx) -> _Part:
    inner = _eval(r.rate, ctx)
    if r.condition is not None:
        limits = []
        if r.maximum is not None:
            limits.append(f"not more than {_describe(r.maximum)}")
        if r.minimum is not None:
            limits.append(f"not less than {_describe(r.minimum)}")
        inner.notes.append(f"limit not applied (applies only {r.condition}): {'; '.join(limits)}")
        return inner
    parts = [inner]
    lo = _eval(r.minimum, ctx) if r.minimum is not None else None
    hi = _eval(r.maximum, ctx) if r.maximum is not None else None
    parts += [p for p in (lo, hi) if p is not None]
    needs, keys, notes = _combine(parts)
    expr = inner.expr
    if lo is not None:
        expr = f"max({expr}, {lo.expr})"
    if hi is not None:
        expr = f"min({expr}, {hi.expr})"
    if any(p.amount is None for p in parts) or inner.amount is None:
        return _Part(None, expr, needs=needs, keys=keys, notes=notes)
    amount = inner.amount
    if lo is not None and lo.amount is not None:
        amount = max(amount, lo.amount)
    if hi is not None and hi.amount is not None:
        amount = min(amount, hi.amount)
    return _Part(amount, expr, None, needs, keys, notes)


def _describe(r: Rate) -> str:
    if isinstance(r, ChapterRef):
        return f"the duty of {r.reference}"
    if isinstance(r, SeeRef):
        return f"the duty under {r.target}"
    return clean(r.text) or r.kind


def _ref_need(r: ChapterRef) -> str:
    on = f" computed on {r.basis}" if r.basis else ""
    return f"duty of {r.reference}{on} ({BASE_DUTY})"


def _eval_chapter_ref(r: ChapterRef, ctx: _Ctx) -> _Part:
    add = _eval(r.addition, ctx) if r.addition is not None else None
    op = " - " if r.subtract else " + "
    if ctx.base_duty is None:
        expr = f"duty of {r.reference}"
    else:
        expr = f"{fmt_money(ctx.base_duty)} (duty of {r.reference})"
    if add is not None:
        expr += op + add.expr
    part = _Part(None, expr)
    if add is not None:
        part.needs, part.keys, part.notes = list(add.needs), list(add.keys), list(add.notes)
    if r.basis:
        part.notes.append(f"the referenced duty is computed on {r.basis}")
    if ctx.base_duty is None:
        part.needs.insert(0, _ref_need(r))
        part.keys.insert(0, BASE_DUTY)
        return part
    if add is None:
        part.amount = ctx.base_duty
        return part
    if add.amount is None:
        return part
    amount = ctx.base_duty - add.amount if r.subtract else ctx.base_duty + add.amount
    if amount < 0:
        part.notes.append("the reduction exceeds the referenced duty: no duty")
        amount = Decimal(0)
    part.amount = amount
    part.detail = fmt_money(ctx.base_duty) + op + fmt_money(add.amount)
    return part


def _eval_see(r: SeeRef, ctx: _Ctx) -> _Part:
    if ctx.base_duty is None:
        return _missing(f"duty under {r.target}", BASE_DUTY, f"duty under {r.target} ({BASE_DUTY})")
    return _Part(ctx.base_duty, f"{fmt_money(ctx.base_duty)} (duty under {r.target})")


_STRATEGIES: dict[type[Rate], Callable[[object, _Ctx], _Part]] = {
    Free: _eval_free,  # type: ignore[dict-item]
    AdValorem: _eval_ad_valorem,  # type: ignore[dict-item]
    Specific: _eval_specific,  # type: ignore[dict-item]
    Compound: _eval_compound,  # type: ignore[dict-item]
    Graduated: _eval_graduated,  # type: ignore[dict-item]
    Limited: _eval_limited,  # type: ignore[dict-item]
    ChapterRef: _eval_chapter_ref,  # type: ignore[dict-item]
    SeeRef: _eval_see,  # type: ignore[dict-item]
}


def _eval(rate: Rate, ctx: _Ctx) -> _Part:
    try:
        strategy = _STRATEGIES[type(rate)]
    except KeyError:
        raise TypeError(f"no evaluation strategy for rate kind {rate.kind!r}") from None
    return strategy(rate, ctx)


def _to_decimal(field_name: str, v: object) -> Decimal:
    if isinstance(v, bool) or v is None:
        raise InputError(field_name, v, "a number is required")
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
    except (InvalidOperation, ValueError):
        raise InputError(field_name, v, "not a number") from None
    if not d.is_finite():
        raise InputError(field_name, v, "not a finite number")
    if d < 0:
        raise InputError(field_name, v, "must not be negative")
    if d >= _MAX_AMOUNT:
        # Beyond any real entry, and beyond what 28-digit decimal arithmetic rounds to cents exactly.
        raise InputError(field_name, v, "is larger than any amount this program evaluates (10^15)")
    return d


_MAX_AMOUNT = Decimal(10) ** 15


def evaluate(
    rate: Rate,
    value: Decimal,
    quantities: Mapping[str, Decimal],
    *,
    base_duty: Decimal | None = None,
) -> Evaluation:
    """Duty of ``rate`` on a good of customs ``value`` with ``quantities`` (keys as ``normalize_unit`` gives;
    other spellings such as ``"No."`` are normalized here; ``value:<part>`` keys carry part values).

    ``base_duty`` is the duty of the provision a Chapter 99/98 rate refers to ("the duty provided in the
    applicable subheading"); without it such rates come back incomplete, naming ``base_duty``.
    Raises InputError for a negative or non-numeric value or quantity.
    """
    v = _to_decimal("value", value)
    qs: dict[str, Decimal] = {}
    for k, q in quantities.items():
        key = normalize_unit(k)
        qs[key] = _to_decimal(f"quantities[{k}]", q)
    bd = _to_decimal("base_duty", base_duty) if base_duty is not None else None
    needs: tuple[str, ...] = ()
    try:
        part = _eval(rate, _Ctx(v, qs, bd))
        needs = tuple(dict.fromkeys(part.needs))
        if part.amount is None:
            formula = f"{part.expr} = ? (needs {'; '.join(needs)})"
        else:
            # rounding to cents is where a huge product of the rate's figures overflows the precision
            formula = part.expr + (f" = {part.detail}" if part.detail else "") + f" = {fmt_money(part.amount)}"
    except InvalidOperation:
        # A rate whose own figures exceed decimal precision (e.g. a 60-digit number in the text, or a
        # 26-digit percentage whose duty cannot be rounded to cents).
        raise InputError("rate", rate.text, "its figures are too large to evaluate exactly") from None
    keys = tuple(dict.fromkeys(part.keys))
    notes = tuple(dict.fromkeys(part.notes))
    return Evaluation(part.amount, formula, needs, keys, notes)
