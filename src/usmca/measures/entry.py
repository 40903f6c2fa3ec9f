"""Entry lines: input of ``usmca duty FILE`` (interchange format section 3), validated strictly.

Unknown fields are refused (a misspelt ``usmca_clam`` must not silently mean "no claim"); every error names
the field as a dotted path (``lines[2].entered_value``) and the value.
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

Transport = Literal["ocean", "air", "other"]


# Larger than any real entry, and past what 28-digit decimals round to cents exactly.
MAX_AMOUNT = Decimal(10) ** 15

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quantity(_Strict):
    value: Decimal = Field(ge=0, lt=MAX_AMOUNT)
    unit: str = Field(min_length=1)


class MetalContent(_Strict):
    """Value of the metal content (same currency as the entered value). ``None`` = not declared."""

    steel: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)
    aluminum: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)
    copper: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)


class EntryLine(_Strict):
    id: str = Field(min_length=1)
    hts: str
    country_of_origin: str
    entered_value: Decimal = Field(ge=0, lt=MAX_AMOUNT)
    quantity: tuple[Quantity, ...] = ()
    usmca_claim: bool = False
    metal_content: MetalContent | None = None
    us_content_value: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)
    transport: Transport | None = None
    # Importer declarations some measures depend on, e.g. {"semiconductor_note39": true,
    # "metal_weight_15pct": false}. Missing = not declared (the line is unresolved where it matters).
    facts: dict[str, bool] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("hts", mode="before")
    @classmethod
    def _hts(cls, v: Any) -> str:
        try:
            return normalize_code(v, "hts", (6, 8, 10))
        except InputError as exc:
            raise ValueError(exc.problem) from None

    @field_validator("country_of_origin", mode="before")
    @classmethod
    def _country(cls, v: Any) -> str:
        if not isinstance(v, str) or len(v.strip()) != 2 or not v.strip().isalpha():
            raise ValueError("a country is an ISO 3166 alpha-2 code such as CA, MX, CN")
        return v.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> EntryLine:
        if self.usmca_claim and self.country_of_origin not in ("CA", "MX"):
            raise ValueError(
                "usmca_claim: a USMCA claim (SPI S/S+) is made for goods of Canada (CA) or Mexico (MX)"
            )
        if self.us_content_value is not None and self.us_content_value > self.entered_value:
            raise ValueError("us_content_value: the U.S. content cannot exceed the entered value")
        if self.metal_content is not None:
            for metal in ("steel", "aluminum", "copper"):
                v = getattr(self.metal_content, metal)
                if v is not None and v > self.entered_value:
                    raise ValueError(
                        f"metal_content.{metal}: the metal content cannot exceed the entered value"
                    )
        return self


class Entry(_Strict):
    entry_date: dt.date
    currency: str = "USD"
    lines: tuple[EntryLine, ...] = Field(min_length=1)
    id: str | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Entry:
        ids = [ln.id for ln in self.lines]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"lines: line ids must be unique (repeated: {', '.join(dup)})")
        return self


class PastEntry(Entry):
    """An entry already made, for ``usmca refunds``: when it liquidated and what was deposited."""

    entry_number: str | None = None
    liquidation_date: dt.date | None = None
    duties_deposited: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)  # total duties deposited (all lines)
    ieepa_deposited: Decimal | None = Field(default=None, ge=0, lt=MAX_AMOUNT)  # IEEPA duties deposited, when known


class PastEntries(_Strict):
    entries: tuple[PastEntry, ...] = Field(min_length=1)
    as_of: dt.date | None = None  # date the refund routes are judged at (default: today)


# ----------------------------------------------------------------------------------------------- reading


def _loc(loc: tuple[int | str, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _raise(exc: ValidationError, data: Any, prefix: str = "") -> None:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = _loc(loc, prefix)
    msg = str(err["msg"]).removeprefix("Value error, ")
    # A model-level message starting with "name: " names the field inside the model.
    if (
        ": " in msg
        and msg.split(": ", 1)[0].replace(".", "").replace("_", "").isalnum()
        and err["type"] == "value_error"
    ):
        head, rest = msg.split(": ", 1)
        if head in ("usmca_claim", "us_content_value", "lines") or head.startswith("metal_content"):
            field = f"{field}.{head}" if field != "(document)" else head
            msg = rest
    if err["type"] == "extra_forbidden":
        msg = "unknown field (see docs/interchange.md section 3 for the field names)"
    raise InputError(field, err.get("input"), msg) from None


def parse_entry(data: Any) -> Entry:
    if not isinstance(data, dict):
        raise InputError("(document)", type(data).__name__, "an entry is a mapping with entry_date and lines")
    try:
        return Entry.model_validate(data)
    except ValidationError as exc:
        _raise(exc, data)
        raise  # pragma: no cover


def parse_line(data: Any, field: str = "line") -> EntryLine:
    try:
        return EntryLine.model_validate(data)
    except ValidationError as exc:
        _raise(exc, data, field)
        raise  # pragma: no cover


def parse_past_entries(data: Any) -> PastEntries:
    if isinstance(data, list):
        data = {"entries": data}
    if not isinstance(data, dict):
        raise InputError(
            "(document)", type(data).__name__, "a mapping with `entries` (a list of past entries)"
        )
    try:
        return PastEntries.model_validate(data)
    except ValidationError as exc:
        _raise(exc, data)
        raise  # pragma: no cover


def read_document(path: Path) -> Any:
    """A JSON or YAML file -> Python data, with dates kept as ISO text for the models to parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a non-UTF-8 file is bad input, not a crash
        why = getattr(exc, "strerror", None) or exc
        raise InputError("FILE", str(path), f"cannot read the file ({why})") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text, parse_float=Decimal)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError("FILE", str(path), f"not valid JSON/YAML ({str(exc).splitlines()[0]})") from None
