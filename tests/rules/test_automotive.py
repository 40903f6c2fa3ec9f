"""Part 6 (automotive goods) of the CUSMA Rules of Origin Regulations as data.

Every expected value below was read by hand in usmca/cusma-rules-of-origin-regulations.txt; the section is
named beside it. Tests that relate current codes to the HS 2012 tables need the store (steps "hs" and
"automotive") through the ``conn`` fixture.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest

from usmca.errors import InputError, NotFoundError
from usmca.rules import automotive as au

D = dt.date
REGS = "usmca/cusma-rules-of-origin-regulations.txt"


# ---------------------------------------------------------------- the YAML against the source text


def _table_codes(text: str, title: str) -> set[str]:
    """Codes in the first column of a Part 6 table, as printed (without the "ex" prefix)."""
    block = text.split(f"## TABLE {title} ", 1)[1].split("\n## ", 1)[0]
    out = set()
    for line in block.splitlines():
        m = re.match(
            r"\s+(?:ex )?(\d{2}\.\d{2}|\d{4}\.\d{2}(?:\.[a-z]{2})?)(?: through (\d{4}\.\d{2}))? \|", line
        )
        if m:
            out.add(m.group(1) if not m.group(2) else f"{m.group(1)}-{m.group(2)}")
    return out


@pytest.mark.parametrize("table", ["A.1", "B", "C", "D", "E"])
def test_tables_transcribe_every_code_of_the_text(shared_data: Path, table: str) -> None:
    text = (shared_data / REGS).read_text(encoding="utf-8")
    printed = _table_codes(text, table)
    ours = {e.code for e in au.model().tables[table].entries}
    assert printed == ours


def test_table_f_codes_match_the_text_with_the_documented_regroupings(shared_data: Path) -> None:
    text = (shared_data / REGS).read_text(encoding="utf-8")
    printed = _table_codes(text, "F")
    ours = {e.code for e in au.model().tables["F"].entries}
    # 8407.34.aa and .bb are kept as one entry 8407.34; the printed line "8507.20.aa, 8507.30.aa, ..." is four
    assert printed - ours == {"8407.34.aa", "8407.34.bb"}
    assert ours - printed == {"8407.34", "8507.20.aa", "8507.30.aa", "8507.40.aa", "8507.80.aa"}


def test_table_counts_match_the_text() -> None:
    m = au.model()
    # counted by hand in Tables A.1 (17 rows), B (38), C (27), D (35), E (15) of Part 6
    assert {t: len(m.tables[t].entries) for t in ("A.1", "B", "C", "D", "E")} == {
        "A.1": 17,
        "B": 38,
        "C": 27,
        "D": 35,
        "E": 15,
    }
    # Table A.2: 7 parts of column 1 with 42 component rows
    assert len({e.part for e in m.a2_entries}) == 7 and len(m.a2_entries) == 42


def test_every_vehicle_rule_is_a_row_of_the_s13_table(shared_data: Path) -> None:
    text = (shared_data / REGS).read_text(encoding="utf-8")
    block = text.split("the product-specific rule of origin for a good of headings 87.01 through 87.08", 1)[1]
    rows = {
        re.split(r"\s+\|", ln.strip())[0].replace(" – ", "-").replace(" - ", "-")
        for ln in block.split("## Further Requirements", 1)[0].splitlines()
        if " | " in ln
    }
    for v in au.model().vehicles:
        assert v.id in rows, v.id


def test_every_item_cites_a_section() -> None:
    m = au.model()
    cites = [s.citation for s in m.schedules.values()] + [t.citation for t in m.tables.values()]
    cites += [b.citation for v in m.vehicles for b in v.branches] + [a.citation for a in m.averaging]
    assert cites and all(c.startswith("CUSMA ROO Regulations s. ") for c in cites)


# ---------------------------------------------------------------- vehicles (s. 13, 17, 18, 19, 20)


@pytest.mark.parametrize(
    ("on", "nc"),
    [
        (D(2020, 7, 1), 66.0),  # s. 13, 8703.21-8703.90 (1)(a)
        (D(2021, 6, 30), 66.0),
        (D(2021, 7, 1), 69.0),  # (1)(b)
        (D(2022, 7, 1), 72.0),  # (1)(c)
        (D(2023, 6, 30), 72.0),
        (D(2023, 7, 1), 75.0),  # (1)(d) "75%, beginning on July 1, 2023"
        (D(2026, 3, 1), 75.0),
    ],
)
def test_passenger_vehicle_rvc_phase_in(conn: sqlite3.Connection, on: dt.date, nc: float) -> None:
    r = au.vehicle_requirement("8703.23.01", "passenger_vehicle", on, conn=conn)
    assert r is not None and r.status == "resolved"
    assert r.vehicle_class == "passenger_vehicle"
    assert r.rvc is not None and r.rvc.net_cost == nc and r.rvc.transaction_value is None  # net cost only
    assert r.shift is not None and r.shift.kind == "any_other" and r.shift.level == "heading"
    assert "s. 13" in r.citation


def test_passenger_vehicle_needs_lvc_steel_and_core_parts(conn: sqlite3.Connection) -> None:
    r = au.vehicle_requirement("8703.80.00", "passenger_vehicle", D(2024, 1, 1), conn=conn)
    assert r is not None and r.lvc is not None and r.steel_aluminum is not None
    # s. 18(1)(d): 40%, at least 25 points high-wage material and labour, at most 10 technology, 5 assembly
    assert (r.lvc.total, r.lvc.high_wage_material_labour_min, r.lvc.technology_max, r.lvc.assembly_max) == (
        40.0,
        25.0,
        10.0,
        5.0,
    )
    assert r.lvc.citation == "CUSMA ROO Regulations s. 18(1)"
    assert r.steel_aluminum.percent == 70.0  # s. 17(1)
    assert r.core_parts_required  # s. 14(4)
    keys = {f.key for f in r.facts}
    assert {"lvc_percent", "steel_aluminum_purchases_originating_percent", "core_parts_originating"} <= keys


@pytest.mark.parametrize(
    ("on", "total", "hwml"),
    [
        (D(2020, 7, 1), 30.0, 15.0),
        (D(2021, 7, 1), 33.0, 18.0),
        (D(2022, 7, 1), 36.0, 21.0),
        (D(2023, 7, 1), 40.0, 25.0),
    ],
)
def test_passenger_vehicle_lvc_phase_in(on: dt.date, total: float, hwml: float) -> None:
    lvc = au.model().lvc_at("passenger_vehicle", on)  # s. 18(1)(a)-(d)
    assert (lvc.total, lvc.high_wage_material_labour_min) == (total, hwml)


def test_light_and_heavy_truck_lvc_is_45(conn: sqlite3.Connection) -> None:
    lt = au.vehicle_requirement("8704.21", "light_truck", D(2020, 7, 1), conn=conn)
    ht = au.vehicle_requirement("8704.23", "heavy_truck", D(2026, 1, 1), conn=conn)
    for r in (lt, ht):
        assert r is not None and r.lvc is not None
        assert (r.lvc.total, r.lvc.high_wage_material_labour_min) == (45.0, 30.0)  # s. 18(2)
    assert lt is not None and lt.rvc is not None and lt.rvc.net_cost == 66.0  # s. 13, 8704.21 (1)(a)
    assert lt.core_parts_required and lt.alternative_staging is not None
    assert ht is not None and not ht.core_parts_required and ht.alternative_staging is None


@pytest.mark.parametrize(
    ("on", "nc"),
    [(D(2024, 6, 30), 60.0), (D(2024, 7, 1), 64.0), (D(2027, 6, 30), 64.0), (D(2027, 7, 1), 70.0)],
)
def test_heavy_truck_rvc_phase_in(conn: sqlite3.Connection, on: dt.date, nc: float) -> None:
    # s. 13, 8704.32-8704.90 (1): 60% to June 30, 2024; 64% to June 30, 2027; 70% from July 1, 2027
    r = au.vehicle_requirement("8704.32", "heavy_truck", on, conn=conn)
    assert r is not None and r.vehicle_class == "heavy_truck" and r.rvc is not None and r.rvc.net_cost == nc


def test_road_tractor_hs2022_maps_from_hs2012_8701_20(conn: sqlite3.Connection) -> None:
    # HS 2022 split HS 2012 8701.20 into 8701.21-8701.29; the s. 13 rule for 8701.20 applies to each
    r = au.vehicle_requirement("8701.21.00", "heavy_truck", D(2025, 1, 1), conn=conn)
    assert r is not None and r.status == "resolved" and r.rvc is not None and r.rvc.net_cost == 64.0
    assert r.mapping is not None and r.mapping.original == "870120" and r.mapping.relationship == "1:n"
    assert "870121" in r.mapping.mapped and "870129" in r.mapping.mapped


def test_off_road_and_other_vehicles(conn: sqlite3.Connection) -> None:
    # s. 13, 8704.21 (2) and s. 20(2)(g): off-road light truck 62.5% net cost; no LVC or steel requirement
    r = au.vehicle_requirement("8704.21", "other_vehicle", D(2024, 1, 1), conn=conn)
    assert r is not None and r.rvc is not None and r.rvc.net_cost == 62.5
    assert r.lvc is None and r.steel_aluminum is None and [x.key for x in r.relief] == ["new_plant", "refit"]
    # s. 13, 8703.10: 60% transaction value or 50% net cost
    s = au.vehicle_requirement("8703.10", None, D(2024, 1, 1), conn=conn)
    assert s is not None and s.rvc is not None and (s.rvc.transaction_value, s.rvc.net_cost) == (60.0, 50.0)
    # s. 13, 87.05: 60% net cost whatever the use
    c = au.vehicle_requirement("8705.10", None, D(2024, 1, 1), conn=conn)
    assert c is not None and c.rvc is not None and c.rvc.net_cost == 60.0


def test_compression_ignition_hybrid_is_not_a_passenger_vehicle(conn: sqlite3.Connection) -> None:
    # s. 12 'passenger vehicle' (a) excludes a vehicle of (HS 2012) 8703.90 with both a compression-ignition
    # engine and an electric motor: HS 2022 8703.50
    r = au.vehicle_requirement("8703.50", "passenger_vehicle", D(2024, 1, 1), conn=conn)
    assert r is not None and r.status == "unresolved" and "s. 12" in (r.unresolved_reason or "")
    o = au.vehicle_requirement("8703.50", "other_vehicle", D(2024, 1, 1), conn=conn)
    assert o is not None and o.rvc is not None and o.rvc.net_cost == 62.5  # s. 13 (2); s. 20(2)(b)


def test_use_must_be_stated_where_the_rule_depends_on_it(conn: sqlite3.Connection) -> None:
    r = au.vehicle_requirement("8703.23", None, D(2024, 1, 1), conn=conn)
    assert r is not None and r.status == "unresolved" and r.needs == ("good.use",)


def test_bus_rule_needs_the_number_of_persons(conn: sqlite3.Connection) -> None:
    # s. 13, 8702.10-8702.90: (1) 15 or fewer persons 62.5%; (2) 16 or more persons 60%
    r = au.vehicle_requirement("8702.10", None, D(2024, 1, 1), conn=conn)
    assert r is not None and r.status == "unresolved" and r.needs == ("good.facts.persons_transported",)
    small = au.vehicle_requirement(
        "8702.10", None, D(2024, 1, 1), facts={"persons_transported": 15}, conn=conn
    )
    big = au.vehicle_requirement("8702.40", None, D(2024, 1, 1), facts={"persons_transported": 16}, conn=conn)
    assert small is not None and small.rvc is not None and small.rvc.net_cost == 62.5
    assert big is not None and big.rvc is not None and big.rvc.net_cost == 60.0


def test_non_one_to_one_mapping_is_unresolved_unless_settled(conn: sqlite3.Connection) -> None:
    # HS 2022 8704.41 takes goods of HS 2012 8704.21 (light truck) and 8704.90 (heavy truck)
    lt = au.vehicle_requirement("8704.41", "light_truck", D(2024, 1, 1), conn=conn)
    assert lt is not None and lt.status == "resolved" and lt.rvc is not None and lt.rvc.net_cost == 75.0
    off = au.vehicle_requirement("8704.41", "other_vehicle", D(2024, 1, 1), conn=conn)
    assert off is not None and off.status == "unresolved" and off.needs == ("good.facts.hs2012_subheading",)
    settled = au.vehicle_requirement(
        "8704.41", "other_vehicle", D(2024, 1, 1), facts={"hs2012_subheading": "8704.21"}, conn=conn
    )
    assert settled is not None and settled.rvc is not None and settled.rvc.net_cost == 62.5
    # HS 2022 8704.60 (electric) comes only from HS 2012 8704.90, a heavy-truck subheading (s. 12)
    el = au.vehicle_requirement("8704.60", "light_truck", D(2024, 1, 1), conn=conn)
    assert el is not None and el.status == "unresolved" and "8704.90" in (el.unresolved_reason or "")


def test_chassis_with_engine_is_a_vehicle_only_for_a_heavy_truck(conn: sqlite3.Connection) -> None:
    # s. 12 'heavy truck' includes a chassis fitted with an engine of 87.06 for use in a heavy truck;
    # s. 13, 87.06 (2): no required change, RVC 60/64/70
    r = au.vehicle_requirement("8706.00", "heavy_truck", D(2027, 7, 1), conn=conn)
    assert r is not None and r.rvc is not None and r.rvc.net_cost == 70.0
    assert r.shift is not None and r.shift.kind == "no_change"
    assert au.vehicle_requirement("8706.00", "passenger_vehicle", D(2027, 7, 1), conn=conn) is None
    assert au.vehicle_requirement("8708.29", "passenger_vehicle", D(2027, 7, 1), conn=conn) is None


def test_steel_and_aluminum_requirement() -> None:
    before = au.model().steel_at(D(2027, 6, 30))
    after = au.model().steel_at(D(2027, 7, 1))
    assert before.percent == after.percent == 70.0  # s. 17(1)
    assert before.originating_steel_rule == "s13_or_schedule1"  # s. 17(5)(a)
    assert after.originating_steel_rule == "melted_and_poured"  # s. 17(5)(b)
    assert (
        au.check_steel_aluminum(before, {"steel_aluminum_purchases_originating_percent": 70}).passed is True
    )
    assert (
        au.check_steel_aluminum(before, {"steel_aluminum_purchases_originating_percent": 69.9}).passed
        is False
    )
    both = {"steel_purchases_originating_percent": 80, "aluminum_purchases_originating_percent": 75}
    assert au.check_steel_aluminum(before, both).passed is True
    open_ = au.check_steel_aluminum(before, {})
    assert open_.passed is None and open_.needs == (
        "good.facts.steel_aluminum_purchases_originating_percent",
    )


def test_lvc_check() -> None:
    req = au.model().lvc_at("passenger_vehicle", D(2024, 1, 1))  # 40%, at least 25 high-wage points
    assert au.check_lvc(req, {"lvc_certified": True}).passed is True
    assert au.check_lvc(req, {"lvc_percent": 41, "lvc_high_wage_material_labour_points": 41}).passed is True
    assert au.check_lvc(req, {"lvc_percent": 41, "lvc_high_wage_material_labour_points": 24}).passed is False
    # credits above their caps do not count: 26 + min(12, 10) + min(3, 5) = 39 < 40
    capped = {
        "lvc_high_wage_material_labour_points": 26,
        "lvc_technology_credit_points": 12,
        "lvc_assembly_credit_points": 3,
    }
    assert au.check_lvc(req, capped).passed is False
    assert au.check_lvc(req, {}).needs == (
        "good.facts.lvc_percent",
        "good.facts.lvc_high_wage_material_labour_points",
    )
    with pytest.raises(InputError):
        au.check_lvc(req, {"lvc_percent": 140, "lvc_high_wage_material_labour_points": 30})
    assert au.check_core_parts({"core_parts_originating": False}).passed is False


def test_alternative_staging_regime_values() -> None:
    a = au.model().alt  # s. 19(2), (4), (5)
    assert (a.vehicle_rvc_net_cost, a.core_parts_net_cost, a.core_parts_transaction_value) == (
        62.5,
        62.5,
        72.5,
    )
    assert (a.steel_percent, a.aluminum_percent, a.lvc.total, a.lvc.high_wage_material_labour_min) == (
        70.0,
        70.0,
        25.0,
        10.0,
    )
    assert a.default_end == D(2025, 6, 30) and a.core_parts_exempt


def test_averaging_options_are_listed() -> None:
    keys = {a.key: a for a in au.model().averaging}
    assert set(keys) == {"vehicle_rvc", "parts_rvc", "lvc", "steel_aluminum", "other_vehicle_rvc"}
    assert keys["vehicle_rvc"].citation.startswith("CUSMA ROO Regulations s. 16(1)")
    assert len(keys["vehicle_rvc"].categories) == 4  # s. 16(1)(a)-(d)


def test_dates_before_entry_into_force_and_bad_codes_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(InputError):
        au.vehicle_requirement("8703.23", "passenger_vehicle", D(2020, 6, 30), conn=conn)
    with pytest.raises(InputError):
        au.core_part("8708", "passenger_vehicle", D(2024, 1, 1), conn=conn)
    with pytest.raises(NotFoundError):
        au.vehicle_requirement(
            "8701.20", "heavy_truck", D(2024, 1, 1), conn=conn
        )  # HS 2012 code, gone in 2022
    with pytest.raises(InputError):
        au.core_part("8708.40", "truck", D(2024, 1, 1), conn=conn)


# ---------------------------------------------------------------- parts (s. 14, 15, 20; Tables A.1-F)


@pytest.mark.parametrize(
    ("on", "nc", "tv"),
    [
        (D(2020, 7, 1), 66.0, 76.0),
        (D(2021, 7, 1), 69.0, 79.0),
        (D(2022, 7, 1), 72.0, 82.0),
        (D(2023, 7, 1), 75.0, 85.0),
    ],
)
def test_core_part_rvc_schedule(conn: sqlite3.Connection, on: dt.date, nc: float, tv: float) -> None:
    # s. 14(13)(a)-(d): Table A.1 parts for use as original equipment in a passenger vehicle or light truck
    r = au.core_part("8708.40.75", "passenger_vehicle", on, conn=conn)
    assert r is not None and r.status == "applies" and r.table == "A.1" and r.kind == "core"
    assert r.rvc is not None and (r.rvc.net_cost, r.rvc.transaction_value) == (nc, tv)
    assert r.rvc_only  # s. 14(2): "is originating only if it satisfies the RVC requirement"
    assert "s. 14(13)" in r.citation


def test_table_a1_code_mapped_from_hs2012(conn: sqlite3.Connection) -> None:
    # Table A.1 8707.10 "Bodies for the vehicles of heading 87.03": HS 2012 8707.10 = HS 2022 8707.10 (1:1)
    m = au.code_map("8707.10", conn=conn)
    assert m is not None and m.mapped == ("870710",) and m.relationship == "1:1"
    # HS 2012 8708.29 reaches HS 2022 8708.22 (new in 2017) and 8708.29: recorded as not one-to-one
    m29 = au.code_map("8708.29", conn=conn)
    assert m29 is not None and {"870822", "870829"} <= set(m29.mapped) and m29.relationship != "1:1"
    # a good of HS 2022 8708.40 has one counterpart, HS 2012 8708.40: its Table A.1 membership is certain
    hits = [x for x in au.part_table("8708.40.75", conn=conn) if x.table == "A.1"]
    assert len(hits) == 1 and hits[0].certain and hits[0].counterparts == ("870840",)


def test_the_misprinted_table_a2_code_is_recorded_not_corrected(conn: sqlite3.Connection) -> None:
    m = au.code_map("8537.90", conn=conn)
    assert m is not None and m.relationship == "none" and m.mapped == ("",)


def test_body_stampings_split_between_tables_a1_and_b(conn: sqlite3.Connection) -> None:
    open_ = au.core_part("8708.29.50", "passenger_vehicle", D(2024, 1, 1), conn=conn)
    assert open_ is not None and open_.status == "unresolved" and open_.needs == ("good.facts.body_stamping",)
    stamp = au.core_part(
        "8708.29.50", "passenger_vehicle", D(2024, 1, 1), facts={"body_stamping": True}, conn=conn
    )
    assert stamp is not None and stamp.table == "A.1" and stamp.rvc is not None and stamp.rvc.net_cost == 75.0
    other = au.core_part(
        "8708.29.50", "light_truck", D(2024, 1, 1), facts={"body_stamping": False}, conn=conn
    )
    # s. 14(15)(d): Table B 70% net cost or 80% transaction value from July 1, 2023
    assert other is not None and other.table == "B" and other.rvc is not None
    assert (other.rvc.net_cost, other.rvc.transaction_value) == (70.0, 80.0) and not other.rvc_only


def test_table_c_and_heavy_truck_tables(conn: sqlite3.Connection) -> None:
    c = au.core_part("8301.20", "passenger_vehicle", D(2021, 1, 1), conn=conn)  # s. 14(17)(a): 62 / 72
    assert (
        c is not None
        and c.table == "C"
        and c.rvc is not None
        and (c.rvc.net_cost, c.rvc.transaction_value) == (62.0, 72.0)
    )
    d = au.core_part("8708.30", "heavy_truck", D(2025, 1, 1), conn=conn)  # s. 15(2)(b): 64 / 74
    assert (
        d is not None
        and d.table == "D"
        and d.rvc is not None
        and (d.rvc.net_cost, d.rvc.transaction_value) == (64.0, 74.0)
    )
    assert d.rvc.transaction_value_if_rule_allows
    e = au.core_part("8482.10", "heavy_truck", D(2028, 1, 1), conn=conn)  # s. 15(3)(c): 60 / 70
    assert e is not None and e.table == "E" and e.rvc is not None and e.rvc.net_cost == 60.0
    # s. 15(4): an engine for a heavy truck is originating only by the s. 15(2) RVC
    eng = au.core_part("8408.20", "heavy_truck", D(2024, 1, 1), conn=conn)
    assert eng is not None and eng.rvc_only and eng.rvc is not None and eng.rvc.net_cost == 60.0


def test_other_vehicle_parts_table_f(conn: sqlite3.Connection) -> None:
    f = au.core_part("8708.30", "other_vehicle", D(2024, 1, 1), conn=conn)  # s. 20(3)(c): 60% net cost
    assert f is not None and f.table == "F" and f.rvc is not None and f.rvc.net_cost == 60.0
    assert f.applies_only_if_rule_has_rvc
    bearing = au.core_part("8482.10", "other_vehicle", D(2024, 1, 1), conn=conn)  # excepted by s. 20(3)(c)
    assert bearing is not None and bearing.status == "exempt" and bearing.rvc is None
    eng = au.core_part("8407.34", "other_vehicle", D(2024, 1, 1), conn=conn)  # s. 20(2)(h) or 20(3)(b)
    assert eng is not None and eng.status == "unresolved" and eng.needs == ("good.facts.for_s20_2_vehicle",)
    eng2 = au.core_part(
        "8407.34", "other_vehicle", D(2024, 1, 1), facts={"for_s20_2_vehicle": True}, conn=conn
    )
    assert eng2 is not None and eng2.rvc is not None and eng2.rvc.net_cost == 62.5


def test_aftermarket_and_unstated_use(conn: sqlite3.Connection) -> None:
    # s. 14(18): the Table A.1, B and C thresholds do not apply to aftermarket parts
    assert au.core_part("9401.20", "aftermarket", D(2024, 1, 1), conn=conn) is None
    r = au.core_part("9401.20", None, D(2024, 1, 1), conn=conn)
    assert r is not None and r.status == "unresolved" and r.needs == ("good.use",)
    assert au.core_part("9403.20", None, D(2024, 1, 1), conn=conn) is None  # in no table


def test_propulsion_battery_is_excepted_from_table_a1(conn: sqlite3.Connection) -> None:
    # s. 14(2)-(3): a lithium-ion propulsion battery meets s. 14 or Schedule 1, not the Table A.1 RVC
    r = au.core_part(
        "8507.60", "passenger_vehicle", D(2024, 1, 1), facts={"propulsion_battery": True}, conn=conn
    )
    assert r is not None and r.status == "exempt" and r.rvc is None


def test_ambiguous_mapping_of_a_part_is_unresolved(conn: sqlite3.Connection) -> None:
    # HS 2022 8524.11 (flat panel display modules) takes goods of many HS 2012 subheadings, 8708.29 among them
    r = au.core_part("8524.11", "passenger_vehicle", D(2024, 1, 1), conn=conn)
    assert r is not None and r.status == "unresolved" and r.needs == ("good.facts.hs2012_subheading",)


def test_table_s_lists_steel_and_aluminum(conn: sqlite3.Connection) -> None:
    steel = [x for x in au.part_table("7208.25", conn=conn) if x.table == "S:steel"]
    alu = [x for x in au.part_table("7606.12", conn=conn) if x.table == "S:aluminum"]
    assert steel and alu and steel[0].citation.startswith("CUSMA ROO Regulations s. 17")


def test_build_figures_recorded(conn: sqlite3.Connection) -> None:
    report = dict(conn.execute("SELECT key, value FROM meta").fetchall())["report"]
    assert '"automotive"' in report and "codes_not_in_edition" in report
    n = conn.execute("SELECT COUNT(*) FROM automotive_table_entry WHERE table_id = 'A.1'").fetchone()[0]
    assert n == 17
