"""`usmca audit verify` exits 0 on an intact record and 1, naming the break, after tampering."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from usmca.app import records
from usmca.cli import app

CASE = {"date": "2026-03-01", "good": {"id": "SKU-9", "hts": "9401614011"}, "materials": []}


def test_audit_verify_command(database: Any, db_url: str) -> None:
    with database.session() as s:
        records.record_determination(s, CASE, {"status": "originating", "criterion": "C"}, "carol")
    runner = CliRunner()
    r = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert r.exit_code == 0 and "intact" in r.output
    r = runner.invoke(app, ["audit", "export", "SKU-9", "--db", db_url])
    assert r.exit_code == 0 and '"determination.create"' in r.output
    with database.engine.begin() as conn:
        if database.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 1"))
    r = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert r.exit_code == 1 and "TAMPERED" in r.output and "audit entry 1" in r.output
