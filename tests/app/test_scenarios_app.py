"""Joint-review scenarios in the app: the API (list, show, compare, macro), the pages, their auth and limits,
and the comparison's JSON against the CLI's for the same portfolio."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.scenarios.conftest import SPECTACLES, SPECTACLES_BOM, write_pf

from .test_web import csrf, login

DATE = "2026-11-01"
NOOP = b"""name: nothing-changes
title: "A scenario that changes nothing"
description: "No overlay at all: every result must equal the baseline."
sources: [{title: "test fixture"}]
"""


@pytest.fixture(autouse=True)
def _store(conn: sqlite3.Connection) -> None:
    """The engines read the reference store built for the test run."""


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, tuple[str, bytes, str]]:
    pp, bp = write_pf(tmp_path, SPECTACLES, SPECTACLES_BOM)
    return {
        "products": ("products.csv", pp.read_bytes(), "text/csv"),
        "bom": ("bom.csv", bp.read_bytes(), "text/csv"),
    }


def wait(client: Any, href: str, seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while (job := client.get(href).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {href} did not finish"
        time.sleep(0.2)
    return job


def start(client: Any, key: str | None, files: Any, scenarios: list[str], **data: Any) -> Any:
    headers = {"X-API-Key": key} if key else {}
    return client.post("/api/v1/scenarios/compare", files=files, data={"scenario": scenarios, **data}, headers=headers)


# --- reads -----------------------------------------------------------------------------------------------------


def test_list_and_show(client: Any) -> None:
    from usmca.scenarios.model import bundled

    r = client.get("/api/v1/scenarios")
    assert r.status_code == 200
    rows = r.json()
    assert [x["name"] for x in rows] == list(bundled())
    for x in rows:
        assert x["title"] and x["description"] and x["sources"] and x["sources"][0]["title"]
        assert x["href"] == f"/api/v1/scenarios/{x['name']}"
    autos = next(x for x in rows if x["name"] == "autos-85")
    assert any(o.startswith("rules/vehicle_rvc") for o in autos["overlays"])

    r = client.get("/api/v1/scenarios/autos-85")
    assert r.status_code == 200
    doc = r.json()
    overlays = doc.pop("overlays")
    assert doc == bundled()["autos-85"].to_dict()  # the full scenario, as `usmca scenarios show --format json`
    assert any("net_cost=85" in o for o in overlays)
    assert doc["macro"]["claimed_share_lost_by_chapter"] == {"87": 0.25}


def test_unknown_scenario_is_404_naming_it(client: Any) -> None:
    for name in ("no-such-scenario", "autos-85.yaml"):  # a name never opens a file
        r = client.get(f"/api/v1/scenarios/{name}")
        assert r.status_code == 404, name
        assert name in r.json()["error"]["message"] and "autos-85" in r.json()["error"]["message"]
    assert client.get("/scenarios/no-such-scenario").status_code == 404
    assert "no-such-scenario" in client.get("/scenarios/no-such-scenario").text


def test_openapi_documents_typed_scenario_endpoints(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for p in (
        "/api/v1/scenarios",
        "/api/v1/scenarios/{name}",
        "/api/v1/scenarios/compare",
        "/api/v1/scenarios/compare/{job_id}",
        "/api/v1/scenarios/{name}/macro",
    ):
        assert p in paths, p
    started = paths["/api/v1/scenarios/compare"]["post"]["responses"]
    assert {"202", "401", "403"} <= set(started)
    schemas = doc["components"]["schemas"]
    assert {"ComparisonResult", "Flip", "Remedy", "ScenarioDetail", "MacroResult"} <= set(schemas)
    assert "margin_after" in schemas["Flip"]["properties"]


# --- comparison ------------------------------------------------------------------------------------------------


def test_compare_needs_an_analyst_key(client: Any, keys: dict[str, str], tables: Any) -> None:
    assert start(client, None, tables, ["autos-85"]).status_code == 401
    assert start(client, "not-a-key", tables, ["autos-85"]).status_code == 401
    r = start(client, keys["viewer"], tables, ["autos-85"])
    assert r.status_code == 403 and "analyst" in r.json()["error"]["message"]


def test_compare_json_equals_the_cli(
    client: Any, keys: dict[str, str], tables: Any, tmp_path: Path, database: Any
) -> None:
    from usmca.app.models import Job
    from usmca.cli import app as cli

    r = start(client, keys["analyst"], tables, ["china-content-cap", "s122-extended"], date=DATE)
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["href"])
    assert job["status"] == "done", job
    assert job["params"] == {
        "date": DATE,
        "files": ["bom", "products"],
        "scenarios": ["china-content-cap", "s122-extended"],
    }

    pp, bp = tmp_path / "products.csv", tmp_path / "bom.csv"  # the very files uploaded above
    args = ["scenarios", "compare", str(pp), str(bp), "--scenario", "china-content-cap"]
    out = CliRunner().invoke(cli, [*args, "--scenario", "s122-extended", "--date", DATE, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert job["result"] == json.loads(out.output)

    cap = job["result"]["scenarios"][0]
    assert [f["sku"] for f in cap["flips"] if f["flipped"]] == ["SPEC-1"]
    assert cap["remedies"][0]["verified"] is True and "10.0% <= 10%" in cap["remedies"][0]["arithmetic"]
    # the job is recorded and audited, and is not listed as a portfolio run
    with database.session() as s:
        assert s.get(Job, job["id"]).created_by == "analyst1"
    assert client.get(f"/api/v1/portfolio/runs/{job['id']}").status_code == 404
    assert job["id"][:8] not in client.get("/portfolio").text
    assert client.get("/api/v1/scenarios/compare/not-a-job").status_code == 404


def test_a_scenario_that_changes_nothing_shows_no_flips(client: Any, keys: dict[str, str], tables: Any) -> None:
    files = [*tables.items(), ("scenario_file", ("noop.yaml", NOOP, "application/yaml"))]
    r = client.post(
        "/api/v1/scenarios/compare", files=files, data={"date": DATE}, headers={"X-API-Key": keys["analyst"]}
    )
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["href"])
    assert job["status"] == "done", job
    res = job["result"]
    sc = res["scenarios"][0]
    assert sc["scenario"] == "nothing-changes" and sc["flips"] == [] and sc["remedies"] == []
    base = res["baseline"]
    assert {k: sc[k] for k in base if k != "scenario"} == {k: v for k, v in base.items() if k != "scenario"}


def test_compare_refuses_bad_input_naming_the_field(client: Any, keys: dict[str, str], tables: Any) -> None:
    key = keys["analyst"]
    r = start(client, key, tables, ["autos-85", "no-such"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "scenario[1]" and err["value"] == "no-such" and "autos-85" in err["hint"]
    r = start(client, key, tables, ["autos-85", "autos-85"])
    assert r.status_code == 422 and r.json()["error"]["value"] == "autos-85"
    r = start(client, key, tables, [])
    assert r.status_code == 422 and r.json()["error"]["field"] == "scenario"
    r = start(client, key, tables, ["autos-85"], date="2026-13-01")
    assert r.status_code == 422 and r.json()["error"]["field"] == "date"
    bad = {**tables, "products": ("products.txt", b"sku\n", "text/plain")}
    r = start(client, key, bad, ["autos-85"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "products"
    bad_doc = NOOP.replace(b'sources: [{title: "test fixture"}]', b"sources: []")
    files = [*tables.items(), ("scenario_file", ("bad.yaml", bad_doc, "application/yaml"))]
    r = client.post("/api/v1/scenarios/compare", files=files, headers={"X-API-Key": key})
    assert r.status_code == 422 and r.json()["error"]["field"] == "scenario_file[0] (bad.yaml): sources"
    bomb = b"a: &a [1, 2]\nb: [*a, *a]\n"
    files = [*tables.items(), ("scenario_file", ("bomb.yaml", bomb, "application/yaml"))]
    r = client.post("/api/v1/scenarios/compare", files=files, headers={"X-API-Key": key})
    assert r.status_code == 422 and "aliases" in r.json()["error"]["message"]


def test_compare_takes_tables_and_documents_as_files_or_text(client: Any, keys: dict[str, str], tables: Any) -> None:
    """What the published body allows is accepted: a table file without an extension or type (read by its
    content), a table as a text field, a scenario document as a JSON text field (``1e-05`` is a number there,
    where YAML 1.1 would read text), with a bundled name."""
    noop = {
        "name": "nothing-changes",
        "title": "A scenario that changes nothing",
        "description": "No overlay at all.",
        "sources": [{"title": "test fixture"}],
        "macro": {"claimed_share_lost": 1e-05},
    }
    parts = [
        ("products", ("products", tables["products"][1], "application/octet-stream")),
        ("bom", (None, tables["bom"][1].decode())),
        ("scenario", (None, "china-content-cap")),
        ("scenario_file", (None, json.dumps(noop), "application/json")),
        ("date", (None, DATE)),
    ]
    r = client.post("/api/v1/scenarios/compare", files=parts, headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["href"])
    assert job["status"] == "done", job
    assert job["params"]["scenarios"] == ["china-content-cap", "nothing-changes"]
    cap, same = job["result"]["scenarios"]
    assert [f["sku"] for f in cap["flips"] if f["flipped"]] == ["SPEC-1"]
    assert same["flips"] == [] and same["duty_owed"] == job["result"]["baseline"]["duty_owed"]


def test_an_uploaded_document_reads_as_json() -> None:
    """YAML's own values (a date, a number as a key) are read as the JSON the schema states."""
    from usmca.app.scenario_api import parse_upload

    text = NOOP + b"effective: 2027-07-01\nmacro: {claimed_share_lost_by_chapter: {87: 0.25, 7: 0.5}}\n"
    sc = parse_upload(text, "noop.yaml", "scenario_file[0]")
    assert str(sc.effective) == "2027-07-01"
    assert sc.macro.claimed_share_lost_by_chapter == {"87": 0.25, "07": 0.5}


