from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.scenarios.conftest import scenario_doc
from usmca.scenarios.macro import macro, trade_2025
from usmca.scenarios.model import bundled, parse_scenario

ON = dt.date(2026, 11, 1)
TRADE = pl.DataFrame(
    {
        "hts": ["9004900090", "9004900090"],
        "country": ["MX", "CA"],
        "total_value": [1_000_000.0, 400_000.0],
        "claimed_value": [800_000.0, 100_000.0],
    }
)


def test_lost_share_and_measures_move_duty_as_stated(conn: Any) -> None:
    lose = parse_scenario(scenario_doc(name="lose-half", macro={"claimed_share_lost_by_chapter": {"90": 0.5}}))
    m = macro([lose, bundled()["s122-extended"]], on=ON, conn=conn, trade=TRADE)
    t = {(r["scenario"], r["country"]): r for r in m.totals.iter_rows(named=True)}
    base_mx = t[("baseline", "MX")]
    # 9004.90.00.90: 2.5% general, free under USMCA; claimed 800,000, unclaimed 200,000
    assert base_mx["duty"] == pytest.approx(200_000 * 0.025)
    assert t[("lose-half", "MX")]["lost_value"] == pytest.approx(400_000)
    assert t[("lose-half", "MX")]["duty"] == pytest.approx(600_000 * 0.025)
    # Section 122 extended: 10% more on the unclaimed value only
    assert t[("s122-extended", "MX")]["duty_change"] == pytest.approx(200_000 * 0.10)
    assert t[("s122-extended", "CA")]["duty_change"] == pytest.approx(300_000 * 0.10)
    assert any("lose-half" in a and "ch 90: 50%" in a for a in m.assumptions)


def test_trade_flows_2025_from_the_synced_sources(shared_data: Path) -> None:
    tr = trade_2025(shared_data)
    assert set(tr["country"].unique()) == {"CA", "MX"}
    mx = tr.filter(pl.col("country") == "MX")
    # SOURCE.md: Mexico 2025 monthly totals sum to about 530.7 bn USD
    assert 520e9 < mx["total_value"].sum() < 540e9
    assert (tr["claimed_value"] <= tr["total_value"] + 1).all()


def test_lost_share_only_for_the_named_exporters(conn: Any) -> None:
    mx = parse_scenario(
        scenario_doc(name="mx-only", macro={"claimed_share_lost_by_chapter": {"90": 0.5}, "countries": ["MX"]})
    )
    m = macro([mx], on=ON, conn=conn, trade=TRADE)
    t = {(r["scenario"], r["country"]): r for r in m.totals.iter_rows(named=True)}
    assert t[("mx-only", "MX")]["lost_value"] == pytest.approx(400_000)
    assert t[("mx-only", "CA")]["lost_value"] == 0 and t[("mx-only", "CA")]["duty_change"] == 0
