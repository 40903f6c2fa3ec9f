from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.scenarios.conftest import scenario_doc
from usmca.errors import InputError
from usmca.nomenclature.codes import CodeSet
from usmca.scenarios.model import bundled, parse_scenario
from usmca.scenarios.overlay import _split, overlay_corpus, overlay_measures

ON = dt.date(2026, 11, 1)


def test_every_bundled_scenario_loads_with_sources() -> None:
    sc = bundled()
    assert {
        "autos-85",
        "steel-melted-poured",
        "s122-extended",
        "review-fails",
        "mexico-2026-nonfta",
        "china-content-cap",
    } <= set(sc)
    for s in sc.values():
        assert s.sources and s.description and (s.rules or s.measures)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (scenario_doc(rules=[{"kind": "rvc_threshold", "net_cost": 120}]), "rules[0].net_cost"),
        (scenario_doc(rules=[{"kind": "rvc_thresold", "net_cost": 80}]), "rules[0]"),
        (
            scenario_doc(rules=[{"kind": "rvc_threshold", "scope": {"headings": ["87"]}, "raise_by": 5}]),
            "rules[0].scope.headings",
        ),
        (
            scenario_doc(rules=[{"kind": "tariff_shift", "from_level": "chapter", "to_level": "heading"}]),
            "rules[0]",
        ),
        (scenario_doc(sources=[]), "sources"),
        (
            scenario_doc(measures=[{"kind": "change", "select": {"ids": ["x"]}, "rate_percent": -1}]),
            "measures[0].rate_percent",
        ),
        (
            scenario_doc(rules=[{"kind": "content_cap", "countries": ["CHN"], "max_share": 10}]),
            "rules[0].countries",
        ),
        (
            scenario_doc(measures=[{"kind": "add", "measure": {"id": "m", "authority": "x", "program": "x"}}]),
            "measures[0].measure",
        ),
    ],
)
def test_bad_scenario_errors_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_scenario(doc, "bad.yaml")
    assert ei.value.field == f"bad.yaml: {field}"


def test_unknown_field_is_refused() -> None:
    with pytest.raises(InputError) as ei:
        parse_scenario(scenario_doc(rulez=[]), "bad.yaml")
    assert "rulez" in ei.value.field


def test_split_inside_outside() -> None:
    inside, outside = _split(CodeSet.of("8701-8705"), ["8703"])
    assert str(inside) == "8703" and str(outside) == "8701-8702, 8704-8705"
    inside, outside = _split(CodeSet.of("8708"), ["870829"])
    assert inside.contains("8708291000") and not outside.contains("8708291000")
    assert outside.contains("8708300000") and not inside.contains("8708300000")


def test_threshold_overlay_is_pure_and_scoped(conn: Any) -> None:
    from usmca.rules.corpus import load_corpus

    base = load_corpus(conn)
    sc = parse_scenario(
        scenario_doc(rules=[{"kind": "rvc_threshold", "scope": {"subheadings": ["900490"]}, "raise_by": 10}])
    )
    new = overlay_corpus(base, sc)
    assert new is not base
    old_rule = base.rules_for("9004900090", on=ON).rules[0]
    new_rule = new.rules_for("9004900090", on=ON).rules[0]
    assert old_rule.id == new_rule.id == "GN11(o)/90/7"
    old_b = [a.rvc for a in old_rule.alternatives if a.rvc]
    new_b = [a.rvc for a in new_rule.alternatives if a.rvc]
    assert (old_b[0].transaction_value, old_b[0].net_cost) == (60.0, 50.0)  # baseline untouched
    assert (new_b[0].transaction_value, new_b[0].net_cost) == (70.0, 60.0)
    # rules outside the scope are the same objects
    assert new.rule("GN11(o)/94/1") is base.rule("GN11(o)/94/1")


def test_partial_scope_splits_by_alternative_target(conn: Any) -> None:
    from usmca.rules.corpus import load_corpus

    base = load_corpus(conn)
    rule = base.rule("GN11(o)/85/114")  # 8544.11-8544.60: wider than the overlay's 8544.42
    sc = parse_scenario(
        scenario_doc(
            rules=[
                {
                    "kind": "rvc_threshold",
                    "scope": {"subheadings": ["854442"]},
                    "net_cost": 65,
                    "transaction_value": 75,
                }
            ]
        )
    )
    new = overlay_corpus(base, sc)
    nr = new.rule(rule.id)
    assert nr.scope == rule.scope  # the rule's scope (and so the choice of rule) is untouched
    for code in ("8544429000", "8544110000"):
        assert new.rules_for(code, on=ON).rules[0].id == rule.id

    def rvc_for(code: str) -> list[tuple[float | None, float | None]]:
        return [
            (a.rvc.transaction_value, a.rvc.net_cost)
            for a in nr.alternatives
            if a.rvc is not None and (not a.target or a.target.contains(code))
        ]

    assert rvc_for("8544429000") == [(75.0, 65.0)]
    assert rvc_for("8544110000") == [(60.0, 50.0)]
    assert len([a for a in nr.alternatives if a.rvc is None]) == 1  # the shift-only branch is unchanged


