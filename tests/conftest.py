"""Shared fixtures. The reference store is built by the test script (scripts/test.sh) before pytest runs;
tests that need it use the ``conn`` fixture, which fails with the one-line reason when it is missing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def conn() -> sqlite3.Connection:
    from usmca.store import store

    return store()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data mirror not found at {SHARED_DATA}")
    return SHARED_DATA
