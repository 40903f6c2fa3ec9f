"""Security checks: dependency advisories (pip-audit, with a registry complement), no path from user input to
the file system, every write refused without credentials (401) and for a role that may not write (403), CSRF
on every form, security headers on every response, secrets never logged, request size and row-count limits
with clear errors naming the limit."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .seeds import CASE_SEED, ENTRY_SEED

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------- dependencies


def _pip_audit() -> dict[str, Any] | None:
    """pip-audit's JSON report over this environment; None when pip-audit is missing or cannot run."""
    exe = Path(sys.executable).with_name("pip-audit")
    if not exe.exists() and not shutil.which("pip-audit"):
        return None
    try:
        cp = subprocess.run(
            [str(exe) if exe.exists() else "pip-audit", "--progress-spinner", "off", "--format", "json",
             "--skip-editable"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        return None
    if cp.returncode != 0 and not cp.stdout.strip().startswith("{"):
        if re.search(r"connection|resolve|network|timed out|HTTPS|Max retries|proxy", cp.stderr, re.I):
            return None
        pytest.fail(f"pip-audit failed: {cp.stderr[-1500:]}")
    report: dict[str, Any] = json.loads(cp.stdout)
    return report


def test_pip_audit_clean() -> None:
    """pip-audit is the check. When it could audit nothing (not installed, offline, or a registry that serves no
    per-version JSON documents, where it reports every package "not found"), the registry complement below
    runs instead; it never replaces a real pip-audit result."""
    report = _pip_audit()
    deps = (report or {}).get("dependencies", [])
    audited = [d for d in deps if not d.get("skip_reason")]
    if not audited:
        why = "pip-audit is not installed or could not run" if report is None else (
            f"pip-audit audited none of {len(deps)} dependencies ({(deps[0]['skip_reason'] if deps else '')[:80]})"
        )
        _registry_complement(why)
        return
    vulns = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}" for d in deps if d.get("vulns")
    ]
    print(f"\npip-audit: {len(audited)} of {len(deps)} dependencies audited, {len(vulns)} with advisories")
    assert not vulns, "known vulnerabilities: " + "; ".join(vulns)


# The complement: the registry's unversioned JSON document of a project lists the advisories that affect its
# current release (`vulnerabilities`, for `info.version`). Where the installed version is that release, an
# empty list is the same answer pip-audit would give; any other installed version is listed as not checked.
REGISTRY_TIMEOUT = 10.0


def _json_api() -> str:
    """The registry's JSON API root as pip knows it (no host is written down here)."""
    from pip._internal.models.index import PyPI

    return str(PyPI.pypi_url).rstrip("/")


def _installed() -> dict[str, str]:
    """Installed distributions (name -> version), the project itself (editable) left out."""
    import importlib.metadata as md

    out: dict[str, str] = {}
    for d in md.distributions():
        name = d.metadata["Name"]
        direct = d.read_text("direct_url.json")
        if not name or name == "usmca" or (direct and json.loads(direct).get("dir_info", {}).get("editable")):
            continue
        out[re.sub(r"[-_.]+", "-", name).lower()] = d.version
    return out


def _fetch(url: str, ctx: ssl.SSLContext) -> tuple[int, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(url, timeout=REGISTRY_TIMEOUT, context=ctx) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _registry_complement(why: str) -> None:
    import os

    base = _json_api()
    ctx = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    installed = _installed()
    try:
        _fetch(f"{base}/pip/json", ctx)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        pytest.skip(f"{why}; the registry is not reachable either ({exc}): dependencies not checked")
    started = time.monotonic()

    def one(name: str) -> tuple[str, int, dict[str, Any] | None]:
        try:
            status, doc = _fetch(f"{base}/{name}/json", ctx)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError):
            return name, 0, None
        return name, status, doc

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, sorted(installed)))
    checked: list[str] = []
    not_checked: list[str] = []
    advisories: list[str] = []
    for name, status, doc in answers:
        version = installed[name]
        if status != 200 or doc is None:
            not_checked.append(f"{name} {version} (registry answered {status or 'nothing'})")
            continue
        current = str(doc.get("info", {}).get("version", ""))
        if not _same_version(current, version):
            not_checked.append(f"{name} {version} (registry lists {current})")
            continue
        checked.append(name)
        for v in doc.get("vulnerabilities") or []:
            if not v.get("withdrawn"):
                advisories.append(f"{name} {version}: {v.get('id')} {' '.join(v.get('aliases') or [])}".strip())
    print(
        f"\nregistry complement ({why}): {len(checked)} of {len(installed)} installed distributions checked "
        f"in {time.monotonic() - started:.1f} s; not checked ({len(not_checked)}): {'; '.join(not_checked)}"
    )
    assert checked, f"the registry answered for none of {len(installed)} distributions: {not_checked[:5]}"
    assert not advisories, "known vulnerabilities: " + "; ".join(advisories)


