"""Chapter 99 duty measures as dated legal records, loaded from the project's own YAML encodings.

A measure is one rate of one legal instrument for one country scope and product scope over one window of
dates: when the rate changes (Canada 25% -> 35% on 2025-08-01) the encoding has two records. Struck-down and
expired measures stay, with their dates: the engine answers for any entry date.

Files: ``measures/data/*.yaml``, each ``{source: ..., measures: [...]}``. Every record names its instrument
(executive order, proclamation, Federal Register document) and its Chapter 99 heading and U.S. note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from usmca.errors import DataError

Base = Literal["full_value", "metal_content", "non_us_content"]
Status = Literal["in_force", "struck_down", "expired", "scheduled", "suspended", "superseded"]
RateKind = Literal["additional", "floor"]
YieldMode = Literal["full", "remainder"]

BASES: frozenset[str] = frozenset({"full_value", "metal_content", "non_us_content"})
STATUSES: frozenset[str] = frozenset(
    {"in_force", "struck_down", "expired", "scheduled", "suspended", "superseded"}
)
METALS: frozenset[str] = frozenset({"steel", "aluminum", "copper"})
# Statuses whose duty was (or is) owed on entries inside the validity window. A struck-down measure was
# collected until collection ended; it is owed on those entries and is refundable (see refunds.py).
COLLECTED: frozenset[str] = frozenset({"in_force", "struck_down", "expired", "superseded", "scheduled"})


@dataclass(frozen=True, slots=True)
class Instrument:
    kind: str  # executive_order | proclamation | fr_notice | statute | court | usTR_notice
    number: str  # "EO 14193", "Proclamation 10908", "FR 2025-03664"
    citation: str  # "90 FR 9113 (2025-02-07)"
    fr_document: str | None = None  # Federal Register document number
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ProductScope:
    """Products a measure covers: all, or HTS prefixes we encode, or lists loaded into the store by
    ``usmca.measures.scopes`` (named ``<list>``); minus excluded prefixes and lists."""

    all: bool = False
    prefixes: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    except_prefixes: tuple[str, ...] = ()
    except_lists: tuple[str, ...] = ()
    except_chapters: tuple[str, ...] = ()
    only_chapters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Yield:
    """Non-stacking: when a measure of one of ``programs`` applies to the line, this one does not (``full``)
    or applies only to the value not already under it (``remainder``: entered value less that measure's
    base)."""

    programs: tuple[str, ...]
    mode: YieldMode
    citation: str


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    name: str
    authority: str  # ieepa | s232 | s301 | s122
    program: str  # precedence group: ieepa_fentanyl_camx, s232_steel, s232_autos, ...
    instruments: tuple[Instrument, ...]
    headings: tuple[str, ...]
    us_note: str
    rate: Decimal  # fraction: 0.25 = 25%
    rate_kind: RateKind
    base: Base
    usmca_claim_base: Base | None  # base when a USMCA claim is made (vehicles: non-U.S. content)
    metal: str | None  # for base == metal_content
    countries: frozenset[str] | None  # ISO alpha-2; None = every country
    except_countries: frozenset[str]
    country_rates: Mapping[str, Decimal]
    products: ProductScope
    exempt_usmca_claim: bool  # a USMCA claim (GN 11, SPI S/S+) on a good of CA/MX exempts the line
    exempt_lists: tuple[str, ...]  # product lists (dated in the store) exempting the line
    requires_facts: tuple[str, ...]  # importer declarations the measure depends on (line.facts)
    yields: tuple[Yield, ...]
    exclusive_group: str | None  # within a group only the highest rate applies (supersession)
    valid_from: dt.date
    valid_to: dt.date | None  # last day in force (inclusive); None = open
    status: Status
    status_date: dt.date | None
    status_note: str
    rank: int  # evaluation order for precedence: lower first (232 vehicles 0, 232 metals 1, others 2)
    uncertain: str  # where the encoding is uncertain or departs from the third-party curation
    not_encoded: (
        str  # a coverage gap: when the measure matches a line, the line is unresolved with this reason
    )
    source_file: str = field(default="", compare=False)

    @property
    def citation(self) -> str:
        inst = "; ".join(f"{i.number} ({i.citation})" if i.citation else i.number for i in self.instruments)
        return f"{inst}; HTSUS ch. 99 {self.us_note}"

    def in_force(self, d: dt.date) -> bool:
        if self.status not in COLLECTED:
            return False
        return self.valid_from <= d and (self.valid_to is None or d <= self.valid_to)

    def covers_country(self, iso: str) -> bool:
        if iso in self.except_countries:
            return False
        return self.countries is None or iso in self.countries

    def rate_for(self, iso: str) -> Decimal:
        return self.country_rates.get(iso, self.rate)


# ----------------------------------------------------------------------------------------------- loading


def _date(v: Any, where: str) -> dt.date:
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise DataError(f"{where}: bad date {v!r}") from None


def _dec(v: Any, where: str) -> Decimal:
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        raise DataError(f"{where}: bad rate {v!r}") from None
    if d < 0:
        raise DataError(f"{where}: negative rate {v!r}")
    return d


def _codes(v: Any) -> tuple[str, ...]:
    return tuple(str(x).replace(".", "") for x in (v or ()))


def parse_measure(raw: Mapping[str, Any], source_file: str) -> Measure:
    mid = str(raw.get("id") or "")
    where = f"{source_file}: measure {mid or '?'}"
    if not mid:
        raise DataError(f"{where}: every measure needs an id")
    known = {
        "id",
        "name",
        "authority",
        "program",
        "instruments",
        "headings",
        "us_note",
        "rate",
        "rate_kind",
        "base",
        "metal",
        "countries",
        "except_countries",
        "country_rates",
        "products",
        "exempt_usmca_claim",
        "exempt_lists",
        "requires_facts",
        "yields",
        "exclusive_group",
        "valid_from",
        "valid_to",
        "status",
        "status_date",
        "status_note",
        "rank",
        "uncertain",
        "not_encoded",
        "usmca_claim_base",
    }
    unknown = set(raw) - known
    if unknown:
        raise DataError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    base = str(raw.get("base", "full_value"))
    if base not in BASES:
        raise DataError(f"{where}: base {base!r} is not one of {', '.join(sorted(BASES))}")
    metal = raw.get("metal")
    if base == "metal_content" and metal not in METALS:
        raise DataError(f"{where}: base metal_content needs metal: steel | aluminum | copper")
    status = str(raw.get("status", "in_force"))
    if status not in STATUSES:
        raise DataError(f"{where}: status {status!r} is not one of {', '.join(sorted(STATUSES))}")
    rate_kind = str(raw.get("rate_kind", "additional"))
    if rate_kind not in ("additional", "floor"):
        raise DataError(f"{where}: rate_kind must be additional or floor")
    insts = []
    for i in raw.get("instruments") or []:
        insts.append(
            Instrument(
                str(i["kind"]),
                str(i["number"]),
                str(i.get("citation", "")),
                i.get("fr_document"),
                i.get("url"),
            )
        )
    if not insts:
        raise DataError(f"{where}: at least one instrument (EO, proclamation or FR document) is required")
    p = raw.get("products") or {}
    products = ProductScope(
        all=bool(p.get("all", False)),
        prefixes=_codes(p.get("prefixes")),
        lists=tuple(p.get("lists") or ()),
        except_prefixes=_codes(p.get("except_prefixes")),
        except_lists=tuple(p.get("except_lists") or ()),
        except_chapters=_codes(p.get("except_chapters")),
        only_chapters=_codes(p.get("only_chapters")),
    )
    if not (products.all or products.prefixes or products.lists):
        raise DataError(f"{where}: products needs all: true, prefixes or lists")
    yields = tuple(
        Yield(tuple(y["programs"]), y["mode"], str(y.get("citation", ""))) for y in raw.get("yields") or []
    )
    for y in yields:
        if y.mode not in ("full", "remainder"):
            raise DataError(f"{where}: yields mode must be full or remainder")
    countries = raw.get("countries")
    headings = _codes(raw.get("headings"))
    if not headings:
        raise DataError(f"{where}: at least one Chapter 99 heading is required")
    valid_to = raw.get("valid_to")
    ucb = raw.get("usmca_claim_base")
    if ucb is not None and ucb not in BASES:
        raise DataError(f"{where}: usmca_claim_base {ucb!r} is not one of {', '.join(sorted(BASES))}")
    m = Measure(
        id=mid,
        name=str(raw.get("name") or mid),
        authority=str(raw["authority"]),
        program=str(raw["program"]),
        instruments=tuple(insts),
        headings=headings,
        us_note=str(raw.get("us_note", "")),
        rate=_dec(raw["rate"], where),
        rate_kind=rate_kind,  # type: ignore[arg-type]
        base=base,  # type: ignore[arg-type]
        usmca_claim_base=raw.get("usmca_claim_base"),
        metal=str(metal) if metal else None,
        countries=None if countries in (None, "*") else frozenset(str(c) for c in countries),
        except_countries=frozenset(str(c) for c in raw.get("except_countries") or ()),
        country_rates={str(k): _dec(v, where) for k, v in (raw.get("country_rates") or {}).items()},
        products=products,
        exempt_usmca_claim=bool(raw.get("exempt_usmca_claim", False)),
        exempt_lists=tuple(raw.get("exempt_lists") or ()),
        requires_facts=tuple(raw.get("requires_facts") or ()),
        yields=yields,
        exclusive_group=raw.get("exclusive_group"),
        valid_from=_date(raw["valid_from"], where),
        valid_to=_date(valid_to, where) if valid_to else None,
        status=status,  # type: ignore[arg-type]
        status_date=_date(raw["status_date"], where) if raw.get("status_date") else None,
        status_note=str(raw.get("status_note", "")),
        rank=int(raw.get("rank", 2)),
        uncertain=str(raw.get("uncertain", "")),
        not_encoded=str(raw.get("not_encoded", "")),
        source_file=source_file,
    )
    if m.valid_to is not None and m.valid_to < m.valid_from:
        raise DataError(f"{where}: valid_to {m.valid_to} is before valid_from {m.valid_from}")
    return m


@dataclass(frozen=True)
class MeasureSet:
    measures: tuple[Measure, ...]
    vintage: str

    def by_id(self, mid: str) -> Measure:
        for m in self.measures:
            if m.id == mid:
                return m
        raise KeyError(mid)

    def in_force(self, d: dt.date) -> tuple[Measure, ...]:
        return tuple(m for m in self.measures if m.in_force(d))

    def list_names(self) -> set[str]:
        out: set[str] = set()
        for m in self.measures:
            out.update(m.products.lists)
            out.update(m.products.except_lists)
            out.update(m.exempt_lists)
        return out


@lru_cache(maxsize=1)
def load_measures() -> MeasureSet:
    """All measures from the packaged YAML files (validated; ids unique)."""
    pkg = resources.files("usmca.measures") / "data"
    measures: list[Measure] = []
    digest = hashlib.sha256()
    edited: list[str] = []
    for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        text = entry.read_text(encoding="utf-8")
        digest.update(text.encode())
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DataError(f"measures/data/{entry.name}: not valid YAML ({exc})") from exc
        if doc.get("as_of"):
            edited.append(str(doc["as_of"]))
        for raw in doc.get("measures") or []:
            measures.append(parse_measure(raw, entry.name))
    ids = [m.id for m in measures]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise DataError(f"duplicate measure id(s): {', '.join(sorted(dup))}")
    if not measures:
        raise DataError("no measures found in usmca/measures/data/*.yaml")
    as_of = max(edited) if edited else "?"
    vintage = f"usmca measures {as_of} ({len(measures)} records, {digest.hexdigest()[:10]})"
    return MeasureSet(tuple(measures), vintage)
