"""Part 6 of the Regulations (automotive goods) as data, with the queries the origin engine asks.

The legal content is ``rules/data/automotive.yaml`` (our transcription, a citation on every item).
Part 6 and its tables are written in HS 2012; goods are classified in the current (HS 2022 based) HTS.
A current code is related to the tables through its HS 2012 counterparts in the UNSD correlation (store
table ``hs_correlation`` of the "hs" build step): where all counterparts agree the answer is certain; where
they do not (the mapping is not one-to-one for the good at hand) the answer is ``unresolved`` with the
reason, unless the caller states the HS 2012 subheading (fact ``hs2012_subheading``) or the class of
vehicle (``use``) settles it.

Public API (frozen dataclasses; every item carries a citation):

* ``vehicle_requirement(hts, use, on)``: the vehicle rule of s. 13 / s. 20 in force on a date, with LVC
  (s. 18), steel and aluminum (s. 17), core parts (s. 14(4)), the alternative staging regime (s. 19) and the
  producer facts the bill of materials cannot give (``facts``: keys of ``good.facts``);
* ``core_part(hts, vehicle_use, on)``: the Part 6 RVC requirement for a part of Tables A.1, B, C (passenger
  vehicles, light trucks), D, E (heavy trucks) or F (other vehicles) for a use and date;
* ``part_table(hts)``: every table entry the code may fall under (A.1-F, A.2 components, S);
* ``check_lvc``, ``check_steel_aluminum``, ``check_core_parts``: evaluate those requirements on given facts.

Build step "automotive" (``build``): validates the YAML, maps every HS 2012 code to HS 2022, writes the
tables and the mapping (``automotive_table_entry``, ``automotive_code_map``) with the non-one-to-one mappings
flagged, and records the general provisions' (``rules/general.py``) mapping the same way.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from usmca.errors import DataError, InputError, NotFoundError
from usmca.nomenclature.codes import CodeIndex, CodeSet, format_code, normalize_code
from usmca.rules.general import code_set, load_yaml
from usmca.rules.general import record_mappings as _general_mappings
from usmca.rules.grammar import CodeMapping, TariffShift

DATA_FILE = "automotive.yaml"
CITE = "CUSMA ROO Regulations"
VEHICLE_CLASSES = ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle")
PART_USES = (*VEHICLE_CLASSES, "aftermarket", "not_automotive")
TABLE_IDS = ("A.1", "B", "C", "D", "E", "F")
CORRELATION_SOURCE = "UNSD HS2022-HS2012 correlation table (hs/concordance/HS2022toHS2012_correlations.csv)"

# Fact keys (``good.facts``) that the requirements below ask for.
FACT_LVC = "lvc_percent"
FACT_LVC_CERTIFIED = "lvc_certified"
FACT_LVC_HWML = "lvc_high_wage_material_labour_points"
FACT_LVC_TECH = "lvc_technology_credit_points"
FACT_LVC_ASSEMBLY = "lvc_assembly_credit_points"
FACT_STEEL_AL = "steel_aluminum_purchases_originating_percent"
FACT_STEEL = "steel_purchases_originating_percent"
FACT_ALUMINUM = "aluminum_purchases_originating_percent"
FACT_CORE_PARTS = "core_parts_originating"
FACT_ALT_STAGING = "alternative_staging_regime_approved"
FACT_HS2012 = "hs2012_subheading"
FACT_PERSONS = "persons_transported"
FACT_S20_2 = "for_s20_2_vehicle"


# ---------------------------------------------------------------- domain types


@dataclass(frozen=True, slots=True)
class Threshold:
    """RVC thresholds (percent) in force on a date; ``None`` = the method is not available."""

    net_cost: float | None
    transaction_value: float | None
    valid_from: dt.date
    valid_to: dt.date | None  # inclusive; None = open-ended
    citation: str
    transaction_value_if_rule_allows: bool = (
        False  # TV only where the s. 13 / Schedule 1 rule has a TV method
    )


@dataclass(frozen=True, slots=True)
class FactNeed:
    """A producer fact a requirement needs (``good.facts[key]``) that no bill of materials can give."""

    key: str
    test: str  # "lvc" | "steel_aluminum" | "core_parts" | "class" | "description" | "mapping" | "relief"
    description: str
    citation: str


@dataclass(frozen=True, slots=True)
class LvcRequirement:
    total: float  # percent
    high_wage_material_labour_min: float  # percentage points, at least
    technology_max: float  # percentage points, at most
    assembly_max: float  # percentage points, at most
    valid_from: dt.date
    valid_to: dt.date | None
    citation: str


@dataclass(frozen=True, slots=True)
class SteelAluminumRequirement:
    percent: float  # of the producer's purchases of Table S steel and aluminum, by value, originating
    originating_steel_rule: str  # "s13_or_schedule1" (to 2027-06-30) | "melted_and_poured" (from 2027-07-01)
    originating_steel_text: str
    citation: str
    reading_note: str


@dataclass(frozen=True, slots=True)
class AlternativeStaging:
    """s. 19: requirements for eligible vehicles under an approved alternative staging regime."""

    default_end: dt.date
    vehicle_rvc_net_cost: float
    core_parts_net_cost: float
    core_parts_transaction_value: float
    steel_percent: float
    aluminum_percent: float
    lvc: LvcRequirement
    core_parts_exempt: bool
    fact: str
    citation: str


@dataclass(frozen=True, slots=True)
class Relief:
    key: str
    net_cost: float
    years: int
    fact: str
    text: str
    citation: str


@dataclass(frozen=True, slots=True)
class AveragingOption:
    key: str
    period: str
    categories: tuple[str, ...]
    basis: str
    citation: str


@dataclass(frozen=True, slots=True)
class VehicleRequirement:
    """What a vehicle of headings 87.01-87.05 (or 87.06 for a heavy truck) must meet on ``on``.

    ``status`` is "resolved" or "unresolved"; when unresolved, ``unresolved_reason`` says why and ``needs``
    names the input that settles it (``good.use`` or ``good.facts.<key>``). ``facts`` lists the producer facts
    the other tests need (LVC, steel and aluminum, core parts).
    """

    hts: str
    use: str | None
    on: dt.date
    status: Literal["resolved", "unresolved"]
    vehicle_class: str | None
    class_of_motor_vehicles: str | None  # s. 12 'class of motor vehicles' paragraph (averaging)
    rule_id: str | None
    rule_text: str
    branch: str | None  # "1", "2" ... of the s. 13 table row
    shift: TariffShift | None
    rvc: Threshold | None
    lvc: LvcRequirement | None
    steel_aluminum: SteelAluminumRequirement | None
    core_parts_required: bool
    alternative_staging: AlternativeStaging | None
    relief: tuple[Relief, ...]
    averaging: tuple[AveragingOption, ...]
    facts: tuple[FactNeed, ...]
    mapping: CodeMapping | None
    citation: str
    citations: tuple[str, ...]
    notes: tuple[str, ...] = ()
    unresolved_reason: str | None = None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableEntry:
    table: str
    code: str  # as written (HS 2012), e.g. "8708.29", "8708.99.aa", "8482.10-8482.80", "40.09"
    codes: CodeSet  # the HS 2012 codes the entry sits in (lettered items: their 6-digit subheading)
    ex: bool
    fact: str | None  # good.facts key that decides an "ex" entry
    fact_value: bool  # the value of ``fact`` for which the entry applies
    implied_by_use: tuple[str, ...]
    description: str
    exempt_reason: str | None
    exempt_citation: str | None
    part: str | None = None  # Table A.2: the column 1 part


@dataclass(frozen=True, slots=True)
class TableMembership:
    """A current code's relation to one table entry (through its HS 2012 counterparts)."""

    table: str
    title: str
    kind: str  # core | principal | complementary | other_vehicle_part | core_component | steel | aluminum
    entry: TableEntry
    certain: bool  # every HS 2012 counterpart of the code lies in this table
    counterparts: tuple[str, ...]  # HS 2012 subheadings correlated with the code
    mapping: CodeMapping
    citation: str
    needs: tuple[str, ...] = ()  # facts deciding an "ex" entry
    note: str = ""


