from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tests.scenarios.conftest import ON, read_spectacles, scenario_doc
from usmca.scenarios.compare import compare_portfolio
from usmca.scenarios.model import bundled, parse_scenario

RAISE = scenario_doc(name="raise-90", rules=[{"kind": "rvc_threshold", "scope": {"chapters": ["90"]}, "raise_by": 10}])


def test_threshold_change_flips_the_known_sku_and_finds_the_cheapest_remedy(spectacles: Any, conn: Any) -> None:
    sc = parse_scenario(RAISE)
    cmp = compare_portfolio(spectacles, [sc], on=ON, conn=conn)
    base = {r["sku"]: r for r in cmp.baseline.results.iter_rows(named=True)}
    after = {r["sku"]: r for r in cmp.runs[0].results.iter_rows(named=True)}
    # SPEC-1: RVC (TV) (100 - 35) / 100 = 65%: passes 60%, fails 70%
    assert base["SPEC-1"]["status"] == "originating" and base["SPEC-1"]["rvc_transaction_value"] == 65.0
    assert after["SPEC-1"]["status"] == "non_originating"
    # margins: best of TV (65 - 60 = +5) and NC (56.25 - 50 = +6.25 -> 56.3 - 50); after: -5 and -3.7
    assert base["SPEC-1"]["rvc_margin"] > 6 and -4 < after["SPEC-1"]["rvc_margin"] < -3
    # SPEC-2 qualifies by the chapter change (alternative A), which the overlay does not touch
    assert base["SPEC-2"]["status"] == after["SPEC-2"]["status"] == "originating"
    fl = cmp.flips.filter(pl.col("flipped"))
    assert fl["sku"].to_list() == ["SPEC-1"]
    assert fl.row(0, named=True)["duty_after"] >= fl.row(0, named=True)["duty_before"]
    # cheapest: VNM may be at most 30.00; re-sourcing the lens (10.00) is enough and moves less than the frame
    rem = cmp.remedies.row(0, named=True)
    assert rem["sku"] == "SPEC-1" and rem["components"] == ["lens"] and rem["value_resourced"] == 10.0
    assert rem["verified"] is True
    # both methods need the lens; the arithmetic states the threshold the engine applies (70% TV / 60% NC)
    assert (
        "required 70.0%" in rem["arithmetic"] and "30.00" in rem["arithmetic"] and "75.0%" in rem["arithmetic"]
    ) or ("required 60.0%" in rem["arithmetic"] and "32.00" in rem["arithmetic"])


def test_tighter_shift_flips_the_chapter_alternative(spectacles: Any, conn: Any) -> None:
    sc = parse_scenario(
        scenario_doc(
            name="shift",
            rules=[
                {
                    "kind": "tariff_shift",
                    "scope": {"headings": ["9004"]},
                    "from_level": "heading",
                    "to_level": "chapter",
                }
            ],
        )
    )
    cmp = compare_portfolio(spectacles, [sc], on=ON, conn=conn)
    st = dict(zip(cmp.runs[0].results["sku"].to_list(), cmp.runs[0].results["status"].to_list(), strict=True))
    # the frame (ch 90) no longer makes the shift of alternative B; SPEC-2 still passes alternative A
    assert st == {"SPEC-1": "non_originating", "SPEC-2": "originating"}
    rem = cmp.remedies.row(0, named=True)
    assert rem["verified"] and "frame" in rem["components"]


def test_noop_scenario_changes_nothing(spectacles: Any, conn: Any) -> None:
    cmp = compare_portfolio(spectacles, [parse_scenario(scenario_doc(name="nothing"))], on=ON, conn=conn)
    assert cmp.runs[0].results.drop("scenario_rule").equals(cmp.baseline.results.drop("scenario_rule"))
    assert cmp.flips.height == 0 and cmp.remedies.height == 0


def test_comparison_is_deterministic(spectacles: Any, conn: Any) -> None:
    scs = [parse_scenario(RAISE), bundled()["china-content-cap"], bundled()["review-fails"]]
    a = compare_portfolio(spectacles, scs, on=ON, conn=conn).to_dict()
    b = compare_portfolio(spectacles, scs, on=ON, conn=conn).to_dict()
    assert a == b


def test_content_cap_flips_chinese_content(spectacles: Any, conn: Any) -> None:
    cmp = compare_portfolio(spectacles, [bundled()["china-content-cap"]], on=ON, conn=conn)
    after = {r["sku"]: r for r in cmp.runs[0].results.iter_rows(named=True)}
    # SPEC-1: 35.00 of 100.00 from CN > 10%; SPEC-2: 9.00 of 100.00 from CN <= 10% (and no de minimis used)
    assert after["SPEC-1"]["status"] == "non_originating" and "35.0%" in after["SPEC-1"]["scenario_rule"]
    assert after["SPEC-2"]["status"] == "originating"
    rem = cmp.remedies.row(0, named=True)
    assert rem["verified"] and rem["components"] == ["frame"]  # 35 - 25 = 10.00 = 10%: at the cap


def test_review_fails_raises_duty_without_flips(spectacles: Any, conn: Any) -> None:
    cmp = compare_portfolio(spectacles, [bundled()["review-fails"]], on=ON, conn=conn)
    assert cmp.flips.filter(pl.col("flipped")).height == 0
    b, s = cmp.baseline.summary(), cmp.runs[0].summary()
    # both SKUs originate: they keep the claim, so the duty owed does not change; the stake rises by 25%
    assert s["duty_owed"] == b["duty_owed"]
    assert s["duty_at_stake"] == round(b["duty_at_stake"] + 0.25 * 1_500_000, 2)


def test_input_cost_lowers_rvc_of_mexican_producer(spectacles: Any, conn: Any) -> None:
    sc = parse_scenario(
        scenario_doc(
            name="mx",
            rules=[
                {
                    "kind": "input_cost",
                    "producer_countries": ["MX"],
                    "from_countries": ["CN"],
                    "chapter_rates": {"90": 20},
                }
            ],
        )
    )
    cmp = compare_portfolio(spectacles, [sc], on=ON, conn=conn)
    after = {r["sku"]: r for r in cmp.runs[0].results.iter_rows(named=True)}
    # frame 25 -> 30, lens 10 -> 12: VNM 42, RVC (TV) 58% < 60%, RVC (NC) (80 - 42) / 80 = 47.5% < 50%
    assert after["SPEC-1"]["rvc_transaction_value"] == 58.0 and after["SPEC-1"]["status"] == "non_originating"
    assert after["SPEC-2"]["status"] == "originating"  # produced in Canada


def test_dates_do_not_leak(tmp_path: Any, conn: Any) -> None:
    on = dt.date(2026, 3, 1)
    pf = read_spectacles(tmp_path, conn, on)
    early = compare_portfolio(pf, [bundled()["s122-extended"]], on=on, conn=conn)
    # in March 2026 the surcharge was in force anyway: extending it changes nothing on that date
    assert early.runs[0].summary()["duty_at_stake"] == early.baseline.summary()["duty_at_stake"]
