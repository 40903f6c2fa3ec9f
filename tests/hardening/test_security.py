"""Security checks: dependency advisories (pip-audit), no path from user input to the file system, request size
and row-count limits with clear errors."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .seeds import CASE_SEED, ENTRY_SEED

REPO = Path(__file__).resolve().parents[2]


def test_pip_audit_clean() -> None:
    exe = Path(sys.executable).with_name("pip-audit")
    if not exe.exists() and not shutil.which("pip-audit"):
        pytest.skip("pip-audit not installed (pip install pip-audit, or the `fuzz` extra)")
    try:
        cp = subprocess.run(
            [str(exe), "--progress-spinner", "off", "--format", "json", "--skip-editable"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit timed out reaching the advisory database (offline?): not checked")
    if cp.returncode != 0 and not cp.stdout.strip().startswith("{"):
        err = cp.stderr.strip().splitlines()[-1:] or ["?"]
        if re.search(r"connection|resolve|network|timed out|HTTPS|Max retries|proxy", cp.stderr, re.I):
            pytest.skip(f"pip-audit cannot reach the advisory database (offline): {err[0][:200]}")
        pytest.fail(f"pip-audit failed: {cp.stderr[-1500:]}")
    report = json.loads(cp.stdout)
    deps = report.get("dependencies", [])
    audited = [d for d in deps if not d.get("skip_reason")]
    if deps and not audited:
        # Offline (or a registry mirror without PyPI's JSON API): pip-audit exits 0 with every package skipped.
        # That is not a clean audit, so say so instead of passing.
        pytest.skip(
            f"pip-audit could not audit any of {len(deps)} dependencies ({deps[0]['skip_reason'][:80]}...): "
            "no advisory data reachable; not checked"
        )
    vulns = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in report.get("dependencies", [])
        if d.get("vulns")
    ]
    assert not vulns, "known vulnerabilities: " + "; ".join(vulns)


# --------------------------------------------------------------------------------------------- the API


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from usmca.app.api import Limits, create_app
    from usmca.app.db import Database

    monkeypatch.setenv("USMCA_SECRET", "hardening-test-secret")
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite'}")
    with TestClient(create_app(db, limits=Limits(body_bytes=64 * 1024, materials=50, entry_lines=20))) as c:
        yield c
    db.dispose()


PATHY = re.compile(r"path|file|dir|folder|url|uri|location|dest", re.I)


def test_openapi_has_no_path_inputs(client: Any) -> None:
    """No query/path/header parameter or JSON field the user sends names a file-system location. Uploads are
    file contents (the server picks the path)."""
    doc = client.get("/openapi.json").json()
    found = []
    for route, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                if PATHY.search(p["name"]):
                    found.append(f"{method.upper()} {route} parameter {p['name']}")
            for ctype, body in op.get("requestBody", {}).get("content", {}).items():
                schema = body.get("schema", {})
                if "$ref" in schema:
                    schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
                for name, prop in schema.get("properties", {}).items():
                    binary = (
                        prop.get("format") == "binary"
                        or "contentMediaType" in prop
                        or any(x.get("format") == "binary" or "contentMediaType" in x for x in prop.get("anyOf", []))
                    )
                    if PATHY.search(name) and not (ctype.startswith("multipart/") and binary):
                        found.append(f"{method.upper()} {route} body field {name}")
    assert not found, found


@pytest.mark.parametrize("field", ["path", "file", "output", "case_file"])
def test_bodies_refuse_path_fields(client: Any, field: str) -> None:
    case = {**CASE_SEED, field: "/etc/passwd"}
    r = client.post("/api/v1/qualify?record=false", json=case)
    assert r.status_code in (400, 422), r.text
    assert field in r.text
    entry = {**ENTRY_SEED, field: "../../etc/passwd"}
    r = client.post("/api/v1/duty", json=entry)
    assert r.status_code in (400, 422), r.text
    assert field in r.text


def test_upload_filename_does_not_choose_the_path(client: Any, tmp_path: Path) -> None:
    """A crafted upload file name is used only for its extension; nothing is written where it points."""
    from usmca.app import records

    db = client.app.state.db
    with db.session() as s:
        records.create_user(s, "an1", "analyst-password-long", "analyst", actor="test")
        key = records.create_api_key(s, "an1", "k", actor="test")
    target = tmp_path / "escaped.csv"
    evil = f"../../../../../../..{target}"
    files = {
        "products": (evil, io.BytesIO(b"sku,hts,country_of_production\nP1,7402.00,US\n"), "text/csv"),
        "bom": (
            "../bom.csv",
            io.BytesIO(b"parent_sku,component_id,component_hts,value\nP1,C1,7404.00,5\n"),
            "text/csv",
        ),
    }
    r = client.post("/api/v1/portfolio/runs", files=files, data={"date": "2026-03-01"}, headers={"X-API-Key": key})
    assert r.status_code in (202, 400, 422), r.text
    assert not target.exists()
    assert not Path("/bom.csv").exists()


def test_body_size_limit(client: Any) -> None:
    big = {**ENTRY_SEED, "lines": [{**ENTRY_SEED["lines"][0], "id": "x" * 100_000}]}
    r = client.post("/api/v1/duty", json=big)
    assert r.status_code == 413, r.text
    assert "larger than" in r.json()["error"]["message"]


def test_body_size_limit_without_content_length(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"entry_date": "2025-08-15", "lines": [], "pad": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    r = client.post("/api/v1/duty", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text


def test_row_count_limits(client: Any) -> None:
    mats = [{"id": f"m{i}", "hts": "7404.00", "origin": "non_originating", "value": 1} for i in range(51)]
    r = client.post("/api/v1/qualify?record=false", json={**CASE_SEED, "materials": mats})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["type"] == "too_many_rows"
    lines = [{**ENTRY_SEED["lines"][0], "id": f"L{i}"} for i in range(21)]
    r = client.post("/api/v1/duty", json={**ENTRY_SEED, "lines": lines})
    assert r.status_code == 413, r.text


def test_deeply_nested_body_is_a_clear_error(client: Any) -> None:
    body = "[" * 50_000 + "]" * 50_000
    r = client.post("/api/v1/qualify?record=false", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413, 422), r.text[:300]


def test_writes_need_a_key(client: Any) -> None:
    r = client.post("/api/v1/qualify", json=CASE_SEED)  # record=true by default: a write
    assert r.status_code in (401, 403), r.text