@dataclass(frozen=True, slots=True)
class CorePartRequirement:
    """The Part 6 RVC requirement for a part used as original equipment in a class of vehicle.

    ``rvc_only``: the part is originating only by RVC (s. 14(2) Table A.1; s. 15(4)); otherwise the thresholds
    replace the RVC thresholds of the product-specific rule and its tariff-shift alternatives stay open
    (s. 14(14), (16); s. 15(2)-(3); s. 20(3)(c)). ``status`` "exempt" = the part is in the table but the
    Regulations except it from the threshold (the product-specific rule applies unchanged).
    """

    hts: str
    vehicle_use: str | None
    on: dt.date
    status: Literal["applies", "exempt", "unresolved"]
    table: str | None
    kind: str | None
    entry: TableEntry | None
    rvc: Threshold | None
    rvc_only: bool
    applies_only_if_rule_has_rvc: (
        bool  # s. 20(3)(c): "a good in Table F that is subject to an RVC requirement"
    )
    facts: tuple[FactNeed, ...]
    mapping: CodeMapping | None
    citation: str
    notes: tuple[str, ...] = ()
    unresolved_reason: str | None = None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FactCheck:
    """Result of checking a producer-fact requirement: passed True/False, or None with ``needs``."""

    passed: bool | None
    detail: str
    citation: str
    needs: tuple[str, ...] = ()


# ---------------------------------------------------------------- the model (YAML)


def _date(v: Any, where: str) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise DataError(f"{DATA_FILE}: {where}: bad date {v!r}") from None


def _cite(text: str, where: str) -> str:
    if not text.startswith(f"{CITE} s. "):
        raise DataError(f"{DATA_FILE}: {where}: citation {text!r} must start with '{CITE} s. '")
    return text


@dataclass(frozen=True, slots=True)
class _Step:
    start: dt.date
    end: dt.date | None
    values: Mapping[str, float]

    def covers(self, on: dt.date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)


def _steps(raw: list[dict[str, Any]], where: str, start: dt.date) -> tuple[_Step, ...]:
    out: list[_Step] = []
    expect: dt.date | None = start
    for i, s in enumerate(raw):
        a = _date(s["from"], f"{where}[{i}]")
        b = _date(s.get("to"), f"{where}[{i}]")
        if a is None or a != expect:
            raise DataError(
                f"{DATA_FILE}: {where}[{i}] starts {a}, expected {expect} (steps must be contiguous)"
            )
        if b is not None and b < a:
            raise DataError(f"{DATA_FILE}: {where}[{i}] ends before it starts")
        vals = {k: float(v) for k, v in s.items() if k not in ("from", "to") and v is not None}
        out.append(_Step(a, b, vals))
        expect = None if b is None else b + dt.timedelta(days=1)
    if expect is not None:
        raise DataError(f"{DATA_FILE}: {where}: the last step must be open-ended")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Schedule:
    key: str
    citation: str
    tv_if_rule_allows: bool
    steps: tuple[_Step, ...]

    def at(self, on: dt.date) -> Threshold:
        for s in self.steps:
            if s.covers(on):
                return Threshold(
                    s.values.get("net_cost"),
                    s.values.get("transaction_value"),
                    s.start,
                    s.end,
                    self.citation,
                    self.tv_if_rule_allows,
                )
        raise InputError(
            "date",
            on.isoformat(),
            f"before the entry into force of the Regulations ({self.steps[0].start.isoformat()})",
        )


@dataclass(frozen=True, slots=True)
class _Branch:
    label: str
    vehicle_class: str
    uses: tuple[str, ...]
    default: bool
    when: Mapping[str, Any] | None
    class_of_motor_vehicles: str | None
    schedule: str
    shift: str  # "heading" | "none"
    citation: str
    note: str

    @property
    def s20(self) -> bool:
        return "s. 20(2)" in self.citation or "s. 20(3)" in self.citation


@dataclass(frozen=True, slots=True)
class _VehicleRule:
    id: str
    scope_text: tuple[str, ...]
    scope: CodeSet
    text: str
    branches: tuple[_Branch, ...]
    not_pv: frozenset[str]
    not_pv_reason: str
    not_pv_citation: str
    vehicle_only_for_use: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Table:
    id: str
    title: str
    kind: str
    citation: str
    vehicles: tuple[str, ...]
    schedule: str
    rvc_only: bool
    entries: tuple[TableEntry, ...]
    rvc_only_codes: CodeSet
    rvc_only_citation: str
    rvc_only_facts: Mapping[str, str]
    not_override: CodeSet
    not_override_citation: str
    engines_gearboxes: CodeSet
    engines_gearboxes_citation: str

    @property
    def codes(self) -> CodeSet:
        return CodeSet(tuple(r for e in self.entries for r in e.codes.ranges))


def _entry_codes(code: str) -> CodeSet:
    """HS 2012 codes of a table entry; a lettered tariff item (8708.99.aa) stands for its subheading."""
    parts = code.split(".")
    if len(parts) == 3 and "-" not in code:
        return CodeSet.of(f"{parts[0]}.{parts[1]}")  # an eight-digit or lettered item: its subheading
    return code_set([code])


