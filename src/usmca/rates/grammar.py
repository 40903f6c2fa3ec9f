"""Grammar of HTSUS rate-of-duty texts (column 1 general, column 1 special, column 2).

``parse_rate`` turns one rate text into a frozen ``Rate``:

- ``Free`` (optionally with a condition: "Free, under bond, as prescribed in U.S. note 1 ...")
- ``AdValorem``: "2.5%", "33 1/3%", on a part of the value ("4.2% on the case", "2.5% on the value of the lead
  content", "3 percent of the fair retail value")
- ``Specific``: an amount per unit ("1.1¢/kg", "$1.035/kg", "44¢/doz.", "0.9¢ each", "$1.34/1000",
  "3.7¢/kg on drained weight", "2.8¢/jewel over 7")
- ``Compound``: terms added ("1.1¢/kg + 2%",
  "$1.53 each + 4.2% on the case + 2% on the strap, band or bracelet")
- ``Graduated``: the sugar polarity scale ("1.4606¢/kg less 0.020668¢/kg for each degree under 100
  degrees ... but not less than 0.943854¢/kg")
- ``Limited``: a rate with a cap or floor, possibly conditional ("..., but if consisting in part of a
  plate ... the total duty shall not exceed the duty for the complete movement")
- ``ChapterRef``: the duty of another provision, possibly plus or minus a rate ("The duty provided in
  the applicable subheading + 25%", "No change", "The rate applicable to each garment in the ensemble if
  separately entered", "A duty upon the value of the repairs or alterations (see U.S. note 3 ...)")
- ``SeeRef``: a pointer to other headings or notes ("See 9823.01.01-9823.01.07", "See additional U.S. note 1")

What it cannot read raises ``RateParseError(text, reason)``; there is no "unparsed" rate and no default.
``parse_special`` splits the special column into (rate, programs) groups; ``usmca_rate`` picks the group of
SPI ``S`` or ``S+`` (USMCA, General Note 11).

Texts are cleaned before parsing (HTML tags, line-break hyphenation, a few known typos of the USITC export);
every Rate keeps the original text in ``.text``, which does not take part in equality so that the same rate
spelled two ways compares equal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

from usmca.errors import DataError
from usmca.rates.units import ELEMENTS

USMCA_PROGRAMS: frozenset[str] = frozenset({"S", "S+"})


class RateParseError(DataError):
    """A rate text that the grammar cannot read; ``reason`` says which part."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"cannot parse rate text {text!r}: {reason}")


# ---------------------------------------------------------------------------------------------------------
# Rate types


@dataclass(frozen=True, kw_only=True)
class Rate:
    """Base of every parsed rate. ``text`` is the source text (of this part, for a term of a compound)."""

    kind: ClassVar[str] = ""
    text: str = field(default="", compare=False)

    @property
    def display(self) -> str:
        """The source text cleaned for display ("10% <u></u>" -> "10%")."""
        return clean(self.text)

    def units_needed(self) -> tuple[str, ...]:
        """Keys of the ``quantities`` mapping that evaluation reads (units such as ``kg`` or ``kg:Pb`` and
        part values such as ``value:case``), in order of first use."""
        return ()

    @property
    def needs_base_duty(self) -> bool:
        """True when evaluation needs the duty of another provision (``base_duty``)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            out[f.name] = _to_json(getattr(self, f.name))
        return out


def _to_json(v: object) -> Any:
    if isinstance(v, Rate):
        return v.to_dict()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, tuple):
        return [_to_json(x) for x in v]
    return v


def _dedupe(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True, kw_only=True)
class Free(Rate):
    """No duty. ``condition`` keeps a qualifying text ("under bond, as prescribed in U.S. note 1 ...")."""

    kind: ClassVar[str] = "free"
    condition: str | None = None


@dataclass(frozen=True, kw_only=True)
class AdValorem(Rate):
    """``percent`` of the customs value, or of a part's value when ``basis`` is a ``value:<part>`` key."""

    kind: ClassVar[str] = "ad_valorem"
    percent: Decimal
    basis: str | None = None
    basis_label: str | None = None

    def units_needed(self) -> tuple[str, ...]:
        return (self.basis,) if self.basis else ()


