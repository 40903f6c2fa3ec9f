"""The determination engine on rules built from the grammar (no store): each criterion and provision.

Citations: CUSMA Rules of Origin Regulations (SOR/2020-155) sections as named in each docstring; HTSUS GN
11(o)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.origin.conftest import FakeCorpus, alt, case, rule, shift
from usmca.errors import InputError
from usmca.origin import determine as D
from usmca.rules.grammar import Condition

KEYS = {"status", "criterion", "rule", "tests", "rvc", "de_minimis", "needs", "trace", "vintage"}


@pytest.fixture(autouse=True)
def provisions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real general provisions (package data); Part 6 answers "no requirement" (tested with the store)."""
    auto = SimpleNamespace(vehicle_requirement=lambda *a, **k: None, core_part=lambda *a, **k: None)
    real = D._optional
    monkeypatch.setattr(D, "_optional", lambda mod: auto if mod.endswith(".automotive") else real(mod))


def det(c: Any, *rules: Any, **kw: Any) -> D.Determination:
    return D.determine(c, corpus=FakeCorpus(list(rules), **kw))


HEADING = rule(
    "9401",
    alt("", shift("any_other", "heading")),
    rid="GN11(o)/94/1",
    text="A change to heading 9401 from any other heading.",
)


def test_output_has_exactly_the_interchange_fields() -> None:
    """Interchange format section 2: field names are fixed."""
    d = det(
        case(
            {"hts": "9401.61.4011", "transaction_value": 100},
            [{"hts": "4407.11", "origin": "non_originating", "value": 30}],
        ),
        HEADING,
    )
    j = d.to_json_dict()
    assert set(j) == KEYS
    assert set(j["rvc"]) == {"transaction_value", "net_cost", "required"}
    assert set(j["rvc"]["required"]) == {"transaction_value", "net_cost"}
    assert set(j["de_minimis"]) == {"applied", "share", "limit"}
    assert all(set(t) == {"step", "citation", "result"} for t in j["trace"])
    assert all(set(t) == {"kind", "passed", "detail"} for t in j["tests"])
    assert j["vintage"] == {"rules": "test-corpus", "schedule": None}


def test_outside_territory_is_not_originating() -> None:
    """s.3(2)-(4), s.9(1)(a): a good must be produced in the territory (US, MX, CA)."""
    d = det(
        case(
            {"hts": "9401.61.4011", "country_of_production": "CN"},
            [{"hts": "4407.11", "origin": "originating"}],
        ),
        HEADING,
    )
    assert d.status == "non_originating" and d.criterion is None
    assert "9(1)(a)" in d.trace[0]["citation"]


def test_criterion_a_wholly_obtained() -> None:
    """s.3(1)(b): a plant grown and harvested in the territory; s.3(1)(k): made exclusively from such
    goods."""
    d = det(case({"hts": "0810.10", "wholly_obtained": "b"}, []))
    assert (d.status, d.criterion) == ("originating", "A")
    assert "3(1)(b)" in d.tests[0]["detail"] or "3(1)(b)" in d.trace[1]["citation"]
    d = det(
        case(
            {"hts": "2009.89"},
            [
                {"hts": "0810.10", "origin": "originating", "wholly_obtained": True},
                {"hts": "4819.10", "origin": "non_originating", "kind": "packing"},
            ],
        )
    )
    assert (d.status, d.criterion) == ("originating", "A")


def test_criterion_c_exclusively_originating_with_indirect_and_packing() -> None:
    """s.3(3); indirect materials are originating wherever made (s.8(13)(a)); packing is disregarded
    (s.8(17))."""
    d = det(
        case(
            {"hts": "9401.61.4011"},
            [
                {"hts": "9401.99", "origin": "originating", "value": 10},
                {"hts": "2710.19", "origin": "non_originating", "kind": "indirect", "value": 1},
                {"hts": "4819.10", "origin": "non_originating", "kind": "packing", "value": 1},
            ],
        )
    )
    assert (d.status, d.criterion) == ("originating", "C")


def test_criterion_b_tariff_shift_passes_and_fails() -> None:
    """s.3(2): each non-originating material makes the applicable change (TariffShift.allows)."""
    d = det(
        case(
            {"hts": "9401.61.4011", "transaction_value": 100},
            [{"hts": "4407.11", "origin": "non_originating", "value": 30}],
        ),
        HEADING,
    )
    assert (d.status, d.criterion) == ("originating", "B")
    assert d.rule and d.rule["id"] == "GN11(o)/94/1"
    assert d.tests[0] == {"kind": "tariff_shift", "passed": True, "detail": d.tests[0]["detail"]}
    assert {"kind": "rvc", "passed": None, "detail": "not required by the rule"} in d.tests


