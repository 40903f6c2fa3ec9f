"""Records survive concurrency and a killed writer: the chain stays whole, nothing is half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from usmca.app import records

CASE = {"date": "2026-03-01", "good": {"id": "SKU-C", "hts": "9401614011"}, "materials": []}
RESULT = {"status": "originating", "criterion": "C", "vintage": {"rules": "r", "schedule": "s"}}


def test_concurrent_writers_keep_one_chain(database: Any) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                with database.session() as s:
                    case = {**CASE, "good": {**CASE["good"], "id": f"SKU-{n}-{i % 2}"}}
                    records.record_determination(s, case, RESULT, f"w{n}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with database.session() as s:
        report = records.verify(s)
    assert report.ok, report.problems
    assert report.determinations == 32


WRITER = textwrap.dedent("""
    import sys
    from usmca.app import records
    from usmca.app.db import Database
    db = Database(sys.argv[1])
    case = {"date": "2026-03-01", "good": {"id": "SKU-K", "hts": "9401614011"}, "materials": []}
    i = 0
    while True:
        with db.session() as s:
            records.record_determination(s, {**case, "materials": [{"id": f"m{i}"}]},
                                         {"status": "originating", "criterion": "C"}, "killer-test")
        i += 1
        if i == 5:
            print("writing", flush=True)
""")


def test_sigkill_mid_write_leaves_no_half_record(db_url: str, tmp_path: Path) -> None:
    from usmca.app.db import Database

    Database(db_url).dispose()  # schema first, so the child only writes
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), db_url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = Database(db_url)
    try:
        with db.session() as s:
            report = records.verify(s)
            bills = s.execute(text("SELECT count(*) FROM bill_versions")).scalar()
        assert report.ok, report.problems
        assert report.determinations >= 5
        assert bills == report.determinations  # every bill version came with its determination
    finally:
        db.dispose()


def test_unwritable_location_gives_a_clear_error(tmp_path: Path) -> None:
    """A database path that cannot be created (here under a regular file, which fails even for root)."""
    import pytest

    from usmca.app.db import Database
    from usmca.errors import DataError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot open the application database"):
        Database(f"sqlite:///{blocker / 'app.sqlite'}")