@dataclass(frozen=True, kw_only=True)
class Specific(Rate):
    """``amount`` US dollars per ``per`` units of ``unit`` (a quantity key, see ``units.py``).

    ``over``: only the units above this count are dutiable ("2.8¢/jewel over 7").
    """

    kind: ClassVar[str] = "specific"
    amount: Decimal
    unit: str
    per: Decimal = Decimal(1)
    over: Decimal | None = None

    def units_needed(self) -> tuple[str, ...]:
        return (self.unit,)


@dataclass(frozen=True, kw_only=True)
class Compound(Rate):
    """Sum of terms (specific and ad valorem parts)."""

    kind: ClassVar[str] = "compound"
    terms: tuple[Rate, ...]

    def units_needed(self) -> tuple[str, ...]:
        return _dedupe(k for t in self.terms for k in t.units_needed())

    @property
    def needs_base_duty(self) -> bool:
        return any(t.needs_base_duty for t in self.terms)


@dataclass(frozen=True, kw_only=True)
class Graduated(Rate):
    """Specific rate scaled by a measured degree (raw sugar polarity): ``base`` less ``step`` for each degree
    under ``below`` (fractions in proportion), but not less than ``floor``. The degree is the ``polarity``
    quantity."""

    kind: ClassVar[str] = "graduated"
    base: Specific
    step: Specific
    floor: Specific
    below: Decimal = Decimal(100)

    def units_needed(self) -> tuple[str, ...]:
        return _dedupe((self.base.unit, "polarity"))


@dataclass(frozen=True, kw_only=True)
class Limited(Rate):
    """``rate`` with a ``maximum`` and/or ``minimum``. With a ``condition`` the limit applies only when
    the condition holds, which the evaluator cannot know: it reports the limit in ``notes`` without
    applying it."""

    kind: ClassVar[str] = "limited"
    rate: Rate
    maximum: Rate | None = None
    minimum: Rate | None = None
    condition: str | None = None

    def units_needed(self) -> tuple[str, ...]:
        keys = list(self.rate.units_needed())
        if self.condition is None:
            for lim in (self.maximum, self.minimum):
                if lim is not None:
                    keys.extend(lim.units_needed())
        return _dedupe(keys)

    @property
    def needs_base_duty(self) -> bool:
        if self.rate.needs_base_duty:
            return True
        if self.condition is not None:
            return False
        return any(lim is not None and lim.needs_base_duty for lim in (self.maximum, self.minimum))


@dataclass(frozen=True, kw_only=True)
class ChapterRef(Rate):
    """The duty of another provision (``reference``), plus (or, with ``subtract``, minus) ``addition``.

    Covers Chapter 99 "The duty provided in the applicable subheading + 25%", "No change", Chapter 98 "A duty
    upon the value of the repairs or alterations" (``basis`` says on which value the caller must compute the
    referenced duty) and "The rate applicable to ..." texts. The evaluator takes the referenced duty as
    ``base_duty``.
    """

    kind: ClassVar[str] = "chapter_ref"
    reference: str
    addition: Rate | None = None
    subtract: bool = False
    basis: str | None = None

    def units_needed(self) -> tuple[str, ...]:
        return self.addition.units_needed() if self.addition is not None else ()

    @property
    def needs_base_duty(self) -> bool:
        return True


@dataclass(frozen=True, kw_only=True)
class SeeRef(Rate):
    """A pointer: "See 9823.01.01-9823.01.07", "See additional U.S. note 1". The rate is found there; the
    evaluator takes that duty as ``base_duty``."""

    kind: ClassVar[str] = "see"
    target: str

    @property
    def needs_base_duty(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class SpecialRate:
    """One group of the special column: a rate and the SPI codes it applies to (``A+``, ``AU``, ``S``, ...).

    An empty ``programs`` set means the text named no programs (Chapter 98/99 lines): the rate applies to
    every special program.
    """

    rate: Rate
    programs: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate.to_dict(), "programs": sorted(self.programs)}