def test_exclusion_blocks_the_shift() -> None:
    """GN 11(o) "except from headings ...": an excluded material fails even though it changes heading."""
    r = rule(
        "7003-7008",
        alt("", shift("outside_group", "heading", group="7003-7008", except_from="7009")),
        rid="GN11(o)/70/3",
    )
    c = case(
        {"hts": "7005.10", "transaction_value": 100},
        [{"hts": "7009.91", "origin": "non_originating", "value": 40}],
    )
    d = det(c, r)
    assert d.status == "non_originating"
    assert d.tests[0]["kind"] == "tariff_shift" and d.tests[0]["passed"] is False


def test_alternative_rule_with_rvc_transaction_value_and_net_cost() -> None:
    """s.3(6): one alternative is enough; s.7(1): the producer may choose TV or NC; `best` reports both."""
    r = rule(
        "9403.10-9403.89",
        alt("A", shift("any_other", "chapter")),
        alt(
            "B",
            shift("from_codes", "subheading", from_codes="9403.91-9403.99", also_from_level="chapter"),
            tv=60,
            nc=50,
        ),
        rid="GN11(o)/94/4",
    )
    c = case(
        {
            "hts": "9403.60.8081",
            "transaction_value": 100,
            "total_cost": 90,
            "excluded_costs": {"royalties": 10},
        },
        [{"hts": "9403.99", "origin": "non_originating", "value": 45}],
    )
    d = det(c, r)  # alternative A fails (9403.99 is in chapter 94); B: 55% TV < 60, 43.75% NC < 50
    assert d.status == "non_originating"
    assert d.rvc == {
        "transaction_value": 55.0,
        "net_cost": 43.8,
        "required": {"transaction_value": 60.0, "net_cost": 50.0},
    }
    c2 = case(
        {"hts": "9403.60.8081", "transaction_value": 100, "net_cost": 95},
        [{"hts": "9403.99", "origin": "non_originating", "value": 42}],
    )
    d2 = det(c2, r)
    assert d2.status == "originating" and d2.rvc["transaction_value"] == 58.0 and d2.rvc["net_cost"] == 55.8


def test_rvc_failure_reports_figures() -> None:
    """s.7(2)-(3): both methods computed and compared with the rule's thresholds."""
    r = rule(
        "9403.10-9403.89",
        alt("B", shift("from_codes", "subheading", from_codes="9403.91-9403.99"), tv=60, nc=50),
        rid="GN11(o)/94/4",
    )
    d = det(
        case(
            {"hts": "9403.60.8081", "transaction_value": 100, "net_cost": 80},
            [{"hts": "9403.99", "origin": "non_originating", "value": 45}],
        ),
        r,
    )
    assert d.status == "non_originating"
    assert d.rvc["transaction_value"] == 55.0 and d.rvc["net_cost"] == 43.8


def test_method_choice_and_net_cost_only_rules() -> None:
    """s.7(1) producer's choice of method; s.7(6) net cost only where the rule has no TV method."""
    r = rule(
        "9403.10-9403.89", alt("", shift("from_codes", "subheading", from_codes="9403.99"), tv=60, nc=50)
    )
    c = case(
        {"hts": "9403.60.8081", "transaction_value": 100, "net_cost": 100},
        [{"hts": "9403.99", "origin": "non_originating", "value": 45}],
        method="transaction_value",
    )
    assert det(c, r).status == "non_originating"  # 55% TV; NC (55%) not chosen
    c = case(
        {"hts": "9403.60.8081", "transaction_value": 100, "net_cost": 100},
        [{"hts": "9403.99", "origin": "non_originating", "value": 45}],
        method="net_cost",
    )
    assert det(c, r).status == "originating"
    r_nc = rule("9403.10-9403.89", alt("", shift("from_codes", "subheading", from_codes="9403.99"), nc=50))
    c = case(
        {"hts": "9403.60.8081", "transaction_value": 100, "net_cost": 100},
        [{"hts": "9403.99", "origin": "non_originating", "value": 45}],
        method="transaction_value",
    )
    d = det(c, r_nc)
    assert d.status == "originating" and "s.7(6)" in " ".join(t["detail"] for t in d.tests)


def test_missing_figures_give_unresolved_with_needs() -> None:
    """A test that needs a value the case does not give answers unresolved and names the field."""
    r = rule(
        "9403.10-9403.89", alt("", shift("from_codes", "subheading", from_codes="9403.99"), tv=60, nc=50)
    )
    d = det(case({"hts": "9403.60.8081"}, [{"hts": "9403.99", "origin": "non_originating", "value": 45}]), r)
    assert d.status == "unresolved"
    assert any("good.transaction_value" in n for n in d.needs)
    d = det(
        case(
            {"hts": "9403.60.8081", "transaction_value": 100},
            [{"hts": "9403.99", "origin": "non_originating"}],
        ),
        r,
    )
    assert d.status == "unresolved" and "materials[0].value" in d.needs


