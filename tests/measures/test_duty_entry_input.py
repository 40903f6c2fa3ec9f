"""Entry input (interchange section 3): strict validation with errors that name the field and the value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usmca.errors import InputError
from usmca.measures.entry import parse_entry

OK = {"id": "L1", "hts": "3926.90.10.00", "country_of_origin": "ca", "entered_value": 10000.10}


def test_valid_entry_normalises_code_and_country() -> None:
    e = parse_entry({"entry_date": "2025-08-15", "lines": [OK]})
    ln = e.lines[0]
    assert ln.hts == "3926901000" and ln.country_of_origin == "CA"
    assert ln.entered_value == Decimal("10000.1")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({**OK, "entered_value": -1}, "lines[0].entered_value"),
        ({**OK, "hts": "3926.9"}, "lines[0].hts"),
        ({**OK, "country_of_origin": "Canada"}, "lines[0].country_of_origin"),
        ({**OK, "usmca_clam": True}, "lines[0].usmca_clam"),
        ({**OK, "transport": "rail"}, "lines[0].transport"),
        ({**OK, "country_of_origin": "CN", "usmca_claim": True}, "lines[0].usmca_claim"),
        ({**OK, "metal_content": {"steel": 20000}}, "lines[0].metal_content.steel"),
        ({**OK, "us_content_value": 20000}, "lines[0].us_content_value"),
        ({**OK, "quantity": [{"value": 1}]}, "lines[0].quantity[0].unit"),
    ],
)
def test_errors_name_the_field(line: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_entry({"entry_date": "2025-08-15", "lines": [line]})
    assert ei.value.field == field


def test_bad_date_and_duplicate_ids() -> None:
    with pytest.raises(InputError) as ei:
        parse_entry({"entry_date": "15/08/2025", "lines": [OK]})
    assert ei.value.field == "entry_date"
    with pytest.raises(InputError) as ei:
        parse_entry({"entry_date": "2025-08-15", "lines": [OK, OK]})
    assert ei.value.field == "lines"