# --------------------------------------------------------------------------------------------- the API


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from usmca.app.api import Limits, create_app
    from usmca.app.db import Database

    monkeypatch.setenv("USMCA_SECRET", "hardening-test-secret")
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite'}")
    limits = Limits(body_bytes=64 * 1024, upload_bytes=256 * 1024, materials=50, entry_lines=20)
    with TestClient(create_app(db, limits=limits)) as c:
        yield c
    db.dispose()


PASSWORDS = {role: f"{role}-password-long" for role in ("viewer", "analyst", "admin")}


@pytest.fixture
def keys(client: Any) -> dict[str, str]:
    """One user per role (password PASSWORDS[role]) and an API key each."""
    from usmca.app import records

    out = {}
    with client.app.state.db.session() as s:
        for role, password in PASSWORDS.items():
            records.create_user(s, role, password, role, actor="test")
            out[role] = records.create_api_key(s, role, "test", actor="test")
    return out


PATHY = re.compile(r"path|file|dir|folder|url|uri|location|dest", re.I)


def _is_file(prop: dict[str, Any]) -> bool:
    """A multipart part that carries file contents (or a list of them)."""
    if prop.get("format") == "binary" or "contentMediaType" in prop:
        return True
    return any(_is_file(x) for x in prop.get("anyOf", [])) or (
        prop.get("type") == "array" and isinstance(prop.get("items"), dict) and _is_file(prop["items"])
    )


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
                # A part whose media type the body's `encoding` declares carries a document (its contents).
                encoded = {n for n, e in body.get("encoding", {}).items() if e.get("contentType")}
                for name, prop in schema.get("properties", {}).items():
                    binary = _is_file(prop) or name in encoded
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
    err = r.json()["error"]
    assert err["limit"] == 64 * 1024 and f"larger than {64 * 1024} bytes" in err["message"], err


