"""Validation of the origin case (interchange format section 1): every error names its dotted path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from usmca.errors import InputError
from usmca.origin.case import load_case, loads_case, parse_case

BASE: dict[str, Any] = {
    "date": "2026-03-01",
    "method": "best",
    "good": {"hts": "9401.99.1085", "country_of_production": "MX", "transaction_value": 40},
    "materials": [{"id": "m1", "hts": "8301.60", "origin": "non_originating", "value": 4.2}],
}


def bad(mutate: Any) -> InputError:
    d = copy.deepcopy(BASE)
    mutate(d)
    with pytest.raises(InputError) as e:
        parse_case(d)
    return e.value


def test_valid_case_normalizes_codes() -> None:
    c = parse_case(copy.deepcopy(BASE))
    assert c.good.hts == "9401991085"
    assert c.materials[0].hts == "830160"
    assert str(c.materials[0].value) == "4.2"


def test_unknown_field_is_named_with_its_path() -> None:
    e = bad(lambda d: d["materials"][0].update(colour="red"))
    assert e.field == "materials[0].colour"
    assert "unknown field" in e.problem
    assert bad(lambda d: d["good"].update(hts_code="1")).field == "good.hts_code"


def test_negative_values_rejected() -> None:
    assert bad(lambda d: d["materials"][0].update(value=-1)).field == "materials[0].value"
    e = bad(lambda d: d["materials"][0].update(deductions={"freight": -1}))
    assert e.field == "materials[0].deductions.freight"
    assert bad(lambda d: d["good"].update(transaction_value=-5)).field == "good.transaction_value"


def test_codes_go_through_normalize_code() -> None:
    assert bad(lambda d: d["materials"][0].update(hts="83x")).field == "materials[0].hts"
    e = bad(lambda d: d["materials"][0].update(hts=8301.6))
    assert e.field == "materials[0].hts" and "quotes" in e.problem
    assert bad(lambda d: d["good"].update(hts="940")).field == "good.hts"


def test_country_checks() -> None:
    e = bad(lambda d: d["materials"][0].update(origin="originating", country="CN"))
    assert e.field == "materials[0].country" and "territory" in e.problem
    assert (
        bad(lambda d: d["good"].update(country_of_production="Mexico")).field == "good.country_of_production"
    )


def test_missing_required_fields() -> None:
    assert bad(lambda d: d["good"].pop("hts")).field == "good.hts"
    assert bad(lambda d: d["materials"][0].pop("origin")).field == "materials[0].origin"
    assert bad(lambda d: d.pop("date")).field == "date"


def test_vnm_above_transaction_value_rejected() -> None:
    e = bad(lambda d: d["materials"][0].update(value=50))
    assert e.field == "good.transaction_value"


def test_cycles_in_sub_bills_rejected() -> None:
    e = bad(
        lambda d: d["materials"][0].update(
            origin=None, materials=[{"id": "m1", "hts": "8301", "origin": "unknown"}]
        )
    )
    assert "cycle" in e.problem and e.field == "materials[0].materials[0].id"
    text = """
date: 2026-03-01
good: {hts: "9401.99.1085", country_of_production: MX}
materials:
  - &a
    id: frame
    hts: "9401.99"
    materials: [*a]
"""
    with pytest.raises(InputError) as ei:
        loads_case(text)
    assert "cycle" in ei.value.problem


def test_consistency_rules() -> None:
    assert (
        bad(lambda d: d["materials"][0].update(materials=[{"hts": "7318", "origin": "unknown"}])).field
        == "materials[0].origin"
    )
    assert bad(lambda d: d["materials"][0].update(intermediate=True)).field == "materials[0].intermediate"
    assert bad(lambda d: d["good"].update(total_cost=30, net_cost=20)).field == "good.net_cost"
    assert bad(lambda d: d["good"].update(excluded_costs={"royalties": 1})).field == "good.excluded_costs"
    assert (
        bad(lambda d: d["materials"][0].update(deductions={"freight": 5})).field == "materials[0].deductions"
    )
    assert bad(lambda d: d.update(method="cheapest")).field == "method"


def test_yaml_and_json_loading(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text('date: 2026-03-01\ngood: {hts: "9401.99.1085", country_of_production: mx}\nmaterials: []\n')
    assert load_case(y).good.country_of_production == "MX"
    j = tmp_path / "c.json"
    j.write_text('{"date": "2026-03-01", "good": {"hts": "9401991085", "country_of_production": "CA"}}')
    assert load_case(j).good.hts == "9401991085"
    j.write_text("{not json")
    with pytest.raises(InputError):
        load_case(j)
    with pytest.raises(InputError) as e:
        load_case(tmp_path / "missing.yaml")
    assert e.value.field == "FILE"
