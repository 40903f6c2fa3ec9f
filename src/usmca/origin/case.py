"""The origin case: a good, its bill of materials and the producer's facts (interchange format, section 1).

Validation is strict and names the dotted path of the field at fault (``materials[2].value``): unknown
fields, negative amounts, HTS codes that are not codes, a good produced outside a known country code, an
"originating" material said to come from outside the USMCA territory, deductions larger than the value,
a bill whose non-originating materials alone cost more than the good's transaction value, and sub-bills
that refer back to themselves (possible through YAML aliases). What a particular test needs but the case
does not give (a value, a weight, a fact) is not an input error: the engine answers ``unresolved`` and
names it.

Optional fields beyond interchange section 1 (all default to "not claimed"):

* ``good.facts``: producer facts the rules name (``good_type``, proviso names, Part 6 figures such as
  ``lvc_percent``, GN 11(o) chapter-rule ids such as ``"GN11(o)/61/note-3"``, ``materials_are_parts``,
  ``trade``);
* ``good.wholly_obtained``: the s.3(1) paragraph (a-j) the good falls under; ``good.set``: a GRI 3 set (s.6);
  ``good.unassembled``: imported unassembled and classified as assembled (s.3(4)(b));
* ``materials[].kind``: direct | indirect | packaging | packing | accessory (s.8(13)-(27));
  ``elastomeric`` and ``component`` (textile de minimis, s.5(6)-(9)); ``wholly_obtained`` (s.3(1)(k));
  ``accumulated`` (the sub-bill is another producer's statement, s.9); ``net_cost`` and ``facts`` of a
  self-produced material (its own RVC and rule); ``deductions.brokerage`` (s.8(2)(c)).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from usmca.errors import InputError
from usmca.nomenclature.codes import normalize_code

TERRITORY = frozenset({"US", "MX", "CA"})

Origin = Literal["originating", "non_originating", "unknown"]
Use = Literal[
    "passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle", "aftermarket", "not_automotive"
]
Method = Literal["best", "transaction_value", "net_cost"]
# How the Regulations treat a line of the bill (s.8(13)-(27)):
#   direct     - a material physically incorporated into the good (the normal case)
#   indirect   - s.8(13): considered originating wherever produced; its cost is in total/net cost already
#   packaging  - s.8(14)-(16): retail packaging classified with the good: ignored for the tariff shift, for
#                "wholly obtained" and for de minimis, counted (as originating or not) in RVC
#   packing    - s.8(17): shipping packing materials and containers: disregarded for origin
#   accessory  - s.8(23)-(27): accessories, spare parts, tools, instructions delivered with the good,
#                classified
#                with it, not invoiced separately and customary: treated like packaging
MaterialKind = Literal["direct", "indirect", "packaging", "packing", "accessory"]

_MAX_DEPTH = 25


class _Problem(ValueError):
    """Carries an InputError through pydantic (which wraps only ValueError) so the path can be prefixed."""

    def __init__(self, err: InputError) -> None:
        super().__init__(str(err))
        self.err = err


def _bad(field: str, value: object, problem: str, hint: str | None = None) -> _Problem:
    return _Problem(InputError(field, value, problem, hint))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _code(value: Any, field: str) -> str:
    if isinstance(value, float):
        # YAML reads 8301.60 as the number 8301.6: the trailing zero is already lost.
        raise _bad(field, value, "write HTS codes in quotes so no digit is lost", 'e.g. hts: "8301.60"')
    try:
        return normalize_code(value, field, lengths=(4, 6, 8, 10))
    except InputError as exc:
        raise _Problem(exc) from None


class ExcludedCosts(_Strict):
    """Excluded costs recorded in total cost (s.1(1) "excluded costs"; s.7(11), 7(13))."""

    sales_promotion: Decimal = Field(default=Decimal(0), ge=0)  # incl. marketing and after-sales service
    royalties: Decimal = Field(default=Decimal(0), ge=0)
    shipping_packing: Decimal = Field(default=Decimal(0), ge=0)
    nonallowable_interest: Decimal = Field(default=Decimal(0), ge=0)

    def total(self) -> Decimal:
        return self.sales_promotion + self.royalties + self.shipping_packing + self.nonallowable_interest


class Deductions(_Strict):
    """Costs that may be deducted from the value of a non-originating material (s.8(2))."""

    freight: Decimal = Field(
        default=Decimal(0), ge=0
    )  # s.8(2)(a) freight, insurance, packing to the producer
    duties: Decimal = Field(default=Decimal(0), ge=0)  # s.8(2)(b) non-recoverable duties and taxes
    brokerage: Decimal = Field(default=Decimal(0), ge=0)  # s.8(2)(c) customs brokerage fees
    waste_spoilage: Decimal = Field(default=Decimal(0), ge=0)  # s.8(2)(d) net of reusable scrap

    def total(self) -> Decimal:
        return self.freight + self.duties + self.brokerage + self.waste_spoilage


class Material(_Strict):
    id: str | None = None
    description: str = ""
    hts: str
    origin: Origin | None = None
    country: str | None = None
    value: Decimal | None = Field(default=None, ge=0)
    deductions: Deductions | None = None
    weight_kg: Decimal | None = Field(default=None, ge=0)
    elastomeric: bool = False  # elastomeric yarn or fibre (s.5(6)-(7): 7% cap)
    component: bool = False  # part of the component that determines the classification (ch. 61-63, s.5(9))
    kind: MaterialKind = "direct"
    wholly_obtained: bool = False  # the material is a good of s.3(1)(a)-(j) (for s.3(1)(k))
    intermediate: bool = False  # self-produced material designated as intermediate material (s.8(6))
    accumulated: bool = False  # sub-bill comes from another producer's statement (accumulation, s.9)
    net_cost: Decimal | None = Field(default=None, gt=0)  # of a self-produced material, for its own RVC
    facts: dict[str, Any] = Field(default_factory=dict)  # of a self-produced material, for its own rule
    materials: list[Material] = Field(default_factory=list)

    @field_validator("hts", mode="before")
    @classmethod
    def _hts(cls, v: Any) -> str:
        return _code(v, "hts")

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, v: Any) -> Any:
        return _country_code(v)

    @model_validator(mode="after")
    def _consistent(self) -> Material:
        if self.materials and self.origin is not None:
            raise _bad(
                "origin",
                self.origin,
                "a material with its own sub-bill has its origin determined from it",
                "leave `origin` out",
            )
        if not self.materials and self.origin is None:
            raise _bad(
                "origin", None, "state the material's origin", "originating | non_originating | unknown"
            )
        if self.intermediate and not self.materials:
            raise _bad(
                "intermediate",
                True,
                "only a self-produced material (with a sub-bill) can be "
                "designated an intermediate material (s.8(6))",
            )
        if self.accumulated and not self.materials:
            raise _bad(
                "accumulated",
                True,
                "accumulation (s.9) needs the producer's statement of the "
                "materials used: give them as a sub-bill",
            )
        if self.intermediate and self.accumulated:
            raise _bad(
                "intermediate",
                True,
                "a material produced by another producer cannot be "
                "designated an intermediate material by this producer (s.8(7)(b))",
            )
        if self.origin == "originating" and self.country is not None and self.country not in TERRITORY:
            raise _bad(
                "country",
                self.country,
                "an originating material is produced in the USMCA territory (US, MX, CA)",
                "correct the country or mark the material non_originating",
            )
        if self.deductions is not None and self.value is not None and self.deductions.total() > self.value:
            raise _bad(
                "deductions",
                str(self.deductions.total()),
                f"deductions exceed the material's value {self.value}",
            )
        if self.facts and not self.materials:
            raise _bad(
                "facts", "...", "facts of a material are used only for a self-produced material (sub-bill)"
            )
        if self.net_cost is not None and not self.materials:
            raise _bad(
                "net_cost",
                str(self.net_cost),
                "net_cost of a material is used only for a self-produced material (with a sub-bill)",
            )
        return self

    @property
    def self_produced(self) -> bool:
        return bool(self.materials)


class Good(_Strict):
    id: str | None = None
    description: str = ""
    hts: str
    country_of_production: str
    use: Use | None = None
    transaction_value: Decimal | None = Field(default=None, gt=0)
    international_shipment: Decimal = Decimal(0)  # may be negative: costs to add (definition in s.1(1))
    total_cost: Decimal | None = Field(default=None, gt=0)
    excluded_costs: ExcludedCosts | None = None
    net_cost: Decimal | None = Field(default=None, gt=0)
    weight_kg: Decimal | None = Field(default=None, gt=0)
    wholly_obtained: Literal["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] | None = (
        None  # s.3(1) paragraph
    )
    set: bool = False  # classified as a set by GRI 3 (s.6): the materials are the goods in the set
    unassembled: bool = False  # imported unassembled, classified as assembled by GRI 2(a) (s.3(4)(b))
    facts: dict[str, Any] = Field(
        default_factory=dict
    )  # producer facts named by rules (conditions, LVC, ...)

    @field_validator("hts", mode="before")
    @classmethod
    def _hts(cls, v: Any) -> str:
        return _code(v, "hts")

    @field_validator("country_of_production", mode="before")
    @classmethod
    def _country(cls, v: Any) -> Any:
        if v is None:
            raise _bad("country_of_production", v, "state where the good is produced", "US | MX | CA")
        return _country_code(v, "country_of_production")

    @model_validator(mode="after")
    def _consistent(self) -> Good:
        if self.net_cost is not None and self.total_cost is not None:
            raise _bad(
                "net_cost",
                str(self.net_cost),
                "give either net_cost or total_cost (with excluded_costs), not both",
            )
        if self.excluded_costs is not None and self.total_cost is None:
            raise _bad(
                "excluded_costs", "...", "excluded costs are subtracted from total_cost: give total_cost"
            )
        if (
            self.excluded_costs is not None
            and self.total_cost is not None
            and self.excluded_costs.total() >= self.total_cost
        ):
            raise _bad(
                "excluded_costs",
                str(self.excluded_costs.total()),
                f"excluded costs must be less than total_cost {self.total_cost}",
            )
        if self.transaction_value is not None and self.international_shipment >= self.transaction_value:
            raise _bad(
                "international_shipment",
                str(self.international_shipment),
                f"the shipment adjustment must be less than transaction_value {self.transaction_value}",
            )
        return self

    @property
    def in_territory(self) -> bool:
        return self.country_of_production in TERRITORY


class OriginCase(_Strict):
    date: dt.date
    method: Method = "best"
    currency: str = "USD"
    good: Good
    materials: list[Material] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if len(v) != 3 or not v.isalpha():
            raise _bad("currency", v, "a currency is a 3-letter ISO 4217 code", "e.g. USD")
        return v.upper()

    @model_validator(mode="after")
    def _bill(self) -> OriginCase:
        _check_ids(self.materials, "materials", ())
        tv = self.good.transaction_value
        if tv is not None:
            adjusted = tv - self.good.international_shipment
            stated = sum(
                (
                    m.value - (m.deductions.total() if m.deductions else 0)
                    for m in self.materials
                    if m.origin in ("non_originating", "unknown")
                    and m.value is not None
                    and m.kind in ("direct", "packaging", "accessory")
                ),
                Decimal(0),
            )
            if stated > adjusted:
                raise _bad(
                    "good.transaction_value",
                    str(tv),
                    f"the non-originating materials alone are worth {stated}, more than the "
                    f"adjusted transaction value {adjusted}; check the values and the currency",
                )
        return self


def _country_code(v: Any, field: str = "country") -> Any:
    if isinstance(v, str):
        s = v.strip().upper()
        if len(s) != 2 or not s.isalpha():
            raise _bad(field, v, "a country is an ISO 3166 alpha-2 code", "e.g. MX")
        return s
    return v


def _check_ids(materials: list[Material], path: str, ancestors: tuple[str, ...]) -> None:
    """A material whose sub-bill contains (at any depth) a material with its own id is a cycle."""
    for i, m in enumerate(materials):
        here = f"{path}[{i}]"
        if m.id is not None and m.id in ancestors:
            raise _bad(
                f"{here}.id",
                m.id,
                "cycle in the bill: this material is used in its own production",
                "a self-produced material cannot contain itself",
            )
        if m.materials:
            _check_ids(m.materials, f"{here}.materials", (*ancestors, m.id) if m.id else ancestors)


# --- loading ------------------------------------------------------------------------------------------------


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _find_cycles(obj: Any, path: str = "", stack: tuple[int, ...] = (), depth: int = 0) -> None:
    """Refuse self-referring structures (YAML aliases) before validation recurses into them."""
    if depth > _MAX_DEPTH * 3:
        raise InputError(path or "case", "...", f"the bill is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(obj, dict | list):
        if id(obj) in stack:
            raise InputError(
                path, "<alias>", "cycle in the bill: this entry refers back to one that contains it"
            )
        stack = (*stack, id(obj))
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            sub = f"{path}[{k}]" if isinstance(k, int) else (f"{path}.{k}" if path else str(k))
            _find_cycles(v, sub, stack, depth + 1)


def parse_case(data: Any) -> OriginCase:
    """Validate a loaded document; every error names its dotted field path."""
    if not isinstance(data, dict):
        raise InputError(
            "case", type(data).__name__, "an origin case is a mapping with date, good and materials"
        )
    _find_cycles(data)
    try:
        return OriginCase.model_validate(data)
    except ValidationError as exc:
        raise _input_error(exc, data) from None


def _input_error(exc: ValidationError, data: Any) -> InputError:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    ctx = first.get("ctx") or {}
    inner = ctx.get("error")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if isinstance(inner, _Problem):
        # Our validators name the field locally; prefix the model's path (field validators' loc ends with it).
        e = inner.err
        base = _dotted(loc)
        last = base.rsplit(".", 1)[-1] if base else ""
        field = base if (base and last == e.field) else (f"{base}.{e.field}" if base else e.field)
        return InputError(field, e.value, e.problem + more, e.hint)
    field = _dotted(loc)
    kind = first.get("type", "")
    value = first.get("input")
    if kind == "extra_forbidden":
        parent = _dotted(loc[:-1])
        return InputError(
            field,
            value,
            f"unknown field `{loc[-1]}`{' in ' + parent if parent else ''}" + more,
            "check the spelling against the origin case format (docs/interchange.md section 1)",
        )
    if kind in ("greater_than_equal", "greater_than"):
        limit = ctx.get("ge", ctx.get("gt"))
        words = (
            "must not be negative"
            if kind == "greater_than_equal" and limit == 0
            else f"must be more than {limit}"
        )
        return InputError(field, value, words + more)
    if kind == "missing":
        return InputError(field, None, "required field is missing" + more)
    return InputError(field, value, first.get("msg", "invalid value") + more)


def load_case(path: str | Path) -> OriginCase:
    """Load an origin case from a YAML or JSON file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a non-UTF-8 file is bad input, not a crash
        why = getattr(exc, "strerror", None) or exc
        raise InputError("FILE", str(p), f"cannot read the case file ({why})") from None
    return loads_case(text, json_=p.suffix.lower() == ".json")


def loads_case(text: str, *, json_: bool = False) -> OriginCase:
    try:
        data = json.loads(text) if json_ else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError("FILE", "...", f"not valid {'JSON' if json_ else 'YAML'}: {exc}") from None
    return parse_case(data)