def test_body_size_limit_without_content_length(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"entry_date": "2025-08-15", "lines": [], "pad": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    r = client.post("/api/v1/duty", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["limit"] == 64 * 1024, r.text


def test_upload_size_limit(client: Any, keys: dict[str, str]) -> None:
    """Uploads have their own (larger) limit, checked before the key: nothing is read past it."""
    files = {"products": ("p.csv", io.BytesIO(b"x" * 300_000), "text/csv"), "bom": ("b.csv", b"a\n", "text/csv")}
    r = client.post(
        "/api/v1/portfolio/runs", files=files, data={"date": "2026-03-01"}, headers={"X-API-Key": keys["analyst"]}
    )
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["limit"] == 256 * 1024 and str(256 * 1024) in err["message"], err


@pytest.mark.parametrize("page", ["/portfolio", "/scenarios/compare"])
def test_upload_forms_have_the_upload_limit(client: Any, keys: dict[str, str], page: str) -> None:
    """The pages' upload forms take tables up to the upload limit (not the smaller JSON body limit), and no more."""
    _sign_in(client, "analyst")
    table = b"sku,hts,country_of_production\n" + b"P1,9401.61.4011,MX\n" * 5_000  # ~100 KB: over body_bytes
    assert 64 * 1024 < len(table) < 256 * 1024
    data = {"csrf": _csrf(client, page), "date": "2026-03-01", "scenario": "autos-85"}
    files = {"products": ("products.csv", table, "text/csv"), "bom": ("bom.csv", b"parent_sku\n", "text/csv")}
    r = client.post(page, data=data, files=files, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]  # the run was started
    big = {**files, "products": ("products.csv", table * 3, "text/csv")}
    r = client.post(page, data={**data, "csrf": _csrf(client, page)}, files=big, follow_redirects=False)
    assert r.status_code == 413 and r.json()["error"]["limit"] == 256 * 1024, r.text[:500]
    # Everything else keeps the body limit: a path under the page's, and another page's form.
    for other in (f"{page}/x", "/duty"):
        r = client.post(other, data={"pad": "x" * 70_000})
        assert r.status_code == 413 and r.json()["error"]["limit"] == 64 * 1024, (other, r.text[:300])


def test_form_size_limit(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's form: over the form limit, the page says so (422, naming the limit); over the body limit, 413."""
    from usmca.app import web

    monkeypatch.setattr(web, "MAX_FORM_BYTES", 2_000)
    r = client.post("/duty", data={"hts": "x" * 3_000})
    assert r.status_code == 422 and "at most 2000 bytes" in r.text, r.text[:500]
    r = client.post("/duty", data={"hts": "x" * 70_000})
    assert r.status_code == 413 and r.json()["error"]["limit"] == 64 * 1024, r.text[:500]


def test_row_count_limits(client: Any) -> None:
    mats = [{"id": f"m{i}", "hts": "7404.00", "origin": "non_originating", "value": 1} for i in range(51)]
    r = client.post("/api/v1/qualify?record=false", json={**CASE_SEED, "materials": mats})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["type"] == "too_many_rows" and err["limit"] == 50 and "more than 50 material lines" in err["message"]
    lines = [{**ENTRY_SEED["lines"][0], "id": f"L{i}"} for i in range(21)]
    r = client.post("/api/v1/duty", json={**ENTRY_SEED, "lines": lines})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["type"] == "too_many_rows" and err["limit"] == 20 and "more than 20 lines" in err["message"]


@pytest.mark.parametrize(
    ("path", "params", "limit"),
    [
        ("/api/v1/determinations", {"limit": 501}, 500),
        ("/api/v1/hts/search", {"q": "chair", "limit": 201}, 200),
    ],
)
def test_page_size_limits(client: Any, path: str, params: dict[str, Any], limit: int) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == "limit" and str(limit) in err["message"], err


def test_deeply_nested_body_is_a_clear_error(client: Any) -> None:
    body = "[" * 50_000 + "]" * 50_000
    r = client.post("/api/v1/qualify?record=false", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413, 422), r.text[:300]


# ---------------------------------------------------------------------- who may write: every route, enumerated

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes only an admin may make (every other write needs an analyst; none is open to a viewer).
ADMIN_WRITES = {"/api/v1/archive", "/api/v1/users", "/api/v1/users/{username}/keys"}
# POSTs that write nothing (a quote is a POST for its body): open to anyone; the test checks they write nothing.
API_OPEN = {"/api/v1/duty", "/api/v1/duty/compare"}
# Page forms: the role a form needs to write, or None for forms that write nothing (a quote, signing in and out).
# A new form must be added here: the test refuses an unclassified one.
WEB_FORMS: dict[str, str | None] = {
    "/duty": None,
    "/origin": "analyst",  # the check itself is open; recording it (record=1) needs an analyst
    "/determinations/{det_id}/certificate": "analyst",
    "/portfolio": "analyst",
    "/scenarios/compare": "analyst",
    "/scenarios/{name}/macro": "analyst",
    "/login": None,
    "/logout": None,
}
PATH_VALUES = {"name": "autos-85", "username": "viewer", "det_id": "1"}


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def _routes(app: Any, methods: set[str]) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        for m in sorted((getattr(route, "methods", None) or set()) & methods):
            out.append((m, route.path))
    return out


def test_every_api_write_needs_a_key_and_the_role(client: Any, keys: dict[str, str]) -> None:
    """Every POST/PUT/PATCH/DELETE under /api, taken from the app itself (a new one is covered without being
    named): no key or an unknown key -> 401; a viewer's key -> 403; an analyst's key on an admin write -> 403.
    The body is empty: the key is checked before the body is read."""
    routes = [(m, p) for m, p in _routes(client.app, WRITE_METHODS) if p.startswith("/api/")]
    paths = client.get("/openapi.json").json()["paths"]
    published = {(m.upper(), p) for p, ops in paths.items() for m in ops if m.upper() in WRITE_METHODS}
    assert set(routes) == published, "every API write is in the published document, and only those"
    assert len(routes) >= 10 and {p for _, p in routes} >= ADMIN_WRITES | API_OPEN
    refused = []
    for method, path in routes:
        if path in API_OPEN:
            continue
        url = _fill(path)
        for who, headers, want in (
            ("no key", {}, 401),
            ("unknown key", {"X-API-Key": "usk_" + "x" * 43}, 401),
            ("viewer", {"X-API-Key": keys["viewer"]}, 403),
            *((("analyst", {"X-API-Key": keys["analyst"]}, 403),) if path in ADMIN_WRITES else ()),
        ):
            r = client.request(method, url, headers=headers)
            if r.status_code != want or "error" not in r.json():
                refused.append(f"{method} {url} as {who}: {r.status_code} (want {want}) {r.text[:120]}")
    assert not refused, "\n".join(refused)


def test_open_posts_write_nothing(client: Any) -> None:
    """The POSTs open to anyone (quotes) leave the application database as it was."""
    from sqlalchemy import text

    def counts() -> list[int]:
        with client.app.state.db.session() as s:
            tables = ("audit_log", "determinations", "products", "jobs", "users", "api_keys", "certificates")
            return [s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables]

    before = counts()
    for path in sorted(API_OPEN):
        r = client.post(path, json={**ENTRY_SEED, "lines": [{**ENTRY_SEED["lines"][0], "country_of_origin": "MX"}]})
        assert r.status_code == 200, r.text
    assert counts() == before


def test_published_writes_declare_the_key(client: Any) -> None:
    """The document says which operations need the key (OpenAPI security), so clients and tools know; only
    qualify's is optional (record=false writes nothing)."""
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": doc["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    missing = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method.upper() not in WRITE_METHODS:
                continue
            security = op.get("security") or []
            if path in API_OPEN:
                if security:
                    missing.append(f"{method.upper()} {path} writes nothing, yet asks for a key: {security}")
                continue
            optional = {} in security
            if {"ApiKey": []} not in security or (optional and path != "/api/v1/qualify"):
                missing.append(f"{method.upper()} {path}: {security}")
    assert not missing, missing


def _csrf(client: Any, page: str = "/login") -> str:
    r = client.get(page)
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
    assert r.status_code == 200 and m, f"no form token on {page}"
    return m.group(1)


def _sign_in(client: Any, role: str) -> None:
    r = client.post(
        "/login",
        data={"csrf": _csrf(client), "username": role, "password": PASSWORDS[role]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]


def _form_routes(app: Any) -> list[str]:
    paths = [p for _, p in _routes(app, WRITE_METHODS) if not p.startswith("/api/")]
    unclassified = sorted(set(paths) - set(WEB_FORMS))
    assert not unclassified, f"page forms not classified in WEB_FORMS (which role may write?): {unclassified}"
    return paths


def test_every_form_write_needs_a_signed_in_role(client: Any, keys: dict[str, str]) -> None:
    """Every page form that writes: with a valid form token but nobody signed in -> 401; signed in as a
    viewer -> 403. Enumerated from the app; an unclassified form fails the test."""
    refused = []
    for path in _form_routes(client.app):
        role = WEB_FORMS[path]
        if role is None:
            continue
        url = _fill(path)
        extra = {"case": "{}", "record": "1"} if path == "/origin" else {}
        client.cookies.clear()
        r = client.post(url, data={"csrf": _csrf(client), **extra}, follow_redirects=False)
        if r.status_code != 401:
            refused.append(f"POST {url} signed out: {r.status_code} (want 401)")
        client.cookies.clear()
        _sign_in(client, "viewer")
        r = client.post(url, data={"csrf": _csrf(client, "/duty"), **extra}, follow_redirects=False)
        if r.status_code != 403:
            refused.append(f"POST {url} as viewer: {r.status_code} (want 403)")
    client.cookies.clear()
    assert not refused, "\n".join(refused)


def test_every_form_refuses_a_missing_or_forged_token(client: Any, keys: dict[str, str]) -> None:
    """CSRF: every page form (enumerated), even for a signed-in analyst: no token, a forged token, or a token
    minted for another browser's cookie -> 403, and nothing happens."""
    from usmca.app.web import CSRF_COOKIE

    client.cookies.clear()
    other = _csrf(client)  # a genuine token, bound to this first cookie
    client.cookies.clear()
    _sign_in(client, "analyst")
    _csrf(client, "/duty")  # this browser's own cookie
    assert client.cookies.get(CSRF_COOKIE)
    accepted = []
    for path in _form_routes(client.app):
        url = _fill(path)
        for what, token in (("no token", None), ("forged", "0" * 64), ("another browser's", other)):
            data = {"username": "analyst", "password": PASSWORDS["analyst"], "record": "1", "case": "{}"}
            if token is not None:
                data["csrf"] = token
            r = client.post(url, data=data, follow_redirects=False)
            if r.status_code != 403 or "security token" not in r.text:
                accepted.append(f"POST {url} with {what}: {r.status_code}")
    client.cookies.clear()
    assert not accepted, "\n".join(accepted)


# ------------------------------------------------------------------------------------------ response headers

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _check_headers(r: Any) -> list[str]:
    bad = [f"{h}: {r.headers.get(h)!r}" for h, v in HEADERS.items() if r.headers.get(h) != v]
    csp = r.headers.get("content-security-policy", "")
    for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"):
        if part not in csp:
            bad.append(f"content-security-policy lacks {part!r}: {csp!r}")
    return bad


def test_security_headers_on_every_response(client: Any, keys: dict[str, str]) -> None:
    """Every GET route of the app (pages, API, documents; enumerated), a static file, a 404, a 405 and a 413:
    CSP (no framing, scripts and forms from the site only), nosniff, X-Frame-Options and Referrer-Policy.
    Pages are not cached; the session and form cookies are HttpOnly and SameSite=Strict."""
    from usmca.app.web import CSRF_COOKIE, SESSION_COOKIE

    urls = [_fill(p) for _, p in _routes(client.app, {"GET"})]
    urls += ["/static/app.css", "/no/such/page", "/api/v1/no-such"]
    assert len(urls) > 25
    bad = []
    for url in urls:
        r = client.get(url, headers={"X-API-Key": keys["viewer"]})
        bad += [f"GET {url} ({r.status_code}) {b}" for b in _check_headers(r)]
        page = "text/html" in r.headers.get("content-type", "") and not url.startswith(("/docs", "/redoc"))
        if page and r.status_code == 200 and r.headers.get("cache-control") != "no-store":
            bad.append(f"GET {url}: page may be cached ({r.headers.get('cache-control')!r})")
    for r in (client.delete("/api/v1/duty"), client.post("/api/v1/duty", content=b"x" * 70_000)):
        bad += [f"{r.request.method} {r.request.url.path} ({r.status_code}) {b}" for b in _check_headers(r)]
    assert not bad, "\n".join(bad)
    client.cookies.clear()
    page = client.get("/login")
    login = client.post(
        "/login",
        data={"csrf": _csrf(client), "username": "viewer", "password": PASSWORDS["viewer"]},
        follow_redirects=False,
    )
    for resp, name in ((page, CSRF_COOKIE), (login, SESSION_COOKIE)):
        cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith(f"{name}="))
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower(), cookie
    client.cookies.clear()


# ------------------------------------------------------------------------------------- secrets never logged


def test_secrets_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A real server (uvicorn on 127.0.0.1, access log on as `usmca serve` has it): create a user and an API key
    through the API, use the key, sign in on the page with the password, fail a sign-in, send a too-short
    password and a wrong key. No log record (ours, uvicorn's, the access log in its own format), nothing on
    stdout/stderr, no error body and no byte of the application database holds a password or a key."""
    import httpx
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG
    from uvicorn.logging import AccessFormatter, DefaultFormatter

    from usmca.app import records
    from usmca.app.api import create_app
    from usmca.app.db import Database

    monkeypatch.setenv("USMCA_SECRET", "hardening-test-secret")
    password, wrong, short = "carol-Secret-Passphrase-7", "carol-Wrong-Passphrase-9", "Tiny-Secr3t"
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite'}")
    with db.session() as s:
        records.create_user(s, "root", "root-Secret-Passphrase-1", "admin", actor="test")
        admin_key = records.create_api_key(s, "root", "bootstrap", actor="test")
    secrets = [password, wrong, short, admin_key, "root-Secret-Passphrase-1"]

    formatted = io.StringIO()  # the log as `usmca serve` prints it: uvicorn's own formats
    access = logging.StreamHandler(formatted)
    access.setFormatter(AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=False))
    default = logging.StreamHandler(formatted)
    default.setFormatter(DefaultFormatter(LOGGING_CONFIG["formatters"]["default"]["fmt"], use_colors=False))
    logging.getLogger("uvicorn.access").addHandler(access)
    logging.getLogger("uvicorn.error").addHandler(default)
    caplog.set_level(logging.DEBUG)
    server = uvicorn.Server(
        uvicorn.Config(create_app(db), host="127.0.0.1", port=0, log_config=None, log_level="debug", access_log=True)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        bodies = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            admin = {"X-API-Key": admin_key}
            carol = {"username": "carol", "password": password, "role": "analyst"}
            r = http.post("/api/v1/users", json=carol, headers=admin)
            assert r.status_code == 201, r.text
            r = http.post("/api/v1/users/carol/keys", json={"name": "ci"}, headers=admin)
            assert r.status_code == 201, r.text
            key = r.json()["key"]
            secrets.append(key)
            dave = {"username": "dave", "password": short, "role": "viewer"}
            r = http.post("/api/v1/users", json=dave, headers=admin)
            assert r.status_code == 422 and r.json()["error"]["field"] == "password", r.text
            bodies.append(r.text)
            r = http.post("/api/v1/qualify", json=CASE_SEED, headers={"X-API-Key": key})
            assert r.status_code == 200, r.text
            assert http.get("/api/v1/audit/verify", headers={"X-API-Key": key}).status_code == 200
            r = http.post("/api/v1/qualify", json=CASE_SEED, headers={"X-API-Key": key[:-2] + "zz"})
            assert r.status_code == 401
            bodies.append(r.text)
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', http.get("/login").text)
            assert token
            r = http.post("/login", data={"csrf": token.group(1), "username": "carol", "password": password})
            assert r.status_code == 303, r.text[:300]
            r = http.post("/login", data={"csrf": token.group(1), "username": "carol", "password": wrong})
            assert r.status_code == 401
            bodies.append(r.text)
    finally:
        server.should_exit = True
        thread.join(15)
        logging.getLogger("uvicorn.access").removeHandler(access)
        logging.getLogger("uvicorn.error").removeHandler(default)
        db.dispose()
    out, err = capfd.readouterr()
    texts = {
        "formatted log": formatted.getvalue(),
        "log records": "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
        ),
        "stdout/stderr": out + err,
        "error bodies": "\n".join(bodies),
        "database files": "\n".join(
            p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.name.startswith("app.sqlite")
        ),
    }
    assert "POST /api/v1/users/carol/keys" in texts["formatted log"], "the access log was not captured"
    assert len(caplog.records) >= 8
    leaks = [f"{where}: {secret[:6]}..." for where, text in texts.items() for secret in secrets if secret in text]
    assert not leaks, leaks