RATE_TYPES: dict[str, type[Rate]] = {
    c.kind: c for c in (Free, AdValorem, Specific, Compound, Graduated, Limited, ChapterRef, SeeRef)
}
_DECIMAL_FIELDS = {"percent", "amount", "per", "over", "below"}
_RATE_FIELDS = {"base", "step", "floor", "rate", "maximum", "minimum", "addition"}


def rate_from_dict(d: dict[str, Any]) -> Rate:
    """Inverse of ``Rate.to_dict`` (for rates stored as JSON). Raises DataError on an unknown shape."""
    try:
        cls = RATE_TYPES[d["kind"]]
    except (KeyError, TypeError) as e:
        raise DataError(f"stored rate has no known kind: {d!r}") from e
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if v is not None and f.name in _DECIMAL_FIELDS:
            v = Decimal(v)
        elif v is not None and f.name in _RATE_FIELDS:
            v = rate_from_dict(v)
        elif f.name == "terms":
            v = tuple(rate_from_dict(x) for x in v)
        kwargs[f.name] = v
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise DataError(f"stored rate of kind {d['kind']!r} is malformed: {e}") from e


def special_from_dict(d: dict[str, Any]) -> SpecialRate:
    return SpecialRate(rate=rate_from_dict(d["rate"]), programs=frozenset(d["programs"]))


# ---------------------------------------------------------------------------------------------------------
# Cleaning

_TAG = re.compile(r"<[^>]*>")
# A footnote marker after a rate ("5% 1/"); the footnote itself is in the line's ``footnotes``. The lookahead
# keeps fractions such as "33 1/3%" intact.
_FOOTNOTE = re.compile(r"(?<=\S)\s+\d{1,2}/(?=\s|$|\()")
_HYPHEN_BREAK = re.compile(r"([a-z])- ([a-z])")
_WS = re.compile(r"\s+")
# Known slips of the USITC export, fixed before parsing (the original stays in ``.text``).
_TYPOS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"internal- revenue"), "internal-revenue"),
    (re.compile(r"\bweght\b"), "weight"),
    (re.compile(r"\boralterations\b"), "or alterations"),
    (re.compile(r"\bthebattery\b"), "the battery"),
    (re.compile(r"\binthe\b"), "in the"),
    (re.compile(r"\bin the in the\b"), "in the"),
    (re.compile(r"(m2)(of\b)"), r"\1 \2"),
)


def clean(text: str) -> str:
    """Normalize a rate text for parsing: tags out, whitespace collapsed, line-break hyphens joined, known
    typos fixed, footnote markers ("5% 1/") and a trailing period or stray "/" dropped."""
    s = text.replace("\u00a0", " ")
    s = _TAG.sub("", s)
    s = _FOOTNOTE.sub("", s)
    s = _WS.sub(" ", s).strip()
    for pat, rep in _TYPOS:
        s = pat.sub(rep, s)
    s = _HYPHEN_BREAK.sub(r"\1\2", s)
    s = s.rstrip(" ./").strip() if s.endswith((".", "/")) and not s.endswith(("pr.", "doz.")) else s
    return s


