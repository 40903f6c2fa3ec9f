"""A joint-review scenario as data: a YAML document validated into frozen pydantic models.

A scenario names the policy change (``rules``: overlays on the rule corpus, the automotive rules and the
bill of materials; ``measures``: overlays on the Chapter 99 measure records), the sources it rests on and the
assumptions the figures depend on. Bad YAML raises ``InputError`` naming the field (``rules[0].net_cost``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from usmca.errors import InputError, NotFoundError

LEVELS = ("chapter", "heading", "subheading", "tariff_item")
VEHICLE_CLASSES = ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _digits(v: Any, width: int, what: str) -> str:
    s = str(v).replace(".", "").strip()
    if not s.isdigit() or len(s) != width:
        raise ValueError(f"{what} must be {width} digits (got {v!r})")
    return s


class Source(_Strict):
    title: str = Field(min_length=1)
    url: str | None = None
    note: str = ""


class Scope(_Strict):
    """Goods an overlay reaches: chapters (2 digits), headings (4), subheadings (6), rule ids. All empty =
    every good."""

    chapters: tuple[str, ...] = ()
    headings: tuple[str, ...] = ()
    subheadings: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()

    @field_validator("chapters", mode="before")
    @classmethod
    def _ch(cls, v: Any) -> tuple[str, ...]:
        return tuple(_digits(x, 2, "chapter") if len(str(x)) != 1 else f"0{x}" for x in (v or ()))

    @field_validator("headings", mode="before")
    @classmethod
    def _hd(cls, v: Any) -> tuple[str, ...]:
        return tuple(_digits(x, 4, "heading") for x in (v or ()))

    @field_validator("subheadings", mode="before")
    @classmethod
    def _sh(cls, v: Any) -> tuple[str, ...]:
        return tuple(_digits(x, 6, "subheading") for x in (v or ()))

    @property
    def everything(self) -> bool:
        return not (self.chapters or self.headings or self.subheadings or self.rule_ids)

    def prefixes(self) -> tuple[str, ...]:
        return (*self.chapters, *self.headings, *self.subheadings)

    def covers_code(self, code: str) -> bool:
        return self.everything or any(code.startswith(p) for p in self.prefixes())


class _Thresholds(_Strict):
    net_cost: float | None = Field(default=None, ge=0, le=100)
    transaction_value: float | None = Field(default=None, ge=0, le=100)
    raise_by: float | None = Field(default=None, ge=-100, le=100)  # percentage points added to each method

    @model_validator(mode="after")
    def _one_way(self) -> _Thresholds:
        if self.raise_by is None and self.net_cost is None and self.transaction_value is None:
            raise ValueError("give net_cost and/or transaction_value (percent), or raise_by (points)")
        if self.raise_by is not None and (self.net_cost is not None or self.transaction_value is not None):
            raise ValueError("raise_by cannot be combined with net_cost / transaction_value")
        return self


class RvcThreshold(_Thresholds):
    """Set or raise the RVC thresholds of the GN 11(o) rules in ``scope`` (alternatives that have an RVC)."""

    kind: Literal["rvc_threshold"]
    scope: Scope = Field(default_factory=Scope)


class VehicleRvc(_Thresholds):
    """Set or raise the Part 6 (s. 13) RVC of vehicles of the named classes."""

    kind: Literal["vehicle_rvc"]
    classes: tuple[Literal["passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle"], ...] = Field(
        min_length=1
    )


class CorePartsRvc(_Thresholds):
    """Set or raise the Part 6 RVC of core, principal and complementary parts (s. 14-15, 20)."""

    kind: Literal["core_parts_rvc"]
    tables: tuple[str, ...] = ()  # Table ids ("A.1", "B", ...); empty = every table


class TariffShiftLevel(_Strict):
    """Tighten a tariff shift: "from any other <from_level>" becomes "from any other <to_level>"."""

    kind: Literal["tariff_shift"]
    scope: Scope = Field(default_factory=Scope)
    from_level: Literal["chapter", "heading", "subheading", "tariff_item"]
    to_level: Literal["chapter", "heading", "subheading", "tariff_item"]

    @model_validator(mode="after")
    def _tighter(self) -> TariffShiftLevel:
        if LEVELS.index(self.to_level) >= LEVELS.index(self.from_level):
            raise ValueError(f"to_level {self.to_level!r} is not stricter than from_level {self.from_level!r}")
        return self


class Lvc(_Strict):
    """Change the labour value content requirement of vehicles (s. 16)."""

    kind: Literal["lvc"]
    total: float = Field(ge=0, le=100)
    high_wage_material_labour_min: float | None = Field(default=None, ge=0, le=100)


class SteelAluminum(_Strict):
    """Steel and aluminum: the vehicle producer's purchase requirement (s. 17), and, for the bill of
    materials,
        materials of ``material_chapters`` count as originating only when declared melted and poured in the
        region (a ``melted_and_poured`` yes on the BOM line); otherwise their origin becomes ``unknown``."""

    kind: Literal["steel_aluminum"]
    percent: float | None = Field(default=None, ge=0, le=100)
    melted_and_poured: bool = True
    material_chapters: tuple[str, ...] = ("72", "73", "76")


class ContentCap(_Strict):
    """Cap non-originating content from named countries at ``max_share`` percent of the good's transaction
    value (net cost when no transaction value), and/or exclude such materials from de minimis."""

    kind: Literal["content_cap"]
    countries: tuple[str, ...] = Field(min_length=1)
    max_share: float | None = Field(default=None, ge=0, le=100)
    exclude_from_de_minimis: bool = False

    @field_validator("countries", mode="before")
    @classmethod
    def _iso(cls, v: Any) -> tuple[str, ...]:
        out = tuple(str(x).upper() for x in (v or ()))
        for c in out:
            if len(c) != 2 or not c.isalpha():
                raise ValueError(f"country {c!r} is not an ISO 3166 alpha-2 code")
        return out

    @model_validator(mode="after")
    def _something(self) -> ContentCap:
        if self.max_share is None and not self.exclude_from_de_minimis:
            raise ValueError("give max_share and/or exclude_from_de_minimis: true")
        return self


class InputCost(_Strict):
    """A duty a USMCA producer pays on its imported materials (e.g. Mexico's 2026 increases on countries
    without
        a trade agreement): the value of a non-originating material from ``from_countries`` used by a producer in
        ``producer_countries`` rises by the rate of its chapter (percent; ``default_rate`` elsewhere)."""

    kind: Literal["input_cost"]
    producer_countries: tuple[str, ...] = Field(min_length=1)
    from_countries: tuple[str, ...] = Field(min_length=1)
    chapter_rates: dict[str, float] = Field(min_length=1)
    default_rate: float = Field(default=0.0, ge=0, le=1000)
    pass_through: bool = False  # True: the good's price and cost rise by the added duty too

    @field_validator("chapter_rates", mode="before")
    @classmethod
    def _chapters(cls, v: Any) -> dict[str, float]:
        if not isinstance(v, dict):
            raise ValueError("chapter_rates must map chapters to percent rates")
        out: dict[str, float] = {}
        for k, r in v.items():
            ch = str(k).zfill(2)
            _digits(ch, 2, "chapter")
            if not isinstance(r, int | float) or r < 0:
                raise ValueError(f"rate of chapter {k} must be a non-negative percent (got {r!r})")
            out[ch] = float(r)
        return out


RuleOverlay = Annotated[
    RvcThreshold | VehicleRvc | CorePartsRvc | TariffShiftLevel | Lvc | SteelAluminum | ContentCap | InputCost,
    Field(discriminator="kind"),
]


class Select(_Strict):
    """Measures an overlay changes: by id, program or authority (any match)."""

    ids: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    authorities: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _any(self) -> Select:
        if not (self.ids or self.programs or self.authorities):
            raise ValueError("select needs ids, programs or authorities")
        return self


class MeasureChange(_Strict):
    """Change a measure's rate, extend or end its validity."""

    kind: Literal["change"]
    select: Select
    rate_percent: float | None = Field(default=None, ge=0, le=1000)
    valid_to: dt.date | None = None  # new last day in force
    open_ended: bool = False  # no end date
    status: Literal["in_force", "expired", "suspended"] | None = None
    note: str = ""

    @model_validator(mode="after")
    def _what(self) -> MeasureChange:
        if self.rate_percent is None and self.valid_to is None and not self.open_ended and self.status is None:
            raise ValueError("give rate_percent, valid_to, open_ended or status")
        if self.valid_to is not None and self.open_ended:
            raise ValueError("valid_to and open_ended exclude each other")
        return self