def test_de_minimis_value_rule() -> None:
    """s.5(1) and Example 1 of s.5(15): failing materials at most 10% of the adjusted TV or total cost."""
    r = rule("7603", alt("", shift("any_other", "chapter")), rid="GN11(o)/76/3")
    ok = det(
        case(
            {"hts": "7603.10", "transaction_value": 100},
            [
                {"hts": "7602.00", "origin": "non_originating", "value": 10},
                {"hts": "2606.00", "origin": "non_originating", "value": 50},
            ],
        ),
        r,
    )
    assert (ok.status, ok.criterion) == ("originating", "B")
    assert ok.de_minimis == {"applied": True, "share": 0.1, "limit": 0.1}
    no = det(
        case(
            {"hts": "7603.10", "transaction_value": 100},
            [{"hts": "7602.00", "origin": "non_originating", "value": 10.01}],
        ),
        r,
    )
    assert no.status == "non_originating"
    # the total-cost base is enough when TV is above the limit (s.5(1)(a)(ii))
    tc = det(
        case(
            {"hts": "7603.10", "transaction_value": 80, "total_cost": 120},
            [{"hts": "7602.00", "origin": "non_originating", "value": 11}],
        ),
        r,
    )
    assert tc.status == "originating"


def test_de_minimis_exceptions() -> None:
    """s.5(3)(a): no de minimis for dairy materials in dairy goods; s.5(3)(k): chapters 1-27, a material of
    the
    same subheading as the good cannot use de minimis."""
    r = rule("0401", alt("", shift("any_other", "chapter")), rid="GN11(o)/04/1")
    d = det(
        case(
            {"hts": "0401.20", "transaction_value": 100},
            [{"hts": "0402.10", "origin": "non_originating", "value": 1}],
        ),
        r,
    )
    assert d.status == "non_originating" and "5(3)(a)" in " ".join(t["detail"] for t in d.tests)
    r = rule("2009.81-2009.89", alt("", shift("any_other", "chapter")), rid="GN11(o)/20/9")
    d = det(
        case(
            {"hts": "2009.89", "transaction_value": 100, "facts": {"materials_are_parts": False}},
            [{"hts": "2009.89", "origin": "non_originating", "value": 1}],
        ),
        r,
    )
    assert d.status == "non_originating" and "5(3)(k)" in " ".join(t["detail"] for t in d.tests)
    r = rule("7603", alt("", shift("any_other", "chapter")), rid="GN11(o)/76/3")
    d = det(
        case(
            {"hts": "7603.10", "transaction_value": 100},
            [{"hts": "7602.00", "origin": "non_originating", "value": 1}],
        ),
        r,
    )
    assert d.status == "originating" and d.de_minimis["applied"]


def test_rvc_de_minimis() -> None:
    """s.5(4) and its Examples 4-5: all non-originating materials at most 10% -> the RVC need not be met."""
    r = rule("9402.10", alt("", shift("any_other", "subheading")), rid="GN11(o)/94/3")
    d = det(
        case(
            {"hts": "9402.10.0000", "transaction_value": 100},
            [{"hts": "9402.10", "origin": "non_originating", "value": 8}],
        ),
        r,
    )
    assert (d.status, d.criterion) == ("originating", "B")  # de minimis under s.5(1) first
    r2 = rule("9403.10-9403.89", alt("", shift("any_other", "chapter"), tv=60, nc=50))
    d = det(
        case(
            {"hts": "9403.60.8081", "transaction_value": 100},
            [{"hts": "4407.11", "origin": "non_originating", "value": 9}],
        ),
        r2,
    )
    assert d.status == "originating" and d.de_minimis["applied"] is True
    assert any(t["kind"] == "rvc" and "5(4)" in tr["citation"] for t in d.tests for tr in d.trace)


def test_textile_weight_de_minimis_and_elastomeric_cap() -> None:
    """s.5(6): ch. 50-60 goods by weight (10%), elastomeric content at most 7%; s.5(3)(l): no value rule."""
    r = rule(
        "5209.11",
        alt("", shift("outside_group", "heading", group="5208-5212", except_from="5205")),
        rid="GN11(o)/52/10",
    )
    base = {"hts": "5209.11", "transaction_value": 100, "weight_kg": 100}
    ok = det(case(base, [{"hts": "5205.11", "origin": "non_originating", "value": 30, "weight_kg": 9}]), r)
    assert ok.status == "originating" and ok.de_minimis["share"] == 0.09
    heavy = det(case(base, [{"hts": "5205.11", "origin": "non_originating", "value": 1, "weight_kg": 11}]), r)
    assert heavy.status == "non_originating"  # by weight, although tiny by value
    el = det(
        case(
            base,
            [
                {
                    "hts": "5205.11",
                    "origin": "non_originating",
                    "value": 1,
                    "weight_kg": 8,
                    "elastomeric": True,
                }
            ],
        ),
        r,
    )
    assert el.status == "non_originating"
    need = det(
        case(
            {"hts": "5209.11", "transaction_value": 100},
            [{"hts": "5205.11", "origin": "non_originating", "value": 1, "weight_kg": 1}],
        ),
        r,
    )
    assert need.status == "unresolved" and "good.weight_kg" in need.needs


