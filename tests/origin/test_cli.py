"""`usmca qualify FILE [--format table|json]` and the plain-language memo (explain.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from usmca.cli import app
from usmca.origin.case import load_case
from usmca.origin.determine import determine
from usmca.origin.explain import memo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def test_qualify_json_is_the_interchange_document(conn: sqlite3.Connection) -> None:
    r = runner.invoke(app, ["qualify", str(EXAMPLES / "furniture-dining-table.yaml"), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert list(d) == [
        "status",
        "criterion",
        "rule",
        "tests",
        "rvc",
        "de_minimis",
        "needs",
        "trace",
        "vintage",
    ]
    assert d["status"] == "originating" and d["criterion"] == "B"
    assert d["rule"]["id"] == "GN11(o)/94/4"


def test_qualify_table_is_a_memo(conn: sqlite3.Connection) -> None:
    r = runner.invoke(app, ["qualify", str(EXAMPLES / "electronics-control-panel.yaml")])
    assert r.exit_code == 0, r.output
    assert "Conclusion: ORIGINATING - origin criterion B" in r.output
    assert "Self-produced materials (determined first)" in r.output
    assert "HTSUS General Note 11(o), Chapter 85" in r.output


def test_qualify_bad_input_names_the_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text('date: 2026-03-01\ngood: {hts: "9403.60.8040", country_of_production: MX, colour: red}\n')
    r = runner.invoke(app, ["qualify", str(f)])
    assert r.exit_code != 0
    assert "good.colour" in str(r.exception)


def test_memo_lists_open_points(conn: sqlite3.Connection) -> None:
    d = determine(load_case(EXAMPLES / "auto-part-seat-frame.yaml"), conn=conn)
    text = memo(d)
    assert "UNRESOLVED" in text and "Open points" in text and "GN11(o)/94/2" in text
    assert "Reasoning, in the order the law applies the tests:" in text
