"""The columnar batch path agrees with the single-line engine on every plan kind (linear and not)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import polars as pl
import pytest

from usmca.errors import InputError
from usmca.measures.batch import duty_columns
from usmca.measures.entry import parse_line
from usmca.measures.stack import duty_line

ROWS = [
    # (hts, country, date, value, claim, steel, us_content, quantity)
    ("6109.10.00.12", "CA", "2025-08-01", "10000.00", False, None, None),  # IEEPA CA 35%
    ("6109.10.00.12", "CA", "2026-02-24", "1234.57", False, None, None),  # s122
    ("6109.10.00.12", "CA", "2026-02-24", "1234.57", True, None, None),  # USMCA: free
    ("7326.90.86.88", "CN", "2025-08-15", "5000.00", False, "2000.00", None),  # 232 content + remainder
    ("7326.90.86.88", "CN", "2025-08-15", "5000.00", False, None, None),  # unresolved: steel content
    ("8703.23.01.90", "MX", "2025-06-01", "30000.00", True, None, "12000.00"),  # non-US content
    ("8703.23.01.90", "MX", "2025-06-01", "30000.00", True, None, None),
    ("0102.29.40.24", "AU", "2025-03-01", "2000.00", False, None, None),  # specific rate: slow path
    ("6109.10.00.12", "DE", "2025-09-01", "777.77", False, None, None),  # EU floor: slow path
    ("9999.99.99.99", "CA", "2025-08-01", "10.00", False, None, None),  # unknown code
]


def test_batch_agrees_with_single_line(conn: sqlite3.Connection) -> None:
    df = pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(ROWS))],
            "hts": [r[0] for r in ROWS],
            "country_of_origin": [r[1] for r in ROWS],
            "entry_date": [dt.date.fromisoformat(r[2]) for r in ROWS],
            "entered_value": [r[3] for r in ROWS],
            "usmca_claim": [r[4] for r in ROWS],
            "steel": [r[5] for r in ROWS],
            "us_content_value": [r[6] for r in ROWS],
        }
    )
    out = duty_columns(df, conn=conn)
    assert out.height == len(ROWS)
    for i, r in enumerate(ROWS):
        raw: dict[str, object] = {
            "id": f"r{i}",
            "hts": r[0],
            "country_of_origin": r[1],
            "entered_value": r[3],
            "usmca_claim": r[4],
        }
        if r[5]:
            raw["metal_content"] = {"steel": r[5]}
        if r[6]:
            raw["us_content_value"] = r[6]
        single = duty_line(parse_line(raw), dt.date.fromisoformat(r[2]), conn=conn)
        row = out.row(i, named=True)
        assert row["status"] == single.status, r
        expect = None if single.total_duty is None else int(single.total_duty * 100)
        assert row["total_duty_cents"] == expect, r
        if single.effective_rate is not None:
            assert Decimal(row["effective_rate_bp"]) / 100 == single.effective_rate, r
    assert out["total_duty_cents"][0] == 515000  # 16.5% + 35% of 10,000.00


def test_sub_cent_values_are_refused(conn: sqlite3.Connection) -> None:
    df = pl.DataFrame(
        {
            "id": ["a"],
            "hts": ["6109100012"],
            "country_of_origin": ["CA"],
            "entry_date": [dt.date(2025, 8, 1)],
            "entered_value": [10.005],
        }
    )
    with pytest.raises(InputError) as ei:
        duty_columns(df, conn=conn)
    assert ei.value.field == "entered_value"