def test_apparel_component_rule() -> None:
    """s.5(7)-(9) and Example 9 of s.5(15): for ch. 61-63 only the component that determines the
    classification counts; de minimis by its weight, elastomeric at most 7%."""
    r = rule("6110.30", alt("", shift("any_other", "chapter", except_from="54")), rid="GN11(o)/61/17")
    c = case(
        {"hts": "6110.30.3053", "transaction_value": 30},
        [
            {
                "id": "body",
                "hts": "6006.32",
                "origin": "originating",
                "value": 8,
                "weight_kg": 0.95,
                "component": True,
            },
            {
                "id": "spandex",
                "hts": "5402.44",
                "origin": "non_originating",
                "value": 1,
                "weight_kg": 0.05,
                "elastomeric": True,
                "component": True,
            },
            {"id": "sleeves", "hts": "5407.61", "origin": "non_originating", "value": 9, "weight_kg": 0.6},
        ],
    )
    d = det(c, r)
    assert (d.status, d.criterion) == ("originating", "B")
    assert d.de_minimis["applied"] and d.de_minimis["share"] == 0.05


def test_parts_fallback_criterion_d() -> None:
    """s.3(4)(a): materials in the good's own subheading cannot shift; RVC >= 60% TV / 50% NC (Example 5
    s.5)."""
    r = rule("9402.10", alt("", shift("any_other", "subheading")), rid="GN11(o)/94/3")
    c = case(
        {"hts": "9402.10.0000", "transaction_value": 100, "facts": {"materials_are_parts": True}},
        [{"hts": "9402.10", "origin": "non_originating", "value": 35}],
    )
    d = det(c, r)
    assert (d.status, d.criterion) == ("originating", "D")
    assert (
        d.rvc["required"] == {"transaction_value": 60.0, "net_cost": 50.0}
        and d.rvc["transaction_value"] == 65.0
    )
    low = det(
        case(
            {
                "hts": "9402.10.0000",
                "transaction_value": 100,
                "net_cost": 80,
                "facts": {"materials_are_parts": True},
            },
            [{"hts": "9402.10", "origin": "non_originating", "value": 45}],
        ),
        r,
    )
    assert low.status == "non_originating"
    rx = rule("9402.10", alt("", shift("any_other", "subheading", except_from="7318")), rid="GN11(o)/94/3")
    other = det(
        case(
            {
                "hts": "9402.10.0000",
                "transaction_value": 100,
                "net_cost": 90,
                "facts": {"materials_are_parts": True},
            },
            [
                {"hts": "9402.10", "origin": "non_originating", "value": 15},
                {"hts": "7318.15", "origin": "non_originating", "value": 15},
            ],
        ),
        rx,
    )
    assert other.status == "non_originating"  # 7318.15 fails for another reason (the exclusion)


def test_parts_fallback_unassembled_and_not_for_apparel() -> None:
    """s.3(4)(b) goods imported unassembled (GRI 2(a)); s.3(4): not for chapters 61-63."""
    r = rule("8516.60", alt("", shift("any_other", "heading")))
    d = det(
        case(
            {"hts": "8516.60.4070", "transaction_value": 100, "unassembled": True},
            [{"hts": "8516.90", "origin": "non_originating", "value": 30}],
        ),
        r,
    )
    assert (d.status, d.criterion) == ("originating", "D")
    r61 = rule("6109", alt("", shift("any_other", "chapter")))
    d = det(
        case(
            {"hts": "6109.10.0012", "transaction_value": 100, "unassembled": True},
            [{"hts": "6109.10", "origin": "non_originating", "value": 30, "weight_kg": 1}],
        ),
        r61,
    )
    assert d.status == "non_originating"


def test_unknown_origin_named_in_needs() -> None:
    """A material of unknown origin is non-originating; `needs` names it if originating would change the
    answer."""
    d = det(
        case(
            {"hts": "9401.61.4011", "transaction_value": 100},
            [
                {"id": "frame", "hts": "9401.99", "origin": "unknown", "value": 40},
                {"id": "foam", "hts": "3921.13", "origin": "unknown", "value": 5},
            ],
        ),
        HEADING,
    )
    assert d.status == "non_originating"
    assert len(d.needs) == 1 and d.needs[0].startswith("materials[0].origin (frame)")


