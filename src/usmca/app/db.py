"""The application database: engine, migrations, sessions.

SQLite file by default (``$USMCA_HOME/app.sqlite``); PostgreSQL for shared deployments
(``postgresql://...``, driven by psycopg 3). The URL comes from ``--db URL`` or ``USMCA_DB``. Migrations
(Alembic) run programmatically when the database is opened, so a fresh file or an empty PostgreSQL database
is ready on first start.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from usmca.config import usmca_home
from usmca.errors import DataError, InputError


def default_url() -> str:
    env = os.environ.get("USMCA_DB")
    if env:
        return env
    home = usmca_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'app.sqlite'}"


def normalize_url(url: str) -> str:
    """Accept the usual spellings; PostgreSQL always goes through psycopg 3."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise InputError("--db", url, "the application database is a sqlite:///PATH or postgresql://... URL")


def make_engine(url: str | None = None) -> Engine:
    url = normalize_url(url or default_url())
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        # An in-memory database lives in one connection: share it (tests, demos).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN defers locks and breaks the audit
            # chain's read-then-append); WAL lets readers proceed while one writer appends.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            if ":memory:" not in url and url != "sqlite://":
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at the start: two writers can never read the same chain head.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("usmca.app") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """An engine plus its session factory; open once per process."""

    def __init__(self, url: str | None = None, *, run_migrations: bool = True) -> None:
        self.engine = make_engine(url)
        if run_migrations:
            try:
                migrate(self.engine)
            except OperationalError as exc:
                # A read-only directory, a full disk, a server that refuses: say which database and why.
                raise DataError(
                    f"cannot open the application database {self.engine.url!r}: {exc.orig}"
                ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error (nothing half-written)."""
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