class Automotive:
    """The validated content of automotive.yaml."""

    def __init__(self, doc: dict[str, Any]) -> None:
        try:
            self._load(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"usmca/rules/data/{DATA_FILE}: malformed ({exc!r})") from exc

    def _load(self, doc: dict[str, Any]) -> None:
        self.source: str = doc["source"]
        self.vintage: str = doc["vintage"]
        self.nomenclature: str = doc["nomenclature"]
        start = _date(doc["entry_into_force"], "entry_into_force")
        assert start is not None
        self.entry_into_force: dt.date = start
        self.schedules: dict[str, _Schedule] = {}
        for key, s in doc["schedules"].items():
            self.schedules[key] = _Schedule(
                key,
                _cite(s["citation"], f"schedules.{key}"),
                bool(s.get("transaction_value_if_rule_allows")),
                _steps(s["steps"], f"schedules.{key}", start),
            )
        lv = doc["lvc"]
        self.lvc: dict[str, tuple[str, tuple[_Step, ...]]] = {
            k: (_cite(lv[k]["citation"], f"lvc.{k}"), _steps(lv[k]["steps"], f"lvc.{k}", start))
            for k in ("passenger_vehicle", "light_truck", "heavy_truck")
        }
        ex = lv["excess_credit_heavy_truck"]
        self.lvc_excess_note = f"{ex['text']} ({_cite(ex['citation'], 'lvc.excess_credit_heavy_truck')})"
        self.lvc_wage_note = (
            f"qualifying wage rate: average base hourly wage of at least "
            f"{', '.join(f'{v} ({k})' for k, v in lv['wage_rate']['average_base_hourly_wage'].items())}"
            f" ({lv['wage_rate']['citation']})"
        )
        sa = doc["steel_aluminum"]
        self.steel_percent = float(sa["percent"])
        self.steel_citation = _cite(sa["citation"], "steel_aluminum")
        self.steel_applies = tuple(sa["applies_to"])
        self.steel_note = " ".join(sa["reading_note"].split())
        self.steel_originating = _steps(
            [{"from": r["from"], "to": r["to"]} for r in sa["originating_steel"]], "steel_aluminum", start
        )
        self.steel_originating_rules = tuple(
            (r["rule"], r["text"], _cite(r["citation"], "originating_steel")) for r in sa["originating_steel"]
        )
        al = doc["alternative_staging"]
        lvc_alt = al["lvc"]
        self.alt = AlternativeStaging(
            default_end=_date(al["default_end"], "alternative_staging") or start,
            vehicle_rvc_net_cost=float(al["vehicle_rvc_net_cost"]),
            core_parts_net_cost=float(al["core_parts_net_cost"]),
            core_parts_transaction_value=float(al["core_parts_transaction_value"]),
            steel_percent=float(al["steel_percent"]),
            aluminum_percent=float(al["aluminum_percent"]),
            lvc=LvcRequirement(
                float(lvc_alt["total"]),
                float(lvc_alt["hwml_min"]),
                float(lvc_alt["technology_max"]),
                float(lvc_alt["assembly_max"]),
                start,
                None,
                f"{CITE} s. 19(4)(d)",
            ),
            core_parts_exempt=bool(al["core_parts_exempt"]),
            fact=FACT_ALT_STAGING,
            citation=_cite(al["citation"], "alternative_staging"),
        )
        self.alt_eligible = tuple(al["eligible"])
        rel = doc["new_plant_relief"]
        self.relief = tuple(
            Relief(
                c["key"],
                float(rel["net_cost"]),
                int(c["years"]),
                c["fact"],
                c["text"],
                _cite(c["citation"], "new_plant_relief"),
            )
            for c in rel["cases"]
        )
        self.averaging = tuple(
            AveragingOption(
                a["key"], a["period"], tuple(a["categories"]), a["basis"], _cite(a["citation"], "averaging")
            )
            for a in doc["averaging"]
        )
        self.defects: dict[str, str] = {
            d["code"].replace(".", ""): f"{d['where']}: {d['reason']}" for d in doc.get("known_defects", ())
        }
        self.vehicles = tuple(self._vehicle(v) for v in doc["vehicles"])
        self.tables = {tid: self._table(tid, t) for tid, t in doc["tables"].items()}
        if tuple(self.tables) != TABLE_IDS:
            raise DataError(f"{DATA_FILE}: tables must be {', '.join(TABLE_IDS)} in that order")
        a2 = doc["table_a2"]
        self.a2_title: str = a2["title"]
        self.a2_citation = _cite(a2["citation"], "table_a2")
        self.a2_entries = tuple(
            TableEntry(
                "A.2",
                " ".join(c["codes"]),
                code_set(c["codes"]),
                True,
                None,
                True,
                (),
                c["name"],
                None,
                None,
                part=p["part"],
            )
            for p in a2["parts"]
            for c in p["components"]
        )
        s = doc["table_s"]
        self.s_citation = _cite(s["citation"], "table_s")
        self.s_entries = tuple(
            TableEntry(
                f"S:{metal}",
                " ".join(e["codes"]),
                code_set(e["codes"]),
                bool(e.get("ex")),
                e.get("fact"),
                True,
                (),
                e["desc"],
                None,
                None,
            )
            for metal in ("steel", "aluminum")
            for e in s[metal]
        )
        self.table_g = tuple(
            (g["component"], code_set(g["codes"]), tuple(g["materials"]))
            for g in doc["table_g"]["components"]
        )
        self.table_g_citation = _cite(doc["table_g"]["citation"], "table_g")
        self._check_references()

    def _vehicle(self, v: dict[str, Any]) -> _VehicleRule:
        branches = []
        for i, b in enumerate(v["branches"]):
            if b["class"] not in VEHICLE_CLASSES:
                raise DataError(f"{DATA_FILE}: vehicles {v['id']} branch {i}: class {b['class']!r}")
            branches.append(
                _Branch(
                    str(b.get("label", "")),
                    b["class"],
                    tuple(b.get("use", ())),
                    bool(b.get("default")),
                    b.get("when"),
                    b.get("class_of_motor_vehicles"),
                    b["schedule"],
                    b["shift"],
                    _cite(b["citation"], f"vehicles {v['id']}"),
                    b.get("note", ""),
                )
            )
        npv = v.get("not_passenger_vehicle_hs2022") or {}
        return _VehicleRule(
            v["id"],
            tuple(v["scope"]),
            code_set(v["scope"]),
            v["text"],
            tuple(branches),
            frozenset(c.replace(".", "") for c in npv.get("codes", ())),
            npv.get("reason", ""),
            npv.get("citation", ""),
            tuple(v.get("vehicle_only_for_use", ())),
        )

    def _table(self, tid: str, t: dict[str, Any]) -> _Table:
        entries = []
        for e in t["entries"]:
            exempt = e.get("exempt") or {}
            if e.get("ex") and not e.get("fact"):
                raise DataError(f"{DATA_FILE}: table {tid} entry {e['code']}: an 'ex' entry needs a fact")
            entries.append(
                TableEntry(
                    tid,
                    e["code"],
                    _entry_codes(e["code"]),
                    bool(e.get("ex")),
                    e.get("fact"),
                    bool(e.get("fact_value", True)),
                    tuple(e.get("implied_by_use", ())),
                    e["desc"],
                    exempt.get("reason"),
                    exempt.get("citation"),
                )
            )
        roc = t.get("rvc_only_codes") or {}
        no = t.get("not_rvc_override") or {}
        eg = t.get("engines_gearboxes") or {}
        return _Table(
            tid,
            t["title"],
            t["kind"],
            _cite(t["citation"], f"tables.{tid}"),
            tuple(t["vehicles"]),
            t["schedule"],
            bool(t["rvc_only"]),
            tuple(entries),
            code_set(roc.get("codes", [])),
            roc.get("citation", ""),
            {k.replace(".", ""): v for k, v in (roc.get("fact_for") or {}).items()},
            code_set(no.get("codes", [])),
            no.get("citation", ""),
            code_set(eg.get("codes", [])),
            eg.get("citation", ""),
        )

    def _check_references(self) -> None:
        for v in self.vehicles:
            for b in v.branches:
                if b.schedule not in self.schedules:
                    raise DataError(f"{DATA_FILE}: vehicles {v.id}: unknown schedule {b.schedule!r}")
                if b.shift not in ("heading", "none"):
                    raise DataError(f"{DATA_FILE}: vehicles {v.id}: shift must be heading | none")
        for t in self.tables.values():
            if t.schedule not in self.schedules:
                raise DataError(f"{DATA_FILE}: table {t.id}: unknown schedule {t.schedule!r}")
            for use in t.vehicles:
                if use not in VEHICLE_CLASSES:
                    raise DataError(f"{DATA_FILE}: table {t.id}: vehicle {use!r}")

    # -- lookups on the model (no nomenclature needed)

    def lvc_at(self, vehicle_class: str, on: dt.date) -> LvcRequirement:
        cite, steps = self.lvc[vehicle_class]
        for s in steps:
            if s.covers(on):
                v = s.values
                return LvcRequirement(
                    v["total"], v["hwml_min"], v["technology_max"], v["assembly_max"], s.start, s.end, cite
                )
        raise InputError("date", on.isoformat(), "before the entry into force of the Regulations")

    def steel_at(self, on: dt.date) -> SteelAluminumRequirement:
        for step, (rule, text, cite) in zip(
            self.steel_originating, self.steel_originating_rules, strict=True
        ):
            if step.covers(on):
                return SteelAluminumRequirement(
                    self.steel_percent, rule, text, f"{self.steel_citation}; {cite}", self.steel_note
                )
        raise InputError("date", on.isoformat(), "before the entry into force of the Regulations")

    def all_codes(self) -> list[tuple[str, str]]:
        """(provision, code as written) for every HS 2012 code of the file (for the mapping record)."""
        out: list[tuple[str, str]] = []
        for v in self.vehicles:
            out.extend((f"s. 13 {v.id}", c) for c in v.scope_text)
        for t in self.tables.values():
            out.extend((f"Table {t.id}", e.code) for e in t.entries)
        for e in self.a2_entries:
            out.extend(("Table A.2", str(r)) for r in e.codes.ranges)
        for e in self.s_entries:
            out.extend(("Table S", str(r)) for r in e.codes.ranges)
        return out


