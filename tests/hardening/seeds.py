"""Seed inputs shared by the hypothesis tests and the atheris harnesses (our own texts, written for fuzzing:
they imitate the shapes of HTSUS rate texts and GN 11(o) rule sentences without copying the data)."""

from __future__ import annotations

from typing import Any

RATE_SEEDS: tuple[str, ...] = (
    "Free",
    "5%",
    "2.5%",
    "6.8¢/kg",
    "$1.02/kg",
    "3.4¢/kg + 5%",
    "25% 1/",
    "Free (A+,AU,BH,CA,CL,CO,D,E,IL,JO,KR,MA,MX,OM,P,PA,PE,S,SG)",
    "Free (A,AU,BH,CA,CL,CO,E,IL,JO,KR,MA,MX,OM,P,PA,PE,SG) 2.1% (JP)",
    "The duty provided in the applicable subheading + 25%",
    "the duty provided in the applicable subheading",
    "See 9903.88.01",
    "No change",
    "1.5¢/kg less 0.02¢/kg for each degree under 100 degrees (and fractions of a degree in proportion) "
    "but not less than 0.5¢/kg",
    "5%, but if the goods are in containers the total duty shall not exceed the duty for the contents",
    "$1.35/doz. + 7.5%",
    "44¢/m2 + 3%",
    "0.9¢/liter",
)

RULE_SEEDS: tuple[str, ...] = (
    "A change to subheading 0101.21 through 0101.29 from any other chapter.",
    "A change to heading 74.02 from any other heading, except from heading 74.04.",
    "A change to subheading 8708.29 from any other subheading; or No change in tariff classification required, "
    "provided there is a regional value content of not less than: (a) 60 percent under the transaction value "
    "method, or (b) 50 percent under the net cost method.",
    "A change to tariff item 8504.40.xx from any other tariff item, provided that the good is not produced "
    "from a printed circuit assembly.",
    "(A) A change to heading 61.01 from any other chapter, provided that the good is both cut and sewn or "
    "otherwise assembled in the territory of one or more of the USMCA countries; or (B) A change to "
    "heading 61.01 from heading 51.11 through 51.13.",
    "Effective July 1, 2020 through June 30, 2023: A change to subheading 8703.21 from any other heading.",
    "A change to headings 28.01 through 28.53 from any other subheading within that group.",
    "No required change in tariff classification to subheading 9401.20, provided there is a regional value "
    "content of not less than 75 percent under the net cost method.",
)

CASE_SEED: dict[str, Any] = {
    "date": "2026-03-01",
    "good": {
        "description": "copper anode",
        "hts": "7402.00.0000",
        "country_of_production": "US",
        "transaction_value": 100,
    },
    "materials": [
        {"id": "scrap", "hts": "7404.00", "origin": "non_originating", "value": 5},
        {"id": "matte", "hts": "7401.00", "origin": "non_originating", "value": 30},
    ],
}

ENTRY_SEED: dict[str, Any] = {
    "entry_date": "2025-08-15",
    "lines": [{"id": "L1", "hts": "3926.90.10.00", "country_of_origin": "CA", "entered_value": 10000.10}],
}

PRODUCT_SEED: dict[str, list[str | None]] = {
    "sku": ["P1", "P2"],
    "hts": ["7402.00.0000", "8708.29"],
    "country_of_production": ["US", "MX"],
    "transaction_value": ["100", "250.5"],
    "date": ["2026-03-01", "2026-03-01"],
}

BOM_SEED: dict[str, list[str | None]] = {
    "parent_sku": ["P1", "P1", "P2"],
    "component_id": ["C1", "C2", "C3"],
    "component_hts": ["7404.00", "7401.00", "7318.15"],
    "value": ["5", "30", "12"],
    "origin": ["non_originating", "non_originating", "originating"],
}