class MeasureAdd(_Strict):
    """A new measure record in the format of ``usmca/measures/data/*.yaml`` (checked by the same parser)."""

    kind: Literal["add"]
    measure: dict[str, Any]


MeasureOverlay = Annotated[MeasureChange | MeasureAdd, Field(discriminator="kind")]


class MacroAssumptions(_Strict):
    """The assumptions of the macro view: the share of USMCA-claimed trade that would stop qualifying, by
    chapter (2 digits) or by default. Stated, never inferred."""

    claimed_share_lost: float = Field(default=0.0, ge=0, le=1)
    claimed_share_lost_by_chapter: dict[str, float] = Field(default_factory=dict)
    countries: tuple[Literal["CA", "MX"], ...] = ("CA", "MX")  # exporters whose claimed trade is affected
    rationale: str = ""

    @field_validator("claimed_share_lost_by_chapter", mode="before")
    @classmethod
    def _chapters(cls, v: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, r in (v or {}).items():
            ch = str(k).zfill(2)
            _digits(ch, 2, "chapter")
            if not isinstance(r, int | float) or not 0 <= r <= 1:
                raise ValueError(f"share for chapter {k} must be between 0 and 1 (got {r!r})")
            out[ch] = float(r)
        return out

    def lost(self, chapter: str) -> float:
        return self.claimed_share_lost_by_chapter.get(chapter, self.claimed_share_lost)


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)
    assumptions: tuple[str, ...] = ()
    uncertain: str = ""  # what in the encoding is set by hand or not verified against the primary text
    effective: dt.date | None = None  # date the change would take effect (informative)
    rules: tuple[RuleOverlay, ...] = ()
    measures: tuple[MeasureOverlay, ...] = ()
    macro: MacroAssumptions = Field(default_factory=MacroAssumptions)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in {
            "rvc_threshold",
            "vehicle_rvc",
            "core_parts_rvc",
            "tariff_shift",
            "lvc",
            "steel_aluminum",
            "content_cap",
            "input_cost",
            "change",
            "add",
        }:
            continue  # the discriminator tag pydantic puts in the path
        else:
            out += ("." if out else "") + str(p)
    return out or "scenario"


