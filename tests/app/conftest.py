"""Fixtures for the application layer: a fresh application database per test, on SQLite and (when
``USMCA_TEST_PG_URL`` names a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:54329/postgres) on a
throwaway PostgreSQL database as well; keys for each role; a TestClient over the app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("USMCA_TEST_PG_URL")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="USMCA_TEST_PG_URL not set (no PostgreSQL server for this run)"
        ),
    ),
]


def _pg_database() -> Iterator[str]:
    import psycopg

    assert PG_URL is not None
    name = f"usmca_test_{uuid.uuid4().hex[:12]}"
    admin_url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite'}"
    else:
        yield from _pg_database()


@pytest.fixture
def database(db_url: str) -> Iterator[Any]:
    from usmca.app.db import Database

    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def keys(database: Any) -> dict[str, str]:
    """One API key per role."""
    from usmca.app import records

    out = {}
    with database.session() as s:
        for role in ("viewer", "analyst", "admin"):
            records.create_user(s, f"{role}1", f"{role}-password-long", role, actor="test")
            out[role] = records.create_api_key(s, f"{role}1", "test", actor="test")
    return out


@pytest.fixture
def client(database: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from usmca.app.api import create_app

    monkeypatch.setenv("USMCA_SECRET", "test-secret-not-for-production")
    with TestClient(create_app(database)) as c:
        yield c
