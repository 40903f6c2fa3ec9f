"""Schedule queries on the real store. Expected values were read from the USITC JSON files by hand."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3

import pytest

from usmca.errors import InputError, NotFoundError
from usmca.nomenclature import schedule


def test_revisions_cover_all_44_and_mark_rev8_date(conn: sqlite3.Connection) -> None:
    revs = schedule.revisions(conn)
    assert len(revs) == 44
    assert (revs[0].id, revs[0].effective_date) == ("2025_basic", dt.date(2025, 1, 1))
    assert (revs[-1].id, revs[-1].effective_date, revs[-1].valid_to) == (
        "2026_rev_10",
        dt.date(2026, 6, 8),
        None,
    )
    rev8 = schedule.find_revision("2026 rev 8", conn)
    # not in revision_dates.csv: the date is the publication date SOURCE.md states, and says so
    assert (rev8.effective_date, rev8.date_source) == (dt.date(2026, 5, 22), "SOURCE.md")
    assert "not in revision_dates.csv" in rev8.note
    assert schedule.revision_on("2026-05-27", conn).id == "2026_rev_8"
    assert schedule.revision_on("2026-05-28", conn).id == "2026_rev_9"
    assert all(a.valid_to == b.effective_date for a, b in itertools.pairwise(revs))


def test_known_line_2025_rev_17(conn: sqlite3.Connection) -> None:
    # hts_2025_rev_17: 8708.99.81 "Other" 2.5% / Free (A*,AU,B,...,S,SG) / 25%; 8708.99.81.80 blank, units No.
    line = schedule.lookup("8708.99.81.80", dt.date(2025, 7, 15), conn)
    assert line.revision.id == "2025_rev_17"
    assert (line.code, line.code_dotted, line.level, line.indent) == (
        "8708998180",
        "8708.99.81.80",
        "statistical",
        7,
    )
    assert line.general == "2.5%"
    assert line.special == "Free (A*,AU,B,BH,CL,CO,D,E,IL,JO,KR,MA,OM,P,PA,PE,S,SG)"
    assert line.other == "25%"
    assert line.rates_inherited_from == "87089981"
    assert line.units == ("No.",)
    assert line.path[0] == "Parts and accessories of the motor vehicles of headings 8701 to 8705:"
    assert line.path[-2:] == ("Other", "Other")
    assert line.parent_code == "87089981"
    assert set(line.chapter99_refs) >= {"99038803", "99039008"}  # from the 8-digit line's rate footnotes
    assert line.citation == "HTSUS 8708.99.81.80, revision 2025 rev 17"


def test_codes_with_and_without_dots_agree(conn: sqlite3.Connection) -> None:
    a = schedule.lookup("8708.99.81", "2026-03-01", conn)
    b = schedule.lookup("87089981", "2026-03-01", conn)
    assert a == b
    assert a.general == "2.5%" and a.rates_inherited_from is None


def test_special_rate_changed_2025_to_2026(conn: sqlite3.Connection) -> None:
    # 0201.10.50: Korea's staged 1.7% ends with the 2026 basic edition (KR moves into the Free list).
    old = schedule.lookup("0201.10.50", "2025-12-31", conn)
    new = schedule.lookup("0201.10.50", "2026-01-01", conn)
    assert old.revision.id == "2025_rev_32" and new.revision.id == "2026_basic"
    assert old.general == new.general == "26.4%"
    assert "1.7% (KR)" in old.special
    assert new.special.startswith("Free (BH,CL,CO,JO,KR,MA,OM,P,PE,S,SG)")
    assert old.valid_to == dt.date(2026, 1, 1) and new.valid_from == dt.date(2026, 1, 1)


def test_chapter99_rate_change_in_history(conn: sqlite3.Connection) -> None:
    # 9903.01.10 (Canada): "+ 25%" from 2025 rev 3, "+ 35%" from 2025 rev 17.
    h = schedule.history("9903.01.10", conn)
    generals = [(v.rev_from.id, v.general) for v in h.versions]
    assert generals[0] == ("2025_rev_3", "The duty provided in the applicable subheading + 25%")
    assert generals[-1] == ("2025_rev_17", "The duty provided in the applicable subheading + 35%")
    assert "general" in h.versions[-1].changed
    assert h.versions[-1].valid_from == dt.date(2025, 7, 1)


def test_line_only_in_earlier_revisions(conn: sqlite3.Connection) -> None:
    # 0201.30.50.85 is in 2026 rev 1 and not in 2026 rev 2 (split into .91/.97).
    assert schedule.exists("0201.30.50.85", "2025-06-01", conn)
    assert not schedule.exists("0201.30.50.85", "2026-03-01", conn)
    assert schedule.exists("0201.30.50.91", "2026-03-01", conn)
    assert not schedule.exists("0201.30.50.91", "2025-06-01", conn)
    with pytest.raises(NotFoundError) as err:
        schedule.lookup("0201.30.50.85", "2026-03-01", conn)
    assert (
        str(err.value) == "0201.30.50.85 does not exist on 2026-03-01; it was valid 2025-01-01 to 2026-01-30"
    )


def test_heading_without_subdivisions_resolves_to_its_line(conn: sqlite3.Connection) -> None:
    line = schedule.lookup("0205", "2025-03-01", conn)
    assert (line.code, line.requested) == ("0205000000", "0205")
    assert line.description == "Meat of horses, asses, mules or hinnies, fresh, chilled or frozen"


def test_bad_input_names_the_value(conn: sqlite3.Connection) -> None:
    with pytest.raises(InputError, match=r"code: .*\(got '94x'\)"):
        schedule.lookup("94x", "2025-03-01", conn)
    with pytest.raises(InputError, match=r"has 4, 6, 8, 10 digits, this one has 5 \(got '94019'\)"):
        schedule.lookup("94019", "2025-03-01", conn)
    with pytest.raises(InputError, match=r"as_of: before the schedule's coverage.*\(got '2024-12-31'\)"):
        schedule.lookup("9401.99.10", "2024-12-31", conn)
    with pytest.raises(InputError, match=r"as_of: dates are written YYYY-MM-DD \(got '2025/03/01'\)"):
        schedule.lookup("9401.99.10", "2025/03/01", conn)
    with pytest.raises(NotFoundError, match=r"^9999\.99 is not in any HTS revision in the store"):
        schedule.lookup("9999.99", "2025-03-01", conn)
    with pytest.raises(InputError, match=r"rev_a: no such HTS revision in the store \(got '2025 rev 99'\)"):
        schedule.diff("2025 rev 99", "2026 basic", conn)
    with pytest.raises(InputError, match=r"text: search needs at least one word \(got '  '\)"):
        schedule.search("  ", "2025-03-01", conn=conn)


def test_after_newest_revision_answers_with_warning(conn: sqlite3.Connection) -> None:
    line = schedule.lookup("8708.99.81", "2026-11-01", conn)
    assert line.revision.id == "2026_rev_10"
    assert line.coverage_warning is not None and "usmca data sync" in line.coverage_warning
    assert schedule.lookup("8708.99.81", "2026-06-08", conn).coverage_warning is None


def test_children_and_subheadings(conn: sqlite3.Connection) -> None:
    kids = schedule.children("8708.99.81", "2025-08-01", conn)
    assert [k.code for k in kids] == ["8708998105", "8708998115", "8708998130", "8708998160", "8708998180"]
    subs = schedule.subheadings("2025-08-01", conn)
    assert {"870899", "940199", "020500", "010121"} <= subs  # 0101.21 and 0205.00 have no 6-digit row
    assert all(len(s) == 6 and s < "98" for s in subs)
    assert "990301" in schedule.subheadings("2025-08-01", conn, include_chapters_98_99=True)


def test_search_ranks_the_obvious_line_first(conn: sqlite3.Connection) -> None:
    res = schedule.search("seats motor vehicles", "2025-06-01", limit=10, conn=conn)
    codes = [h.code for h in res.hits]
    assert codes[0] == "9401200000"
    assert "94019910" in codes
    assert res.revision.id == "2025_rev_15"
    # an ancestor's words count: "brake hoses" lines sit under 8708 motor-vehicle parts
    hoses = schedule.search("brake hoses plastics", "2025-06-01", limit=5, conn=conn)
    assert hoses.hits[0].code == "8708998105"
    # words with FTS syntax are inert, not errors
    assert schedule.search('seats" OR (NEAR', "2025-06-01", conn=conn).hits


def test_diff_counts_match_source(conn: sqlite3.Connection) -> None:
    # From the JSON files: 2026 rev 1 -> rev 2 adds 176 coded lines and removes 66.
    d = schedule.diff("2026_rev_1", "2026_rev_2", conn)
    assert (len(d.added), len(d.removed)) == (176, 66)
    assert "0201305085" in {x.code for x in d.removed}
    d2 = schedule.diff("2025_rev_32", "2026 basic", conn)
    assert (len(d2.added), len(d2.removed)) == (11, 451)
    ch = {c.code: c for c in d2.changed}
    assert ch["0201105010"].fields == ("special",)
    assert schedule.diff("2026_rev_7", "2026-05-22", conn).rev_b.id == "2026_rev_8"


def test_missing_store_says_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from usmca import store
    from usmca.errors import StoreMissingError

    monkeypatch.setenv("USMCA_STORE", f"{tmp_path}/nowhere.sqlite")
    store.reset()
    try:
        with pytest.raises(StoreMissingError, match=r"nowhere\.sqlite.*usmca data build"):
            schedule.lookup("8708.99.81", "2025-03-01")
    finally:
        monkeypatch.undo()
        store.reset()
