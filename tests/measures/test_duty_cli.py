"""`usmca duty` and `usmca refunds` on files (the same engine as the Python functions)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from usmca.cli import app

ENTRY = """entry_date: 2025-08-15
lines:
  - id: L1
    hts: "6109.10.00.12"
    country_of_origin: CA
    entered_value: 10000.00
    transport: ocean
"""


def test_duty_json_with_compare_claim(tmp_path: Path, conn: sqlite3.Connection) -> None:
    f = tmp_path / "entry.yaml"
    f.write_text(ENTRY)
    res = CliRunner().invoke(app, ["duty", str(f), "--format", "json", "--compare-claim"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    line = doc["lines"][0]
    assert line["total_duty"] == 5150.0  # 16.5% + 35% IEEPA Canada (FR 2025-14999) on 10,000
    assert {"measure", "heading", "rate", "base", "amount", "citation", "formula"} <= set(
        line["components"][1]
    )
    assert doc["fees"]["mpf"] == 34.64 and doc["fees"]["hmf"] == 12.5
    assert doc["compare_claim"][0]["saving"] == 5150.0
    assert doc["vintage"]["schedule"] and doc["vintage"]["measures"].startswith("usmca measures")


def test_duty_table_and_bad_input(tmp_path: Path, conn: sqlite3.Connection) -> None:
    f = tmp_path / "entry.yaml"
    f.write_text(ENTRY)
    res = CliRunner().invoke(app, ["duty", str(f)])
    assert res.exit_code == 0 and "IEEPA Canada" in res.output and "5,150.00" in res.output
    f.write_text(ENTRY.replace("10000.00", "-5"))
    res = CliRunner().invoke(app, ["duty", str(f)])
    assert res.exit_code != 0
    assert "lines[0].entered_value" in str(res.exception)


def test_refunds_json(tmp_path: Path, conn: sqlite3.Connection) -> None:
    f = tmp_path / "past.yaml"
    f.write_text("entries:\n  - entry_number: E1\n" + "\n".join("    " + ln for ln in ENTRY.splitlines()))
    res = CliRunner().invoke(app, ["refunds", str(f), "--format", "json", "--as-of", "2026-03-01"])
    assert res.exit_code == 0, res.output
    (e,) = json.loads(res.output)["entries"]
    assert e["refundable"] == 3500.0 and e["route"] == "post_summary_correction"
