"""The on-disk memo of per-code answers: keyed by the store build and the package's code, so neither a new
store nor changed code answers from an old memo."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from usmca.portfolio import run


def _store(built_at: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)  # (as ``store()`` opens it)
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('built_at', ?)", (built_at,))
    return conn


@pytest.fixture
def fresh_memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("USMCA_HOME", str(tmp_path))
    monkeypatch.setattr(run, "_MEMO", {})
    monkeypatch.setattr(run, "_MEMO_STATE", {"loaded": None, "dirty": False})
    monkeypatch.setattr(run, "_MEMO_PATHS", {})
    return tmp_path / "cache"


def _forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process: nothing in memory, the memo only on disk."""
    monkeypatch.setattr(run, "_MEMO", {})
    monkeypatch.setattr(run, "_MEMO_STATE", {"loaded": None, "dirty": False})


def test_memo_is_read_back_for_the_same_store_and_code(fresh_memo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run._memo(_store("2026-11-01T00:00"), "k", lambda: 1) == 1
    run.flush_memo(_store("2026-11-01T00:00"))
    _forget(monkeypatch)
    assert run._memo(_store("2026-11-01T00:00"), "k", lambda: 2) == 1


def test_changed_code_or_store_starts_a_new_memo(fresh_memo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _store("2026-11-01T00:00")
    assert run._memo(conn, "k", lambda: 1) == 1
    run.flush_memo(conn)
    first = sorted(fresh_memo.glob("portfolio-codes-*.json"))
    assert len(first) == 1 and run.code_stamp() in first[0].name

    _forget(monkeypatch)
    monkeypatch.setattr(run, "code_stamp", lambda: "0123456789abcdef")  # an edited rule module
    conn = _store("2026-11-01T00:00")
    assert run._memo(conn, "k", lambda: 2) == 2
    run.flush_memo(conn)
    # the first code's memo is kept beside it (two versions compared side by side), a few at most
    names = {p.name for p in fresh_memo.glob("portfolio-codes-*.json")}
    assert names == {first[0].name, "portfolio-codes-20261101T0000-0123456789abcdef.json"}

    _forget(monkeypatch)
    conn = _store("2026-11-02T00:00")  # a store built again
    assert run._memo(conn, "k", lambda: 3) == 3
    run.flush_memo(conn)
    # the old build's memos are never read again: removed
    assert [p.name for p in fresh_memo.glob("portfolio-codes-*.json")] == [
        "portfolio-codes-20261102T0000-0123456789abcdef.json"
    ]


def test_a_few_memos_of_one_build_are_kept(fresh_memo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(run.MEMOS_KEPT + 2):
        _forget(monkeypatch)
        monkeypatch.setattr(run, "code_stamp", lambda i=i: f"{i:016x}")
        conn = _store("2026-11-01T00:00")
        run._memo(conn, "k", lambda: 1)
        run.flush_memo(conn)
        os.utime(next(fresh_memo.glob(f"*-{i:016x}.json")), (1e9 + i, 1e9 + i))  # written in turn
    kept = sorted(p.name.rsplit("-", 1)[1] for p in fresh_memo.glob("portfolio-codes-*.json"))
    assert kept == [f"{i:016x}.json" for i in range(2, run.MEMOS_KEPT + 2)]


def test_source_digest_follows_every_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.py").write_text("X = 1\n")
    (tmp_path / "b.py").write_text("Y = 2\n")
    (tmp_path / "notes.txt").write_text("not source")
    first = run.source_digest(tmp_path)
    assert first == run.source_digest(tmp_path) and len(first) == 16
    (tmp_path / "notes.txt").write_text("changed")  # neither source nor data: no new memo
    assert run.source_digest(tmp_path) == first
    (tmp_path / "rules" / "general.yaml").write_text("de_minimis: {}\n")  # a provision's data: a new memo
    first = run.source_digest(tmp_path)
    (tmp_path / "rules" / "general.yaml").write_text("de_minimis: {share: 10}\n")
    assert run.source_digest(tmp_path) != first
    first = run.source_digest(tmp_path)
    (tmp_path / "rules" / "a.py").write_text("X = 2\n")
    second = run.source_digest(tmp_path)
    assert second != first
    (tmp_path / "rules" / "a.py").rename(tmp_path / "a.py")  # same bytes, another module
    assert run.source_digest(tmp_path) not in (first, second)
    assert len(run.code_stamp()) == 16


def test_two_threads_asking_while_the_memo_loads_both_get_their_answers(
    fresh_memo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's thread and the one asking per-code answers ahead (``portfolio.ahead``) may be the first
    to ask in a process: each gets every answer it asks for, and the file's answers are read."""
    import threading

    conn = _store("2026-11-01T00:00")
    for i in range(200):
        run._memo(conn, f"on-disk|{i}", lambda i=i: i)
    run.flush_memo(conn)
    _forget(monkeypatch)
    conn = _store("2026-11-01T00:00")
    start = threading.Barrier(4)
    got: dict[int, list[object]] = {}

    def ask(t: int) -> None:
        start.wait()
        got[t] = [run._memo(conn, f"t{t}|{i}", lambda i=i: (t, i)) for i in range(2000)]
        got[t] += [run._memo(conn, f"on-disk|{i}", lambda: "asked again") for i in range(200)]

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(4):
        assert got[t][:2000] == [(t, i) for i in range(2000)]
        assert got[t][2000:] == list(range(200))
