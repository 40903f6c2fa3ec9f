"""Alembic migrations of the application database, run programmatically by ``usmca.app.db.migrate``."""