def test_noop_scenario_returns_the_same_objects(conn: Any) -> None:
    from usmca.measures.records import load_measures
    from usmca.rules.corpus import load_corpus

    sc = parse_scenario(scenario_doc())
    base, ms = load_corpus(conn), load_measures()
    assert overlay_corpus(base, sc) is base
    assert overlay_measures(ms, sc) is ms


def test_measure_overlay_extends_s122_without_touching_the_baseline() -> None:
    from usmca.measures.records import load_measures

    ms = load_measures()
    new = overlay_measures(ms, bundled()["s122-extended"])
    old, ext = ms.by_id("s122_10"), new.by_id("s122_10")
    assert old.valid_to == dt.date(2026, 7, 23) and not old.in_force(ON)
    assert ext.valid_to == dt.date(2027, 7, 23) and ext.in_force(ON)
    assert "s122-extended" in new.vintage


def test_measure_change_that_selects_nothing_is_an_error() -> None:
    from usmca.measures.records import load_measures

    sc = parse_scenario(scenario_doc(measures=[{"kind": "change", "select": {"ids": ["no_such"]}, "rate_percent": 5}]))
    with pytest.raises(InputError) as ei:
        overlay_measures(load_measures(), sc)
    assert "measures[0].select" in ei.value.field


def test_review_fails_adds_duty_on_unclaimed_goods_only(conn: Any) -> None:
    import polars as pl

    from usmca.measures.records import load_measures
    from usmca.scenarios.compare import duty_rates

    keys = pl.DataFrame({"hts": ["9004900090"], "country_of_origin": ["MX"], "date": [ON]})
    base = duty_rates(keys, load_measures(), conn).row(0, named=True)
    scn = duty_rates(keys, overlay_measures(load_measures(), bundled()["review-fails"]), conn).row(0, named=True)
    assert scn["rate_claim"] == base["rate_claim"]
    assert scn["rate_no_claim"] == pytest.approx(base["rate_no_claim"] + 0.25)


def test_vehicle_threshold_overlay(conn: Any) -> None:
    import usmca.rules.automotive as auto
    from usmca.scenarios.overlay import automotive_overlay

    ov = automotive_overlay(bundled()["autos-85"])
    assert ov is not None
    base = auto.vehicle_requirement("8703230110", "passenger_vehicle", ON, conn=conn)
    new = ov.vehicle_requirement("8703230110", "passenger_vehicle", ON, conn=conn)
    assert base is not None and new is not None and base.status == "resolved"
    assert base.rvc.net_cost == 75.0 and new.rvc.net_cost == 85.0
    assert "autos-85" in new.rvc.citation
    # other names are the module's
    assert ov.check_lvc is auto.check_lvc


def _case(good: dict[str, Any], mats: list[dict[str, Any]]) -> Any:
    from usmca.origin.case import parse_case

    return parse_case({"date": "2026-11-01", "good": {"country_of_production": "MX", **good}, "materials": mats})


VEHICLE = {
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


def test_autos_85_flips_a_vehicle_at_80_percent_through_the_origin_engine(conn: Any) -> None:
    from usmca.origin.determine import determine
    from usmca.rules.corpus import load_corpus

    base = load_corpus(conn)
    scn = overlay_corpus(base, bundled()["autos-85"])
    mats = [{"hts": "9401.20", "origin": "non_originating", "value": 2000}]  # RVC (NC) 80%
    d0 = determine(_case(VEHICLE, mats), corpus=base, conn=conn)
    d1 = determine(_case(VEHICLE, mats), corpus=scn, conn=conn)
    assert (d0.status, d0.rvc["required"]["net_cost"], d0.rvc["net_cost"]) == ("originating", 75.0, 80.0)
    assert (d1.status, d1.rvc["required"]["net_cost"]) == ("non_originating", 85.0)
    assert d1.vintage["rules"].endswith("+autos-85")
    # the baseline corpus still answers 75% afterwards (nothing was mutated)
    assert determine(_case(VEHICLE, mats), corpus=base, conn=conn).status == "originating"


def test_steel_overlay_changes_the_purchase_requirement(conn: Any) -> None:
    from usmca.origin.determine import determine
    from usmca.rules.corpus import load_corpus

    sc = parse_scenario(scenario_doc(rules=[{"kind": "steel_aluminum", "percent": 90}]))
    scn = overlay_corpus(load_corpus(conn), sc)
    mats = [{"hts": "9401.20", "origin": "non_originating", "value": 1000}]
    assert determine(_case(VEHICLE, mats), corpus=load_corpus(conn), conn=conn).status == "originating"
    assert determine(_case(VEHICLE, mats), corpus=scn, conn=conn).status == "non_originating"  # 82% < 90%
