"""IEEPA refunds by entry: amount (computed from the stack or as declared) and the route by liquidation
status.
Routes: post-summary correction before liquidation (19 CFR 101.9(b)); protest within 180 days of liquidation
(19 U.S.C. 1514(c)(3), 19 CFR 174.12); otherwise no administrative route."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

from usmca.measures.entry import parse_past_entries
from usmca.measures.refunds import refunds

D = dt.date.fromisoformat
LINE = {"id": "L1", "hts": "6109.10.00.12", "country_of_origin": "CA", "entered_value": 10000}


def _doc(**entry: object) -> object:
    return parse_past_entries({"entries": [{"entry_date": "2025-08-15", "lines": [LINE], **entry}]})


def test_unliquidated_entry_goes_by_post_summary_correction(conn: sqlite3.Connection) -> None:
    (r,) = refunds(_doc(entry_number="ABC-1"), D("2026-03-01"), conn)
    # EO 14325 (FR 2025-14999): 35% x 10,000 on a Canadian good not claimed under USMCA.
    assert r.ieepa_computed == Decimal("3500.00") and r.paid_source == "computed"
    assert r.refundable == Decimal("3500.00") and r.route == "post_summary_correction"


def test_liquidated_entry_protest_within_180_days_then_none(conn: sqlite3.Connection) -> None:
    doc = _doc(liquidation_date="2025-12-29", ieepa_deposited=3400)
    (r,) = refunds(doc, D("2026-03-01"), conn)
    assert r.route == "protest" and r.deadline == D("2026-06-27")  # 2025-12-29 + 180 days
    assert r.refundable == Decimal("3400") and r.paid_source == "declared"
    assert "differs from the computed" in r.explanation
    (late,) = refunds(doc, D("2026-07-01"), conn)
    assert late.route == "no_administrative_route"


def test_entries_from_2026_02_24_owe_no_ieepa(conn: sqlite3.Connection) -> None:
    (r,) = refunds(_doc(entry_date="2026-03-02"), D("2026-04-01"), conn)
    assert r.ieepa_computed == Decimal(0) and r.refundable == Decimal(0) and r.route == "none"


def test_usmca_claimed_line_has_nothing_to_refund(conn: sqlite3.Connection) -> None:
    doc = parse_past_entries([{"entry_date": "2025-08-15", "lines": [{**LINE, "usmca_claim": True}]}])
    (r,) = refunds(doc, D("2026-03-01"), conn)
    assert r.refundable == Decimal("0")


def test_past_the_psc_window_waits_for_liquidation(conn: sqlite3.Connection) -> None:
    # Entered 2025-08-15; 300 days later (2026-06-11) a PSC is no longer accepted: protest after liquidation.
    (ok,) = refunds(_doc(), D("2026-06-11"), conn)
    assert ok.route == "post_summary_correction" and ok.deadline == D("2026-06-11")
    (r,) = refunds(_doc(), D("2026-06-12"), conn)
    assert r.route == "protest_after_liquidation" and r.refundable == Decimal("3500.00")