@lru_cache(maxsize=1)
def model() -> Automotive:
    return Automotive(load_yaml(DATA_FILE))


# ---------------------------------------------------------------- nomenclature access


def _nom(conn: sqlite3.Connection | None) -> Any:
    from usmca.nomenclature.correlate import nomenclature

    return nomenclature(conn)


def _counterparts(hts6: str, conn: sqlite3.Connection | None) -> tuple[str, ...]:
    """HS 2012 subheadings correlated with a current subheading (NotFoundError: not an HS 2022 code)."""
    nom = _nom(conn)
    olds: tuple[str, ...] = nom.old_codes_of(hts6, "HS2012")
    if olds:
        return olds
    if not nom.exists(hts6):
        raise NotFoundError(
            f"{format_code(hts6)} is not an HS 2022 subheading (the current HTS is based on HS 2022)"
        )
    return (hts6,)  # unchanged and not listed by the correlation


def _few(codes: tuple[str, ...], n: int = 8) -> str:
    """A list of codes for a message, shortened when long (the full list is in ``counterparts``)."""
    shown = ", ".join(format_code(c) for c in codes[:n])
    return shown if len(codes) <= n else f"{shown} and {len(codes) - n} more"


@lru_cache(maxsize=8192)
def _good_mapping(hts6: str, olds: tuple[str, ...], conn: sqlite3.Connection | None) -> CodeMapping:
    """How the HS 2012 counterparts of a good's subheading map forward (the provenance of the match)."""
    nom = _nom(conn)
    news: set[str] = set()
    rels: list[str] = []
    for o in olds:
        corr = nom.map_to_2022(o, "HS2012", list_shared=False)  # the relationship is what is kept
        news.update(corr.hs2022)
        rels.append(corr.relationship)
    rel = rels[0] if len(olds) == 1 else "n:1" if news == {hts6} else "n:n"
    return CodeMapping(",".join(olds), tuple(sorted(news)), rel, CORRELATION_SOURCE)


def _digits6(hts: str, field: str) -> str:
    d = normalize_code(hts, field)
    if len(d) < 6:
        raise InputError(
            field,
            hts,
            "six digits or more are needed to relate the code to the Part 6 tables (written in HS 2012)",
        )
    return d


def _check_date(on: dt.date, field: str = "date") -> None:
    if not isinstance(on, dt.date):
        raise InputError(field, on, "a date is required (YYYY-MM-DD)")
    if on < model().entry_into_force:
        raise InputError(
            field,
            on.isoformat(),
            f"before the entry into force of the Regulations "
            f"({model().entry_into_force.isoformat()}): Part 6 does not apply",
        )


def _restrict(olds: tuple[str, ...], facts: Mapping[str, Any] | None) -> tuple[tuple[str, ...], str | None]:
    """Narrow the counterparts to the HS 2012 subheading the caller states (fact ``hs2012_subheading``)."""
    if not facts or facts.get(FACT_HS2012) in (None, ""):
        return olds, None
    raw = str(facts[FACT_HS2012]).replace(".", "")
    if raw not in olds:
        raise InputError(
            f"good.facts.{FACT_HS2012}",
            facts[FACT_HS2012],
            f"not an HS 2012 counterpart of this code (counterparts: "
            f"{', '.join(format_code(o) for o in olds)})",
        )
    return (raw,), f"HS 2012 subheading {format_code(raw)} as stated in good.facts.{FACT_HS2012}"


# ---------------------------------------------------------------- part tables


def part_table(hts: str, *, conn: sqlite3.Connection | None = None) -> list[TableMembership]:
    """Every Part 6 table entry (A.1, B, C, D, E, F, A.2 components, S) a current code may fall under.

    ``certain`` is False when some HS 2012 counterparts of the code lie outside the table (the mapping is not
    one-to-one for this code); ``needs`` names the description fact of an "ex" entry.
    """
    d = _digits6(hts, "hts")
    return list(_memberships(d[:6], _conn(conn)))


def _conn(conn: sqlite3.Connection | None) -> sqlite3.Connection:
    if conn is not None:
        return conn
    from usmca.store import store

    return store()


_Group = tuple[str, str, str, tuple[TableEntry, ...], CodeIndex, CodeIndex, str]


@lru_cache(maxsize=4)
def _table_groups(m: Automotive) -> tuple[_Group, ...]:
    """The Part 6 tables as ``_memberships`` reads them, each with an index of its entries' codes and of the
    table's whole scope (built once per model)."""
    groups: list[tuple[str, str, str, tuple[TableEntry, ...], CodeSet, str]] = [
        (t.id, t.title, t.kind, t.entries, t.codes, t.citation) for t in m.tables.values()
    ]
    a2_union = CodeSet(tuple(r for e in m.a2_entries for r in e.codes.ranges))
    groups.append(("A.2", m.a2_title, "core_component", m.a2_entries, a2_union, m.a2_citation))
    for metal in ("steel", "aluminum"):
        entries = tuple(e for e in m.s_entries if e.table == f"S:{metal}")
        union = CodeSet(tuple(r for e in entries for r in e.codes.ranges))
        groups.append((f"S:{metal}", f"Steel and Aluminum ({metal})", metal, entries, union, m.s_citation))
    return tuple(
        (tid, title, kind, entries, CodeIndex([e.codes for e in entries]), CodeIndex([union]), cite)
        for tid, title, kind, entries, union, cite in groups
    )


@lru_cache(maxsize=8192)
def _memberships(d: str, conn: sqlite3.Connection) -> tuple[TableMembership, ...]:
    """part_table for a 6-digit code (cached per connection: the store is read-only)."""
    olds = _counterparts(d, conn)
    mapping = _good_mapping(d, olds, conn)
    out: list[TableMembership] = []
    for table, title, kind, entries, entry_index, scope_index, cite in _table_groups(model()):
        hits: dict[int, list[str]] = {}
        for o in olds:
            for i in entry_index.containing(o):
                hits.setdefault(i, []).append(o)
        if not hits:
            continue
        certain = all(scope_index.any_contains(o) for o in olds)
        for i in sorted(hits):
            e, hit = entries[i], tuple(hits[i])
            note = (
                ""
                if certain
                else (
                    f"HS 2022 {format_code(d[:6])} corresponds to HS 2012 "
                    f"{_few(olds)}; only {_few(hit)} {'is' if len(hit) == 1 else 'are'} listed in "
                    f"Table {table}"
                )
            )
            out.append(
                TableMembership(
                    table,
                    title,
                    kind,
                    e,
                    certain,
                    olds,
                    mapping,
                    cite,
                    (e.fact,) if e.ex and e.fact else (),
                    note,
                )
            )
    return tuple(out)