# ---------------------------------------------------------------------------------------------------------
# Parsing

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_MONEY = re.compile(rf"^(?:\$\s*(?P<d>{_NUM})|(?P<c>{_NUM})\s*¢)\s*(?P<rest>.*)$")
_PERCENT = re.compile(
    rf"^(?P<n>{_NUM})(?:\s+(?P<fn>\d+)/(?P<fd>\d+))?\s*(?:%|percent\b)\s*(?P<rest>.*)$", re.IGNORECASE
)
_GRADUATED = re.compile(
    rf"^(?P<base>\S+)\s*/\s*kg less (?P<step>\S+?)\s*/\s*kg for each degree under (?P<below>{_NUM}) degrees"
    rf" \(and fractions of a degree in proportion\) but not less(?: than)? (?P<floor>\S+?)\s*/\s*kg$",
    re.IGNORECASE,
)
_PROVISO = re.compile(r"^(?P<rate>.+?),\s*but if (?P<cond>.+?) the total duty shall not exceed (?P<cap>.+)$")
_DUTY_PROVIDED = re.compile(
    r"^the duty (?:rate )?provided (?:for )?in (?P<ref>the applicable subheading|such subheading"
    r"|subheadings? [\d.,\s]+(?:or [\d.]+)?)\s*(?:(?P<op>\+|plus|minus)\s*(?:a duty of\s+)?(?P<add>.+))?$",
    re.IGNORECASE,
)
_SPLIT_PLUS = re.compile(r"\s*\+\s*")

# Unit phrases after "/" (lower-cased) -> (key, units per amount).
_UNIT_PHRASES: dict[str, tuple[str, Decimal]] = {
    "kg": ("kg", Decimal(1)),
    "clean kg": ("kg:clean", Decimal(1)),
    "g": ("g", Decimal(1)),
    "t": ("t", Decimal(1)),
    "liter": ("liter", Decimal(1)),
    "pf. liter": ("pf_liter", Decimal(1)),
    "pf.liter": ("pf_liter", Decimal(1)),
    "doz.": ("doz", Decimal(1)),
    "pr.": ("pr", Decimal(1)),
    "head": ("no", Decimal(1)),
    "article": ("no", Decimal(1)),
    "pack": ("pack", Decimal(1)),
    "bbl": ("bbl", Decimal(1)),
    "m": ("m", Decimal(1)),
    "lin. m": ("m", Decimal(1)),
    "m2": ("m2", Decimal(1)),
    "m3": ("m3", Decimal(1)),
    "gross": ("gross", Decimal(1)),
    "line/ gross": ("gross_line", Decimal(1)),
    "line/gross": ("gross_line", Decimal(1)),
    "jewel": ("jewel", Decimal(1)),
    "1000": ("no", Decimal(1000)),
    "1,000": ("no", Decimal(1000)),
    "thousand": ("no", Decimal(1000)),
    "1,000 pins": ("no", Decimal(1000)),
}
# Qualifying phrases after the unit -> qualifier of the key ("" = the unit already measures it).
_QUALIFIERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\s+on drained weight$"), "drained"),
    (re.compile(r"\s+of total sugars$"), "total_sugars"),
    (re.compile(r"\s+of anhydrous morphine content$"), "anhydrous_morphine"),
    (re.compile(r"\s+on ethyl alcohol content$"), ""),
    (re.compile(r"\s+on entire contents of container$"), "contents"),
    (re.compile(r"\s+on contents and container$"), "gross_weight"),
    (re.compile(r",?\s+including weight of container$"), "gross_weight"),
    (re.compile(r"\s+of recording surface$"), "recording_surface"),
    (re.compile(r"\s+of immediate containers$"), "immediate_containers"),
)
_CONTENT = re.compile(r"\s+on (?:the )?(?P<el>[a-z]+) content$")
_OVER = re.compile(rf"\s+over (?P<n>{_NUM})$")

# Part bases that are the whole customs value.
_WHOLE_VALUE = {
    "entire set",
    "the entire set",
    "full value of the imported article",
    "the full value of the imported article",
}


def _dec(s: str) -> Decimal:
    return Decimal(s.replace(",", ""))


def _money(s: str) -> Decimal | None:
    m = _MONEY.match(s.strip())
    if not m or m.group("rest"):
        return None
    return _dec(m.group("d")) if m.group("d") else _dec(m.group("c")) / 100


