"""The JSON request bodies of the API as JSON Schema: published in the OpenAPI document and enforced on every
request with the same schema, so the document and the server cannot disagree.

Each schema is a strict subset of what the engine's own parser accepts (``parse_case``, ``parse_entry``,
``CertificationRequest``): what the schema allows, the parser accepts, except for the few rules no JSON Schema
can state (sums and comparisons between fields, unique ids). Those are listed, in words, in the
``x-rules`` of the schema that owns them and in its description; a body that breaks one gets a 422 naming
the field. The engine's parser runs first where there is one, so its established messages (with their hints)
are kept; the schema then refuses what the parser would let through (a string where a number is documented,
a lower-case country code with spaces, ...), naming the field the same way.

Amounts are JSON numbers or decimal strings (a recorded case, as stored and shown, has amounts as strings and
can be sent back as it is). Every amount is below 10^15: larger than any real bill or entry, and within what
the engines' 28-digit decimal arithmetic rounds to cents exactly.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

from usmca.errors import InputError

REF = "#/components/schemas/"
MAX_AMOUNT = 10**15

# HTS codes as the schedule prints them, with or without the dots: 4-10 digits for an origin case (heading to
# statistical line), 6-10 for an entry line (the engines normalise both forms).
HTS_CASE = r"^[0-9]{4}(\.?[0-9]{2}){0,3}$"
HTS_LINE = r"^[0-9]{4}\.?[0-9]{2}(\.?[0-9]{2}){0,2}$"
COUNTRY = r"^[A-Za-z]{2}$"  # ISO 3166 alpha-2 (either case)
TERRITORY = r"^([Uu][Ss]|[Mm][Xx]|[Cc][Aa])$"
USMCA_PARTNER = r"^([Mm][Xx]|[Cc][Aa])$"  # a USMCA claim on US entry: goods of Canada or Mexico
# Explicit classes: ``\s`` and ``\w`` mean different sets to the JSON Schema validator (ECMA-262), the
# server's string trimming (Unicode White_Space), Python's str.strip() and a client's generator; these do not.
# NOT_BLANK: at least one character that none of them takes for white space.
NOT_BLANK = r"[^\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
FILLED = {"type": "string", "pattern": NOT_BLANK, "description": "not blank"}
EMAIL = r"^[^\s@]+@[^\s@]+$"  # no space in any reading of \s: all the server asks (an @, no space)
USERNAME = r"^[A-Za-z0-9._-]*[A-Za-z0-9][A-Za-z0-9._-]*$"
RECORD_ID = r"^[1-9][0-9]{0,8}$"

DATE: dict[str, Any] = {"type": "string", "format": "date", "description": "YYYY-MM-DD"}


def _amount(kind: str) -> dict[str, Any]:
    """An amount below 10^15: ``kind`` is nonneg (>= 0), positive (> 0) or signed."""
    if kind == "nonneg":
        number: dict[str, Any] = {"type": "number", "minimum": 0, "exclusiveMaximum": MAX_AMOUNT}
        text = r"^0*[0-9]{1,15}(\.[0-9]+)?$"
    elif kind == "positive":
        number = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": MAX_AMOUNT}
        text = r"^(0*[1-9][0-9]{0,14}(\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)$"
    else:
        number = {"type": "number", "exclusiveMinimum": -MAX_AMOUNT, "exclusiveMaximum": MAX_AMOUNT}
        text = r"^-?0*[0-9]{1,15}(\.[0-9]+)?$"
    return {
        "anyOf": [number, {"type": "string", "pattern": text, "description": "decimal text, e.g. \"12.50\""}],
        "description": f"amount ({'>= 0' if kind == 'nonneg' else '> 0' if kind == 'positive' else 'any sign'}, "
        "below 10^15): a number or decimal text",
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"anyOf": [schema, {"type": "null"}]}
    if "description" in schema:
        out["description"] = f"{schema['description']}, or null"
    return out


def _text(max_length: int | None = None, **kw: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string", **kw}
    if max_length is not None:
        s["maxLength"] = max_length
    return s


def _obj(
    properties: dict[str, Any], required: Sequence[str] = (), description: str = "", **kw: Any
) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        s["required"] = list(required)
    if description:
        s["description"] = description
    s.update(kw)
    return s


def _absent_or_null(*names: str) -> dict[str, Any]:
    return {"properties": {n: {"type": "null"} for n in names}}


FACTS = {"type": "object", "description": "producer facts the rules name (docs/interchange.md section 1)"}

# --- origin case (usmca.origin.case) ---------------------------------------------------------------------------

EXCLUDED_COSTS = _obj(
    {k: _amount("nonneg") for k in ("sales_promotion", "royalties", "shipping_packing", "nonallowable_interest")},
    description="Excluded costs recorded in total cost (s.1(1), s.7(11), 7(13))",
)
DEDUCTIONS = _obj(
    {k: _amount("nonneg") for k in ("freight", "duties", "brokerage", "waste_spoilage")},
    description="Costs deducted from the value of a non-originating material (s.8(2))",
)

GOOD_RULES = [
    "international_shipment is less than transaction_value (when transaction_value is given)",
    "the sum of the excluded_costs is less than total_cost",
]
GOOD = _obj(
    {
        "id": _nullable(_text()),
        "description": _text(),
        "hts": _text(pattern=HTS_CASE, description="HTS code of the good, 4-10 digits, e.g. 9401.61.4011"),
        "country_of_production": _text(pattern=COUNTRY, description="ISO 3166 alpha-2, e.g. MX"),
        "use": _nullable(
            {
                "enum": [
                    "passenger_vehicle",
                    "light_truck",
                    "heavy_truck",
                    "other_vehicle",
                    "aftermarket",
                    "not_automotive",
                ]
            }
        ),
        "transaction_value": _nullable(_amount("positive")),
        "international_shipment": _amount("signed"),
        "total_cost": _nullable(_amount("positive")),
        "excluded_costs": _nullable({"$ref": REF + "ExcludedCosts"}),
        "net_cost": _nullable(_amount("positive")),
        "weight_kg": _nullable(_amount("positive")),
        "wholly_obtained": _nullable({"enum": list("abcdefghij")}),
        "set": {"type": "boolean"},
        "unassembled": {"type": "boolean"},
        "facts": FACTS,
    },
    required=("hts", "country_of_production"),
    description="The good. Either net_cost or total_cost (with excluded_costs), not both. Also: "
    + "; ".join(GOOD_RULES)
    + ".",
    allOf=[
        {
            "anyOf": [_absent_or_null("net_cost"), _absent_or_null("total_cost")],
            "description": "give either net_cost or total_cost (with excluded_costs), not both",
        },
        {
            "anyOf": [
                _absent_or_null("excluded_costs"),
                {"required": ["total_cost"], "properties": {"total_cost": _amount("positive")}},
            ],
            "description": "excluded_costs are subtracted from total_cost: give total_cost",
        },
    ],
    **{"x-rules": GOOD_RULES},
)

MATERIAL_RULES = [
    "the sum of the deductions is at most the material's value",
    "a material's id does not appear again inside its own sub-bill (no cycles)",
]
MATERIAL = _obj(
    {
        "id": _nullable(_text()),
        "description": _text(),
        "hts": _text(pattern=HTS_CASE, description="HTS code, 4-10 digits, e.g. 4407.11"),
        "origin": _nullable({"enum": ["originating", "non_originating", "unknown"]}),
        "country": _nullable(_text(pattern=COUNTRY)),
        "value": _nullable(_amount("nonneg")),
        "deductions": _nullable({"$ref": REF + "Deductions"}),
        "weight_kg": _nullable(_amount("nonneg")),
        "elastomeric": {"type": "boolean"},
        "component": {"type": "boolean"},
        "kind": {"enum": ["direct", "indirect", "packaging", "packing", "accessory"]},
        "wholly_obtained": {"type": "boolean"},
        "intermediate": {"type": "boolean"},
        "accumulated": {"type": "boolean"},
        "net_cost": _nullable(_amount("positive")),
        "facts": FACTS,
        "materials": {"type": "array", "items": {"$ref": REF + "Material"}},
    },
    required=("hts",),
    description="A line of the bill: either bought (with its `origin`), or self-produced (with a non-empty "
    "sub-bill `materials`, and no `origin`); only a self-produced material has net_cost, facts, "
    "intermediate or accumulated (not both). An originating material is produced in US, MX or CA. Also: "
    + "; ".join(MATERIAL_RULES)
    + ".",
    allOf=[
        {
            "anyOf": [
                {
                    "required": ["origin"],
                    "properties": {
                        "origin": {"enum": ["originating", "non_originating", "unknown"]},
                        "materials": {"maxItems": 0},
                        "intermediate": {"const": False},
                        "accumulated": {"const": False},
                        "net_cost": {"type": "null"},
                        "facts": {"maxProperties": 0},
                    },
                },
                {
                    "required": ["materials"],
                    "properties": {"materials": {"minItems": 1}, "origin": {"type": "null"}},
                    "anyOf": [
                        {"properties": {"intermediate": {"const": False}}},
                        {"properties": {"accumulated": {"const": False}}},
                    ],
                },
            ],
            "description": "a material is either bought (state its `origin`) or self-produced (a non-empty "
            "sub-bill `materials`, no `origin`); net_cost, facts, intermediate and accumulated belong to a "
            "self-produced material, which cannot be both intermediate and accumulated",
        },
        {
            "anyOf": [
                {"properties": {"origin": {"enum": ["non_originating", "unknown", None]}}},
                {"properties": {"country": _nullable(_text(pattern=TERRITORY))}},
            ],
            "description": "an originating material is produced in the USMCA territory (US, MX, CA)",
        },
    ],
    **{"x-rules": MATERIAL_RULES},
)

CASE_RULES = [
    "the non-originating (and unknown) materials' values, less their deductions, add up to at most the "
    "good's transaction_value less international_shipment",
    "at most 2,000 material lines in all (every sub-bill counted): more is a 413",
]
ORIGIN_CASE = _obj(
    {
        "date": {**DATE, "description": "date of production, YYYY-MM-DD"},
        "method": {"enum": ["best", "transaction_value", "net_cost"]},
        "currency": _text(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD"),
        "good": {"$ref": REF + "Good"},
        "materials": {"type": "array", "items": {"$ref": REF + "Material"}},
    },
    required=("date", "good"),
    description="Origin case (docs/interchange.md section 1). Also: " + "; ".join(CASE_RULES) + ".",
    **{"x-rules": CASE_RULES},
)

# --- entry (usmca.measures.entry) ----------------------------------------------------------------------------

QUANTITY = _obj({"value": _amount("nonneg"), "unit": _text(minLength=1)}, required=("value", "unit"))
METAL_CONTENT = _obj(
    {k: _nullable(_amount("nonneg")) for k in ("steel", "aluminum", "copper")},
    description="Value of the metal content, same currency as the entered value",
)
LINE_RULES = ["us_content_value and each metal_content value are at most entered_value"]


def _line(country: str, country_doc: str, claim_rule: bool) -> dict[str, Any]:
    s = _obj(
        {
            "id": _text(minLength=1),
            "hts": _text(pattern=HTS_LINE, description="HTS code, 6-10 digits, e.g. 9401.61.4011"),
            "country_of_origin": _text(pattern=country, description=country_doc),
            "entered_value": _amount("nonneg"),
            "quantity": {"type": "array", "items": {"$ref": REF + "Quantity"}},
            "usmca_claim": {"type": "boolean"},
            "metal_content": _nullable({"$ref": REF + "MetalContent"}),
            "us_content_value": _nullable(_amount("nonneg")),
            "transport": _nullable({"enum": ["ocean", "air", "other"]}),
            "facts": {
                "type": "object",
                "additionalProperties": {"type": "boolean"},
                "description": "importer declarations, e.g. {\"semiconductor_note39\": true}",
            },
            "description": _nullable(_text()),
        },
        required=("id", "hts", "country_of_origin", "entered_value"),
        description="An entry line. Also: " + "; ".join(LINE_RULES) + ".",
        **{"x-rules": LINE_RULES},
    )
    if claim_rule:
        s["if"] = {"required": ["usmca_claim"], "properties": {"usmca_claim": {"const": True}}}
        s["then"] = {
            "properties": {
                "country_of_origin": {
                    "pattern": USMCA_PARTNER,
                    "description": "CA or MX with usmca_claim: a USMCA claim (SPI S/S+) is made for goods of "
                    "Canada or Mexico",
                }
            },
            "description": "a USMCA claim (SPI S/S+) is made for goods of Canada (CA) or Mexico (MX)",
        }
    return s


ENTRY_RULES = ["line ids are unique"]


def _entry(line: str, description: str) -> dict[str, Any]:
    return _obj(
        {
            "entry_date": {**DATE, "description": "date of entry, YYYY-MM-DD"},
            "currency": {"enum": ["USD"], "description": "duty and fees are computed in USD only"},
            "lines": {"type": "array", "minItems": 1, "items": {"$ref": REF + line}},
            "id": _nullable(_text()),
        },
        required=("entry_date", "lines"),
        description=description + " Also: " + "; ".join(ENTRY_RULES) + "; at most 1,000 lines (more is a 413).",
        **{"x-rules": ENTRY_RULES},
    )


# --- certificate (usmca.certify) -----------------------------------------------------------------------------

PLACEHOLDERS = ["Various", "Available upon request by the importing authorities"]
_PARTY_FIELDS: dict[str, Any] = {
    "name": _text(200, minLength=1, pattern=NOT_BLANK, description="text, not blank"),
    "address": _nullable(_text(500)),
    "telephone": _nullable(_text(40)),
    "email": _nullable(_text(200, pattern=EMAIL, description="an email address, name@domain")),
    "title": _nullable(_text(120)),
}


def _party(required: Sequence[str], filled: Sequence[str] = (), description: str = "", **kw: Any) -> dict[str, Any]:
    props = dict(_PARTY_FIELDS)
    for f in filled:  # required, and not blank
        props[f] = _text(_PARTY_FIELDS[f]["anyOf"][0].get("maxLength"), pattern=NOT_BLANK, description="not blank")
    props["email"] = (
        _text(200, pattern=EMAIL, description="an email address, name@domain")
        if "email" in filled
        else _PARTY_FIELDS["email"]
    )
    return _obj(props, required=("name", *required), description=description, **kw)


CERTIFICATE_RULES = [
    "blanket_to is on or after blanket_from and less than 12 months after it (Annex 5-A element 8)",
]
CERTIFICATE = _obj(
    {
        "determination_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "certifier_role": {"enum": ["importer", "exporter", "producer"]},
        "certifier": {"$ref": REF + "Certifier"},
        "exporter": _nullable({"$ref": REF + "Exporter"}),
        "producer": {"$ref": REF + "Producer"},
        "importer": _nullable({"$ref": REF + "Party"}),
        "blanket_from": _nullable(DATE),
        "blanket_to": _nullable(DATE),
        "signature": {"$ref": REF + "Signature"},
    },
    required=("determination_id", "certifier_role", "certifier", "producer", "signature"),
    description="A certification of origin (USMCA Annex 5-A) from a recorded determination that found the good "
    "originating. The exporter is required unless the producer certifies; a blanket period has both dates. "
    "Also: " + "; ".join(CERTIFICATE_RULES) + ".",
    allOf=[
        {
            "anyOf": [
                {"properties": {"certifier_role": {"const": "producer"}}},
                {"required": ["exporter"], "properties": {"exporter": {"type": "object"}}},
            ],
            "description": "Annex 5-A element 3: the exporter's details are required unless a producer "
            "certifies and does not know the exporter",
        },
        {
            "anyOf": [
                _absent_or_null("blanket_from", "blanket_to"),
                {
                    "required": ["blanket_from", "blanket_to"],
                    "properties": {"blanket_from": {"type": "string"}, "blanket_to": {"type": "string"}},
                },
            ],
            "description": "a blanket period has both a start and an end date",
        },
    ],
    **{"x-rules": CERTIFICATE_RULES},
)

# --- records and access --------------------------------------------------------------------------------------

ARCHIVE = _obj(
    {
        "object_type": {"enum": ["determination", "certificate", "product"]},
        "object_id": _text(40, minLength=1, description="a determination or product id is a whole number"),
        "reason": _text(2000, minLength=1, pattern=NOT_BLANK, description="why the record is archived, not blank"),
    },
    required=("object_type", "object_id", "reason"),
    description="Archive a record (hidden from default lists; never deleted).",
    allOf=[
        {
            "if": {"required": ["object_type"], "properties": {"object_type": {"enum": ["determination", "product"]}}},
            "then": {
                "properties": {
                    "object_id": {"pattern": RECORD_ID, "description": "a determination or product id: 1-999999999"}
                }
            },
            "description": "a determination or product id is a positive whole number",
        }
    ],
)
USER = _obj(
    {
        "username": _text(80, minLength=1, pattern=USERNAME, description="letters, digits, '.', '-', '_'"),
        "password": _text(200, minLength=12, description="at least 12 characters"),
        "role": {"enum": ["viewer", "analyst", "admin"]},
    },
    required=("username", "password", "role"),
)
KEY = _obj({"name": _text(80, minLength=1, description="a label for the key")})


# --- scenario documents (usmca.scenarios.model), uploaded with a comparison -----------------------------------
# The model's validators assume the shapes stated here (a list, a mapping), so uploads are checked against this
# schema first and the model second: the model then only adds the rules listed in ``x-rules``.

SCENARIO_NAME = r"^[a-z0-9][a-z0-9-]*$"
PERCENT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 100, "description": "percent, 0-100"}
SHARE: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1, "description": "a share, 0-1"}
RATE_PERCENT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1000, "description": "percent, 0-1000"}
CHAPTER_KEY = r"^[0-9]{1,2}$"  # a chapter as a mapping key: "7" is chapter 07
CHAPTER: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": CHAPTER_KEY},
        {"type": "integer", "minimum": 0, "maximum": 99},
    ],
    "description": "an HS chapter, e.g. \"87\" (one digit is read with a leading 0)",
}
HEADING: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]{2}\.?[0-9]{2}$"},
        {"type": "integer", "minimum": 1000, "maximum": 9999},
    ],
    "description": "an HS heading, 4 digits, e.g. \"8708\"",
}
SUBHEADING: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]{4}\.?[0-9]{2}$"},
        {"type": "integer", "minimum": 100000, "maximum": 999999},
    ],
    "description": "an HS subheading, 6 digits, e.g. \"8708.29\"",
}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def _strings(pattern: str | None = None, min_items: int = 0, description: str = "") -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}
    s: dict[str, Any] = {"type": "array", "items": items}
    if min_items:
        s["minItems"] = min_items
    if description:
        s["description"] = description
    return s


SCOPE = _obj(
    {
        "chapters": {"type": "array", "items": CHAPTER},
        "headings": {"type": "array", "items": HEADING},
        "subheadings": {"type": "array", "items": SUBHEADING},
        "rule_ids": _STRINGS,
    },
    description="goods the overlay reaches (all empty: every good)",
)
_THRESHOLDS: dict[str, Any] = {
    "net_cost": _nullable(PERCENT),
    "transaction_value": _nullable(PERCENT),
    "raise_by": _nullable({"type": "number", "minimum": -100, "maximum": 100, "description": "points, -100-100"}),
}
ONE_WAY: dict[str, Any] = {
    "anyOf": [
        {
            "required": ["raise_by"],
            "properties": {
                "raise_by": {"type": "number"},
                "net_cost": {"type": "null"},
                "transaction_value": {"type": "null"},
            },
        },
        {
            "properties": {"raise_by": {"type": "null"}},
            "anyOf": [
                {"required": ["net_cost"], "properties": {"net_cost": {"type": "number"}}},
                {"required": ["transaction_value"], "properties": {"transaction_value": {"type": "number"}}},
            ],
        },
    ],
    "description": "give net_cost and/or transaction_value (percent), or raise_by (points), not both",
}


def _overlay(kind: str, properties: dict[str, Any], required: Sequence[str] = (), **kw: Any) -> dict[str, Any]:
    return _obj({"kind": {"const": kind}, **properties}, required=("kind", *required), **kw)


RULE_OVERLAYS = [
    _overlay("rvc_threshold", {"scope": SCOPE, **_THRESHOLDS}, allOf=[ONE_WAY]),
    _overlay(
        "vehicle_rvc",
        {
            "classes": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": ["passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle"]},
            },
            **_THRESHOLDS,
        },
        ("classes",),
        allOf=[ONE_WAY],
    ),
    _overlay(
        "core_parts_rvc",
        {"tables": _strings(description="Part 6 table ids (\"A.1\", \"B\", ...); empty: every table"), **_THRESHOLDS},
        allOf=[ONE_WAY],
    ),
    _overlay(
        "tariff_shift",
        {
            "scope": SCOPE,
            "from_level": {"enum": ["chapter", "heading", "subheading", "tariff_item"]},
            "to_level": {"enum": ["chapter", "heading", "subheading", "tariff_item"]},
        },
        ("from_level", "to_level"),
        anyOf=[
            {"properties": {"from_level": {"const": "heading"}, "to_level": {"const": "chapter"}}},
            {"properties": {"from_level": {"const": "subheading"}, "to_level": {"enum": ["chapter", "heading"]}}},
            {
                "properties": {
                    "from_level": {"const": "tariff_item"},
                    "to_level": {"enum": ["chapter", "heading", "subheading"]},
                }
            },
        ],
        description="a tighter tariff shift: to_level is a wider level than from_level (chapter > heading > "
        "subheading > tariff_item)",
    ),
    _overlay("lvc", {"total": PERCENT, "high_wage_material_labour_min": _nullable(PERCENT)}, ("total",)),
    _overlay(
        "steel_aluminum",
        {
            "percent": _nullable(PERCENT),
            "melted_and_poured": {"type": "boolean"},
            "material_chapters": _strings(r"^[0-9]{2}$", description="2-digit chapters, e.g. [\"72\", \"73\"]"),
        },
    ),
    _overlay(
        "content_cap",
        {
            "countries": _strings(COUNTRY, 1, "ISO 3166 alpha-2 codes"),
            "max_share": _nullable(PERCENT),
            "exclude_from_de_minimis": {"type": "boolean"},
        },
        ("countries",),
        anyOf=[
            {"required": ["max_share"], "properties": {"max_share": {"type": "number"}}},
            {"required": ["exclude_from_de_minimis"], "properties": {"exclude_from_de_minimis": {"const": True}}},
        ],
        description="give max_share and/or exclude_from_de_minimis: true",
    ),
    _overlay(
        "input_cost",
        {
            "producer_countries": _strings(COUNTRY, 1, "ISO 3166 alpha-2 codes"),
            "from_countries": _strings(COUNTRY, 1, "ISO 3166 alpha-2 codes"),
            "chapter_rates": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": CHAPTER_KEY},
                "additionalProperties": RATE_PERCENT,
                "description": "percent rate by 2-digit chapter, e.g. {\"39\": 20}",
            },
            "default_rate": RATE_PERCENT,
            "pass_through": {"type": "boolean"},
        },
        ("producer_countries", "from_countries", "chapter_rates"),
    ),
]
RULE_OVERLAY: dict[str, Any] = {
    "anyOf": RULE_OVERLAYS,
    "description": "an overlay on the rules: kind rvc_threshold, vehicle_rvc, core_parts_rvc, tariff_shift, lvc, "
    "steel_aluminum, content_cap or input_cost, with that kind's fields (docs/scenarios.md)",
}

MEASURE_RULES = ["valid_to is on or after valid_from"]
MEASURE_RECORD = _obj(
    {
        "id": _text(200, minLength=1),
        "name": _text(),
        "authority": _text(),
        "program": _text(),
        "instruments": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "kind": _text(),
                    "number": _text(),
                    "citation": _text(),
                    "fr_document": _nullable(_text()),
                    "url": _nullable(_text()),
                },
                required=("kind", "number"),
            ),
        },
        "headings": _strings(None, 1, "Chapter 99 headings (or ranges), e.g. 9903.01.10"),
        "us_note": _text(),
        "rate": {"type": "number", "minimum": 0, "maximum": 10, "description": "a fraction: 0.25 is 25%"},
        "rate_kind": {"enum": ["additional", "floor"]},
        "base": {"enum": ["full_value", "metal_content", "non_us_content"]},
        "usmca_claim_base": _nullable({"enum": ["full_value", "metal_content", "non_us_content"]}),
        "metal": _nullable({"enum": ["steel", "aluminum", "copper"]}),
        "countries": {
            "anyOf": [{"const": "*"}, {"type": "null"}, _strings(COUNTRY)],
            "description": "ISO 3166 alpha-2 codes, or \"*\" or null for every country",
        },
        "except_countries": _strings(COUNTRY),
        "country_rates": {
            "type": "object",
            "propertyNames": {"pattern": COUNTRY},
            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 10},
        },
        "products": _obj(
            {
                "all": {"type": "boolean"},
                "prefixes": _strings(r"^[0-9]{2}(\.?[0-9]{2}){0,4}$"),
                "lists": _STRINGS,
                "except_prefixes": _strings(r"^[0-9]{2}(\.?[0-9]{2}){0,4}$"),
                "except_lists": _STRINGS,
                "except_chapters": _strings(r"^[0-9]{2}$"),
                "only_chapters": _strings(r"^[0-9]{2}$"),
            },
            description="goods the measure reaches: all: true, prefixes or lists",
            anyOf=[
                {"required": ["all"], "properties": {"all": {"const": True}}},
                {"required": ["prefixes"], "properties": {"prefixes": {"minItems": 1}}},
                {"required": ["lists"], "properties": {"lists": {"minItems": 1}}},
            ],
        ),
        "exempt_usmca_claim": {"type": "boolean"},
        "exempt_lists": _STRINGS,
        "requires_facts": _STRINGS,
        "yields": {
            "type": "array",
            "items": _obj(
                {"programs": _STRINGS, "mode": {"enum": ["full", "remainder"]}, "citation": _text()},
                required=("programs", "mode"),
            ),
        },
        "exclusive_group": _nullable(_text()),
        "valid_from": DATE,
        "valid_to": _nullable(DATE),
        "status": {"enum": ["in_force", "struck_down", "expired", "scheduled", "suspended", "superseded"]},
        "status_date": _nullable(DATE),
        "status_note": _text(),
        "rank": {"type": "integer", "minimum": -100, "maximum": 100},
        "uncertain": _text(),
        "not_encoded": _text(),
    },
    required=("id", "authority", "program", "instruments", "headings", "rate", "products", "valid_from"),
    description="A measure record as in usmca/measures/data/*.yaml (docs/measures.md). Also: "
    + "; ".join(MEASURE_RULES)
    + ".",
    allOf=[
        {
            "if": {"required": ["base"], "properties": {"base": {"const": "metal_content"}}},
            "then": {"required": ["metal"], "properties": {"metal": {"enum": ["steel", "aluminum", "copper"]}}},
            "description": "base metal_content needs metal: steel, aluminum or copper",
        }
    ],
    **{"x-rules": MEASURE_RULES},
)
MEASURE_OVERLAY: dict[str, Any] = {
    "anyOf": [
        _overlay(
            "change",
            {
                "select": _obj(
                    {"ids": _STRINGS, "programs": _STRINGS, "authorities": _STRINGS},
                    required=(),
                    description="measures changed: by id, program or authority (any match)",
                    anyOf=[
                        {"required": [k], "properties": {k: {"minItems": 1}}}
                        for k in ("ids", "programs", "authorities")
                    ],
                ),
                "rate_percent": _nullable(RATE_PERCENT),
                "valid_to": _nullable(DATE),
                "open_ended": {"type": "boolean"},
                "status": _nullable({"enum": ["in_force", "expired", "suspended"]}),
                "note": _text(),
            },
            ("select",),
            allOf=[
                {
                    "anyOf": [
                        {"required": ["rate_percent"], "properties": {"rate_percent": {"type": "number"}}},
                        {"required": ["valid_to"], "properties": {"valid_to": {"type": "string"}}},
                        {"required": ["open_ended"], "properties": {"open_ended": {"const": True}}},
                        {"required": ["status"], "properties": {"status": {"type": "string"}}},
                    ],
                    "description": "give rate_percent, valid_to, open_ended or status",
                },
                {
                    "anyOf": [_absent_or_null("valid_to"), {"properties": {"open_ended": {"const": False}}}],
                    "description": "valid_to and open_ended exclude each other",
                },
            ],
        ),
        _overlay("add", {"measure": {"$ref": REF + "ScenarioMeasure"}}, ("measure",)),
    ],
    "description": "an overlay on the measures: kind change (select, and a rate, end date or status) or add "
    "(a measure record)",
}
SCENARIO_RULES = [
    *(f"an added measure: {r}" for r in MEASURE_RULES),
    "at most 256 KiB as uploaded (a larger document is a 413)",
]
SCENARIO_DOCUMENT = _obj(
    {
        "name": _text(
            200,
            pattern=SCENARIO_NAME,
            description="lower-case letters, digits and '-' (not 'baseline'), e.g. autos-85",
            **{"not": {"const": "baseline"}},
        ),
        "title": _text(minLength=1),
        "description": _text(minLength=1),
        "sources": {
            "type": "array",
            "minItems": 1,
            "items": _obj({"title": _text(minLength=1), "url": _nullable(_text()), "note": _text()}, ("title",)),
            "description": "what the scenario rests on: at least one source",
        },
        "assumptions": _STRINGS,
        "uncertain": _text(),
        "effective": _nullable(DATE),
        "rules": {"type": "array", "items": RULE_OVERLAY},
        "measures": {"type": "array", "items": MEASURE_OVERLAY},
        "macro": _obj(
            {
                "claimed_share_lost": SHARE,
                "claimed_share_lost_by_chapter": {
                    "type": "object",
                    "propertyNames": {"pattern": CHAPTER_KEY},
                    "additionalProperties": SHARE,
                    "description": "share of USMCA-claimed trade lost by 2-digit chapter, e.g. {\"87\": 0.25}",
                },
                "countries": {"type": "array", "items": {"enum": ["CA", "MX"]}},
                "rationale": _text(),
            },
            description="assumptions of the macro view",
        ),
    },
    required=("name", "title", "description", "sources"),
    description="A joint-review scenario document (docs/scenarios.md), as YAML or JSON. Also: "
    + "; ".join(SCENARIO_RULES)
    + ".",
    **{"x-rules": SCENARIO_RULES},
)

EXAMPLE_CASE = {
    "date": "2026-03-01",
    "good": {
        "id": "SKU-1001",
        "description": "wooden chair, upholstered",
        "hts": "9401.61.4011",
        "country_of_production": "MX",
        "transaction_value": 100,
    },
    "materials": [
        {"id": "m1", "description": "sawn lumber", "hts": "4407.11", "origin": "non_originating", "value": 30}
    ],
}
EXAMPLE_ENTRY = {
    "entry_date": "2025-08-15",
    "lines": [
        {
            "id": "L1",
            "hts": "9401.61.4011",
            "country_of_origin": "CA",
            "entered_value": 10000,
            "usmca_claim": True,
            "transport": "ocean",
        }
    ],
}
EXAMPLE_CERTIFICATE = {
    "determination_id": 1,
    "certifier_role": "producer",
    "certifier": {
        "name": "Ana Ruiz",
        "title": "Trade compliance manager",
        "address": "Av. Industria 1, Monterrey, NL, MX",
        "telephone": "+52 81 5555 0000",
        "email": "export@muebles.example",
    },
    "exporter": None,
    "producer": {"name": "Muebles del Norte SA", "address": "Av. Industria 1, Monterrey, NL, MX"},
    "blanket_from": "2026-03-01",
    "blanket_to": "2027-02-28",
    "signature": {"name": "Ana Ruiz", "date": "2026-03-02"},
}


def _example(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "examples": [example]}


def components() -> dict[str, dict[str, Any]]:
    """Every request schema by name (for ``#/components/schemas``); a fresh copy each call."""
    return copy.deepcopy(
        {
            "OriginCase": _example(ORIGIN_CASE, EXAMPLE_CASE),
            "Good": GOOD,
            "Material": MATERIAL,
            "ExcludedCosts": EXCLUDED_COSTS,
            "Deductions": DEDUCTIONS,
            "Entry": _example(_entry("EntryLine", "Entry (docs/interchange.md section 3)."), EXAMPLE_ENTRY),
            "EntryLine": _line(COUNTRY, "an ISO 3166 alpha-2 code, e.g. CA", claim_rule=True),
            "CompareEntry": _example(
                _entry(
                    "CompareLine",
                    "Entry whose lines are goods of Canada or Mexico, quoted with and without the USMCA claim.",
                ),
                EXAMPLE_ENTRY,
            ),
            "CompareLine": _line(
                USMCA_PARTNER, "CA or MX: the claim is compared for goods of Canada or Mexico", claim_rule=False
            ),
            "Quantity": QUANTITY,
            "MetalContent": METAL_CONTENT,
            "CertificateRequest": _example(CERTIFICATE, EXAMPLE_CERTIFICATE),
            "Party": _party(()),
            "Certifier": _party(
                ("title", "address", "telephone", "email"),
                filled=("title", "address", "telephone", "email"),
                description="Annex 5-A element 2: name, title, address, telephone and email",
            ),
            "Exporter": _party(("address",), filled=("address",), description="Annex 5-A element 3"),
            "Producer": _party(
                (),
                description="Annex 5-A element 4: with an address, or named 'Various' or 'Available upon "
                "request by the importing authorities'",
                anyOf=[
                    {"properties": {"name": {"enum": PLACEHOLDERS}}},
                    {"required": ["address"], "properties": {"address": FILLED}},
                ],
            ),
            "Signature": _obj(
                {"name": {**FILLED, "minLength": 1, "maxLength": 200}, "date": DATE}, required=("name", "date")
            ),
            "ArchiveRequest": _example(
                ARCHIVE, {"object_type": "determination", "object_id": "1", "reason": "entered twice"}
            ),
            "UserRequest": _example(USER, {"username": "ana.ruiz", "password": "a-long-passphrase", "role": "analyst"}),
            "KeyRequest": _example(KEY, {"name": "ci"}),
            "ScenarioDocument": SCENARIO_DOCUMENT,
            "ScenarioMeasure": MEASURE_RECORD,
        }
    )


def request_body(name: str, description: str = "") -> dict[str, Any]:
    """The ``openapi_extra`` of an operation whose JSON body is the named schema."""
    body: dict[str, Any] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF + name}}},
    }
    if description:
        body["description"] = description
    return {"requestBody": body}


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema_rs

    root = {"$ref": REF + name, "components": {"schemas": components()}}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def _schema_at(path: Sequence[Any]) -> dict[str, Any] | None:
    """The schema node at a validator's schema path (through our $refs), for its description."""
    node: Any = {"components": {"schemas": components()}}
    root = node
    for part in path:
        if isinstance(node, dict) and "$ref" in node and part not in node:
            node = root["components"]["schemas"][node["$ref"].removeprefix(REF)]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, dict) else None