def _fact_value(facts: Mapping[str, Any] | None, key: str) -> bool | None:
    if not facts or key not in facts or facts[key] is None:
        return None
    v = facts[key]
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "yes"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("false", "no"):
        return False
    raise InputError(f"good.facts.{key}", v, "expected true or false")


def core_part(
    hts: str,
    vehicle_use: str | None,
    on: dt.date,
    *,
    facts: Mapping[str, Any] | None = None,
    conn: sqlite3.Connection | None = None,
) -> CorePartRequirement | None:
    """The Part 6 RVC requirement for a part (Tables A.1, B, C, D, E, F; s. 14, 15, 20) for a use and date.

    Returns None when Part 6 sets no requirement for the part in that use (not in the use's tables, an
    aftermarket part (s. 14(18)), a good not for automotive use): the product-specific rule applies as
    written.
    Facts (``good.facts``) decide "ex" entries and ambiguous mappings; without them the answer is unresolved.
    """
    d = _digits6(hts, "hts")
    _check_date(on)
    if vehicle_use is not None and vehicle_use not in PART_USES:
        raise InputError("good.use", vehicle_use, f"not a use; one of {', '.join(PART_USES)}")
    m = model()
    memberships = [x for x in part_table(d, conn=conn) if x.table in TABLE_IDS]
    if vehicle_use in ("aftermarket", "not_automotive"):
        return None
    if vehicle_use is None:
        if not memberships and not _rvc_only_table(d, "heavy_truck") and not _engine_gearbox(d):
            return None
        tables = sorted({x.table for x in memberships})
        return CorePartRequirement(
            d,
            None,
            on,
            "unresolved",
            None,
            None,
            None,
            None,
            False,
            False,
            (),
            None,
            f"{CITE} s. 14(2), 14(14), 14(16), 14(18); s. 15(2)-(4); s. 20(3)",
            unresolved_reason=(
                f"the part is listed in Part 6 Table(s) {', '.join(tables) or 'D (s. 15(4))'}: "
                f"the requirement depends on the vehicle it is original equipment for"
            ),
            needs=("good.use",),
        )
    # the tables of this use
    own = [x for x in memberships if vehicle_use in m.tables[x.table].vehicles]
    olds, restricted = _restrict(own[0].counterparts if own else (), facts) if own else ((), None)
    if restricted:
        own = [x for x in own if any(x.entry.codes.contains(o) for o in olds)]
    notes: list[str] = [restricted] if restricted else []
    special = _special_part(d, vehicle_use, on, facts, own)
    if special is not None:
        return special
    if not own:
        return None
    if not restricted and not all(x.certain for x in own):
        x0 = next(x for x in own if not x.certain)
        return CorePartRequirement(
            d,
            vehicle_use,
            on,
            "unresolved",
            x0.table,
            None,
            x0.entry,
            None,
            False,
            False,
            (),
            x0.mapping,
            x0.citation,
            unresolved_reason=f"the HS 2012 mapping is not one-to-one for this code: {x0.note}",
            needs=(f"good.facts.{FACT_HS2012}",),
        )
    # decide "ex" entries by facts
    chosen: list[TableMembership] = []
    open_facts: list[TableMembership] = []
    for x in own:
        e = x.entry
        if not e.ex or (vehicle_use in e.implied_by_use):
            chosen.append(x)
            continue
        assert e.fact is not None
        val = _fact_value(facts, e.fact)
        if val is None:
            open_facts.append(x)
        elif val == e.fact_value:
            chosen.append(x)
    if open_facts and not any(not x.entry.ex for x in chosen):
        keys = tuple(dict.fromkeys(f"good.facts.{x.entry.fact}" for x in open_facts))
        descr = "; ".join(
            f"Table {x.table} {'ex ' if x.entry.ex else ''}{x.entry.code}: {x.entry.description}"
            f" ({x.entry.fact} = {str(x.entry.fact_value).lower()})"
            for x in open_facts
        )
        if not chosen:
            return CorePartRequirement(
                d,
                vehicle_use,
                on,
                "unresolved",
                open_facts[0].table,
                None,
                None,
                None,
                False,
                False,
                tuple(
                    FactNeed(x.entry.fact or "", "description", x.entry.description, x.citation)
                    for x in open_facts
                ),
                open_facts[0].mapping,
                open_facts[0].citation,
                unresolved_reason=f"the table entries are limited by description: {descr}",
                needs=keys,
            )
    if not chosen:
        return None
    x = chosen[0]
    t = m.tables[x.table]
    thr = m.schedules[t.schedule].at(on)

    def exempt(citation: str, reason: str) -> CorePartRequirement:
        return CorePartRequirement(
            d, vehicle_use, on, "exempt", t.id, t.kind, x.entry, None, False, False, (), x.mapping, citation,
            notes=(reason, *notes),
        )

    if x.entry.exempt_reason:
        return exempt(x.entry.exempt_citation or t.citation, x.entry.exempt_reason)
    if t.not_override.contains(d):
        return exempt(
            t.not_override_citation,
            f"listed in Table {t.id} but excepted from the {thr.net_cost:g}% threshold: "
            "the product-specific rule applies unchanged",
        )
    cite = f"{t.citation}; {thr.citation}"
    if t.id == "F":
        notes.append(
            "the 60% threshold applies only where the product-specific rule sets an RVC requirement "
            "(s. 20(3)(c))"
        )
    if thr.transaction_value is not None and thr.transaction_value_if_rule_allows:
        notes.append(
            "the transaction value threshold serves only where the product-specific rule (s. 13 or "
            "Schedule 1) has a transaction value method"
        )
    if len(chosen) > 1:
        notes.append("also listed in: " + ", ".join(f"Table {c.table} {c.entry.code}" for c in chosen[1:]))
    return CorePartRequirement(
        d,
        vehicle_use,
        on,
        "applies",
        t.id,
        t.kind,
        x.entry,
        thr,
        t.rvc_only,
        t.id == "F",
        (),
        x.mapping,
        cite,
        notes=tuple(notes),
    )


def _rvc_only_table(d: str, vehicle_use: str) -> _Table | None:
    for t in model().tables.values():
        if vehicle_use in t.vehicles and t.rvc_only_codes and t.rvc_only_codes.contains(d):
            return t
    return None


def _engine_gearbox(d: str) -> bool:
    f = model().tables["F"]
    return bool(f.engines_gearboxes) and f.engines_gearboxes.contains(d)


