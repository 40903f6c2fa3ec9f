"""`usmca hts ...` through Typer's test runner, on the real store."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from usmca.cli import app
from usmca.errors import InputError, NotFoundError

runner = CliRunner()


def _json(args: list[str]) -> object:
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_show_json(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "show", "8708.99.81.80", "--as-of", "2025-07-15"])
    assert isinstance(data, dict)
    assert data["code"] == "8708998180"
    assert data["revision"]["id"] == "2025_rev_17"
    assert (data["general"], data["other"], data["rates_inherited_from"]) == ("2.5%", "25%", "87089981")
    assert data["general_rate"]["kind"] == "ad_valorem"
    assert any(g["programs"] and "S" in g["programs"] for g in data["special_rates"])
    assert data["coverage_warning"] is None


def test_show_table_names_revision(conn: sqlite3.Connection) -> None:
    res = runner.invoke(app, ["hts", "show", "87089981", "--as-of", "2026-02-01", "--children"])
    assert res.exit_code == 0, res.output
    assert "2026 rev 2" in res.stdout and "8708.99.81.05" in res.stdout


def test_show_after_coverage_warns(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "show", "8708.99.81", "--as-of", "2026-10-01"])
    assert isinstance(data, dict)
    assert "newer revisions may exist" in data["coverage_warning"]


def test_show_errors_name_the_value(conn: sqlite3.Connection) -> None:
    # main() turns these into one line on stderr with exit 2; the Typer app lets them through.
    res = runner.invoke(app, ["hts", "show", "0201.30.50.85", "--as-of", "2026-03-01"])
    assert isinstance(res.exception, NotFoundError)
    assert "0201.30.50.85 does not exist on 2026-03-01" in str(res.exception)
    res = runner.invoke(app, ["hts", "show", "12.3", "--as-of", "2026-03-01"])
    assert isinstance(res.exception, InputError) and "'12.3'" in str(res.exception)
    res = runner.invoke(app, ["hts", "show", "8708.99.81", "--as-of", "01/03/2026"])
    assert isinstance(res.exception, InputError) and "'01/03/2026'" in str(res.exception)


def test_search_json(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "search", "seats motor vehicles", "--as-of", "2025-06-01", "--limit", "3"])
    assert isinstance(data, dict)
    assert data["revision"] == "2025 rev 15"
    assert next(h["code"] for h in data["hits"]) == "9401200000"
    assert len(data["hits"]) == 3


def test_history_json(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "history", "0201.10.50"])
    assert isinstance(data, dict)
    versions = data["versions"]
    assert [v["rev_from"] for v in versions] == ["2025 basic", "2026 basic"]
    assert versions[1]["changed"] == ["special"]


def test_diff_json_and_table(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "diff", "2026_rev_1", "2026 rev 2"])
    assert isinstance(data, dict)
    assert data["counts"]["added"] == 176 and data["counts"]["removed"] == 66
    res = runner.invoke(app, ["hts", "diff", "2026_rev_1", "2026 rev 2", "--limit", "2"])
    assert res.exit_code == 0 and "176 added, 66 removed" in res.stdout


def test_revisions_lists_rev8_with_its_date_source(conn: sqlite3.Connection) -> None:
    data = _json(["hts", "revisions"])
    assert isinstance(data, dict)
    revs = {r["id"]: r for r in data["revisions"]}
    assert len(revs) == 44
    assert (revs["2026_rev_8"]["effective_date"], revs["2026_rev_8"]["date_source"]) == (
        "2026-05-22",
        "SOURCE.md",
    )
    res = runner.invoke(app, ["hts", "revisions"])
    assert res.exit_code == 0 and "SOURCE.md" in res.stdout


@pytest.mark.parametrize(
    "args", [["hts", "history", "9999.99"], ["hts", "diff", "2025_rev_40", "2026_basic"]]
)
def test_other_errors(conn: sqlite3.Connection, args: list[str]) -> None:
    res = runner.invoke(app, args)
    assert isinstance(res.exception, (NotFoundError, InputError))
    assert args[2] in str(res.exception) or args[2].replace(".", "") in str(res.exception)


def test_main_prints_one_line_error_and_exits_2(conn: sqlite3.Connection) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("usmca")
    res = subprocess.run(
        [str(exe), "hts", "show", "94x", "--as-of", "2025-03-01"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: code: an HTS code has only digits and dots (got '94x'); e.g. 9401.99.1085"
    ]