def test_compare_refuses_what_its_schema_refuses(client: Any, keys: dict[str, str], tables: Any) -> None:
    key = keys["analyst"]
    for date, problem in (("0000-00-00", "not a calendar date"), ("2026-02-30", "not a calendar date"), ("", "YYYY")):
        r = start(client, key, tables, ["autos-85"], date=date)
        assert r.status_code == 422, (date, r.text)
        err = r.json()["error"]
        assert err["field"] == "date" and err["value"] == date and problem in err["problem"], err
    r = start(client, key, tables, [" autos-85"])  # names are the bundled ones exactly
    assert r.status_code == 422 and r.json()["error"]["field"] == "scenario", r.text
    for raw, field, problem in (
        (b"\x89PNG\r\n\x1a\n\x00\xff", "scenario_file[0]", "UTF-8"),
        (b"just words", "scenario_file[0] (x.yaml)", "mapping"),
        (b"[1, 2]", "scenario_file[0] (x.yaml)", "mapping"),
        (
            NOOP + b"rules: [{kind: vehicle_rvc, classes: [light_truck]}]\n",
            "scenario_file[0] (x.yaml): rules[0]",
            "rules",
        ),
        (NOOP.replace(b"nothing-changes", b"baseline"), "scenario_file[0] (x.yaml): name", "baseline"),
    ):
        files = [*tables.items(), ("scenario_file", ("x.yaml", raw, "application/yaml"))]
        r = client.post("/api/v1/scenarios/compare", files=files, headers={"X-API-Key": key})
        assert r.status_code == 422, (raw, r.text)
        err = r.json()["error"]
        assert err["field"] == field and problem in r.text, (raw, err)
    big = NOOP + b"assumptions: [" + b'"x", ' * 60_000 + b'"x"]\n'
    files = [*tables.items(), ("scenario_file", ("big.yaml", big, "application/yaml"))]
    r = client.post("/api/v1/scenarios/compare", files=files, headers={"X-API-Key": key})
    assert r.status_code == 413 and r.json()["error"]["limit"] == 256 * 1024, r.text