def _special_part(
    d: str, use: str, on: dt.date, facts: Mapping[str, Any] | None, own: list[TableMembership]
) -> CorePartRequirement | None:
    """s. 15(4) (engines, gear boxes, chassis for heavy trucks: RVC only) and s. 20(2)(h), 20(3)(b) (engines
    and
    gear boxes for other vehicles: 62.5% or 60%)."""
    m = model()
    if use == "heavy_truck":
        t = _rvc_only_table(d, use)
        if t is None:
            return None
        fact = next((f for k, f in t.rvc_only_facts.items() if d.startswith(k)), None)
        if fact is not None:
            val = _fact_value(facts, fact)
            if val is None:
                return CorePartRequirement(
                    d,
                    use,
                    on,
                    "unresolved",
                    t.id,
                    t.kind,
                    None,
                    None,
                    True,
                    False,
                    (FactNeed(fact, "description", "the good is a chassis (s. 15(4))", t.rvc_only_citation),),
                    own[0].mapping if own else None,
                    t.rvc_only_citation,
                    unresolved_reason=f"s. 15(4) applies to a chassis of 8708.99 for use in a heavy truck: "
                    f"state good.facts.{fact}",
                    needs=(f"good.facts.{fact}",),
                )
            if not val:
                return None
        thr = m.schedules[t.schedule].at(on)
        entry = own[0].entry if own else None
        return CorePartRequirement(
            d,
            use,
            on,
            "applies",
            t.id,
            t.kind,
            entry,
            thr,
            True,
            False,
            (),
            own[0].mapping if own else None,
            f"{t.rvc_only_citation}; {thr.citation}",
            notes=("originating only if it satisfies the s. 15(2) RVC requirement (s. 15(4))",),
        )
    if use == "other_vehicle" and _engine_gearbox(d):
        f = m.tables["F"]
        val = _fact_value(facts, FACT_S20_2)
        need = FactNeed(
            FACT_S20_2,
            "class",
            "true if the part is for a vehicle of s. 20(2) (62.5%), false for a vehicle of s. 20(3)(a) (60%)",
            f.engines_gearboxes_citation,
        )
        entry = own[0].entry if own else None
        mapping = own[0].mapping if own else None
        if val is None:
            return CorePartRequirement(
                d,
                use,
                on,
                "unresolved",
                "F",
                f.kind,
                entry,
                None,
                False,
                False,
                (need,),
                mapping,
                f.engines_gearboxes_citation,
                unresolved_reason="engines and gear boxes for other vehicles: 62.5% for a vehicle of "
                "s. 20(2), "
                "60% for a vehicle of s. 20(3)(a)",
                needs=(f"good.facts.{FACT_S20_2}",),
            )
        sched = m.schedules["fixed_62_5_nc" if val else "fixed_60_nc"]
        thr = sched.at(on)
        cite = f"{CITE} s. 20(2)(h)" if val else f"{CITE} s. 20(3)(b)"
        return CorePartRequirement(
            d, use, on, "applies", "F", f.kind, entry, thr, False, False, (), mapping, cite
        )
    return None


# ---------------------------------------------------------------- vehicles


def vehicle_requirement(
    hts: str,
    use: str | None,
    on: dt.date,
    *,
    facts: Mapping[str, Any] | None = None,
    conn: sqlite3.Connection | None = None,
) -> VehicleRequirement | None:
    """The vehicle rule of s. 13 (and s. 20) for a vehicle of headings 87.01-87.05, or of 87.06 for use in a
    heavy
    truck, in force on ``on``; None for any other good. ``use`` is the class of vehicle the producer states
    (passenger_vehicle | light_truck | heavy_truck | other_vehicle)."""
    d = _digits6(hts, "hts")
    if not ("8701" <= d[:4] <= "8706"):
        return None
    _check_date(on)
    m = model()
    if d[:4] == "8706" and use != "heavy_truck":
        return (
            None  # a chassis fitted with an engine is a part unless for a heavy truck (s. 12 'heavy truck')
        )
    if use is not None and use not in PART_USES:
        raise InputError("good.use", use, f"not a use; one of {', '.join(PART_USES)}")
    olds_all = _counterparts(d[:6], conn)
    olds, restricted = _restrict(olds_all, facts)
    mapping = _good_mapping(d[:6], olds_all, conn)
    notes: list[str] = [restricted] if restricted else []
    rules = [(o, r) for o in olds for r in _vehicle_rules_of(o)]
    if not rules:
        raise DataError(
            f"automotive.yaml has no s. 13 rule for HS 2012 {', '.join(olds)} (HTS {format_code(d[:6])})"
        )

    def unresolved(
        reason: str, needs: tuple[str, ...], rule: _VehicleRule | None = None
    ) -> VehicleRequirement:
        return VehicleRequirement(
            d,
            use,
            on,
            "unresolved",
            None,
            None,
            rule.id if rule else None,
            rule.text if rule else "",
            None,
            None,
            None,
            None,
            None,
            False,
            None,
            (),
            (),
            (),
            mapping,
            f"{CITE} s. 13",
            (f"{CITE} s. 13",),
            tuple(notes),
            reason,
            needs,
        )

    # candidate branches, per HS 2012 counterpart
    candidates: list[tuple[str, _VehicleRule, _Branch]] = []
    need_use = False
    need_fact: list[str] = []
    excluded_pv: _VehicleRule | None = None
    for o, r in rules:
        for b in r.branches:
            if b.vehicle_class == "passenger_vehicle" and d[:6] in r.not_pv:
                excluded_pv = r
                continue
            if b.when is not None:
                key = b.when["fact"]
                val = facts.get(key) if facts else None
                if val is None:
                    need_fact.append(key)
                    candidates.append((o, r, b))
                    continue
                try:
                    n = float(val)
                except (TypeError, ValueError):
                    raise InputError(f"good.facts.{key}", val, "expected a number") from None
                if ("min" in b.when and n < b.when["min"]) or ("max" in b.when and n > b.when["max"]):
                    continue
                candidates.append((o, r, b))
                continue
            if b.default:
                candidates.append((o, r, b))
            elif use is None:
                need_use = True
                candidates.append((o, r, b))
            elif use in b.uses:
                candidates.append((o, r, b))
    if (
        use == "passenger_vehicle"
        and excluded_pv is not None
        and not any(b.vehicle_class == "passenger_vehicle" for _, _, b in candidates)
    ):
        return unresolved(
            f"{excluded_pv.not_pv_reason} ({excluded_pv.not_pv_citation}): for HTS "
            f"{format_code(d[:6])} give use other_vehicle",
            ("good.use",),
            excluded_pv,
        )
    if need_use and use is None:
        classes = sorted({b.vehicle_class for _, _, b in candidates})
        return unresolved(
            f"the rule for HTS {format_code(d[:6])} depends on the class of vehicle ({' | '.join(classes)})",
            ("good.use",),
            rules[0][1],
        )
    if need_fact:
        keys = tuple(dict.fromkeys(need_fact))
        return unresolved(
            f"the rule depends on {', '.join(keys)}", tuple(f"good.facts.{k}" for k in keys), rules[0][1]
        )
    if not candidates:
        possible = sorted({u for _, r in rules for b in r.branches for u in (b.uses or (b.vehicle_class,))})
        return unresolved(
            f"use {use!r} is not a class of vehicle the s. 13 rules allow for HTS "
            f"{format_code(d[:6])} (HS 2012 {', '.join(format_code(o) for o in olds)}: "
            f"{', '.join(possible)})",
            ("good.use",),
            rules[0][1],
        )
    outcomes = {(b.vehicle_class, b.schedule, b.shift) for _, _, b in candidates}
    if len(outcomes) > 1:
        desc = "; ".join(
            f"HS 2012 {format_code(o)}: {b.vehicle_class}, {m.schedules[b.schedule].citation}"
            for o, _, b in candidates
        )
        return unresolved(
            f"the HS 2012 mapping is not one-to-one for HTS {format_code(d[:6])} and the rules "
            f"differ ({desc})",
            (f"good.facts.{FACT_HS2012}",),
            rules[0][1],
        )
    o, rule, br = candidates[0]
    if len(olds) > 1:
        notes.append(
            f"HTS {format_code(d[:6])} corresponds to HS 2012 {', '.join(format_code(x) for x in olds)};"
            f" the rules agree for the stated use"
        )
    if br.note:
        notes.append(br.note)
    thr = m.schedules[br.schedule].at(on)
    shift = (
        TariffShift(kind="any_other", level="heading", text="from any other heading")
        if br.shift == "heading"
        else TariffShift(kind="no_change", text="no required change in tariff classification")
    )
    vc = br.vehicle_class
    citations: list[str] = [br.citation, thr.citation]
    facts_needed: list[FactNeed] = []
    lvc = steel = None
    alt = None
    relief: tuple[Relief, ...] = ()
    core = False
    if vc in ("passenger_vehicle", "light_truck", "heavy_truck"):
        lvc = m.lvc_at(vc, on)
        steel = m.steel_at(on)
        citations += [lvc.citation, steel.citation]
        facts_needed += [
            FactNeed(
                FACT_LVC,
                "lvc",
                f"labour value content the producer certifies, percent (at least {lvc.total:g}%,"
                f" of which at least {lvc.high_wage_material_labour_min:g} points high-wage material "
                "and labour)",
                lvc.citation,
            ),
            FactNeed(
                FACT_LVC_HWML,
                "lvc",
                "high-wage material and labour expenditure points of the LVC",
                lvc.citation,
            ),
            FactNeed(
                FACT_STEEL_AL,
                "steel_aluminum",
                f"percent by value of the producer's Table S steel and aluminum "
                f"purchases that are originating (at least {steel.percent:g}%)",
                steel.citation,
            ),
        ]
        notes.append(m.lvc_wage_note)
    if vc in ("passenger_vehicle", "light_truck"):
        core = True
        citations.append(f"{CITE} s. 14(4)")
        facts_needed.append(
            FactNeed(
                FACT_CORE_PARTS,
                "core_parts",
                "the parts of Table A.2 column 1 (engine, "
                "transmission, body and chassis, axles, suspension, steering, advanced battery) "
                "used in the vehicle are originating (s. 14(4)-(13))",
                f"{CITE} s. 14(4)",
            )
        )
        if vc in m.alt_eligible:
            alt = m.alt
            citations.append(alt.citation)
    if vc == "heavy_truck" and on < dt.date(2027, 7, 1):
        notes.append(m.lvc_excess_note)
    if vc == "other_vehicle" and br.s20:
        relief = m.relief
    return VehicleRequirement(
        hts=d,
        use=use,
        on=on,
        status="resolved",
        vehicle_class=vc,
        class_of_motor_vehicles=br.class_of_motor_vehicles,
        rule_id=f"{CITE} s. 13 {rule.id}",
        rule_text=rule.text,
        branch=br.label or None,
        shift=shift,
        rvc=thr,
        lvc=lvc,
        steel_aluminum=steel,
        core_parts_required=core,
        alternative_staging=alt,
        relief=relief,
        averaging=tuple(a for a in m.averaging if _averaging_for(a.key, vc)),
        facts=tuple(facts_needed),
        mapping=mapping,
        citation=br.citation,
        citations=tuple(dict.fromkeys(citations)),
        notes=tuple(notes),
    )


