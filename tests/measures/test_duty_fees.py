"""Fees: MPF 0.3464% within the fiscal year's limits (CBP notices FR 2024-15990 for FY2025 and
CBP Dec. 25-10, 90 FR 34665 for FY2026), USMCA lines out of the MPF base; HMF 0.125% on ocean value."""

from __future__ import annotations

from decimal import Decimal

from usmca.measures.entry import parse_entry
from usmca.measures.fees import entry_fees


def _entry(date: str, *lines: dict[str, object]) -> object:
    return parse_entry({"entry_date": date, "lines": list(lines)})


def _line(i: str, value: float, **kw: object) -> dict[str, object]:
    return {
        "id": i,
        "hts": "3926.90.10.00",
        "country_of_origin": kw.pop("country", "CN"),
        "entered_value": value,
        "transport": kw.pop("transport", "ocean"),
        **kw,
    }


def test_mpf_ad_valorem_between_limits() -> None:
    f = entry_fees(_entry("2025-08-15", _line("a", 100000)))
    assert f.mpf == Decimal("346.40")  # 0.3464% x 100,000
    assert f.hmf == Decimal("125.00")  # 0.125% x 100,000


def test_mpf_minimum_and_maximum_by_fiscal_year() -> None:
    assert entry_fees(_entry("2025-09-30", _line("a", 1000))).mpf == Decimal("32.71")  # FY2025 minimum
    assert entry_fees(_entry("2025-10-01", _line("a", 1000))).mpf == Decimal("33.58")  # FY2026 minimum
    assert entry_fees(_entry("2025-09-30", _line("a", 10_000_000))).mpf == Decimal("634.62")
    assert entry_fees(_entry("2025-10-01", _line("a", 10_000_000))).mpf == Decimal("651.50")


def test_mpf_unknown_outside_encoded_fiscal_years_is_not_zero() -> None:
    f = entry_fees(_entry("2026-10-01", _line("a", 100000)))
    assert f.mpf is None and f.needs


def test_usmca_lines_leave_the_mpf_base_and_air_has_no_hmf() -> None:
    f = entry_fees(
        _entry(
            "2025-08-15",
            _line("a", 50000, country="MX", usmca_claim=True),
            _line("b", 50000, transport="air"),
        )
    )
    assert f.mpf == Decimal("173.20")  # 0.3464% x 50,000 (the claimed line is excluded)
    assert f.hmf == Decimal("62.50")  # only the ocean line: 0.125% x 50,000


def test_hmf_unknown_when_transport_missing() -> None:
    f = entry_fees(
        _entry(
            "2025-08-15", {"id": "a", "hts": "3926.90.10.00", "country_of_origin": "CN", "entered_value": 100}
        )
    )
    assert f.hmf is None and any("transport" in n for n in f.needs)