def test_parts_fallback_weighs_only_the_branches_written_for_the_good() -> None:
    """s.3(4)(a): the parts fallback is about the change the rule sets for the good. A branch written for other
    codes of the rule's scope (here (A), for 8407.10) is not that change, even where its shift would leave only
    materials of the good's own subheading failing."""
    from dataclasses import replace

    from usmca.nomenclature.codes import CodeSet

    a = replace(alt("A", shift("any_other", "subheading")), target=CodeSet.of("8407.10"))
    b = replace(alt("B", shift("any_other", "heading")), target=CodeSet.of("8407.21-8407.29"))
    r = rule("8407.10-8407.29", a, b)
    mats = [
        {"hts": "8407.10", "origin": "non_originating", "value": 10},
        {"hts": "8407.21", "origin": "non_originating", "value": 10},
    ]
    good = {"hts": "8407.21.0040", "transaction_value": 100, "facts": {"materials_are_parts": True}}
    d = det(case(good, mats), r)
    assert (d.status, d.criterion) == ("non_originating", None), d.trace
    # for a good of 8407.10 the same bill passes (A)'s shift except for its own subheading: (D) applies
    d = det(case({**good, "hts": "8407.10.0000"}, [{**mats[0], "value": 30}, {**mats[1], "hts": "8409.91"}]), r)
    assert (d.status, d.criterion) == ("originating", "D"), d.trace


def test_unknown_origins_are_weighed_without_asking_for_the_rule_again() -> None:
    """Each material of unknown origin is weighed by evaluating the good again as if it originated; the rule
    lookup (a corpus query) is made once per good and call, and the answer is the same."""
    calls: list[str] = []

    class Counting(FakeCorpus):
        def rules_for(self, hts: str, on: Any = None, use: str | None = None) -> Any:
            calls.append(hts)
            return super().rules_for(hts, on, use)

    mats = [{"id": f"m{i}", "hts": "9401.99", "origin": "unknown", "value": 10} for i in range(4)]
    d = D.determine(case({"hts": "9401.61.4011", "transaction_value": 100}, mats), corpus=Counting([HEADING]))
    assert d.status == "non_originating" and len(d.needs) == 4  # the four together would change the answer
    assert calls == ["9401614011"]


def test_conditions_and_use() -> None:
    """GN 11(o) provisos are facts: `good.use` for use conditions, `good.facts` otherwise."""
    cond = Condition("other", "cut_and_sewn", "cut (or knit to shape) and sewn in the territory")
    r = rule("6109", alt("", shift("any_other", "chapter"), conditions=(cond,)))
    mats = [
        {"hts": "6006.22", "origin": "originating", "value": 5, "weight_kg": 1},
        {"hts": "5204.11", "origin": "non_originating", "value": 1, "weight_kg": 0.01},
    ]
    d = det(case({"hts": "6109.10.0012", "transaction_value": 100}, mats), r)
    assert d.status == "unresolved" and d.needs[0].startswith("good.facts.cut_and_sewn")
    d = det(case({"hts": "6109.10.0012", "transaction_value": 100, "facts": {"cut_and_sewn": True}}, mats), r)
    assert d.status == "originating"
    d = det(
        case({"hts": "6109.10.0012", "transaction_value": 100, "facts": {"cut_and_sewn": False}}, mats), r
    )
    assert d.status == "non_originating"
    use = Condition("use", "use", "for use in a passenger vehicle", ("passenger_vehicle",))
    ru = rule("8708.29", alt("", shift("any_other", "heading"), conditions=(use,)))
    m = [{"hts": "7208.10", "origin": "non_originating", "value": 1}]
    assert det(case({"hts": "8708.29.5060"}, m), ru).needs == ["good.use: for use in a passenger vehicle"]


def test_rule_gaps_are_unresolved() -> None:
    """Chapters without text, defective rules and unstructured clauses give `unresolved` naming the reason."""
    m = [{"hts": "4107.11", "origin": "non_originating", "value": 1}]
    d = D.determine(case({"hts": "6403.99.6075"}, m), corpus=FakeCorpus([], missing_chapters=("64",)))
    assert d.status == "unresolved" and "chapter 64" in d.needs[0]
    bad = rule("9401", alt("", shift("any_other", "heading")), status="defective", defects=("truncated",))
    assert det(case({"hts": "9401.61.4011"}, m), bad).status == "unresolved"
    un = rule("9401", alt("", unparsed="process clause"))
    d = det(case({"hts": "9401.61.4011"}, m), un)
    assert d.status == "unresolved" and "process clause" in d.needs[0]


def test_short_material_code_needs_more_digits() -> None:
    """A shift at subheading level cannot be decided on a 4-digit material code."""
    r = rule("9402.10", alt("", shift("any_other", "subheading")))
    d = det(
        case(
            {"hts": "9402.10.0000", "transaction_value": 100},
            [{"hts": "9402", "origin": "non_originating", "value": 50}],
        ),
        r,
    )
    assert d.status == "unresolved" and "materials[0].hts: classify to at least 6 digits" in d.needs