@lru_cache(maxsize=1024)
def _vehicle_rules_of(old: str) -> tuple[_VehicleRule, ...]:
    return tuple(r for r in model().vehicles if r.scope.contains(old))


def _averaging_for(key: str, vehicle_class: str) -> bool:
    if vehicle_class == "other_vehicle":
        return key == "other_vehicle_rvc"
    return key in ("vehicle_rvc", "lvc", "steel_aluminum")


# ---------------------------------------------------------------- checks on producer facts


def _num(facts: Mapping[str, Any], key: str) -> float | None:
    v = facts.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        raise InputError(f"good.facts.{key}", v, "expected a number (percent)")
    try:
        n = float(v)
    except (TypeError, ValueError):
        raise InputError(f"good.facts.{key}", v, "expected a number (percent)") from None
    if n < 0 or n > 100:
        raise InputError(f"good.facts.{key}", v, "a percentage between 0 and 100")
    return n


def check_lvc(req: LvcRequirement, facts: Mapping[str, Any]) -> FactCheck:
    """s. 18: the producer's certification (``lvc_certified``), or the LVC and its high-wage points."""
    cert = _fact_value(facts, FACT_LVC_CERTIFIED)
    if cert is not None:
        return FactCheck(
            cert,
            f"the producer {'certifies' if cert else 'does not certify'} an LVC of at least {req.total:g}%",
            req.citation,
        )
    total = _num(facts, FACT_LVC)
    hwml = _num(facts, FACT_LVC_HWML)
    tech = _num(facts, FACT_LVC_TECH)
    asm = _num(facts, FACT_LVC_ASSEMBLY)
    if hwml is not None and tech is not None and asm is not None:
        counted = hwml + min(tech, req.technology_max) + min(asm, req.assembly_max)
        ok = counted >= req.total and hwml >= req.high_wage_material_labour_min
        return FactCheck(
            ok,
            f"LVC {counted:g}% = {hwml:g} high-wage material and labour + {min(tech, req.technology_max):g}"
            f" technology (at most {req.technology_max:g}) + {min(asm, req.assembly_max):g} assembly "
            f"(at most {req.assembly_max:g}); required {req.total:g}% with at least "
            f"{req.high_wage_material_labour_min:g} high-wage points",
            req.citation,
        )
    if total is None or hwml is None:
        missing = tuple(f"good.facts.{k}" for k, v in ((FACT_LVC, total), (FACT_LVC_HWML, hwml)) if v is None)
        return FactCheck(
            None,
            f"LVC requirement {req.total:g}% (at least {req.high_wage_material_labour_min:g} "
            f"high-wage points) needs the producer's figures",
            req.citation,
            missing,
        )
    if hwml < req.high_wage_material_labour_min or total < req.total:
        return FactCheck(
            False,
            f"LVC {total:g}% with {hwml:g} high-wage points; required {req.total:g}% with at "
            f"least {req.high_wage_material_labour_min:g}",
            req.citation,
        )
    if hwml >= req.total:
        return FactCheck(True, f"LVC: {hwml:g} high-wage points alone meet {req.total:g}%", req.citation)
    # the credits' caps cannot be checked without the credit figures
    return FactCheck(
        None,
        f"LVC {total:g}% relies on credits; give the credit points to check their caps",
        req.citation,
        (f"good.facts.{FACT_LVC_TECH}", f"good.facts.{FACT_LVC_ASSEMBLY}"),
    )


def check_steel_aluminum(req: SteelAluminumRequirement, facts: Mapping[str, Any]) -> FactCheck:
    """s. 17(1): at least 70% by value of the producer's Table S steel and aluminum purchases originating."""
    combined = _num(facts, FACT_STEEL_AL)
    if combined is not None:
        return FactCheck(
            combined >= req.percent,
            f"{combined:g}% of Table S steel and aluminum purchases originating; required {req.percent:g}%",
            req.citation,
        )
    steel, alu = _num(facts, FACT_STEEL), _num(facts, FACT_ALUMINUM)
    if steel is not None and alu is not None and steel >= req.percent and alu >= req.percent:
        return FactCheck(
            True,
            f"steel {steel:g}% and aluminum {alu:g}% originating: each at least {req.percent:g}%",
            req.citation,
        )
    return FactCheck(
        None,
        f"s. 17(1) needs the share of originating Table S steel and aluminum purchases "
        f"(at least {req.percent:g}%)",
        req.citation,
        (f"good.facts.{FACT_STEEL_AL}",),
    )


def check_core_parts(facts: Mapping[str, Any]) -> FactCheck:
    """s. 14(4): the Table A.2 column 1 parts used in a passenger vehicle or light truck are originating."""
    v = _fact_value(facts, FACT_CORE_PARTS)
    cite = f"{CITE} s. 14(4)"
    if v is None:
        return FactCheck(
            None,
            "the origin of the core parts (Table A.2 column 1) is not stated",
            cite,
            (f"good.facts.{FACT_CORE_PARTS}",),
        )
    return FactCheck(v, f"core parts {'are' if v else 'are not'} originating", cite)


# ---------------------------------------------------------------- build step


