"""The REST API end to end over the real reference store: reads open, writes keyed and role-checked, bodies as
in docs/interchange.md, limits refused with clear errors, records kept."""

from __future__ import annotations

import base64
import copy
import re
import sqlite3
import time
import zlib
from typing import Any

import pytest

CASE: dict[str, Any] = {
    "date": "2026-03-01",
    "good": {
        "id": "SKU-CHAIR",
        "description": "wooden chair, upholstered",
        "hts": "9401.61.4011",
        "country_of_production": "MX",
        "transaction_value": 100,
    },
    "materials": [
        {"id": "m1", "description": "sawn lumber", "hts": "4407.11", "origin": "non_originating", "value": 30}
    ],
}
# The same good made from non-originating chair parts: the engine cannot find it originating.
CASE_PARTS = copy.deepcopy(CASE)
CASE_PARTS["materials"] = [
    {"id": "m1", "description": "chair parts", "hts": "9401.99", "origin": "non_originating", "value": 60}
]
ENTRY = {
    "entry_date": "2025-08-15",
    "lines": [
        {
            "id": "L1",
            "hts": "9401.61.4011",
            "country_of_origin": "CA",
            "entered_value": 10000,
            "usmca_claim": False,
            "transport": "ocean",
        }
    ],
}
PARTY = {
    "name": "Muebles del Norte SA",
    "address": "Av. Industria 1, Monterrey, NL, MX",
    "telephone": "+52 81 5555 0000",
    "email": "export@muebles.example",
}


def cert_body(det_id: int, **over: Any) -> dict[str, Any]:
    body = {
        "determination_id": det_id,
        "certifier_role": "producer",
        "certifier": {**PARTY, "name": "Ana Ruiz", "title": "Trade compliance manager"},
        "exporter": PARTY,
        "producer": PARTY,
        "importer": {"name": "Chairs Inc", "address": "1 Main St, Laredo, TX, US"},
        "blanket_from": "2026-03-01",
        "blanket_to": "2027-02-28",
        "signature": {"name": "Ana Ruiz", "date": "2026-03-02"},
    }
    body.update(over)
    return body


@pytest.fixture(autouse=True)
def _store(conn: sqlite3.Connection) -> None:
    """The API reads the reference store built for the test run."""


def qualify(client: Any, key: str | None, case: dict[str, Any] = CASE, **params: Any) -> Any:
    headers = {"X-API-Key": key} if key else {}
    return client.post("/api/v1/qualify", json=case, headers=headers, params=params)