def test_packaging_and_accessories() -> None:
    """s.8(14)-(15) packaging and s.8(24)-(25) accessories: ignored for the shift, counted in the RVC."""
    r = rule("9403.10-9403.89", alt("", shift("any_other", "chapter"), tv=60))
    mats = [
        {"hts": "9403.99", "origin": "non_originating", "value": 20, "kind": "accessory"},
        {"hts": "4819.20", "origin": "non_originating", "value": 25, "kind": "packaging"},
    ]
    d = det(case({"hts": "9403.60.8081", "transaction_value": 100}, mats), r)
    assert d.status == "non_originating" and d.rvc["transaction_value"] == 55.0
    d = det(case({"hts": "9403.60.8081", "transaction_value": 100}, mats[:1]), r)
    assert d.status == "originating" and d.rvc["transaction_value"] == 80.0


def test_self_produced_material_determined_first() -> None:
    """s.3(8) and Example 6 of s.3(9): a self-produced material (own bill) is determined first;
    originating, it
    counts as originating; non-originating, it may itself be the material tested for the shift."""
    good_rule = rule("9401", alt("", shift("any_other", "heading")), rid="GN11(o)/94/1")
    frame_rule = rule("9401.99", alt("", shift("any_other", "heading")), rid="GN11(o)/94/2")
    frame = {
        "id": "frame",
        "hts": "9401.99",
        "value": 30,
        "materials": [{"hts": "7306.30", "origin": "non_originating", "value": 10}],
    }
    d = det(case({"hts": "9401.61.4011", "transaction_value": 100}, [frame]), good_rule, frame_rule)
    assert (d.status, d.criterion) == ("originating", "C")
    assert d.parts["materials[0]"].status == "originating"
    # Example 6: material Y (same heading as good A) is non-originating; Z (self-produced) changes heading.
    y = {"id": "Y", "hts": "9401.99", "origin": "non_originating", "value": 5}
    z = {"id": "Z", "hts": "4418.99", "value": 20, "materials": [y]}
    z_rule = rule("4418", alt("", shift("any_other", "chapter", except_from="9401")), rid="GN11(o)/44/1")
    d = det(case({"hts": "9401.61.4011", "transaction_value": 100}, [z]), good_rule, z_rule)
    assert d.parts["materials[0]"].status == "non_originating"
    assert (d.status, d.criterion) == ("originating", "B")


def test_vnm_roll_down_and_intermediate_designation() -> None:
    """s.7(5)(a): a self-produced material not designated adds only its non-originating inputs to VNM;
    s.7(4)(b): an originating intermediate material adds nothing; s.8(6) the designation."""
    r = rule("9403.10-9403.89", alt("", shift("any_other", "chapter"), tv=60))
    sub_rule = rule("9403.91-9403.99", alt("", shift("any_other", "chapter"), tv=30), rid="GN11(o)/94/5")
    part = {
        "id": "top",
        "hts": "9403.99",
        "value": 50,
        "materials": [{"hts": "4412.31", "origin": "non_originating", "value": 30}],
    }
    plain = det(
        case(
            {"hts": "9403.60.8081", "transaction_value": 100},
            [part, {"hts": "7318.15", "origin": "non_originating", "value": 15}],
        ),
        r,
        sub_rule,
    )
    assert plain.status == "non_originating" and plain.rvc["transaction_value"] == 55.0
    designated = det(
        case(
            {"hts": "9403.60.8081", "transaction_value": 100},
            [{**part, "intermediate": True}, {"hts": "7318.15", "origin": "non_originating", "value": 15}],
        ),
        r,
        sub_rule,
    )
    assert designated.status == "originating" and designated.rvc["transaction_value"] == 85.0


def test_successive_designation_is_an_error() -> None:
    """s.8(6) proviso: an intermediate material subject to RVC may not contain another designated one subject
    to RVC."""
    r = rule("9403.91-9403.99", alt("", shift("any_other", "chapter"), tv=30), rid="GN11(o)/94/5")
    top = rule("9403.10-9403.89", alt("", shift("any_other", "chapter"), tv=30))
    inner = {
        "id": "leg",
        "hts": "9403.99",
        "value": 10,
        "intermediate": True,
        "materials": [{"hts": "4407.11", "origin": "non_originating", "value": 6}],
    }
    outer = {
        "id": "frame",
        "hts": "9403.99",
        "value": 30,
        "intermediate": True,
        "materials": [inner, {"hts": "4407.12", "origin": "non_originating", "value": 15}],
    }
    with pytest.raises(InputError) as e:
        det(case({"hts": "9403.60.8081", "transaction_value": 100}, [outer]), r, top)
    assert e.value.field == "materials[0].intermediate" and "8(6)" in e.value.problem


