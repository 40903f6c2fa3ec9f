"""Fixtures: a tiny portfolio on the real rule of GN 11(o) chapter 90 rule 7 (9004.90: change from any other
chapter; or from any other heading with an RVC of 60% TV / 50% NC), and scenario documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from usmca.portfolio.read import BOM_COLUMNS, PRODUCT_COLUMNS

ON = dt.date(2026, 11, 1)


def write_pf(tmp: Path, prods: list[dict[str, Any]], bom: list[dict[str, Any]]) -> tuple[Path, Path]:
    p = pl.DataFrame(
        [{c: (None if r.get(c) is None else str(r.get(c))) for c in PRODUCT_COLUMNS} for r in prods],
        schema={c: pl.String for c in PRODUCT_COLUMNS},
    )
    b = pl.DataFrame(
        [{c: (None if r.get(c) is None else str(r.get(c))) for c in BOM_COLUMNS} for r in bom],
        schema={c: pl.String for c in BOM_COLUMNS},
    )
    pp, bp = tmp / "products.csv", tmp / "bom.csv"
    p.write_csv(pp)
    b.write_csv(bp)
    return pp, bp


SPECTACLES = [
    # originates by alternative B only: the frame (ch 90, heading 9003) fails "any other chapter";
    # RVC (TV) = (100 - 35) / 100 = 65% >= 60%; RVC (NC) = (80 - 35) / 80 = 56.25% >= 50%
    {
        "sku": "SPEC-1",
        "hts": "9004900090",
        "country_of_production": "MX",
        "transaction_value": "100",
        "net_cost": "80",
        "annual_value": "1000000",
        "country_of_origin": "MX",
    },
    # originates by alternative A: every non-originating material is of another chapter
    {
        "sku": "SPEC-2",
        "hts": "9004900090",
        "country_of_production": "CA",
        "transaction_value": "100",
        "annual_value": "500000",
        "country_of_origin": "CA",
    },
]
SPECTACLES_BOM = [
    {
        "parent_sku": "SPEC-1",
        "component_id": "frame",
        "component_hts": "9003110000",
        "value": "25",
        "origin": "non_originating",
        "country": "CN",
    },
    {
        "parent_sku": "SPEC-1",
        "component_id": "lens",
        "component_hts": "9001500000",
        "value": "10",
        "origin": "non_originating",
        "country": "CN",
    },
    {
        "parent_sku": "SPEC-1",
        "component_id": "case",
        "component_hts": "4202316000",
        "value": "5",
        "origin": "originating",
        "country": "MX",
    },
    {
        "parent_sku": "SPEC-2",
        "component_id": "case",
        "component_hts": "4202316000",
        "value": "8",
        "origin": "non_originating",
        "country": "CN",
    },
    {
        "parent_sku": "SPEC-2",
        "component_id": "screw",
        "component_hts": "7318152030",
        "value": "1",
        "origin": "non_originating",
        "country": "CN",
    },
]


def read_spectacles(tmp_path: Path, conn: Any, on: dt.date = ON) -> Any:
    from usmca.portfolio.read import read_portfolio
    from usmca.portfolio.run import schedule_checker

    pp, bp = write_pf(tmp_path, SPECTACLES, SPECTACLES_BOM)
    return read_portfolio(pp, bp, None, on=on, known_codes=schedule_checker(conn))


@pytest.fixture()
def spectacles(tmp_path: Path, conn: Any) -> Any:
    return read_spectacles(tmp_path, conn)


def scenario_doc(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "test",
        "title": "test scenario",
        "description": "a scenario for tests",
        "sources": [{"title": "test fixture"}],
    }
    doc.update(kw)
    return doc