def test_published_compare_body(client: Any) -> None:
    """The body the comparison publishes: bundled names as an enum, documents as ScenarioDocument (every bundled
    scenario valid under it), a date in ``format: date``."""
    import jsonschema_rs
    import yaml

    from usmca.scenarios.model import bundled

    doc = client.get("/openapi.json").json()
    media = doc["paths"]["/api/v1/scenarios/compare"]["post"]["requestBody"]["content"]["multipart/form-data"]
    props = media["schema"]["properties"]
    assert props["scenario"]["anyOf"][0] == {"enum": list(bundled())}
    assert props["date"]["format"] == "date"
    assert props["scenario_file"]["$ref"] == "#/components/schemas/ScenarioDocument"
    assert "application/json" in media["encoding"]["scenario_file"]["contentType"]
    valid = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/ScenarioDocument", **doc}, validate_formats=True
    )
    data = Path(__file__).resolve().parents[2] / "src/usmca/scenarios/data"
    for f in sorted(data.glob("*.yaml")):
        as_json = json.loads(json.dumps(yaml.safe_load(f.read_text()), default=str))
        assert valid.is_valid(as_json), f.name
    for sc in bundled().values():
        assert valid.is_valid(sc.to_dict()), sc.name


def test_scenario_document_schema_follows_the_model() -> None:
    """Every field of the scenario model (and of each overlay) is in the published schema, and no other."""
    from typing import get_args

    from usmca.app.schemas import components
    from usmca.scenarios import model

    schemas = components()
    top = schemas["ScenarioDocument"]["properties"]
    assert set(top) == set(model.Scenario.model_fields)
    assert set(top["sources"]["items"]["properties"]) == set(model.Source.model_fields)
    assert set(top["macro"]["properties"]) == set(model.MacroAssumptions.model_fields)
    for field, union in (("rules", model.RuleOverlay), ("measures", model.MeasureOverlay)):
        published = {o["properties"]["kind"]["const"]: o for o in top[field]["items"]["anyOf"]}
        models = {m.model_fields["kind"].annotation.__args__[0]: m for m in get_args(get_args(union)[0])}
        assert set(published) == set(models), field
        for kind, m in models.items():
            assert set(published[kind]["properties"]) == set(m.model_fields), kind
            required = {f for f, info in m.model_fields.items() if info.is_required()}
            assert required <= set(published[kind].get("required", [])), kind
    rvc = top["rules"]["items"]["anyOf"][0]
    assert set(rvc["properties"]["scope"]["properties"]) == set(model.Scope.model_fields)
    change = top["measures"]["items"]["anyOf"][0]
    assert set(change["properties"]["select"]["properties"]) == set(model.Select.model_fields)


