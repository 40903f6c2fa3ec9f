"""Build step "measures": product lists from the synced tariff-actions data, defects handled visibly."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from usmca.measures.scopes import ScopeIndex, _Collector, _load


def test_twelve_digit_defect_is_reported_not_loaded(shared_data: Path) -> None:
    c = _Collector()
    _load(shared_data, c)
    bad = [i for i in c.issues if i[2] == "850511007000"]
    assert len(bad) == 1 and "12-digit" in bad[0][3] and "8505110070" in bad[0][4]
    assert not any(r[1] == "850511007000" for r in c.rows)
    assert any(r[0] == "ieepa:annex_ii" and r[1] == "8505110070" for r in c.rows)


def test_store_lists_cover_every_record_list(conn: sqlite3.Connection) -> None:
    from usmca.measures.records import load_measures

    names = {r[0] for r in conn.execute("SELECT list FROM measure_scope_list")}
    assert load_measures().list_names() <= names
    issues = conn.execute("SELECT count(*) FROM measure_scope_issue WHERE value = '850511007000'").fetchone()[
        0
    ]
    assert issues == 1


def test_scope_index_dates_and_prefix_lengths() -> None:
    idx = ScopeIndex([("l", "7326", "2025-03-12", None), ("l", "73269086", None, "2025-01-31")])
    assert idx.contains("l", "7326908688", dt.date(2025, 1, 1))  # via the 8-digit row
    assert not idx.contains("l", "7326100000", dt.date(2025, 1, 1))  # 7326 starts 2025-03-12
    assert idx.contains("l", "7326100000", dt.date(2025, 3, 12))
    assert not idx.contains("l", "7325", dt.date(2025, 6, 1))