SECRET_FIELDS = frozenset({"password"})


def dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def check(name: str, data: Any) -> None:
    """Refuse ``data`` unless it is valid under the named schema: InputError naming the field and the rule."""
    v = _validator(name)
    try:
        errors = list(v.iter_errors(data))
    except (ValueError, TypeError) as exc:  # e.g. text the validator cannot take (lone surrogates)
        raise InputError("(document)", "...", f"not a valid JSON document ({exc})") from None
    if not errors:
        return
    # The deepest error names the most precise field; among equals, the first.
    err = max(errors, key=lambda e: len(e.instance_path))
    path = list(err.instance_path)
    kind = type(err.kind).__name__
    value: Any = err.instance
    problem = str(err.message)
    if kind == "Required":
        prop = getattr(err.kind, "property", None)
        path.append(str(prop).strip('"'))
        value, problem = None, "required field is missing"
    elif kind == "AdditionalProperties":
        extra = list(getattr(err.kind, "unexpected", []) or [])
        if extra:
            path.append(str(extra[0]))
            value, problem = "...", "unknown field (check the spelling against docs/interchange.md)"
    elif kind in ("AnyOf", "OneOfNotValid"):
        # Our anyOf rules carry a description saying the rule in words; the parent holds it.
        schema_path = list(err.schema_path)
        node = _schema_at(schema_path[:-1]) or {}
        problem = str(node.get("description") or problem)
        value = "..." if isinstance(value, dict | list) else value
    elif kind in ("Pattern", "Format"):
        node = _schema_at(list(err.schema_path)[:-1]) or {}
        if node.get("description"):
            problem = f"expected {node['description']}"
    if isinstance(value, dict | list):
        value = "..."
    if path and path[-1] in SECRET_FIELDS:  # never echo a secret, not even a refused one
        node = _schema_at(list(err.schema_path)[:-1]) or {}
        lo, hi = node.get("minLength"), node.get("maxLength")
        value = "***"
        problem = f"must be text of {lo} to {hi} characters" if lo is not None and hi is not None else "not accepted"
    raise InputError(dotted(path), value, problem)
