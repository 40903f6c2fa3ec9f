"""The schedule build step on a small hand-made source: dates, collapsing, inheritance, exclusions."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from usmca.errors import DataError, InputError, NotFoundError
from usmca.nomenclature import schedule
from usmca.nomenclature.schedule_build import build, chapter99_refs, clean_text, read_revision_files


def _row(
    htsno: str,
    indent: int,
    desc: str,
    general: str = "",
    special: str = "",
    other: str = "",
    units: list[str] | None = None,
    footnotes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "htsno": htsno,
        "indent": str(indent),
        "description": desc,
        "superior": None if htsno else "true",
        "units": units or [],
        "general": general,
        "special": special,
        "other": other,
        "footnotes": footnotes or [],
        "quotaQuantity": None,
        "additionalDuties": None,
        "addiitionalDuties": None,
    }


def _rev(general_9401: str, extra: bool = False, m3: str = "$1.13/m3") -> list[dict[str, Any]]:
    rows = [
        _row("9401", 0, "Seats:"),
        _row("", 1, "Parts:"),
        _row("9401.99", 2, "Other:"),
        _row(
            "9401.99.10",
            3,
            "Of seats of a kind used for motor vehicles",
            general_9401,
            "Free (A,S)",
            "25%",
            footnotes=[{"columns": ["general"], "value": "See 9903.88.15. ", "type": "endnote"}],
        ),
        _row("9401.99.10.85", 4, "Other", units=["No."]),
        _row("0205.00.00.00", 0, "Meat of horses", "Free", "", "Free", units=["kg"]),
        _row("0806.10.20", 0, "Grapes", m3, "", m3),
    ]
    if extra:
        rows.append(_row("9401.99.10.90", 4, "Removed later", units=["No."]))
    return rows


def _write(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    with gzip.open(folder / name, "wt", encoding="utf-8") as f:
        json.dump(rows, f)


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    rev_dir = root / "hts" / "revisions"
    rev_dir.mkdir(parents=True)
    _write(rev_dir, "hts_2025_basic.json.gz", _rev("Free", extra=True))
    _write(rev_dir, "hts_2025_rev_1.json.gz", _rev("Free", extra=True, m3="$1.13/m<sup>3</sup>"))
    _write(rev_dir, "hts_2025_rev_2.json.gz", _rev("2.5%"))
    _write(rev_dir, "hts_2025_rev_3.json.gz", _rev("2.5%"))  # date only in SOURCE.md
    _write(rev_dir, "hts_2025_rev_4.json.gz", _rev("2.5%"))  # no date anywhere: excluded, visibly
    (root / "hts" / "revision_dates.csv").write_text(
        "revision,effective_date,policy_effective_date,tpc_date,policy_event,tpc_policy_revision,needs_review\n"
        "basic,2025-01-01,NA,NA,Baseline,NA,NA\n"
        "rev_1,2025-02-01,NA,NA,NA,NA,NA\n"
        "rev_2,2025-03-01,NA,NA,NA,NA,NA\n"
    )
    (root / "hts" / "SOURCE.md").write_text(
        "the tracker excludes 2025 Rev 3 (published 2025-04-15) as editorial\n"
    )
    return root


@pytest.fixture(scope="module")
def mini(src: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    figures = build(conn, src, lambda _m: None)
    assert figures["revisions"] == 4
    assert figures["dates_from_source_md"] == ["2025_rev_3"]
    return conn


def test_revision_dates_from_csv_and_source_md_and_exclusions(src: Path) -> None:
    revs, excluded = read_revision_files(src)
    assert [(r.id, r.effective_date, r.date_source) for r in revs] == [
        ("2025_basic", "2025-01-01", "revision_dates.csv"),
        ("2025_rev_1", "2025-02-01", "revision_dates.csv"),
        ("2025_rev_2", "2025-03-01", "revision_dates.csv"),
        ("2025_rev_3", "2025-04-15", "SOURCE.md"),
    ]
    assert excluded == [
        ("2025_rev_4", "hts_2025_rev_4.json.gz", "no effective date in revision_dates.csv or SOURCE.md")
    ]


def test_identical_consecutive_versions_collapse(mini: sqlite3.Connection) -> None:
    rows = mini.execute(
        "SELECT general, rev_from, rev_to, valid_from, valid_to FROM hts_line WHERE code = '94019910' "
        "ORDER BY rev_from"
    ).fetchall()
    assert rows == [("Free", 0, 1, "2025-01-01", "2025-03-01"), ("2.5%", 2, 3, "2025-03-01", None)]
    # markup that comes and goes (<sup>3</sup>) makes no new version
    assert mini.execute("SELECT count(*), min(general) FROM hts_line WHERE code = '08061020'").fetchone() == (
        1,
        "$1.13/m3",
    )


def test_statistical_line_inherits_rates_and_chapter99_refs(mini: sqlite3.Connection) -> None:
    line = schedule.lookup("9401.99.10.85", dt.date(2025, 3, 5), mini)
    assert (line.general, line.special, line.other) == ("2.5%", "Free (A,S)", "25%")
    assert line.rates_inherited_from == "94019910"
    assert line.chapter99_refs == ("99038815",)
    assert line.path == ("Seats:", "Parts:", "Other:", "Of seats of a kind used for motor vehicles", "Other")
    assert line.revision.id == "2025_rev_2"
    own = schedule.lookup("9401.99.10", dt.date(2025, 3, 5), mini)
    assert own.rates_inherited_from is None


def test_removed_line_says_when_it_existed(mini: sqlite3.Connection) -> None:
    assert schedule.exists("9401.99.10.90", "2025-02-10", mini)
    assert not schedule.exists("9401.99.10.90", "2025-03-10", mini)
    with pytest.raises(
        NotFoundError,
        match=r"9401\.99\.10\.90 does not exist on 2025-03-10; it was valid "
        r"2025-01-01 to 2025-03-01",
    ):
        schedule.lookup("9401991090", "2025-03-10", mini)


def test_zero_padded_line_stands_for_heading(mini: sqlite3.Connection) -> None:
    line = schedule.lookup("0205", "2025-01-02", mini)
    assert (line.code, line.requested) == ("0205000000", "0205")


def test_coverage_before_and_after(mini: sqlite3.Connection) -> None:
    with pytest.raises(
        InputError,
        match=r"as_of: before the schedule's coverage, which starts with 2025 basic "
        r"effective 2025-01-01 \(got '2024-12-31'\)",
    ):
        schedule.lookup("9401.99.10", "2024-12-31", mini)
    late = schedule.lookup("9401.99.10", "2025-09-01", mini)
    assert late.revision.id == "2025_rev_3"
    assert late.coverage_warning and "2025 rev 3" in late.coverage_warning
    assert schedule.lookup("9401.99.10", "2025-04-15", mini).coverage_warning is None


def test_history_and_diff_on_fixture(mini: sqlite3.Connection) -> None:
    h = schedule.history("9401.99.10.85", mini)
    assert [(v.rev_from.id, v.general, v.changed) for v in h.versions] == [
        ("2025_basic", "Free", ("new",)),
        ("2025_rev_2", "2.5%", ("general",)),
    ]
    d = schedule.diff("2025 rev 1", "2025_rev_2", mini)
    assert [x.code for x in d.removed] == ["9401991090"]
    assert d.added == ()
    assert {c.code: c.fields for c in d.changed} == {"94019910": ("general",), "9401991085": ("general",)}


def test_build_fails_loudly_on_dates_out_of_order(tmp_path: Path) -> None:
    rev_dir = tmp_path / "hts" / "revisions"
    rev_dir.mkdir(parents=True)
    _write(rev_dir, "hts_2025_basic.json.gz", _rev("Free"))
    _write(rev_dir, "hts_2025_rev_1.json.gz", _rev("Free"))
    (tmp_path / "hts" / "revision_dates.csv").write_text(
        "revision,effective_date,policy_event\nbasic,2025-02-01,NA\nrev_1,2025-01-15,NA\n"
    )
    with pytest.raises(DataError, match="out of order"):
        read_revision_files(tmp_path)


def test_missing_revisions_folder_names_sync(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="usmca data sync"):
        read_revision_files(tmp_path)


def test_clean_text_and_chapter99_refs() -> None:
    assert clean_text("$1.13/m<sup>3</sup>") == "$1.13/m3"
    assert clean_text("a<br />b  <i>c</i> 5 < 6") == "a b c 5 < 6"
    assert chapter99_refs(["See 9903.88.15. "]) == ["99038815"]
    assert chapter99_refs(["See 9903.88.01-9903.88.04 and 9903.88.15.", "See 9903.88.15."]) == [
        "99038801-99038804",
        "99038815",
    ]
    assert chapter99_refs(["See 9903.01.25 through 9903.01.30."]) == ["99030125-99030130"]
    assert chapter99_refs(["See subheading 2009.89.70 and chapter 99 statistical note 1."]) == []
