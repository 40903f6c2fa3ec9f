"""``CodeIndex`` answers as a scan of every ``CodeSet.contains`` would, and the indexed lookups built on it
(correlation prefixes, Part 6 tables, s. 5(3) exceptions, Schedule 2) answer as the scans they replace."""

from __future__ import annotations

import datetime as dt
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from usmca.errors import UsmcaError
from usmca.nomenclature import schedule
from usmca.nomenclature.codes import CodeIndex, CodeRange, CodeSet
from usmca.nomenclature.correlate import nomenclature
from usmca.rules import automotive, general

WIDTHS = (2, 4, 6, 8, 10)


@st.composite
def code_ranges(draw: st.DrawFn) -> CodeRange:
    w = draw(st.sampled_from(WIDTHS))
    # codes clustered in a few chapters so that ranges and codes meet often
    ch = draw(st.sampled_from(("01", "39", "84", "85", "87", "99")))
    a = ch + "".join(draw(st.lists(st.sampled_from("0159"), min_size=w - 2, max_size=w - 2)))
    b = ch + "".join(draw(st.lists(st.sampled_from("0159"), min_size=w - 2, max_size=w - 2)))
    if w == 2:
        b = draw(st.sampled_from(("01", "39", "84", "85", "87", "99")))
    return CodeRange(min(a, b), max(a, b))


codes = st.builds(
    lambda ch, rest: ch + rest,
    st.sampled_from(("01", "39", "84", "85", "86", "87", "99")),
    st.sampled_from(("", "0", "00", "01", "0199", "5900", "590011", "99", "9999", "999999", "10", "1000")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(code_ranges(), min_size=0, max_size=4), min_size=0, max_size=6), st.lists(codes, max_size=20))
def test_index_agrees_with_a_scan(sets: list[list[CodeRange]], asked: list[str]) -> None:
    code_sets = [CodeSet(tuple(rs)) for rs in sets]
    index = CodeIndex(code_sets)
    for code in asked:
        want = tuple(i for i, s in enumerate(code_sets) if s.contains(code))
        assert index.containing(code) == want, (code, sets)
        assert index.any_contains(code) is bool(want)


def test_correlation_prefixes_agree_with_a_scan(conn: sqlite3.Connection) -> None:
    nom = nomenclature(conn)
    for edition in ("HS2012", "HS2017"):
        keys = sorted(nom._table(edition))
        for code in ("84", "8407", "840734", "8549", "01", "0101", "99", "9999", "999999", "27"):
            assert nom._prefixed(edition, code) == [k for k in keys if k.startswith(code)], (edition, code)
        # a lookup of an absent code adds nothing to the table
        before = len(nom._table(edition))
        nom.map_to_2022("999999", edition)
        assert len(nom._table(edition)) == before


def test_schedule_path_is_the_lines_path(conn: sqlite3.Connection) -> None:
    nom = nomenclature(conn)
    subs = sorted(c for c in nom.hs2022 if len(c) == 6)[::25]
    seen = 0
    for code in [*subs, "0205", "870323", "8703230190", "9903880100", "1234567890"]:
        for day in (dt.date(2025, 3, 1), dt.date(2026, 3, 1), dt.date(2030, 1, 1)):
            try:
                want: object = schedule.lookup(code, day, conn=conn).path
            except UsmcaError as exc:
                want = (type(exc), str(exc))
            try:
                got: object = schedule.path(code, day, conn=conn)
            except UsmcaError as exc:
                got = (type(exc), str(exc))
            assert got == want, (code, day)
            seen += 1
    assert seen > 600


def _side_by_scan(code: str, side: str, conn: sqlite3.Connection) -> tuple[tuple[int, bool], ...]:
    p = general.provisions()
    olds = general._hs2017(code, conn)
    out = []
    for i, e in enumerate(p.exceptions):
        hit, full = general._side(e.good if side == "good" else e.material, olds)
        if hit:
            out.append((i, full and not general._needs(hit)))
    return tuple(out)


def test_indexed_general_lookups_agree_with_scans(conn: sqlite3.Connection) -> None:
    nom = nomenclature(conn)
    p = general.provisions()
    named = 0
    for code in sorted(c for c in nom.hs2022 if len(c) == 6):
        for side in ("good", "material"):
            got = general.exclusion_sides(code, side, conn)
            assert got == _side_by_scan(code, side, conn), (code, side)
            named += bool(got)
        olds = nom.old_codes_of(code, "HS2017") or (code,)
        for o in olds:
            want = [s for s in p.schedule_2 if s.subheadings.contains(o)]
            assert [p.schedule_2[i] for i in p.schedule_2_index.containing(o)] == want
    assert named > 100  # the exceptions name codes in many chapters


def test_indexed_part6_tables_agree_with_a_scan(conn: sqlite3.Connection) -> None:
    nom = nomenclature(conn)
    m = automotive.model()
    groups = [(t.id, t.entries, t.codes) for t in m.tables.values()]
    groups.append(("A.2", m.a2_entries, CodeSet(tuple(r for e in m.a2_entries for r in e.codes.ranges))))
    for metal in ("steel", "aluminum"):
        entries = tuple(e for e in m.s_entries if e.table == f"S:{metal}")
        groups.append((f"S:{metal}", entries, CodeSet(tuple(r for e in entries for r in e.codes.ranges))))
    listed = 0
    for code in sorted(c for c in nom.hs2022 if len(c) == 6 and c[:2] in ("39", "40", "70", "73", "84", "85", "87")):
        olds = automotive._counterparts(code, conn)
        got = [(x.table, x.entry, x.certain) for x in automotive.part_table(code, conn=conn)]
        want = [
            (table, e, all(scope.contains(o) for o in olds))
            for table, entries, scope in groups
            for e in entries
            if any(e.codes.contains(o) for o in olds)
        ]
        assert got == want, code
        listed += bool(got)
    assert listed > 100


def test_relationship_without_the_shared_list(conn: sqlite3.Connection) -> None:
    nom = nomenclature(conn)
    for edition in ("HS2012", "HS2017"):
        keys = sorted(nom._table(edition))
        for code in [*keys, *sorted({k[:4] for k in keys}), *sorted({k[:2] for k in keys}), "999999"]:
            full, quick = nom.map_to_2022(code, edition), nom.map_to_2022(code, edition, list_shared=False)
            assert (quick.hs2022, quick.relationship, quick.shared_with) == (full.hs2022, full.relationship, ()), code