def test_accumulation_statement() -> None:
    """s.9(1)(c), 9(3), 9(7): production by another producer in the territory counts, given its statement
    of the
    non-originating materials used (classification and value)."""
    r = rule("8544.42", alt("", shift("any_other", "heading")), rid="GN11(o)/85/114")
    wire = {
        "id": "wire",
        "hts": "8544.49",
        "accumulated": True,
        "value": 40,
        "materials": [{"hts": "7408.11", "origin": "non_originating", "value": 20}],
    }
    d = det(
        case({"hts": "8544.42.9090", "transaction_value": 100}, [wire]),
        r,
        rule("8544.49", alt("", shift("any_other", "subheading"), tv=90), rid="GN11(o)/85/113"),
    )
    assert (d.status, d.criterion) == ("originating", "B")
    assert "9(1)" in d.trace[0]["citation"]


def test_sets() -> None:
    """s.6(2)-(3) and Examples 3-4 of s.6(5): a set originates if non-originating goods are at most 10% of
    it."""
    mats = [
        {"id": "trousers", "hts": "6203.42", "origin": "originating", "value": 92},
        {"id": "belt", "hts": "3926.20", "origin": "non_originating", "value": 8},
    ]
    d = det(case({"hts": "6203.42.4011", "transaction_value": 100, "set": True}, mats))
    assert d.status == "originating"
    mats[1]["value"] = 13
    mats[0]["value"] = 87
    assert (
        det(case({"hts": "6203.42.4011", "transaction_value": 100, "set": True}, mats)).status
        == "non_originating"
    )


def test_trace_cites_every_step() -> None:
    d = det(
        case(
            {"hts": "9401.61.4011", "transaction_value": 100},
            [{"hts": "4407.11", "origin": "non_originating", "value": 30}],
        ),
        HEADING,
    )
    assert all(t["citation"] for t in d.trace)
    assert d.trace[-1]["step"] == "outcome"


def test_qualifiers_and_conditions_as_facts() -> None:
    """GN 11(o) branch qualifiers ("A change to sweaters ...", "any other good") and provisos with shares and
    described materials are settled by facts; "a good" is any good."""
    from usmca.nomenclature.codes import CodeSet
    from usmca.origin import criteria as K

    gv = K.GoodView(
        "good", "g", "6110303053", "MX", None, None, None, None, None, facts={"good_type": "Pullover"}
    )
    named = Condition("good_type", "good_type", "sweaters", ("sweaters",))
    other = Condition("good_type", "good_type", "any other good", ("*other*",))
    assert K.qualifier(named, gv, (other,)).passed is False
    assert K.qualifier(other, gv, (named,)).passed is True
    assert K.qualifier(Condition("good_type", "good_type", "a", ("a",)), gv).applicable is False
    bare = K.GoodView("good", "g", "6110303053", "MX", None, None, None, None, None)
    assert K.qualifier(named, bare).needs[0].startswith("good.facts.good_type")
    share = Condition("share", "diluent_volume_share", "diluent no more than 40%", ("max_percent=40",))
    assert (
        K.condition(
            share,
            K.GoodView(
                "good", "g", "2709", "CA", None, None, None, None, None, facts={"diluent_volume_share": 35}
            ),
        ).passed
        is True
    )
    assert (
        K.condition(
            share,
            K.GoodView(
                "good", "g", "2709", "CA", None, None, None, None, None, facts={"diluent_volume_share": 45}
            ),
        ).passed
        is False
    )
    described = Condition(
        "other", "excepted_material_description", "no PCA of 8538.90", code_groups=(CodeSet.of("8538.90"),)
    )
    ln = K.Line("materials[0]", "m", "853620", "non_originating")
    assert K.condition(described, bare, [ln]).applicable is False
    pca = K.Line("materials[0]", "m", "853890", "non_originating")
    assert K.condition(described, bare, [pca]).passed is None