def test_compare_respects_the_upload_limit(database: Any, keys: dict[str, str], monkeypatch: Any) -> None:
    from fastapi.testclient import TestClient

    from usmca.app.api import Limits, create_app

    monkeypatch.setenv("USMCA_SECRET", "test-secret-not-for-production")
    with TestClient(create_app(database, limits=Limits(upload_bytes=1000, body_bytes=100))) as c:
        big = {"products": ("p.csv", b"x" * 2000, "text/csv"), "bom": ("b.csv", b"y", "text/csv")}
        r = start(c, keys["analyst"], big, ["autos-85"])
        assert r.status_code == 413 and r.json()["error"]["limit"] == 1000
        small = {"products": ("p.csv", b"x" * 300, "text/csv"), "bom": ("b.csv", b"y", "text/csv")}
        r = start(c, None, small, ["autos-85"])
        assert r.status_code == 401  # over the JSON body limit but within the upload limit: reaches auth


def test_flips_are_capped_at_the_result_row_limit() -> None:
    from usmca.app.api import Limits
    from usmca.app.scenario_api import comparison_document

    class Fake:
        def to_dict(self) -> dict[str, Any]:
            return {"scenarios": [{"flips": [{"sku": str(i)} for i in range(5)]}, {"flips": []}]}

    doc = comparison_document(Fake(), Limits(portfolio_result_rows=3))
    assert [f["sku"] for f in doc["scenarios"][0]["flips"]] == ["0", "1", "2"]
    assert doc["scenarios"][0]["flips_total"] == 5 and "flips_total" not in doc["scenarios"][1]


# --- macro view ------------------------------------------------------------------------------------------------

SMALL_TRADE = pl.DataFrame(
    {
        "hts": ["8703230190", "9401614011", "7326908688"],
        "country": ["MX", "CA", "MX"],
        "total_value": [1_000_000.0, 200_000.0, 50_000.0],
        "claimed_value": [800_000.0, 150_000.0, 10_000.0],
    }
)