def _part_key(phrase: str) -> tuple[str | None, str]:
    """``"the case"`` -> (``value:case``, "on the case"); whole-value phrases -> (None, label)."""
    p = phrase.strip().rstrip(",")
    low = p.lower()
    if low in _WHOLE_VALUE:
        return None, p
    low = re.sub(r",? if any$", "", low)
    low = re.sub(r"^(?:the )?value of ", "", low)
    low = re.sub(r"^the ", "", low)
    low = low.replace("strap, band or bracelet", "strap")
    low = low.replace("non-u.s.", "non_us")
    slug = re.sub(r"[^a-z0-9]+", "_", low).strip("_")
    return f"value:{slug}", p


def _parse_unit(text: str, phrase: str) -> tuple[str, Decimal, Decimal | None]:
    """Unit phrase after "/" -> (key, per, over)."""
    p = phrase.strip().lower()
    over: Decimal | None = None
    m = _OVER.search(p)
    if m:
        over = _dec(m.group("n"))
        p = p[: m.start()]
    qual: str | None = None
    for pat, q in _QUALIFIERS:
        m2 = pat.search(p)
        if m2:
            qual, p = q, p[: m2.start()]
            break
    else:
        m3 = _CONTENT.search(p)
        if m3:
            el = m3.group("el")
            if el not in ELEMENTS:
                raise RateParseError(text, f"unknown content {el!r} in unit {phrase!r}")
            qual, p = ELEMENTS[el], p[: m3.start()]
    p = p.strip()
    if p not in _UNIT_PHRASES:
        raise RateParseError(text, f"unknown unit {phrase.strip()!r}")
    key, per = _UNIT_PHRASES[p]
    if qual:
        if ":" in key:
            raise RateParseError(text, f"unit {phrase.strip()!r} has two qualifiers")
        key = f"{key}:{qual}"
    return key, per, over


def _parse_term(text: str, term: str) -> Rate:
    """One additive term: a percentage (on a part) or an amount per unit."""
    t = term.strip()
    m = _PERCENT.match(t)
    if m:
        pct = _dec(m.group("n"))
        if m.group("fn"):
            den = Decimal(m.group("fd"))
            if den == 0:
                raise RateParseError(text, f"zero denominator in {t!r}")
            pct += Decimal(m.group("fn")) / den
        rest = m.group("rest").strip()
        if not rest:
            return AdValorem(text=t, percent=pct)
        mb = re.match(r"^(?:on|of|upon)\s+(?P<b>.+)$", rest, re.IGNORECASE)
        if not mb:
            raise RateParseError(text, f"unreadable text after the percentage: {rest!r}")
        key, label = _part_key(mb.group("b"))
        return AdValorem(text=t, percent=pct, basis=key, basis_label=label)
    m = _MONEY.match(t)
    if m:
        amount = _dec(m.group("d")) if m.group("d") else _dec(m.group("c")) / 100
        rest = m.group("rest").strip()
        if rest.lower() == "each":
            return Specific(text=t, amount=amount, unit="no")
        if rest.lower() == "for each other piece or part":
            return Specific(text=t, amount=amount, unit="no:other_parts")
        if rest.startswith("/"):
            key, per, over = _parse_unit(text, rest[1:])
            return Specific(text=t, amount=amount, unit=key, per=per, over=over)
        raise RateParseError(text, f"amount without a unit in {t!r}")
    raise RateParseError(text, f"unreadable term {t!r}")


def _parse_sum(text: str, s: str) -> Rate:
    parts = [p for p in _SPLIT_PLUS.split(s)]
    if any(not p for p in parts):
        raise RateParseError(text, "empty term around '+'")
    terms = tuple(_parse_term(text, p) for p in parts)
    if len(terms) == 1:
        return terms[0]
    return Compound(text=s, terms=terms)


