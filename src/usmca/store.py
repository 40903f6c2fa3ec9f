"""The embedded, read-only reference store (one SQLite file; see docs/adr/0002-reference-store-sqlite.md).

Engines open it read-only; only ``usmca data build`` writes, and it writes a new file aside and swaps it in.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from usmca.config import store_path
from usmca.errors import DataError, StoreMissingError

SCHEMA_VERSION = "1"

_local = threading.local()


def open_store(path: Path | None = None) -> sqlite3.Connection:
    """Open the store read-only; raise a one-line error that says how to build it when it is missing."""
    p = path or store_path()
    if not p.exists():
        raise StoreMissingError(
            f"reference store not found at {p}; run `usmca data sync --source DIR` then `usmca data build`"
        )
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
        ver = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"reference store at {p} is corrupt ({exc}); run `usmca data build` again") from exc
    if ver is None or ver[0] != SCHEMA_VERSION:
        raise DataError(f"reference store at {p} has schema {ver and ver[0]!r}, expected {SCHEMA_VERSION!r}; "
                        "run `usmca data build`")
    return conn


def store() -> sqlite3.Connection:
    """A per-thread shared read-only connection to the default store."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    path = store_path()
    if conn is None or getattr(_local, "path", None) != path:
        conn = open_store(path)
        _local.conn = conn
        _local.path = path
    return conn


def reset() -> None:
    """Forget the cached connection (after a rebuild, or when USMCA_STORE changes in tests).

    It is not closed: callers may still hold it, and it is released when the last reference goes.
    """
    _local.conn = None
    _local.path = None


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM meta")}