def test_macro_view_is_computed_once_and_kept(client: Any, keys: dict[str, str], monkeypatch: Any) -> None:
    import datetime as dt

    from usmca.app import scenario_api
    from usmca.scenarios.macro import macro
    from usmca.scenarios.model import bundled

    monkeypatch.setattr(scenario_api, "_trade", lambda: SMALL_TRADE)  # three real lines: seconds, not minutes
    href = f"/api/v1/scenarios/autos-85/macro?date={DATE}"
    r = client.get(href)
    assert r.status_code == 404 and "POST" in r.json()["error"]["message"]
    assert client.post(href).status_code == 401
    assert client.post(href, headers={"X-API-Key": keys["viewer"]}).status_code == 403
    assert client.post("/api/v1/scenarios/nope/macro", headers={"X-API-Key": keys["analyst"]}).status_code == 404
    r = client.post(href, headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["href"])
    assert job["status"] == "done", job
    expect = macro([bundled()["autos-85"]], on=dt.date.fromisoformat(DATE), trade=SMALL_TRADE)
    assert job["result"] == json.loads(json.dumps(expect.to_dict(), default=str))
    ch87 = [x for x in job["result"]["by_chapter"] if x["chapter"] == "87" and x["scenario"] == "autos-85"]
    assert ch87[0]["lost_value"] == pytest.approx(800_000 * 0.25)
    again = client.post(href, headers={"X-API-Key": keys["analyst"]}).json()
    assert again["id"] == job["id"] and again["status"] == "done"  # kept: not computed twice

    page = client.get(f"/scenarios/autos-85/macro?date={DATE}")
    assert page.status_code == 200 and "<svg" in page.text and "by chapter" in page.text.lower()
    fresh = client.get("/scenarios/autos-85/macro?date=2026-10-01")
    assert fresh.status_code == 200 and "Not computed yet" in fresh.text and "Sign in" in fresh.text
    assert client.get("/scenarios/autos-85/macro?date=bad").status_code == 422


# --- pages -----------------------------------------------------------------------------------------------------


def test_pages_list_and_show_scenarios(client: Any) -> None:
    r = client.get("/")
    assert 'href="/scenarios"' in r.text  # in the site navigation
    r = client.get("/scenarios")
    assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
    for name in ("autos-85", "review-fails", "china-content-cap"):
        assert f'href="/scenarios/{name}"' in r.text
    assert "laws-lois.justice.gc.ca" in r.text  # sources are shown
    r = client.get("/scenarios/autos-85")
    assert r.status_code == 200
    assert "rules/vehicle_rvc" in r.text and "rules/core_parts_rvc" in r.text
    assert "No change to the measures." in r.text and "ch 87: 25.0%" in r.text
    r = client.get("/scenarios/review-fails")
    assert "measures/add" in r.text and "No change to the rules or the bills." in r.text


def test_compare_page_runs_and_reports(client: Any, keys: dict[str, str], tables: Any) -> None:
    data = {"csrf": csrf(client, "/login"), "scenario": ["china-content-cap"], "date": DATE}
    assert client.post("/scenarios/compare", data=data, files=tables).status_code == 401  # not signed in
    assert "Sign in" in client.get("/scenarios/compare").text
    assert login(client, "analyst1", "analyst-password-long").status_code == 303
    r = client.post("/scenarios/compare", data={**data, "csrf": "0" * 64}, files=tables)
    assert r.status_code == 403  # forged token
    page = client.get("/scenarios/compare?scenario=autos-85")
    assert 'value="autos-85" checked' in page.text
    r = client.post(
        "/scenarios/compare",
        data={**data, "csrf": csrf(client, "/scenarios/compare")},
        files=tables,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    deadline = time.monotonic() + 180
    while 'http-equiv="refresh"' in (html := client.get(url).text):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "1 SKU(s) flip" in html and "SPEC-1" in html
    assert "<svg" in html and "<script" not in html.split("</head>")[1]  # the report's charts, no scripts
    assert "Cheapest change that restores qualification" in html and "10.0% &lt;= 10%" in html
    assert url.rsplit("/", 1)[1][:8] in client.get("/scenarios/compare").text

    r = client.post(
        "/scenarios/compare",
        data={"csrf": csrf(client, "/scenarios/compare"), "scenario": ["nope"]},
        files=tables,
    )
    assert r.status_code == 422 and "no bundled scenario" in r.text