def test_openapi_document_lists_the_routes(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    for path in (
        "/api/v1/hts/{code}",
        "/api/v1/hts/search",
        "/api/v1/hts/{code}/history",
        "/api/v1/rules/{code}",
        "/api/v1/qualify",
        "/api/v1/duty",
        "/api/v1/duty/compare",
        "/api/v1/portfolio/runs",
        "/api/v1/certificates",
        "/api/v1/certificates/{cert_id}/pdf",
        "/api/v1/audit/verify",
    ):
        assert path in doc["paths"], path


def test_hts_show_search_history(client: Any) -> None:
    r = client.get("/api/v1/hts/9401.61.4011", params={"as_of": "2025-08-15"})
    assert r.status_code == 200 and "Seats" in str(r.json())
    r = client.get("/api/v1/hts/search", params={"q": "seats", "limit": 5})
    assert r.status_code == 200 and 0 < len(r.json()["hits"]) <= 5
    assert client.get("/api/v1/hts/9401.61.4011/history").status_code == 200
    r = client.get("/api/v1/hts/9401.61.4011", params={"as_of": "15/08/2025"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "as_of"
    assert client.get("/api/v1/hts/search", params={"q": "x", "limit": 100000}).status_code == 422
    assert client.get("/api/v1/hts/0000.00.0000").status_code in (404, 422)


def test_rules(client: Any) -> None:
    r = client.get("/api/v1/rules/9401.61", params={"date": "2026-03-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "found" and body["rules"][0]["id"].startswith("GN11(o)/94/")


def test_qualify_records_only_with_an_analyst_key(client: Any, keys: dict[str, str]) -> None:
    assert qualify(client, None).status_code == 401
    assert qualify(client, "usk_not-a-key").status_code == 401
    assert qualify(client, keys["viewer"]).status_code == 403
    r = qualify(client, None, record="false")
    assert r.status_code == 200 and r.json()["record"] is None
    assert r.json()["determination"]["status"] == "originating"
    r = qualify(client, keys["analyst"])
    assert r.status_code == 200
    body = r.json()
    assert set(body["determination"]) >= {"status", "criterion", "rule", "tests", "trace", "vintage", "needs"}
    rec = client.get(body["record"]["href"]).json()
    assert rec["status"] == "originating" and rec["product"] == "SKU-CHAIR" and rec["bill_version"] == 1
    assert rec["result"] == body["determination"]
    listed = client.get("/api/v1/determinations", params={"product": "SKU-CHAIR"}).json()
    assert [d["id"] for d in listed] == [body["record"]["id"]]


def test_qualify_bad_input_names_the_field(client: Any, keys: dict[str, str]) -> None:
    bad = copy.deepcopy(CASE)
    bad["materials"][0]["value"] = -5
    r = qualify(client, keys["analyst"], bad)
    assert r.status_code == 422 and r.json()["error"]["field"] == "materials[0].value"
    r = client.post(
        "/api/v1/qualify",
        content=b"{not json",
        headers={"X-API-Key": keys["analyst"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"


def test_duty_and_claim_comparison(client: Any) -> None:
    r = client.post("/api/v1/duty", json=ENTRY)
    assert r.status_code == 200
    line = r.json()["lines"][0]
    assert line["status"] == "complete" and all(c["citation"] for c in line["components"])
    r = client.post("/api/v1/duty/compare", json=ENTRY)
    assert r.status_code == 200
    cmp_ = r.json()["lines"][0]
    assert cmp_["with_claim"]["usmca_claim"] is True and cmp_["without_claim"]["usmca_claim"] is False
    assert cmp_["saving"] == pytest.approx(
        cmp_["without_claim"]["total_duty"] - cmp_["with_claim"]["total_duty"]
    )
    r = client.post("/api/v1/duty", json={**ENTRY, "entry_date": "yesterday"})
    assert r.status_code == 422 and "entry_date" in r.json()["error"]["message"]


def test_limits_give_clear_errors(client: Any, keys: dict[str, str]) -> None:
    from usmca.app.api import Limits

    lim = Limits()
    r = client.post(
        "/api/v1/duty", content=b"x" * (lim.body_bytes + 1), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"]["limit"] == lim.body_bytes
    many = {**ENTRY, "lines": [{**ENTRY["lines"][0], "id": f"L{i}"} for i in range(lim.entry_lines + 1)]}
    r = client.post("/api/v1/duty", json=many)
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_many_rows"
    big = copy.deepcopy(CASE)
    big["materials"] = [
        {"id": f"m{i}", "hts": "4407.11", "origin": "originating", "value": 0}
        for i in range(lim.materials + 1)
    ]
    r = qualify(client, keys["analyst"], big)
    assert r.status_code == 413 and r.json()["error"]["limit"] == lim.materials


def test_certificate_from_an_originating_determination(client: Any, keys: dict[str, str]) -> None:
    det = qualify(client, keys["analyst"]).json()["record"]["id"]
    assert (
        client.post(
            "/api/v1/certificates", json=cert_body(det), headers={"X-API-Key": keys["viewer"]}
        ).status_code
        == 403
    )
    r = client.post("/api/v1/certificates", json=cert_body(det), headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 201, r.text
    cert = r.json()
    el = cert["elements"]
    # The nine Annex 5-A elements.
    assert el["1_certifier_role"] == "producer"
    assert el["2_certifier"]["title"] == "Trade compliance manager"
    assert el["3_exporter"]["name"] == PARTY["name"] and el["4_producer"]["address"] == PARTY["address"]
    assert el["5_importer"]["name"] == "Chairs Inc"
    assert (
        el["6_goods"][0]["hs"] == "9401.61" and el["6_goods"][0]["description"] == "wooden chair, upholstered"
    )
    assert el["7_origin_criterion"] == "B"
    assert el["8_blanket_period"] == {"from": "2026-03-01", "to": "2027-02-28"}
    assert el["9_signature"]["date"] == "2026-03-02" and "I certify" in el["9_signature"]["statement"]
    assert "Annex 5-A" in el["citation"] and cert["validity"]["valid"] is True

    pdf = client.get(f"/api/v1/certificates/{cert['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    for needle in (
        "Muebles del Norte SA",
        "9401.61",
        "Trade compliance manager",
        "2026-03-01 to 2027-02-28",
        "Ana Ruiz",
        cert["id"],
    ):
        assert needle in text, needle
    assert "INVALID" not in text


def test_certificate_invalid_after_a_later_failing_determination(client: Any, keys: dict[str, str]) -> None:
    det = qualify(client, keys["analyst"]).json()["record"]["id"]
    cert = client.post(
        "/api/v1/certificates", json=cert_body(det), headers={"X-API-Key": keys["analyst"]}
    ).json()
    later = qualify(client, keys["analyst"], CASE_PARTS).json()
    assert later["determination"]["status"] != "originating"
    v = client.get(f"/api/v1/certificates/{cert['id']}").json()["validity"]
    assert (
        v["valid"] is False
        and v["superseded_by"] == later["record"]["id"]
        and "bill version 1 -> 2" in v["reason"]
    )
    assert "INVALID" in pdf_text(client.get(f"/api/v1/certificates/{cert['id']}/pdf").content)
    # The superseded determination can no longer be certified.
    r = client.post("/api/v1/certificates", json=cert_body(det), headers={"X-API-Key": keys["analyst"]})
    # 409: the body is valid; what is recorded about the determination does not support a certificate.
    assert r.status_code == 409 and "later determination" in r.json()["error"]["message"]


def test_certificate_refused_naming_why(client: Any, keys: dict[str, str]) -> None:
    det = qualify(client, keys["analyst"], CASE_PARTS).json()
    status = det["determination"]["status"]
    r = client.post(
        "/api/v1/certificates", json=cert_body(det["record"]["id"]), headers={"X-API-Key": keys["analyst"]}
    )
    assert r.status_code == 409 and status in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"blanket_to": "2027-03-01"}, "blanket_to"),
        ({"blanket_to": "2026-02-01"}, "blanket_to"),
        ({"blanket_to": None}, "blanket_to"),
        ({"certifier_role": "importer", "exporter": None}, "exporter"),
        ({"certifier": {"name": "Ana Ruiz"}}, "certifier.title"),
        ({"producer": {"name": "Somebody"}}, "producer.address"),
    ],
)
def test_certificate_elements_checked(
    client: Any, keys: dict[str, str], over: dict[str, Any], field: str
) -> None:
    det = qualify(client, keys["analyst"]).json()["record"]["id"]
    r = client.post(
        "/api/v1/certificates", json=cert_body(det, **over), headers={"X-API-Key": keys["analyst"]}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_producer_placeholder_and_unknown_exporter_accepted(client: Any, keys: dict[str, str]) -> None:
    det = qualify(client, keys["analyst"]).json()["record"]["id"]
    body = cert_body(
        det,
        exporter=None,
        producer={"name": "Available upon request by the importing authorities"},
        importer=None,
        blanket_from=None,
        blanket_to=None,
    )
    r = client.post("/api/v1/certificates", json=body, headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 201, r.text
    assert r.json()["elements"]["8_blanket_period"] is None


def test_roles_for_admin_writes(client: Any, keys: dict[str, str]) -> None:
    new = {"username": "bob", "password": "a-long-password-1", "role": "analyst"}
    assert client.post("/api/v1/users", json=new, headers={"X-API-Key": keys["analyst"]}).status_code == 403
    assert client.post("/api/v1/users", json=new).status_code == 401
    assert client.post("/api/v1/users", json=new, headers={"X-API-Key": keys["admin"]}).status_code == 201
    r = client.post("/api/v1/users/bob/keys", json={"name": "ci"}, headers={"X-API-Key": keys["admin"]})
    bob = r.json()["key"]
    assert qualify(client, bob).status_code == 200
    det = qualify(client, bob).json()["record"]["id"]
    arch = {"object_type": "determination", "object_id": str(det), "reason": "duplicate"}
    assert client.post("/api/v1/archive", json=arch, headers={"X-API-Key": bob}).status_code == 403
    assert client.post("/api/v1/archive", json=arch, headers={"X-API-Key": keys["admin"]}).status_code == 201
    ids = [d["id"] for d in client.get("/api/v1/determinations").json()]
    assert det not in ids
    assert det in [d["id"] for d in client.get("/api/v1/determinations", params={"archived": True}).json()]
    assert client.get(f"/api/v1/determinations/{det}").json()["archived"] is True


def test_audit_verify_and_record_export(client: Any, keys: dict[str, str]) -> None:
    qualify(client, keys["analyst"])
    assert client.get("/api/v1/audit/verify").status_code == 401
    r = client.get("/api/v1/audit/verify", headers={"X-API-Key": keys["viewer"]})
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["determinations"] == 1
    rec = client.get("/api/v1/products/SKU-CHAIR/record", headers={"X-API-Key": keys["viewer"]}).json()
    assert rec["product"]["hts"] and len(rec["determinations"]) == 1
    assert {e["action"] for e in rec["audit"]} >= {"product.create", "determination.create"}
    assert all(e["actor"] == "analyst1" for e in rec["audit"])


def test_security_headers(client: Any) -> None:
    r = client.get("/api/v1/health")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_portfolio_run_as_background_job(client: Any, keys: dict[str, str]) -> None:
    products = (
        "sku,hts,description,country_of_production,transaction_value\n"
        "SKU-CHAIR,9401.61.4011,wooden chair,MX,100\n"
    )
    bom = (
        "parent_sku,component_id,description,component_hts,quantity_per,value,origin\n"
        "SKU-CHAIR,m1,sawn lumber,4407.11,1,30,non_originating\n"
    )
    files = {"products": ("p.csv", products, "text/csv"), "bom": ("b.csv", bom, "text/csv")}
    assert client.post("/api/v1/portfolio/runs", files=files, data={"date": "2026-03-01"}).status_code == 401
    r = client.post(
        "/api/v1/portfolio/runs",
        files=files,
        data={"date": "2026-03-01"},
        headers={"X-API-Key": keys["analyst"]},
    )
    assert r.status_code == 202, r.text
    href = r.json()["href"]
    deadline = time.monotonic() + 120
    while (job := client.get(href).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "portfolio run did not finish"
        time.sleep(0.2)
    assert job["status"] == "done", job
    rows = job["result"]["rows"]
    assert [r_["sku"] for r_ in rows] == ["SKU-CHAIR"] and rows[0]["status"] == "originating"
    bad = {"products": ("p.txt", products, "text/plain"), "bom": ("b.csv", bom, "text/csv")}
    r = client.post(
        "/api/v1/portfolio/runs",
        files=bad,
        data={"date": "2026-03-01"},
        headers={"X-API-Key": keys["analyst"]},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "products"


def pdf_text(pdf: bytes) -> str:
    """The text drawn in a reportlab PDF (streams inflated); enough to check the data is there."""
    out = [pdf.decode("latin-1")]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        try:
            if data.endswith(b"~>"):  # reportlab writes ASCII85 over Flate
                data = base64.a85decode(data if data.startswith(b"<~") else b"<~" + data, adobe=True)
            out.append(zlib.decompress(data).decode("latin-1"))
        except (ValueError, zlib.error):
            continue
    # Text operators: (text) Tj; join the literal strings.
    return " ".join(re.findall(r"\((.*?)(?<!\\)\)", "\n".join(out))) + "\n".join(out)
