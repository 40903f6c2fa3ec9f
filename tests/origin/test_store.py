"""The engine on the real reference store: GN 11(o) corpus, general provisions, Part 6, the schedule.

Citations: CUSMA Rules of Origin Regulations (SOR/2020-155) as named in each docstring; HTSUS GN 11(o)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from usmca.errors import InputError
from usmca.origin.case import load_case, parse_case
from usmca.origin.determine import determine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "auto-part-brake-assembly": ("originating", "B"),
    "auto-part-seat-frame": ("unresolved", None),
    "chemical-insecticide": ("originating", "B"),
    "electronics-control-panel": ("originating", "B"),
    "furniture-dining-table": ("originating", "B"),
    "garment-knit-sweater": ("originating", "B"),
}


def run(
    conn: sqlite3.Connection, good: dict[str, Any], materials: list[dict[str, Any]], date: str = "2026-03-01"
) -> Any:
    return determine(
        parse_case({"date": date, "good": {"country_of_production": "MX", **good}, "materials": materials}),
        conn=conn,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples(name: str, conn: sqlite3.Connection) -> None:
    """The documented examples (examples/*.yaml) reach the outcome their comments explain."""
    d = determine(load_case(EXAMPLES / f"{name}.yaml"), conn=conn)
    assert (d.status, d.criterion) == EXPECTED[name], (d.needs, d.trace)
    assert d.vintage["rules"] and d.vintage["schedule"]
    assert all(t["citation"] for t in d.trace)


def test_every_example_is_listed() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.yaml") if "entry" not in p.stem} <= set(EXPECTED)
    assert len(EXPECTED) >= 5


def test_defective_rule_is_unresolved_with_reason(conn: sqlite3.Connection) -> None:
    """A rule the source's MANIFEST flags is never trusted: unresolved naming the rule and the reason."""
    d = determine(load_case(EXAMPLES / "auto-part-seat-frame.yaml"), conn=conn)
    assert d.rule and d.rule["id"] == "GN11(o)/94/2"
    assert "defective" in d.needs[0] and "GN11(o)/94/2" in d.needs[0]


def test_code_must_exist_on_the_date(conn: sqlite3.Connection) -> None:
    """A code that is not in the schedule on the date is an input error naming the field."""
    with pytest.raises(InputError) as e:
        run(conn, {"hts": "9401.90.1085"}, [])
    assert e.value.field == "good.hts"
    with pytest.raises(InputError) as e:
        run(conn, {"hts": "9403.60.8040"}, [{"hts": "9403.90", "origin": "unknown"}])
    assert e.value.field == "materials[0].hts"


def test_missing_chapter_is_unresolved(conn: sqlite3.Connection) -> None:
    """GN 11(o) chapters 64-67 are missing from the source: unresolved, never guessed."""
    d = run(
        conn,
        {"hts": "6403.99.6075", "transaction_value": 50},
        [{"hts": "4107.11", "origin": "non_originating", "value": 10}],
    )
    assert d.status == "unresolved" and "chapter 64" in d.needs[0]


def test_vehicle_needs_part6_facts(conn: sqlite3.Connection) -> None:
    """Part 6: a passenger vehicle also needs originating core parts (s.14(4)), 70% originating steel and
    aluminum purchases (s.17) and labour value content (s.18): without the producer's figures, unresolved."""
    good = {"hts": "8703.23.0190", "use": "passenger_vehicle", "transaction_value": 30000, "net_cost": 28000}
    mats = [
        {"hts": "8407.34", "origin": "originating", "value": 6000},
        {"hts": "9401.20", "origin": "non_originating", "value": 1500},
    ]
    d = run(conn, good, mats)
    assert d.status == "unresolved"
    assert "good.facts.lvc_percent" in d.needs and "good.facts.core_parts_originating" in d.needs
    assert d.rvc["required"]["net_cost"] == 75.0
    facts = {
        "core_parts_originating": True,
        "steel_aluminum_purchases_originating_percent": 82,
        "lvc_certified": True,
    }
    d = run(conn, {**good, "facts": facts}, mats)
    assert (d.status, d.criterion) == ("originating", "B")
    d = run(conn, {**good, "facts": {**facts, "steel_aluminum_purchases_originating_percent": 60}}, mats)
    assert d.status == "non_originating"


def test_vehicle_rvc_threshold_by_date(conn: sqlite3.Connection) -> None:
    """s.13: the passenger-vehicle threshold is 75% NC from 2023-07-01; 80% of NC fails at 74.9%."""
    good = {
        "hts": "8703.23.0190",
        "use": "passenger_vehicle",
        "transaction_value": 12000,
        "net_cost": 10000,
        "facts": {
            "core_parts_originating": True,
            "steel_aluminum_purchases_originating_percent": 82,
            "lvc_certified": True,
        },
    }
    d = run(conn, good, [{"hts": "9401.20", "origin": "non_originating", "value": 2510}])
    assert d.status == "non_originating" and d.rvc["net_cost"] == 74.9


def test_core_part_threshold_and_use(conn: sqlite3.Connection) -> None:
    """s.14(15): a Table B part for original equipment gets 70% NC / 80% TV from 2023-07-01 in place of the
    rule's RVC; with no use stated the answer names good.use; an aftermarket part keeps the rule
    (s.14(18))."""
    mats = [{"hts": "8413.91", "origin": "non_originating", "value": 25}]
    base = {"hts": "8413.30.9060", "transaction_value": 100, "net_cost": 100}
    oe = run(conn, {**base, "use": "passenger_vehicle"}, mats)
    assert oe.rvc["required"] == {"transaction_value": 80.0, "net_cost": 70.0}
    assert oe.status == "originating"
    none = run(conn, base, mats)
    assert none.status == "unresolved" and any(n.startswith("good.use") for n in none.needs)
    after = run(conn, {**base, "use": "aftermarket"}, mats)
    assert after.status == "originating" and after.rvc["required"]["transaction_value"] == 60.0


def test_branch_qualifier_needs_the_good_type(conn: sqlite3.Connection) -> None:
    """GN 11(o) branches "for a body stamping of 8708.29" vs "any other good": the good's description
    decides."""
    good = {"hts": "8708.29.2120", "use": "passenger_vehicle", "net_cost": 100}
    mats = [{"hts": "7208.51", "origin": "non_originating", "value": 20}]
    d = run(conn, good, mats)
    assert d.status == "unresolved" and any("good.facts.good_type" in n for n in d.needs)
    d = run(conn, {**good, "facts": {"good_type": "body stamping"}}, mats)
    assert d.status == "unresolved" and "good.facts.body_stamping" in d.needs  # Table A.1 "ex 8708.29"
    d = run(conn, {**good, "facts": {"good_type": "body stamping", "body_stamping": True}}, mats)
    assert (d.status, d.criterion) == ("originating", "B")
    assert d.rule and d.rule["id"] == "GN11(o)/87/24" and d.rvc["required"]["net_cost"] == 75.0


def test_condition_on_described_materials(conn: sqlite3.Connection) -> None:
    """A proviso about described materials ("except from printed circuit assemblies of 8538.90") bites only
    when a non-originating material falls in those codes (heading 8537, GN 11(o) ch. 85)."""
    good = {"hts": "8537.10.9170", "transaction_value": 1000, "use": "not_automotive"}
    d = run(conn, good, [{"hts": "8536.20", "origin": "non_originating", "value": 300}])
    assert (d.status, d.criterion) == ("originating", "B")
    d = run(conn, good, [{"hts": "8538.90", "origin": "non_originating", "value": 600}])
    assert d.status == "unresolved" and any("excepted_material_description" in n for n in d.needs)


def test_chapter_rule_requirements_are_facts(conn: sqlite3.Connection) -> None:
    """GN 11(o) ch. 61 chapter rules (sewing thread, pocket bags, coated fabrics) are requirements the
    producer
    states; without them the garment is unresolved naming each note."""
    case = load_case(EXAMPLES / "garment-knit-sweater.yaml")
    facts = {k: v for k, v in case.good.facts.items() if not k.startswith("GN11(o)")}
    d = determine(case.model_copy(update={"good": case.good.model_copy(update={"facts": facts})}), conn=conn)
    assert d.status == "unresolved"
    assert {n.split(":")[0] for n in d.needs} >= {
        "good.facts.GN11(o)/61/note-3",
        "good.facts.GN11(o)/61/note-4",
    }


def test_parts_fallback_reads_the_schedule(conn: sqlite3.Connection) -> None:
    """s.3(4)(a), 3(5)(a): 9402.10 "... chairs and parts thereof" provides for parts; 8516.60 does not."""
    d = run(
        conn,
        {"hts": "9402.10.0000", "transaction_value": 100, "net_cost": 100},
        [{"hts": "9402.10", "origin": "non_originating", "value": 30}],
    )
    assert (d.status, d.criterion) == ("originating", "D")
    d = run(
        conn,
        {"hts": "8516.60.4070", "transaction_value": 100, "net_cost": 100},
        [{"hts": "8516.60", "origin": "non_originating", "value": 30}],
    )
    assert d.status == "unresolved" and any("materials_are_parts" in n for n in d.needs)


def test_unknown_origin_with_store(conn: sqlite3.Connection) -> None:
    """An unknown-origin material that decides the answer is named in `needs`."""
    d = run(
        conn,
        {"hts": "9403.60.8040", "transaction_value": 100, "net_cost": 85},
        [{"id": "legs", "hts": "9403.91", "origin": "unknown", "value": 45}],
    )
    assert d.status == "non_originating" and d.needs[0].startswith("materials[0].origin (legs)")


def test_no_branch_written_for_the_code_is_unresolved(conn: sqlite3.Connection) -> None:
    """Rule GN11(o)/03/2 reaches 0309.90 only through the HS 2017 -> 2022 correlation, and both of its branches
    are written for 0306.11-0308.90: the engine says which branch governs is open (it used to crash)."""
    d = run(
        conn,
        {"hts": "0309.90.10.61", "transaction_value": "100"},
        [{"hts": "0306.16.00.03", "value": "30", "origin": "non_originating"}],
    )
    assert d.status == "unresolved"
    assert d.rule is not None and d.rule["id"] == "GN11(o)/03/2"
    assert any("no alternative of GN11(o)/03/2 is written for 0309.90.10.61" in n for n in d.needs)
