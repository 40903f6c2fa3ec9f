from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.scenarios.conftest import SPECTACLES, SPECTACLES_BOM, write_pf
from usmca.cli import app

runner = CliRunner()


def test_list_and_show() -> None:
    r = runner.invoke(app, ["scenarios", "list"])
    assert r.exit_code == 0 and "autos-85" in r.output and "review-fails" in r.output
    r = runner.invoke(app, ["scenarios", "show", "s122-extended", "--format", "json"])
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["name"] == "s122-extended" and doc["sources"] and doc["measures"][0]["valid_to"] == "2027-07-23"


def test_bad_scenario_file_names_the_field(tmp_path: Path) -> None:
    from usmca.errors import InputError

    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: bad\ntitle: t\ndescription: d\nsources: [{title: s}]\n"
        "rules:\n  - kind: vehicle_rvc\n    classes: [bicycle]\n    net_cost: 85\n"
    )
    r = runner.invoke(app, ["scenarios", "show", str(p)])
    assert r.exit_code != 0 and isinstance(r.exception, InputError)
    assert r.exception.field == "bad.yaml: rules[0].classes[0]"


def test_compare_formats(tmp_path: Path, conn: Any) -> None:
    pp, bp = write_pf(tmp_path, SPECTACLES, SPECTACLES_BOM)
    args = ["scenarios", "compare", str(pp), str(bp), "--scenario", "china-content-cap", "--date", "2026-11-01"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "china-content-cap" in r.output and "SPEC-1" in r.output and "verified" in r.output
    r = runner.invoke(app, [*args, "--format", "json"])
    doc = json.loads(r.output)
    assert doc["scenarios"][0]["flips"][0]["sku"] == "SPEC-1"
    out = tmp_path / "r.html"
    r = runner.invoke(app, [*args, "--format", "html", "--out", str(out)])
    html = out.read_text()
    assert "<svg" in html and "<script" not in html and "<link" not in html  # self-contained, no CDN
