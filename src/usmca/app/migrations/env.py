"""Alembic environment: always given a live connection by ``usmca.app.db.migrate`` (no ini file)."""

from __future__ import annotations

from alembic import context

from usmca.app.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through usmca.app.db.migrate(engine)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
