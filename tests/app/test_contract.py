"""The API against its own published OpenAPI document (schemathesis): no server error, documented status
codes and response shapes, 405 with Allow for undeclared methods, schema-violating input refused.

Not checked: "schema-valid request rejected". The document says a body is an object (its real grammar is the
interchange format) and a date is YYYY-MM-DD; the engines then refuse, with a 422 naming the field, bodies
that fail the format's rules and dates outside the schedule's coverage: that refusal is the intended answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402


@pytest.fixture(scope="module")
def app_and_key(
    tmp_path_factory: pytest.TempPathFactory, conn: sqlite3.Connection
) -> Iterator[tuple[Any, str]]:
    from usmca.app import records
    from usmca.app.api import create_app
    from usmca.app.db import Database

    mp = pytest.MonkeyPatch()
    mp.setenv("USMCA_SECRET", "contract-test")
    tmp: Path = tmp_path_factory.mktemp("contract")
    db = Database(f"sqlite:///{tmp / 'app.sqlite'}")
    with db.session() as s:
        records.create_user(s, "root", "root-password-long", "admin", actor="test")
        key = records.create_api_key(s, "root", "contract", actor="test")
    yield create_app(db), key
    db.dispose()
    mp.undo()


def test_api_contract(app_and_key: tuple[Any, str]) -> None:
    from hypothesis import given

    app, key = app_and_key
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        ops += 1

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": key}, excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:600]}")
    assert ops >= 15
    assert not failures, "\n\n".join(failures)