def test_chapter_note_requirement_and_trade_direction() -> None:
    """A GN 11(o) chapter rule that adds a requirement ("originating only if ...") is a fact keyed by the note
    id; the trade direction for the corpus follows the country of production (CA-US, MX-US)."""
    seen: dict[str, Any] = {}

    class NotesCorpus(FakeCorpus):
        def rules_for(self, hts: str, on: Any = None, use: Any = None, trade: Any = None) -> Any:
            seen["trade"] = trade
            m = super().rules_for(hts, on, use)
            note = SimpleNamespace(
                id="GN11(o)/61/note-3",
                kind="chapter_rule",
                citation="GN 11(o) ch. 61 rule 3",
                text="... shall be considered originating only if such sewing thread is both "
                "formed and finished in the territory",
            )
            return type(m)(m.status, m.rules, m.reason, (note,))

    r = rule("6109", alt("", shift("any_other", "chapter")))
    mats = [{"hts": "6006.22", "origin": "originating", "value": 5, "weight_kg": 1}]
    c = case({"hts": "6109.10.0012", "transaction_value": 100, "country_of_production": "CA"}, mats)
    d = D.determine(c, corpus=NotesCorpus([r]))
    assert (d.status, d.criterion) == ("originating", "C")  # all materials originating: C, no rule needed
    mats.append({"hts": "5204.11", "origin": "non_originating", "value": 1, "weight_kg": 0.01})
    d = D.determine(case({"hts": "6109.10.0012", "transaction_value": 100}, mats), corpus=NotesCorpus([r]))
    assert seen["trade"] == "MX-US"
    assert d.status == "unresolved" and d.needs[0].startswith("good.facts.GN11(o)/61/note-3")
    d = D.determine(
        case({"hts": "6109.10.0012", "transaction_value": 100, "facts": {"GN11(o)/61/note-3": True}}, mats),
        corpus=NotesCorpus([r]),
    )
    assert (d.status, d.criterion) == ("originating", "B")


def test_non_originating_intermediate_material_counts_in_full() -> None:
    """s.8(6)-(8): a designated intermediate material that is not originating adds its whole value to VNM."""
    r = rule("9403.10-9403.89", alt("", shift("any_other", "chapter"), tv=60))
    sub_rule = rule("9403.91-9403.99", alt("", shift("any_other", "chapter"), tv=90), rid="GN11(o)/94/5")
    part = {
        "id": "top",
        "hts": "9403.99",
        "value": 50,
        "intermediate": True,
        "materials": [{"hts": "4412.31", "origin": "non_originating", "value": 30}],
    }
    d = det(case({"hts": "9403.60.8081", "transaction_value": 100}, [part]), r, sub_rule)
    assert d.parts["materials[0]"].status == "non_originating"
    assert d.status == "non_originating" and d.rvc["transaction_value"] == 50.0


def test_shipment_adjustment_and_excluded_costs_feed_the_rvc() -> None:
    """s.1(1) adjusted TV and s.7(11) net cost are what the RVC uses; the trace shows both computations."""
    r = rule(
        "9403.10-9403.89", alt("", shift("from_codes", "subheading", from_codes="9403.99"), tv=60, nc=50)
    )
    c = case(
        {
            "hts": "9403.60.8081",
            "transaction_value": 110,
            "international_shipment": 10,
            "total_cost": 100,
            "excluded_costs": {"royalties": 10, "shipping_packing": 10},
        },
        [{"hts": "9403.99", "origin": "non_originating", "value": 40}],
    )
    d = det(c, r)
    assert d.rvc["transaction_value"] == 60.0 and d.rvc["net_cost"] == 50.0 and d.status == "originating"
    steps = [t["step"] for t in d.trace]
    assert (
        "transaction value adjusted for international shipment" in steps
        and "net cost from total cost" in steps
    )


def test_vnm_above_transaction_value_or_net_cost_is_an_error() -> None:
    """VNM (sub-bills included) above the adjusted TV or the net cost cannot be right: an input error."""
    sub = {
        "id": "frame",
        "hts": "9401.99",
        "value": 30,
        "materials": [{"hts": "7306.30", "origin": "non_originating", "value": 60}],
    }
    with pytest.raises(InputError) as e:
        det(case({"hts": "9401.61.4011", "transaction_value": 50}, [sub]), HEADING)
    assert e.value.field == "materials[0].value"  # its own inputs are worth more than the frame
    sub["value"] = 70
    with pytest.raises(InputError) as e:
        det(case({"hts": "9401.61.4011", "transaction_value": 50}, [sub]), HEADING)
    assert e.value.field == "good.transaction_value"
    with pytest.raises(InputError) as e:
        det(
            case(
                {"hts": "9401.61.4011", "net_cost": 20},
                [{"hts": "7306.30", "origin": "non_originating", "value": 30}],
            ),
            HEADING,
        )
    assert e.value.field == "good.net_cost"


def test_unknown_material_inside_a_sub_bill_reaches_the_top() -> None:
    """An unknown-origin input that keeps a self-produced material from originating, and through it the good,
    is named at the top with the path of the sub-bill."""
    frame_rule = rule("9401.99", alt("", shift("any_other", "heading")), rid="GN11(o)/94/2")
    frame = {
        "id": "frame",
        "hts": "9401.99",
        "value": 30,
        "net_cost": 30,
        "facts": {"materials_are_parts": False},
        "materials": [{"id": "tube", "hts": "9401.99", "origin": "unknown", "value": 20}],
    }
    d = det(
        case({"hts": "9401.61.4011", "transaction_value": 100}, [frame]),
        HEADING,
        frame_rule,
    )
    assert d.status == "non_originating"
    assert any(n.startswith("materials[0].materials[0].origin (tube)") for n in d.needs)
