"""Measure records: the packaged encodings load, are internally consistent, and bad records are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from usmca.errors import DataError
from usmca.measures.records import load_measures, parse_measure

D = dt.date


def test_encodings_load_with_unique_ids_and_citations() -> None:
    ms = load_measures()
    assert len(ms.measures) >= 60
    for m in ms.measures:
        assert m.instruments, m.id
        assert m.headings, m.id
        assert m.citation, m.id


def test_ieepa_measures_end_when_collection_ended() -> None:
    # Learning Resources v. Trump (2026-02-20); IEEPA duties not collected on entries from 2026-02-24.
    ms = load_measures()
    ieepa = [m for m in ms.measures if m.authority == "ieepa"]
    assert ieepa
    for m in ieepa:
        assert m.status == "struck_down", m.id
        assert m.valid_to is not None and m.valid_to <= D(2026, 2, 23), m.id
        assert not m.in_force(D(2026, 2, 24))


def test_canada_rate_timeline() -> None:
    # EO 14193 (25% from 2025-03-04), EO 14325 / FR 2025-14999 (35% from 2025-08-01).
    ms = load_measures()

    def ca_rate(d: dt.date) -> Decimal:
        (m,) = [
            m
            for m in ms.in_force(d)
            if m.program == "ieepa_fentanyl_camx" and m.countries == {"CA"} and not m.products.lists
        ]
        return m.rate

    assert ca_rate(D(2025, 3, 4)) == Decimal("0.25")
    assert ca_rate(D(2025, 7, 31)) == Decimal("0.25")
    assert ca_rate(D(2025, 8, 1)) == Decimal("0.35")
    assert ca_rate(D(2026, 2, 23)) == Decimal("0.35")


def test_usmca_exemption_starts_2025_03_07() -> None:
    ms = load_measures()
    on_4 = [m for m in ms.in_force(D(2025, 3, 4)) if m.program == "ieepa_fentanyl_camx"]
    on_7 = [m for m in ms.in_force(D(2025, 3, 7)) if m.program == "ieepa_fentanyl_camx"]
    assert on_4 and not any(m.exempt_usmca_claim for m in on_4)
    assert on_7 and all(m.exempt_usmca_claim for m in on_7)


def test_section_122_window() -> None:
    ms = load_measures()
    s122 = ms.by_id("s122_10")
    assert s122.rate == Decimal("0.10")
    assert not s122.in_force(D(2026, 2, 23))
    assert s122.in_force(D(2026, 2, 24)) and s122.in_force(D(2026, 7, 23))
    assert not s122.in_force(D(2026, 7, 24))
    assert s122.exempt_usmca_claim and "s122:exempt" in s122.exempt_lists


def test_suspended_list_4b_is_never_in_force() -> None:
    assert not load_measures().by_id("s301_list4b").in_force(D(2025, 6, 1))


BASE = {
    "id": "x",
    "authority": "s232",
    "program": "p",
    "headings": ["9903.99.99"],
    "rate": 0.1,
    "instruments": [{"kind": "proclamation", "number": "P 1"}],
    "products": {"all": True},
    "valid_from": "2025-01-01",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base": "metal_content"}, "needs metal"),
        ({"status": "maybe"}, "status"),
        ({"instruments": []}, "instrument"),
        ({"products": {}}, "products"),
        ({"valid_to": "2024-01-01"}, "before valid_from"),
        ({"colour": "red"}, "unknown field"),
        ({"rate": -1}, "negative"),
    ],
)
def test_bad_records_are_refused(change: dict[str, object], message: str) -> None:
    raw = {**BASE, **change}
    with pytest.raises(DataError, match=message):
        parse_measure(raw, "test.yaml")
