"""Records at the database level: evidence tables refuse UPDATE and DELETE for any client; the audit chain
finds tampering made behind the triggers' back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from usmca.app import records

CASE = {
    "date": "2026-03-01",
    "good": {"id": "SKU-1", "description": "chair", "hts": "9401614011"},
    "materials": [{"id": "m1", "hts": "440711", "origin": "non_originating", "value": "30"}],
}
ORIGINATING = {
    "status": "originating",
    "criterion": "B",
    "rule": {"id": "GN11(o)/94/1"},
    "vintage": {"rules": "r1", "schedule": "s1"},
    "tests": [],
    "needs": [],
}


def _seed(database: Any) -> tuple[int, str]:
    with database.session() as s:
        d = records.record_determination(s, CASE, ORIGINATING, "alice")
        c = records.store_certificate(s, d.id, {"7_origin_criterion": "B"}, "alice")
        records.archive(s, "determination", str(d.id), "superseded in test", "alice")
        return d.id, c.id


@pytest.mark.parametrize(
    "table", ["determinations", "certificates", "audit_log", "bill_versions", "archives"]
)
@pytest.mark.parametrize("stmt", ["UPDATE {t} SET created_at = 'x'", "DELETE FROM {t}"])
def test_evidence_tables_refuse_update_and_delete(database: Any, table: str, stmt: str) -> None:
    _seed(database)
    if table == "audit_log":
        stmt = stmt.replace("created_at", "at")
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(stmt.format(t=table)))
    with database.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() >= 1


@pytest.mark.parametrize("table", ["users", "products", "api_keys"])
def test_accounts_and_products_are_never_deleted(database: Any, keys: dict[str, str], table: str) -> None:
    _seed(database)
    with pytest.raises(DBAPIError), database.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))


def test_chain_intact_then_each_kind_of_tampering_found(database: Any) -> None:
    det_id, _cert_id = _seed(database)
    with database.session() as s:
        report = records.verify(s)
    assert report.ok, report.problems
    assert report.entries >= 5 and report.determinations == 1 and report.certificates == 1

    # An attacker with database rights drops the triggers and edits the evidence.
    _drop_triggers(database)
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE determinations SET status = 'non_originating' WHERE id = :i"), {"i": det_id}
        )
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    with database.session() as s:
        report = records.verify(s)
    assert not report.ok
    text_ = "\n".join(report.problems)
    assert f"determination {det_id}: content does not match its hash" in text_
    assert "audit entry 2: content does not match its hash" in text_
    assert "audit entry 3 is missing" in text_


def test_rehashed_record_still_differs_from_the_log(database: Any) -> None:
    """Editing a determination and recomputing its own hash does not help: the log kept the original hash."""
    det_id, _ = _seed(database)
    _drop_triggers(database)
    with database.session() as s:
        d = records.get_determination(s, det_id)
        d.result_json = d.result_json.replace("originating", "non_originating")
        d.content_hash = records.determination_hash(d)
    with database.session() as s:
        report = records.verify(s)
    assert any("differs from the content recorded in the audit log" in p for p in report.problems)


def _drop_triggers(database: Any) -> None:
    with database.engine.begin() as conn:
        if database.dialect == "sqlite":
            names = [
                r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            ]
            for n in names:
                conn.execute(text(f"DROP TRIGGER {n}"))
        else:
            conn.execute(text("DROP FUNCTION usmca_refuse_change() CASCADE"))


def test_bill_versions_and_invalidation(database: Any) -> None:
    with database.session() as s:
        d1 = records.record_determination(s, CASE, ORIGINATING, "alice")
        c = records.store_certificate(s, d1.id, {}, "alice")
        d2 = records.record_determination(s, CASE, ORIGINATING, "alice")  # same bill: same version
        assert d2.bill_version_id == d1.bill_version_id
        assert records.certificate_validity(s, c)["valid"]
        changed = {
            **CASE,
            "materials": [{"id": "m1", "hts": "940199", "origin": "non_originating", "value": "60"}],
        }
        d3 = records.record_determination(
            s, changed, {**ORIGINATING, "status": "unresolved", "criterion": None}, "alice"
        )
        assert d3.bill_version_id != d1.bill_version_id
        v = records.certificate_validity(s, c)
        assert not v["valid"] and v["superseded_by"] == d3.id and "bill version 1 -> 2" in v["reason"]
        actions = [e["action"] for e in records.export_record(s, "SKU-1")["audit"]]
        assert "certificate.invalidated" in actions


def test_passwords_and_keys_are_stored_hashed(database: Any, keys: dict[str, str]) -> None:
    with database.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM users")) for v in row)
        stored += " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_keys")) for v in row)
    assert "analyst-password-long" not in stored and keys["analyst"] not in stored
    assert "scrypt$" in stored
    with database.session() as s:
        assert records.check_password(s, "analyst1", "analyst-password-long") is not None
        assert records.check_password(s, "analyst1", "wrong-password-x") is None
        assert records.user_for_key(s, keys["admin"]).role == "admin"  # type: ignore[union-attr]
        assert records.user_for_key(s, keys["admin"] + "x") is None


def test_migrations_are_idempotent(db_url: str) -> None:
    from usmca.app.db import Database

    Database(db_url).dispose()
    db = Database(db_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    db.dispose()


def test_jobs_cut_off_by_a_stop_are_marked_failed(database: Any) -> None:
    from usmca.app.db import now
    from usmca.app.models import Job

    with database.session() as s:
        for i, st in enumerate(("queued", "running", "done")):
            s.add(
                Job(
                    id=f"j{i}",
                    kind="portfolio",
                    status=st,
                    params_json="{}",
                    created_at=now(),
                    created_by="t",
                )
            )
    with database.session() as s:
        assert records.fail_interrupted_jobs(s) == 2
    with database.session() as s:
        states = {j.id: (j.status, j.error) for j in s.query(Job)}
    assert states["j2"] == ("done", None)
    assert states["j0"][0] == states["j1"][0] == "failed" and "interrupted" in str(states["j1"][1])