def parse_scenario(data: Any, origin: str = "scenario") -> Scenario:
    """Validate a scenario document; the first problem raises InputError naming the field."""
    if not isinstance(data, dict):
        raise InputError(origin, type(data).__name__, "a scenario is a YAML mapping")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _loc(tuple(err["loc"]))
        raise InputError(f"{origin}: {field}", err.get("input"), str(err["msg"])) from None
    for i, m in enumerate(sc.measures):
        if isinstance(m, MeasureAdd):
            from usmca.errors import DataError
            from usmca.measures.records import parse_measure

            try:
                parse_measure(m.measure, f"scenario {sc.name}")
            except (DataError, KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{origin}: measures[{i}].measure", m.measure.get("id"), str(exc)) from None
    return sc


def load_scenario_file(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("scenario", str(p), f"cannot read the file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError("scenario", str(p), f"not valid YAML ({exc})") from None
    return parse_scenario(data, p.name)


@lru_cache(maxsize=1)
def bundled() -> dict[str, Scenario]:
    """The scenarios shipped in ``usmca/scenarios/data/*.yaml`` by name."""
    out: dict[str, Scenario] = {}
    for entry in sorted(resources.files("usmca.scenarios").joinpath("data").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        sc = parse_scenario(yaml.safe_load(entry.read_text(encoding="utf-8")), entry.name)
        if sc.name != entry.name[: -len(".yaml")]:
            raise InputError(f"{entry.name}: name", sc.name, "must equal the file name")
        out[sc.name] = sc
    return out


def get_scenario(name_or_path: str) -> Scenario:
    """A bundled scenario by name, or a scenario file by path."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return load_scenario_file(name_or_path)
    sc = bundled().get(name_or_path)
    if sc is None:
        raise NotFoundError(
            f"no scenario {name_or_path!r}; bundled: {', '.join(sorted(bundled()))} (or give a .yaml path)"
        )
    return sc


def pct_fraction(percent: float) -> Decimal:
    return Decimal(str(percent)) / Decimal(100)