class _Mapper:
    """Maps codes as written in HS 2012 / HS 2017 to HS 2022 through the store's ``hs_correlation`` table and
    writes one ``automotive_code_map`` row per (code, HS 2022 code)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        try:
            rows = conn.execute("SELECT old_edition, old_code, hs2022 FROM hs_correlation").fetchall()
            self.hs2022 = {
                r[0] for r in conn.execute("SELECT code FROM hs_nomenclature WHERE edition = 'HS2022'")
            }
        except sqlite3.OperationalError as exc:
            raise DataError(
                f"the automotive build step needs the HS correlation tables ({exc}): build with "
                f"the 'hs' step (usmca data build --only hs --only automotive)"
            ) from exc
        self.new_of: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.old_of: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for ed, old, new in rows:
            self.new_of[ed][old].add(new)
            self.old_of[ed][new].add(old)
        self.non_one_to_one: list[tuple[str, str, str]] = []
        self.defects: dict[str, str] = {}  # codes known not to exist as printed (digits -> reason)

    def olds_in(self, cs: CodeSet, edition: str) -> set[str]:
        table = self.new_of[edition]
        if all(r.start == r.end and r.width == 6 for r in cs.ranges):
            return {r.start for r in cs.ranges if r.start in table}
        return {o for o in table if cs.contains(o)}

    def goods_side_certain(self, cs: CodeSet, edition: str) -> tuple[int, int]:
        """(HS 2022 codes whose every counterpart lies in the code set, HS 2022 codes reached)."""
        olds = self.olds_in(cs, edition)
        news = set().union(*(self.new_of[edition][o] for o in olds)) if olds else set()
        return sum(1 for n in news if self.old_of[edition][n] <= olds), len(news)

    def __call__(self, source: str, provision: str, code: str, edition: str) -> str:
        cs = _entry_codes(code)
        olds = self.olds_in(cs, edition)
        if not olds:
            digits = [r.start for r in cs.ranges]
            if all(dg in self.defects for dg in digits):
                self.non_one_to_one.append((provision, code, "none"))
                self.conn.execute(
                    "INSERT INTO automotive_code_map VALUES (?, ?, ?, ?, '', 'none', 0)",
                    (source, provision, code, edition),
                )
                return "none"
            if all(dg in self.hs2022 for dg in digits):
                news, rel = set(digits), "identity"
            else:
                raise DataError(
                    f"{provision}: code {code} does not exist in {edition} (per the correlation table): "
                    f"a transcription error in the {source} data"
                )
        else:
            news = set().union(*(self.new_of[edition][o] for o in olds))
            shared = {o for n in news for o in self.old_of[edition][n]} - olds
            rel = ("n:1" if shared else "1:1") if len(news) == 1 else "n:n" if shared else "1:n"
        if rel not in ("1:1", "identity"):
            self.non_one_to_one.append((provision, code, rel))
        self.conn.executemany(
            "INSERT INTO automotive_code_map VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (source, provision, code, edition, n, rel, int(rel in ("1:1", "identity")))
                for n in sorted(news)
            ],
        )
        return rel


def build(conn: sqlite3.Connection, sources: Path, log: Any) -> dict[str, Any]:
    """Build step "automotive": validate the YAML, map its codes to HS 2022, write tables and mapping."""
    model.cache_clear()
    _memberships.cache_clear()
    _good_mapping.cache_clear()
    _vehicle_rules_of.cache_clear()
    m = model()
    conn.execute(
        "CREATE TABLE automotive_table_entry (table_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " code TEXT NOT NULL,"
        " ex INTEGER NOT NULL, fact TEXT, fact_value INTEGER, part TEXT, description TEXT NOT NULL,"
        " citation TEXT NOT NULL, nomenclature TEXT NOT NULL, PRIMARY KEY (table_id, seq))"
    )
    conn.execute(
        "CREATE TABLE automotive_code_map (source TEXT NOT NULL, provision TEXT NOT NULL, code TEXT NOT NULL,"
        " edition TEXT NOT NULL, hs2022 TEXT NOT NULL, relationship TEXT NOT NULL,"
        " one_to_one INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX automotive_code_map_code ON automotive_code_map (source, code)")
    rows: list[tuple[Any, ...]] = []
    for t in m.tables.values():
        rows += [
            (
                t.id,
                i,
                e.code,
                int(e.ex),
                e.fact,
                int(e.fact_value),
                None,
                e.description,
                t.citation,
                m.nomenclature,
            )
            for i, e in enumerate(t.entries)
        ]
    rows += [
        ("A.2", i, e.code, 1, None, None, e.part, e.description, m.a2_citation, m.nomenclature)
        for i, e in enumerate(m.a2_entries)
    ]
    rows += [
        (e.table, i, e.code, int(e.ex), e.fact, 1, None, e.description, m.s_citation, m.nomenclature)
        for i, e in enumerate(m.s_entries)
    ]
    conn.executemany("INSERT INTO automotive_table_entry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    mapper = _Mapper(conn)
    mapper.defects = dict(m.defects)
    rels: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    certain = [0, 0]
    for provision, code in m.all_codes():
        if (provision, code) in seen:
            continue
        seen.add((provision, code))
        rel = mapper("automotive", provision, code, m.nomenclature)
        rels[rel] = rels.get(rel, 0) + 1
        ok, reached = mapper.goods_side_certain(_entry_codes(code), m.nomenclature)
        certain[0] += ok
        certain[1] += reached
    figures: dict[str, Any] = {
        "table_entries": {t.id: len(t.entries) for t in m.tables.values()}
        | {"A.2": len(m.a2_entries), "S": len(m.s_entries)},
        "vehicle_rules": len(m.vehicles),
        "codes_mapped": sum(rels.values()),
        "relationships": rels,
        # HS 2022 codes reached from the tables whose HS 2012 counterparts all lie in the listed code: a good
        # classified there relates to the table without doubt; the rest answer unresolved when asked
        "hs2022_codes_certain": certain[0],
        "hs2022_codes_reached": certain[1],
    }
    figures.update(_general_mappings(conn, mapper))
    figures["non_one_to_one"] = len(mapper.non_one_to_one)
    figures["codes_not_in_edition"] = sorted({c for _, c, r in mapper.non_one_to_one if r == "none"})
    log(f"automotive: {figures}")
    return figures


def code_map(
    code: str, source: str = "automotive", conn: sqlite3.Connection | None = None
) -> CodeMapping | None:
    """The recorded HS 2022 mapping of a code as written in our data (store table ``automotive_code_map``)."""
    if conn is None:
        from usmca.store import store

        conn = store()
    try:
        rows = conn.execute(
            "SELECT edition, hs2022, relationship FROM automotive_code_map WHERE source = ? AND code = ?",
            (source, code),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        raise DataError(f"the store has no automotive mapping ({exc}); run `usmca data build`") from exc
    if not rows:
        return None
    src = "UNSD HS2022-HS2017 correlation table" if rows[0][0] == "HS2017" else CORRELATION_SOURCE
    return CodeMapping(code, tuple(sorted({r[1] for r in rows})), rows[0][2], src)


__all__ = [
    "AlternativeStaging",
    "AveragingOption",
    "CorePartRequirement",
    "FactCheck",
    "FactNeed",
    "LvcRequirement",
    "Relief",
    "SteelAluminumRequirement",
    "TableEntry",
    "TableMembership",
    "Threshold",
    "VehicleRequirement",
    "build",
    "check_core_parts",
    "check_lvc",
    "check_steel_aluminum",
    "code_map",
    "core_part",
    "model",
    "part_table",
    "vehicle_requirement",
]
