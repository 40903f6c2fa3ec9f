"""The US duty on an entry line at any date: ordinary duty plus the Chapter 99 measures in force, cited.

One engine for one line and for a million: a line's *plan* (the schedule line, the ordinary rate chosen, the
Chapter 99 measures that apply after exemptions and non-stacking rules) depends only on
``(hts, date, country, USMCA claim, declared facts)``. :func:`plan_for` builds it once (cached), and
:func:`apply_plan` turns it into amounts for one line's values. :func:`duty_line` and :func:`duty_lines` both
go through these two functions, so the single-line and batch answers cannot disagree.

Legal order of the stack (each step cited in the output):
1. Ordinary duty (HTSUS chapters 1-97) from the revision in force: column 2 for the countries of general
   note 3(b); the USMCA special rate when claimed and the special column lists S or S+; else column 1 general.
2. Chapter 99 measures in force on the date, for the country and product, less exemptions (USMCA claim, listed
   products, declared facts), then non-stacking rules (``yields``) applied in precedence order
   (vehicles before metals before the rest), and supersession inside an exclusive group (highest rate).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from usmca.errors import DataError, InputError, NotFoundError
from usmca.measures.entry import Entry, EntryLine
from usmca.measures.records import Measure, MeasureSet, load_measures
from usmca.nomenclature.codes import format_code

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
USMCA_COUNTRIES = frozenset({"CA", "MX"})

# HTSUS general note 3(b): column 2 rates for Cuba and North Korea; Russia and Belarus from 2022-04-09
# (Suspending Normal Trade Relations with Russia and Belarus Act, Pub. L. 117-110, sec. 2).
COLUMN2: tuple[tuple[str, dt.date, str], ...] = (
    ("CU", dt.date(1962, 5, 1), "HTSUS general note 3(b)"),
    ("KP", dt.date(1951, 9, 1), "HTSUS general note 3(b)"),
    ("RU", dt.date(2022, 4, 9), "HTSUS general note 3(b); Pub. L. 117-110 sec. 2 (2022-04-08)"),
    ("BY", dt.date(2022, 4, 9), "HTSUS general note 3(b); Pub. L. 117-110 sec. 2 (2022-04-08)"),
)


def money(d: Decimal) -> str:
    return f"{d:,.2f}"


def pct(rate: Decimal) -> str:
    p = (rate * HUNDRED).normalize()
    s = f"{p:f}"
    return f"{s}%"


class Formula:
    """A formula text built only when printed (``str``): amounts as money, other parts as they are."""

    __slots__ = ("args", "fmt")

    def __init__(self, fmt: str, *args: Any) -> None:
        self.fmt = fmt
        self.args = args

    def __str__(self) -> str:
        return self.fmt.format(*(money(a) if isinstance(a, Decimal) else a for a in self.args))

    def __format__(self, spec: str) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def q2(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------------------------------- results


class Component(NamedTuple):  # immutable; a NamedTuple because a million lines build millions of these
    measure: str
    heading: str
    rate: str
    base: Decimal | None
    amount: Decimal | None
    citation: str
    formula_spec: Any  # str, or a lazy formula (built when printed: a million lines need no text)
    measure_id: str | None = None  # None for the ordinary duty
    authority: str = "ordinary"  # ordinary | ieepa | s122 | s232 | s301
    status: str | None = None  # the measure's legal status (struck_down: refundable)
    note: str | None = None

    @property
    def formula(self) -> str:
        return str(self.formula_spec)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "measure": self.measure,
            "heading": self.heading,
            "rate": self.rate,
            "base": _num(self.base),
            "amount": _num(self.amount),
            "citation": self.citation,
            "formula": self.formula,
        }
        if self.measure_id:
            d["measure_id"] = self.measure_id
        d["authority"] = self.authority
        if self.status == "struck_down":
            d["status"] = "struck_down"  # collected on the date, later held unlawful: refundable
        if self.note:
            d["note"] = self.note
        return d


class LineDuty(NamedTuple):  # immutable (NamedTuple: cheap to build in batches)
    id: str
    hts: str
    country: str
    usmca_claim: bool
    entered_value: Decimal
    status: str  # complete | unresolved
    total_duty: Decimal | None  # None when unresolved: unknown is never zero
    effective_rate: Decimal | None  # percent, two decimals
    components: tuple[Component, ...]
    needs: tuple[str, ...]
    notes: tuple[str, ...]
    schedule: str  # revision label

    def amount_of(self, authority: str) -> Decimal | None:
        total = Decimal(0)
        for c in self.components:
            if c.authority == authority:
                if c.amount is None:
                    return None
                total += c.amount
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "hts": format_code(self.hts),
            "country_of_origin": self.country,
            "usmca_claim": self.usmca_claim,
            "entered_value": _num(self.entered_value),
            "total_duty": _num(self.total_duty),
            "effective_rate": _num(self.effective_rate),
            "components": [c.to_dict() for c in self.components],
            "needs": list(self.needs),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class DutyResult:
    entry_date: dt.date
    currency: str
    lines: tuple[LineDuty, ...]
    fees: Any  # usmca.measures.fees.Fees
    vintage: Mapping[str, str]

    @property
    def status(self) -> str:
        return "complete" if all(ln.status == "complete" for ln in self.lines) else "unresolved"

    @property
    def total_duty(self) -> Decimal | None:
        if self.status != "complete":
            return None
        return sum((ln.total_duty for ln in self.lines if ln.total_duty is not None), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_date": self.entry_date.isoformat(),
            "currency": self.currency,
            "status": self.status,
            "total_duty": _num(self.total_duty),
            "lines": [ln.to_dict() for ln in self.lines],
            "fees": self.fees.to_dict(),
            "vintage": dict(self.vintage),
        }


def _num(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


# ----------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Step:
    """One Chapter 99 measure applied to a line."""

    measure: Measure
    rate: Decimal
    base_kind: str  # full_value | metal_content | non_us_content | remainder
    metal: str | None
    remainder_metals: tuple[tuple[str, str], ...]  # (metal, heading) whose content is taken out of the value
    floor: bool
    heading: str
    citation: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Ordinary:
    label: str  # "column 1 general" | "column 1 special (USMCA)" | "column 2"
    rate: Any | None  # usmca.rates.grammar.Rate
    text: str
    citation: str
    problem: str | None  # why the rate cannot be used (unparsed, empty)
    fraction: Decimal | None = None  # set for Free and plain ad valorem rates: amount = fraction x value
    rate_label: str = ""  # the rate as printed in formulas ("2.9%", "Free")


@dataclass(frozen=True)
class Plan:
    hts: str
    heading: str  # dotted code of the schedule line used
    date: dt.date
    country: str
    claim: bool
    schedule: str
    ordinary: Ordinary
    steps: tuple[Step, ...]
    needs: tuple[str, ...]  # facts missing or coverage gaps, independent of the line's values
    notes: tuple[str, ...]
    rate_texts: tuple[str, ...] = ()  # per step: the rate as printed


@dataclass
class Engine:
    """Holds the store connection, the measure records, the product-scope index and the plan cache."""

    conn: sqlite3.Connection
    measures: MeasureSet = field(default_factory=load_measures)
    _plans: dict[tuple[Any, ...], Plan] = field(default_factory=dict)
    _scopes: Any = None
    _by_rank: tuple[Measure, ...] = ()
    # A line's plans with and without a claim (and with other facts) share its schedule line and the measures
    # whose date, country and product scope take it: each is found once (a portfolio's pricing: 14.8 -> 10.7 s).
    _lines: dict[tuple[str, dt.date], Any] = field(default_factory=dict)
    _scoped: dict[tuple[str, dt.date, str], tuple[Measure, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from usmca.measures.scopes import scope_index

        self._scopes = scope_index(self.conn)
        self._by_rank = tuple(sorted(self.measures.measures, key=lambda m: (m.rank, m.program, m.id)))

    # -- plan ---------------------------------------------------------------------------------------
    def plan_for(
        self, hts: str, date: dt.date, country: str, claim: bool, facts: Mapping[str, bool] | None = None
    ) -> Plan:
        fkey = tuple(sorted((facts or {}).items()))
        key = (hts, date, country, claim, fkey)
        p = self._plans.get(key)
        if p is None:
            p = self._build_plan(hts, date, country, claim, dict(fkey))
            if len(self._plans) > 200_000:
                self._plans.clear()
            self._plans[key] = p
        return p

    def _build_plan(self, hts: str, date: dt.date, country: str, claim: bool, facts: dict[str, bool]) -> Plan:
        from usmca.nomenclature import schedule

        line = self._lines.get((hts, date))
        if line is None:
            line = schedule.lookup(hts, date, self.conn)
            if len(self._lines) > 200_000:
                self._lines.clear()
            self._lines[(hts, date)] = line
        notes: list[str] = []
        needs: list[str] = []
        if line.coverage_warning:
            notes.append(line.coverage_warning)
        ordinary = _fast(_ordinary(line, date, country, claim, notes))
        code = line.code if len(line.code) >= len(hts) else hts
        steps = self._steps(code, date, country, claim, facts, notes, needs)
        return Plan(
            hts=hts,
            heading=line.code_dotted,
            date=date,
            country=country,
            claim=claim,
            schedule=line.revision.label,
            ordinary=ordinary,
            steps=tuple(steps),
            needs=tuple(dict.fromkeys(needs)),
            notes=tuple(dict.fromkeys(notes)),
            rate_texts=tuple(pct(st.rate) for st in steps),
        )

    def _in_scope(self, m: Measure, code: str, date: dt.date) -> bool:
        p = m.products
        ch = code[:2]
        if p.only_chapters and ch not in p.only_chapters:
            return False
        if ch in p.except_chapters:
            return False
        hit = (
            p.all
            or any(code.startswith(x) for x in p.prefixes)
            or any(self._scopes.contains(lst, code, date) for lst in p.lists)
        )
        if not hit:
            return False
        if any(code.startswith(x) for x in p.except_prefixes):
            return False
        return not any(self._scopes.contains(lst, code, date) for lst in p.except_lists)

    def _taking(self, code: str, date: dt.date, country: str) -> tuple[Measure, ...]:
        """The measures in force on ``date`` for goods of ``country`` whose product scope takes ``code``, in
        rank order (whatever the claim and the facts)."""
        key = (code, date, country)
        got = self._scoped.get(key)
        if got is None:
            got = tuple(
                m
                for m in self._by_rank
                if m.in_force(date) and m.covers_country(country) and self._in_scope(m, code, date)
            )
            if len(self._scoped) > 200_000:
                self._scoped.clear()
            self._scoped[key] = got
        return got

    def _steps(
        self,
        code: str,
        date: dt.date,
        country: str,
        claim: bool,
        facts: Mapping[str, bool],
        notes: list[str],
        needs: list[str],
    ) -> list[Step]:
        applied: list[Step] = []
        for m in self._taking(code, date, country):
            head = f"{m.name} ({', '.join(format_heading(h) for h in m.headings)})"
            if m.exempt_usmca_claim and claim and country in USMCA_COUNTRIES:
                notes.append(f"{head} not applied: USMCA claim on a good of {country} ({m.citation})")
                continue
            exempt = next((lst for lst in m.exempt_lists if self._scopes.contains(lst, code, date)), None)
            if exempt:
                notes.append(f"{head} not applied: product on exemption list {exempt} ({m.us_note})")
                continue
            missing = [f for f in m.requires_facts if f not in facts]
            if missing:
                for f in missing:
                    needs.append(f"facts.{f}: {FACT_QUESTIONS.get(f, f)} (decides {head})")
                continue
            if any(not facts[f] for f in m.requires_facts):
                notes.append(
                    f"{head} not applied: declared "
                    + ", ".join(f"{f}=false" for f in m.requires_facts if not facts[f])
                )
                continue
            if m.not_encoded:
                needs.append(f"{head}: {m.not_encoded} (not encoded; {m.citation})")
                continue
            # Non-stacking: a measure yields to measures of other programs already applied.
            dropped = False
            remainder: list[tuple[str, str]] = []
            for y in m.yields:
                hits = [s for s in applied if s.measure.program in y.programs]
                if not hits:
                    continue
                if y.mode == "full" or any(s.base_kind != "metal_content" for s in hits):
                    names = ", ".join(s.measure.name for s in hits)
                    notes.append(f"{head} not applied: does not stack with {names} ({y.citation})")
                    dropped = True
                    break
                remainder.extend((s.metal or "", s.heading) for s in hits)
            if dropped:
                continue
            base_kind: str = m.base
            note = None
            if claim and m.usmca_claim_base:
                base_kind = m.usmca_claim_base
            if remainder:
                base_kind = "remainder"
                note = "applies to the value not under " + ", ".join(
                    f"Section 232 {metal} ({h})" for metal, h in remainder
                )
            applied.append(
                Step(
                    measure=m,
                    rate=m.rate_for(country),
                    base_kind=base_kind,
                    metal=m.metal,
                    remainder_metals=tuple(dict.fromkeys(remainder)),
                    floor=m.rate_kind == "floor",
                    heading=", ".join(format_heading(h) for h in m.headings),
                    citation=m.citation,
                    note=note,
                )
            )
            if m.uncertain:
                notes.append(f"{m.name}: {m.uncertain}")
        # Supersession inside an exclusive group: only the highest rate applies.
        out: list[Step] = []
        best: dict[str, Step] = {}
        for s in applied:
            g = s.measure.exclusive_group
            if g is None:
                continue
            if g not in best or s.rate > best[g].rate:
                best[g] = s
        for s in applied:
            g = s.measure.exclusive_group
            if g is not None and best[g] is not s:
                notes.append(
                    f"{s.measure.name} ({s.heading}) superseded by {best[g].measure.name} "
                    f"({best[g].heading}): the highest rate of the group applies"
                )
                continue
            out.append(s)
        if any(s.measure.authority == "s301" for s in out):
            notes.append("Section 301: USTR product exclusions (e.g. 9903.88.69, 9903.88.70) are not checked")
        return out

    # -- amounts ------------------------------------------------------------------------------------
    def apply_plan(self, plan: Plan, line: EntryLine, prefix: str = "line") -> LineDuty:
        return apply_plan(plan, line, prefix)


FACT_QUESTIONS: dict[str, str] = {
    "automobile_part": "is the article a part of a passenger vehicle or light truck (U.S. note 33(g))? "
    "true/false",
    "semiconductor_note39": "does the article meet the technical parameters of HTSUS ch. 99 U.S. note 39(b) "
    "(and no excluded end use of note 39(d))? true/false",
    "metal_weight_15pct": "is the listed metal (steel/aluminum/copper) at least 15% of the article's weight "
    "(U.S. note 16(c))? true/false",
}


def format_heading(h: str) -> str:
    if "-" in h:
        a, b = h.split("-", 1)
        return f"{format_code(a)}-{format_code(b)}"
    return format_code(h) if h.isdigit() else h


def _column2(country: str, date: dt.date) -> str | None:
    for c, since, cite in COLUMN2:
        if c == country and date >= since:
            return cite
    return None


def _ordinary(line: Any, date: dt.date, country: str, claim: bool, notes: list[str]) -> Ordinary:
    from usmca.rates.grammar import usmca_rate

    cite = line.citation
    col2 = _column2(country, date)
    if col2:
        return Ordinary(
            "column 2",
            line.other_rate,
            line.other,
            f"{cite}, column 2; {col2}",
            _rate_problem(line.other_rate, line.other, line.other_error, "column 2"),
        )
    if claim:
        try:
            pref = usmca_rate(line.special) if line.special else None
        except Exception as exc:
            return Ordinary(
                "column 1 special (USMCA)",
                None,
                line.special,
                f"{cite}, column 1 special",
                f"the special column {line.special!r} could not be read ({exc})",
            )
        if pref is not None:
            return Ordinary(
                "column 1 special (USMCA, SPI S/S+)",
                pref,
                line.special,
                f"{cite}, column 1 special; HTSUS general note 11",
                None,
            )
        notes.append(
            f"no USMCA preference: the special column of {line.code_dotted} "
            f"({line.special or 'empty'!s}) does not list S or S+; column 1 general applies"
        )
    return Ordinary(
        "column 1 general",
        line.general_rate,
        line.general,
        f"{cite}, column 1 general",
        _rate_problem(line.general_rate, line.general, line.general_error, "column 1 general"),
    )


def _fast(o: Ordinary) -> Ordinary:
    """Free and plain ad valorem rates need no quantities: precompute their fraction (the common case)."""
    from dataclasses import replace

    kind = getattr(o.rate, "kind", None)
    if kind == "free" and getattr(o.rate, "condition", None) is None:
        return replace(o, fraction=Decimal(0), rate_label="Free")
    if kind == "ad_valorem" and getattr(o.rate, "basis", "x") is None:
        percent: Decimal = o.rate.percent  # type: ignore[union-attr]
        return replace(o, fraction=percent / HUNDRED, rate_label=pct(percent / HUNDRED))
    return o


def _rate_problem(rate: Any, text: str, error: str | None, col: str) -> str | None:
    if rate is not None:
        return None
    if not text:
        return f"the schedule gives no {col} rate for this line"
    return f"the {col} rate {text!r} could not be read ({error or 'unparsed'})"


def _quantities(line: EntryLine) -> dict[str, Decimal]:
    from usmca.rates.units import normalize_unit

    out: dict[str, Decimal] = {}
    for qn in line.quantity:
        out[normalize_unit(qn.unit)] = qn.value
    return out


def apply_plan(plan: Plan, line: EntryLine, prefix: str = "line") -> LineDuty:

    value = line.entered_value
    needs = list(plan.needs)
    notes = list(plan.notes)
    comps: list[Component] = []
    o = plan.ordinary
    ord_amount: Decimal | None = None
    if o.fraction is not None:
        ord_amount = q2(o.fraction * value)
        comps.append(
            Component(
                o.label,
                plan.heading,
                o.rate_label
                if o.label == "column 1 general" or o.label == "column 2"
                else f"{o.rate_label} (USMCA)",
                value,
                ord_amount,
                o.citation,
                Formula("{} x {} = {}", o.rate_label, value, ord_amount),
            )
        )
    elif o.rate is None:
        needs.append(f"{prefix}.hts: {o.problem}")
        comps.append(
            Component(o.label, plan.heading, o.text or "(none)", value, None, o.citation, "rate unreadable")
        )
    else:
        from usmca.rates.evaluate import evaluate

        ev = evaluate(o.rate, value, _quantities(line))
        if ev.amount is None:
            for n in ev.needs:
                needs.append(
                    f"{prefix}.quantity: {n} (the {o.label} rate {o.text!r} of {plan.heading} needs it)"
                )
        else:
            ord_amount = q2(ev.amount)
        comps.append(Component(o.label, plan.heading, o.text, value, ord_amount, o.citation, ev.formula))
    for s, rtext in zip(plan.steps, plan.rate_texts, strict=True):
        m = s.measure
        base: Decimal | None = value
        formula_base: Any = value
        note = s.note
        if s.base_kind == "metal_content":
            mv = getattr(line.metal_content, s.metal or "", None) if line.metal_content else None
            if mv is None:
                needs.append(
                    f"{prefix}.metal_content.{s.metal}: value of the {s.metal} content "
                    f"({m.name}, {s.heading}, is assessed on it)"
                )
                base = None
            else:
                base = mv
                formula_base = Formula("{} {} content", mv, s.metal)
        elif s.base_kind == "non_us_content":
            if line.us_content_value is None:
                note = (
                    f"U.S. content not given: the rate applies to the full value; give us_content_value "
                    f"for the non-U.S.-content basis of a USMCA vehicle ({m.us_note})"
                )
            else:
                base = value - line.us_content_value
                formula_base = f"({money(value)} - {money(line.us_content_value)} U.S. content)"
        elif s.base_kind == "remainder":
            parts: list[Decimal] = []
            for metal, _h in s.remainder_metals:
                mv = getattr(line.metal_content, metal, None) if line.metal_content else None
                if mv is None:
                    needs.append(
                        f"{prefix}.metal_content.{metal}: value of the {metal} content ({m.name} applies "
                        "only to the value not under Section 232)"
                    )
                    base = None
                else:
                    parts.append(mv)
            if base is not None:
                base = max(Decimal(0), value - sum(parts, Decimal(0)))
                formula_base = (
                    f"({money(value)} - "
                    + " - ".join(
                        f"{money(p)} {metal} content"
                        for p, (metal, _h) in zip(parts, s.remainder_metals, strict=True)
                    )
                    + ")"
                )
        rate = s.rate
        rate_text = rtext
        if s.floor:
            if ord_amount is None or value == 0:
                if ord_amount is None:
                    needs.append(f"{prefix}: the ordinary duty is needed for {m.name} ({pct(s.rate)} all-in)")
                comps.append(
                    Component(
                        m.name,
                        s.heading,
                        f"{pct(s.rate)} all-in",
                        base,
                        None,
                        s.citation,
                        "unknown",
                        m.id,
                        m.authority,
                        m.status,
                        note,
                    )
                )
                continue
            ord_rate = ord_amount / value
            rate = max(Decimal(0), s.rate - ord_rate)
            rate_text = f"{pct(s.rate)} all-in less ordinary {pct(ord_rate.quantize(Decimal('0.0001')))}"
        if base is None:
            comps.append(
                Component(
                    m.name,
                    s.heading,
                    rate_text,
                    None,
                    None,
                    s.citation,
                    "unknown base",
                    m.id,
                    m.authority,
                    m.status,
                    note,
                )
            )
            continue
        amount = q2(rate * base)
        comps.append(
            Component(
                m.name,
                s.heading,
                rate_text,
                base,
                amount,
                s.citation,
                Formula("{} x {} = {}", rate_text if not s.floor else pct(rate), formula_base, amount),
                m.id,
                m.authority,
                m.status,
                note,
            )
        )
    complete = not needs and all(c.amount is not None for c in comps)
    total = sum((c.amount for c in comps if c.amount is not None), Decimal(0)) if complete else None
    eff = None
    if total is not None and value > 0:
        eff = (total / value * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    return LineDuty(
        id=line.id,
        hts=line.hts,
        country=line.country_of_origin,
        usmca_claim=line.usmca_claim,
        entered_value=value,
        status="complete" if complete else "unresolved",
        total_duty=total,
        effective_rate=eff,
        components=tuple(comps),
        needs=tuple(dict.fromkeys(needs)),
        notes=tuple(dict.fromkeys(notes)),
        schedule=plan.schedule,
    )


# ----------------------------------------------------------------------------------------------- public API

_engines: dict[int, Engine] = {}
_MAX_ENGINES = 16


def engine(conn: sqlite3.Connection | None = None) -> Engine:
    """The engine for ``conn`` (default: the shared store), created once and reused."""
    if conn is None:
        from usmca.store import store

        conn = store()
    e = _engines.get(id(conn))
    if e is None or e.conn is not conn:
        e = Engine(conn)
        # One engine per live connection (threads each have their own); bounded so that closed
        # connections of earlier stores do not pile up.
        while len(_engines) >= _MAX_ENGINES:
            _engines.pop(next(iter(_engines)))
        _engines[id(conn)] = e
    return e


def _unresolved_line(line: EntryLine, problem: str, field_name: str) -> LineDuty:
    return LineDuty(
        id=line.id,
        hts=line.hts,
        country=line.country_of_origin,
        usmca_claim=line.usmca_claim,
        entered_value=line.entered_value,
        status="unresolved",
        total_duty=None,
        effective_rate=None,
        components=(),
        needs=(f"{field_name}: {problem}",),
        notes=(),
        schedule="",
    )


def duty_line(
    line: EntryLine, entry_date: dt.date, *, conn: sqlite3.Connection | None = None, prefix: str = "line"
) -> LineDuty:
    """Duty on one entry line entered on ``entry_date`` (interchange section 3 in, a section 4 line out).

    A code not in the schedule on that date gives an unresolved line naming it; bad input raises InputError.
    """
    e = engine(conn)
    try:
        plan = e.plan_for(line.hts, entry_date, line.country_of_origin, line.usmca_claim, line.facts)
    except NotFoundError as exc:
        return _unresolved_line(line, str(exc), f"{prefix}.hts")
    return apply_plan(plan, line, prefix)


def duty_lines(
    items: Iterable[tuple[EntryLine, dt.date]], *, conn: sqlite3.Connection | None = None
) -> list[LineDuty]:
    """Batch path: lines sharing (hts, date, country, claim, facts) share one plan."""
    e = engine(conn)
    out: list[LineDuty] = []
    for i, (line, date) in enumerate(items):
        try:
            plan = e.plan_for(line.hts, date, line.country_of_origin, line.usmca_claim, line.facts)
        except NotFoundError as exc:
            out.append(_unresolved_line(line, str(exc), f"lines[{i}].hts"))
            continue
        out.append(apply_plan(plan, line, f"lines[{i}]"))
    return out


def vintage(conn: sqlite3.Connection | None, schedules: Sequence[str]) -> dict[str, str]:
    ms = load_measures()
    labels = sorted({s for s in schedules if s})
    return {
        "schedule": ", ".join(labels) if labels else "(none)",
        "measures": ms.vintage,
        "product_scopes": "tariff-actions/product_scopes (Budget Lab at Yale tracker, commit 9919812)",
    }


def duty_entry(entry: Entry, *, conn: sqlite3.Connection | None = None) -> DutyResult:
    """Duty on every line of an entry, with the entry's fees (interchange format section 4)."""
    from usmca.measures.fees import entry_fees

    if entry.currency != "USD":
        raise InputError(
            "currency",
            entry.currency,
            "duty and fees are computed in USD only",
            "convert the values to USD (19 CFR 159.32 rate of the date of exportation)",
        )
    lines = tuple(duty_lines(((ln, entry.entry_date) for ln in entry.lines), conn=conn))
    fees = entry_fees(entry)
    return DutyResult(
        entry.entry_date, entry.currency, lines, fees, vintage(conn, [ln.schedule for ln in lines])
    )


def compare_claim(
    line: EntryLine, entry_date: dt.date, *, conn: sqlite3.Connection | None = None, prefix: str = "line"
) -> dict[str, Any]:
    """The line with and without a USMCA claim, and what the claim saves (None when either is unresolved)."""
    if line.country_of_origin not in USMCA_COUNTRIES:
        raise InputError(
            f"{prefix}.country_of_origin",
            line.country_of_origin,
            "a USMCA claim can only be compared for goods of Canada or Mexico",
        )
    with_claim = duty_line(
        line.model_copy(update={"usmca_claim": True}), entry_date, conn=conn, prefix=prefix
    )
    without = duty_line(line.model_copy(update={"usmca_claim": False}), entry_date, conn=conn, prefix=prefix)
    saving = None
    if with_claim.total_duty is not None and without.total_duty is not None:
        saving = without.total_duty - with_claim.total_duty
    return {"id": line.id, "with_claim": with_claim, "without_claim": without, "saving": saving}


def check_store(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("SELECT 1 FROM measure_scope LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        raise DataError("the reference store has no measure tables; run `usmca data build`") from None
