"""API bodies: random and mutated JSON to the duty and qualify endpoints gives 200 or a 4xx naming the problem,
never a 5xx. Needs the reference store at $USMCA_HOME (the engines run on the valid ones)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .seeds import CASE_SEED, ENTRY_SEED
from .strategies import json_like, mutated_doc

API = settings(
    max_examples=120,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = os.environ.get("USMCA_HOME")
    if not home or not (Path(home) / "store" / "reference.sqlite").exists():
        pytest.skip("needs the reference store at $USMCA_HOME (built by the test script)")
    from fastapi.testclient import TestClient

    from usmca.app.api import create_app
    from usmca.app.db import Database

    os.environ.setdefault("USMCA_SECRET", "hardening-test-secret")
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('api') / 'app.sqlite'}")
    with TestClient(create_app(db, web=False), raise_server_exceptions=False) as c:
        yield c
    db.dispose()


def _check(r: Any) -> None:
    assert r.status_code < 500, r.text[:500]
    if r.status_code >= 400:
        err = r.json().get("error") or r.json().get("detail")
        assert err, r.text[:300]


@API
@given(body=st.one_of(mutated_doc(CASE_SEED), json_like))
def test_qualify_bodies(api: Any, body: object) -> None:
    _check(
        api.post(
            "/api/v1/qualify?record=false",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
    )


@API
@given(body=st.one_of(mutated_doc(ENTRY_SEED), json_like))
def test_duty_bodies(api: Any, body: object) -> None:
    _check(api.post("/api/v1/duty", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}))


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_raw_bytes_bodies(api: Any, raw: bytes) -> None:
    for path in ("/api/v1/qualify?record=false", "/api/v1/duty"):
        _check(api.post(path, content=raw, headers={"Content-Type": "application/json"}))


def test_seed_bodies_succeed(api: Any) -> None:
    """The mutations start from bodies the engines accept, so the fuzzing reaches them."""
    assert api.post("/api/v1/qualify?record=false", json=CASE_SEED).status_code == 200
    assert api.post("/api/v1/duty", json=ENTRY_SEED).status_code == 200


def test_duty_huge_entered_value_is_4xx(api: Any) -> None:
    line = {**ENTRY_SEED["lines"][0], "country_of_origin": "CN", "entered_value": 1e27}
    r = api.post("/api/v1/duty", json={**ENTRY_SEED, "lines": [line]})
    assert r.status_code < 500, r.text[:300]


def test_a_non_finite_number_is_refused_by_name(api: Any) -> None:
    """``"entry_date": Infinity`` (Python's json reads it) is a 4xx naming the field: the value echoed back is
    sent as text, not as a number JSON cannot carry."""
    body = b'{"entry_date": Infinity, "lines": [{"id": "L1", "hts": "3926.90.10.00", "country_of_origin": "CA"}]}'
    r = api.post("/api/v1/duty", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and "entry_date" in r.text, r.text[:500]
