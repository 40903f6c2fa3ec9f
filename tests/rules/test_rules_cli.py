"""`usmca rules show|export|coverage` on the real corpus."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from usmca.cli import app

runner = CliRunner()


def test_show_table(conn) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["rules", "show", "8703.23.01", "--use", "passenger_vehicle"])
    assert res.exit_code == 0, res.output
    assert "GN11(o)/87/7" in res.output and "HTSUS General Note 11(o), Chapter 87, rule 7" in res.output
    assert "75% (net cost)" in res.output


def test_show_json(conn) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["rules", "show", "9401.99.10", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["status"] == "found" and doc["rules"][0]["id"] == "GN11(o)/94/2"
    assert doc["rules"][0]["provenance"]["nomenclature"] == "HS2017"


def test_show_missing_chapter(conn) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["rules", "show", "6403.99", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["status"] == "chapter_missing"


def test_bad_use_is_an_input_error(conn) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["rules", "show", "8703.23", "--use", "tractor"])
    assert res.exit_code != 0


def test_export_and_coverage(conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "corpus.json"
    res = runner.invoke(app, ["rules", "export", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["format"] == "usmca-rule-corpus"
    res = runner.invoke(app, ["rules", "coverage", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["structured_target_met"] is True