def _parse_graduated(text: str, m: re.Match[str]) -> Graduated:
    vals = {}
    for g in ("base", "step", "floor"):
        v = _money(m.group(g))
        if v is None:
            raise RateParseError(text, f"unreadable amount {m.group(g)!r} in the polarity scale")
        vals[g] = Specific(text=f"{m.group(g)}/kg", amount=v, unit="kg")
    return Graduated(
        text=m.group(0),
        base=vals["base"],
        step=vals["step"],
        floor=vals["floor"],
        below=_dec(m.group("below")),
    )


def _parse_clean(text: str, s: str) -> Rate:
    if not s:
        raise RateParseError(text, "no rate text")
    low = s.lower()
    if low.startswith("free"):
        rest = s[4:].strip()
        if rest and not rest.startswith((",", "(")):
            raise RateParseError(text, f"unreadable text after 'Free': {rest!r}")
        cond = rest.lstrip(",").strip()
        if cond.startswith("(") and cond.endswith(")"):
            cond = cond[1:-1].strip()
            if _programs(cond) is not None:
                raise RateParseError(text, "a special-column program list: use parse_special")
        return Free(text=s, condition=cond or None)
    if low == "no change":
        return ChapterRef(text=s, reference="the applicable subheading")
    if low.startswith("see "):
        return SeeRef(text=s, target=s[4:].strip())
    m = _DUTY_PROVIDED.match(s)
    if m:
        addition = None
        if m.group("add"):
            addition = _parse_sum(text, m.group("add"))
        return ChapterRef(
            text=s,
            reference=m.group("ref").strip(),
            addition=addition,
            subtract=(m.group("op") or "").lower() == "minus",
        )
    if re.match(r"^the (?:duty )?rate (?:of duty )?(?:provided|applicable)\b", low):
        return ChapterRef(text=s, reference=s)
    mb = re.match(r"^a duty upon (?P<b>.+)$", s, re.IGNORECASE)
    if mb:
        return ChapterRef(text=s, reference="the subheading applicable to the article", basis=mb.group("b"))
    me = re.match(r"^a duty (?:\(in lieu of any other duty or tax\) )?equal to (?P<r>.+)$", s, re.IGNORECASE)
    if me:
        return ChapterRef(text=s, reference=me.group("r"))
    mg = _GRADUATED.match(s)
    if mg:
        return _parse_graduated(text, mg)
    mp = _PROVISO.match(s)
    if mp:
        cap_text = mp.group("cap").strip()
        cap_ref = re.sub(r"^the duty (?:for|of|on) ", "", cap_text, flags=re.IGNORECASE)
        return Limited(
            text=s,
            rate=_parse_sum(text, mp.group("rate")),
            maximum=ChapterRef(text=cap_text, reference=cap_ref),
            condition=f"if {mp.group('cond').strip()}",
        )
    if not re.search(r"\d", s):
        raise RateParseError(text, "no amount, percentage or known wording")
    return _parse_sum(text, s)


@lru_cache(maxsize=16384)
def _parse_cached(text: str) -> Rate:
    # the top-level rate keeps the caller's original spelling
    return replace(_parse_clean(text, clean(text)), text=text)


def parse_rate(text: str) -> Rate:
    """Parse one rate text of the general or column-2 column (or one group of the special column).

    Raises RateParseError(text, reason) when the text cannot be read, including for a blank text.
    """
    if not isinstance(text, str):
        raise RateParseError(repr(text), "a rate text must be a string")
    return _parse_cached(text)


# ---------------------------------------------------------------------------------------------------------
# Special column

_GROUP = re.compile(r"\(([^()]*)\)")
_PROGRAM = re.compile(r"^[A-Z]{1,2}[+*]?$")
_DOUBLED = re.compile(r"\((\w+) \((\1)\)")


def _programs(content: str) -> frozenset[str] | None:
    """The SPI codes of a parenthesised list, or None when it is not a program list."""
    tokens = [t for t in re.split(r"[,\s]+", content.replace(".", " ")) if t]
    if not tokens or not all(_PROGRAM.match(t) for t in tokens):
        return None
    return frozenset(tokens)


