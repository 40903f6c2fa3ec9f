"""The pages: each renders over the real store; forms need their CSRF token; recording needs an analyst."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from .test_api import CASE


@pytest.fixture(autouse=True)
def _store(conn: sqlite3.Connection) -> None:
    """The pages read the reference store built for the test run."""


def csrf(client: Any, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: Any, username: str, password: str) -> Any:
    return client.post(
        "/login",
        data={"csrf": csrf(client, "/login"), "username": username, "password": password},
        follow_redirects=False,
    )


def test_pages_render_with_security_headers(client: Any) -> None:
    for path in ("/", "/hts", "/duty", "/origin", "/determinations", "/login"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "text/html" in r.headers["content-type"]
        assert (
            r.headers["x-frame-options"] == "DENY"
            and "default-src 'self'" in r.headers["content-security-policy"]
        )
    assert client.get("/static/app.css").status_code == 200


def test_tariff_browser_with_date(client: Any) -> None:
    r = client.get("/hts", params={"q": "seats", "as_of": "2025-08-15"})
    assert r.status_code == 200 and "/hts/9401" in r.text
    r = client.get("/hts/9401.61.4011", params={"as_of": "2025-08-15"})
    assert r.status_code == 200 and "9401.61.40.11" in r.text and "History" in r.text
    r = client.get("/hts/9401.61.4011", params={"as_of": "not-a-date"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.text


def test_forms_refuse_a_missing_or_forged_csrf_token(client: Any) -> None:
    form = {
        "entry_date": "2025-08-15",
        "hts": "9401.61.4011",
        "country_of_origin": "CA",
        "entered_value": "10000",
    }
    assert client.post("/duty", data=form).status_code == 403
    client.get("/duty")
    assert client.post("/duty", data={**form, "csrf": "0" * 64}).status_code == 403
    assert login(client, "x", "y").status_code == 401  # a valid token, wrong password


def test_duty_calculator_shows_both_routes(client: Any) -> None:
    token = csrf(client, "/duty")
    r = client.post(
        "/duty",
        data={
            "csrf": token,
            "entry_date": "2025-08-15",
            "hts": "9401.61.4011",
            "country_of_origin": "CA",
            "entered_value": "10000",
            "transport": "ocean",
        },
    )
    assert r.status_code == 200, r.text
    assert "Without USMCA claim" in r.text and "With USMCA claim" in r.text and "9903.01.10" in r.text


def test_origin_checker_records_only_for_analysts(client: Any, keys: dict[str, str]) -> None:
    import yaml

    text = yaml.safe_dump(CASE)
    token = csrf(client, "/origin")
    r = client.post("/origin", data={"csrf": token, "case": text})
    assert r.status_code == 200 and "originating" in r.text and "Trace" in r.text
    r = client.post("/origin", data={"csrf": token, "case": text, "record": "1"})
    assert r.status_code == 401  # nobody signed in
    assert login(client, "viewer1", "viewer-password-long").status_code == 303
    r = client.post("/origin", data={"csrf": csrf(client, "/origin"), "case": text, "record": "1"})
    assert r.status_code == 403 and "analyst" in r.text
    assert login(client, "analyst1", "analyst-password-long").status_code == 303
    r = client.post("/origin", data={"csrf": csrf(client, "/origin"), "case": text, "record": "1"})
    assert r.status_code == 200 and "Recorded as" in r.text
    det = re.search(r'href="/determinations/(\d+)"', r.text)
    assert det
    page = client.get(f"/determinations/{det.group(1)}")
    assert page.status_code == 200 and "SKU-CHAIR" in page.text
    assert "SKU-CHAIR" in client.get("/determinations").text
    bad = text.replace("value: 30", "value: -30")
    r = client.post("/origin", data={"csrf": csrf(client, "/origin"), "case": bad})
    assert r.status_code == 422 and "materials[0].value" in r.text


def test_certificate_issued_from_the_determination_page(client: Any, keys: dict[str, str]) -> None:
    import yaml

    assert login(client, "analyst1", "analyst-password-long").status_code == 303
    r = client.post(
        "/origin", data={"csrf": csrf(client, "/origin"), "case": yaml.safe_dump(CASE), "record": "1"}
    )
    det = re.search(r'href="/determinations/(\d+)"', r.text)
    assert det
    page = f"/determinations/{det.group(1)}"
    form = {
        "certifier_role": "producer",
        "certifier_name": "Ana Ruiz",
        "certifier_title": "Compliance",
        "certifier_address": "Monterrey, MX",
        "certifier_telephone": "+52 81 0000",
        "certifier_email": "a@b.mx",
        "producer_name": "Various",
        "signature_name": "Ana Ruiz",
        "signature_date": "2026-03-02",
        "blanket_from": "2026-03-01",
        "blanket_to": "2027-03-05",
    }
    r = client.post(f"{page}/certificate", data={**form, "csrf": csrf(client, page)}, follow_redirects=False)
    assert r.status_code == 422 and "12 months" in r.text  # the form is shown again with the reason
    form["blanket_to"] = "2027-02-28"
    r = client.post(f"{page}/certificate", data={**form, "csrf": csrf(client, page)}, follow_redirects=False)
    assert r.status_code == 303
    shown = client.get(page).text
    link = re.search(r'href="(/api/v1/certificates/[0-9a-f-]+/pdf)"', shown)
    assert link and "valid" in shown
    assert client.get(link.group(1)).content.startswith(b"%PDF")


def test_portfolio_page_runs_and_reports(client: Any, keys: dict[str, str]) -> None:
    import time

    products = (
        "sku,hts,description,country_of_production,transaction_value\nSKU-CHAIR,9401.61.4011,chair,MX,100\n"
    )
    bom = (
        "parent_sku,component_id,description,component_hts,quantity_per,value,origin\n"
        "SKU-CHAIR,m1,lumber,4407.11,1,30,non_originating\n"
    )
    files = {"products": ("p.csv", products, "text/csv"), "bom": ("b.csv", bom, "text/csv")}
    r = client.post("/portfolio", data={"csrf": csrf(client, "/duty"), "date": "2026-03-01"}, files=files)
    assert r.status_code == 401  # nobody signed in
    assert login(client, "analyst1", "analyst-password-long").status_code == 303
    r = client.post(
        "/portfolio",
        data={"csrf": csrf(client, "/portfolio"), "date": "2026-03-01"},
        files=files,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = r.headers["location"]
    deadline = time.monotonic() + 120
    while 'http-equiv="refresh"' in (html := client.get(page).text):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "Qualification (1 SKUs" in html and "Every SKU qualifies." in html
    assert page.rsplit("/", 1)[1][:8] in client.get("/portfolio").text


def test_sign_in_is_throttled_after_repeated_failures(client: Any, keys: dict[str, str]) -> None:
    from usmca.app.web import MAX_FAILURES

    for _ in range(MAX_FAILURES):
        assert login(client, "admin1", "wrong-password-xx").status_code == 401
    assert login(client, "admin1", "admin-password-long").status_code == 429  # even the right password waits
    assert login(client, "analyst1", "analyst-password-long").status_code == 303  # other users unaffected
