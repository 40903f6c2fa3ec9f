"""Compile the reference store from the synced sources.

Each step owns its tables and is a function ``build(conn, sources: Path, log) -> dict`` returning figures for
the build report. The store is written to a temporary file beside the current one and swapped in with an
atomic rename only when every step succeeded: a failed or killed build leaves the previous store intact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from usmca.config import sources_dir, store_path
from usmca.data.sync import load_manifest
from usmca.errors import DataError
from usmca.store import SCHEMA_VERSION
from usmca.store import reset as reset_store

Log = Callable[[str], None]
StepFn = Callable[[sqlite3.Connection, Path, Log], dict[str, Any]]

# Order matters: later steps may read tables written by earlier ones.
STEPS: tuple[tuple[str, str], ...] = (
    ("schedule", "usmca.nomenclature.schedule_build:build"),
    ("hs", "usmca.nomenclature.correlate:build"),
    ("rules", "usmca.rules.corpus:build"),
    ("automotive", "usmca.rules.automotive:build"),
    ("measures", "usmca.measures.scopes:build"),
)


def _resolve(target: str) -> StepFn:
    mod_name, fn_name = target.split(":")
    mod = importlib.import_module(mod_name)
    fn: StepFn = getattr(mod, fn_name)
    return fn


def build_store(
    sources: Path | None = None,
    out: Path | None = None,
    only: tuple[str, ...] = (),
    log: Log = lambda _m: None,
) -> dict[str, Any]:
    src = (sources or sources_dir()).resolve()
    manifest = load_manifest(src)
    target = out or store_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {target.parent}: {exc.strerror}; set USMCA_HOME to a writable folder") from exc
    unknown = [o for o in only if o not in {n for n, _ in STEPS}]
    if unknown:
        raise DataError(f"unknown build step(s) {', '.join(unknown)}; known: {', '.join(n for n, _ in STEPS)}")
    _remove_stale_builds(target)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.building")
    _unlink_quietly(tmp)
    report: dict[str, Any] = {"steps": {}}
    t0 = time.perf_counter()
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for name, fn_path in STEPS:
            if only and name not in only:
                continue
            t = time.perf_counter()
            log(f"building {name} ...")
            figures = _resolve(fn_path)(conn, src, log)
            conn.commit()
            figures["seconds"] = round(time.perf_counter() - t, 2)
            report["steps"][name] = figures
        built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        meta = {
            "schema_version": SCHEMA_VERSION,
            "built_at": built_at,
            "sources_synced_at": str(manifest.get("synced_at")),
            "steps": ",".join(report["steps"]),
            "report": json.dumps(report["steps"], sort_keys=True),
        }
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        conn = None
        os.replace(tmp, target)  # atomic swap: readers see the old store or the new one, never a mix
    except (sqlite3.OperationalError, OSError) as exc:
        # Disk full, a read-only folder, a vanished directory: say so in one line; the old store stays.
        _abandon(conn, tmp)
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DataError(
            f"could not write the store at {target.parent}: {reason}; the previous store is kept "
            "(free disk space, or set USMCA_HOME to a writable folder)"
        ) from exc
    except BaseException:
        _abandon(conn, tmp)
        raise
    if target == store_path():
        reset_store()  # the cached connection points at the replaced file
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report["store"] = str(target)
    return report


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only folder: nothing was written there either
        path.unlink(missing_ok=True)


def _abandon(conn: sqlite3.Connection | None, tmp: Path) -> None:
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
    _unlink_quietly(tmp)


def _remove_stale_builds(target: Path) -> None:
    """Remove partial stores left by builds that were killed (their process no longer exists)."""
    if not target.parent.is_dir():
        return
    for p in target.parent.glob(f"{target.name}.*.building"):
        pid_text = p.name[len(target.name) + 1 : -len(".building")]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            _unlink_quietly(p)
        except PermissionError:
            pass  # alive, another user's build