@lru_cache(maxsize=16384)
def _parse_special_cached(text: str) -> tuple[SpecialRate, ...]:
    s = _WS.sub(" ", _FOOTNOTE.sub("", _TAG.sub("", text.replace("\u00a0", " ")))).strip()
    s = _DOUBLED.sub(r"(\1)", s)  # "(PA (PA)" in the export
    if not s:
        raise RateParseError(text, "no rate text")
    groups: list[SpecialRate] = []
    pos = 0
    for m in _GROUP.finditer(s):
        progs = _programs(m.group(1))
        if progs is None:
            continue
        rate_text = s[pos : m.start()].strip()
        if not rate_text:
            raise RateParseError(text, f"program list ({m.group(1)}) without a rate before it")
        groups.append(SpecialRate(rate=_parse_clean(text, clean(rate_text)), programs=progs))
        pos = m.end()
    tail = s[pos:].strip()
    if not groups:
        return (SpecialRate(rate=_parse_clean(text, clean(s)), programs=frozenset()),)
    if tail:
        raise RateParseError(text, f"text after the last program list: {tail!r}")
    return tuple(groups)


def parse_special(text: str) -> tuple[SpecialRate, ...]:
    """Split a special-column text into its groups: ``"Free (A+,AU,...,S,SG) 5% (JP)"`` ->
    (SpecialRate(Free, {A+, AU, ..., S, SG}), SpecialRate(5%, {JP})). Raises RateParseError."""
    if not isinstance(text, str):
        raise RateParseError(repr(text), "a rate text must be a string")
    return _parse_special_cached(text)


def usmca_rate(special_text: str) -> Rate | None:
    """The special rate for SPI ``S`` or ``S+`` (USMCA), or None when the text gives no USMCA preference.

    A blank text (no special rates) gives None. A text without any program list (Chapter 98/99 lines) applies
    to all programs and is returned as is. Raises RateParseError when the text cannot be read or when S and
    S+ carry different rates.
    """
    if not special_text or not special_text.strip():
        return None
    groups = parse_special(special_text)
    if len(groups) == 1 and not groups[0].programs:
        return groups[0].rate
    found = [g.rate for g in groups if g.programs & USMCA_PROGRAMS]
    if not found:
        return None
    if any(r != found[0] for r in found[1:]):
        raise RateParseError(special_text, "programs S and S+ carry different rates")
    return found[0]


# ---------------------------------------------------------------------------------------------------------
# Coverage


@dataclass(frozen=True)
class CoverageReport:
    """Distinct non-blank texts seen, how many parsed (by kind) and every failure with its reason."""

    total: int
    parsed: int
    blank: int
    by_kind: dict[str, int]
    failures: tuple[tuple[str, str], ...]

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def ratio(self) -> float:
        return self.parsed / self.total if self.total else 1.0

    def summary(self) -> str:
        lines = [f"{self.parsed}/{self.total} distinct texts parsed ({self.ratio:.2%}); {self.blank} blank"]
        lines += [f"  unparsed {t!r}: {r}" for t, r in self.failures]
        return "\n".join(lines)


def coverage(texts: Iterable[str], *, special: bool = False) -> CoverageReport:
    """Parse each distinct text once (``parse_special`` when ``special``) and report what failed and why.

    Blank texts (no rate on the line) are counted apart, not as failures.
    """
    distinct = set(texts)
    blank = sum(1 for t in distinct if not t.strip())
    kinds: Counter[str] = Counter()
    failures: list[tuple[str, str]] = []
    for t in sorted(x for x in distinct if x.strip()):
        try:
            if special:
                for g in parse_special(t):
                    kinds[g.rate.kind] += 1
            else:
                kinds[parse_rate(t).kind] += 1
        except RateParseError as e:
            failures.append((t, e.reason))
    total = len(distinct) - blank
    return CoverageReport(
        total=total,
        parsed=total - len(failures),
        blank=blank,
        by_kind=dict(kinds),
        failures=tuple(failures),
    )
