"""Reference-data sync and store build: atomic, checksummed, and loud about missing or corrupt data."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from usmca.data import build as build_mod
from usmca.data.sources import DATASETS
from usmca.data.sync import load_manifest, sync_from_directory, verify
from usmca.errors import DataError, StoreMissingError
from usmca.store import open_store


def _fake_mirror(root: Path) -> Path:
    """A tiny mirror with every required file of every dataset (content is irrelevant to sync)."""
    for ds in DATASETS:
        for req in ds.required:
            p = root / ds.folder / req
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{ds.name}:{req}\n")
        for i in range(ds.min_files):
            extra = root / ds.folder / "SOURCE.md"
            extra.write_text("source\n")
            if ds.min_files > 2 and ds.name == "gn11o":
                (root / ds.folder / f"chapter-{i + 10:02d}.txt").write_text("x\n")
    (root / "hts" / "revisions" / "hts_2025_rev_1.json.gz").write_bytes(b"\x1f\x8b")
    return root


def test_sync_real_mirror_is_complete_and_checksummed(tmp_path: Path, shared_data: Path) -> None:
    link = tmp_path / "sources"
    manifest = sync_from_directory(shared_data, dest=link)
    datasets = manifest["datasets"]
    assert isinstance(datasets, dict)
    assert set(datasets) == {d.name for d in DATASETS}
    revisions = [f for f in datasets["hts-revisions"]["files"] if f["path"].startswith("hts/revisions/")]
    assert len(revisions) == 44
    assert link.is_symlink()
    assert verify(link) == []
    assert load_manifest(link)["source"] == str(shared_data)


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    link = tmp_path / "sources"
    sync_from_directory(_fake_mirror(tmp_path / "mirror"), dest=link)
    (link / "usmca" / "gn11o" / "MANIFEST.md").write_text("tampered\n")
    problems = verify(link)
    assert problems == ["gn11o: usmca/gn11o/MANIFEST.md checksum differs"]


def test_failed_sync_keeps_previous_copy(tmp_path: Path) -> None:
    mirror = _fake_mirror(tmp_path / "mirror")
    link = tmp_path / "sources"
    sync_from_directory(mirror, dest=link)
    before = os.readlink(link)
    (mirror / "usmca" / "cusma-rules-of-origin-regulations.txt").unlink()
    with pytest.raises(DataError, match=r"cusma-rules-of-origin-regulations\.txt"):
        sync_from_directory(mirror, dest=link)
    assert os.readlink(link) == before
    assert verify(link) == []
    # nothing half-written is left beside the current copy
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("sources")) == ["sources", before]


def test_sync_from_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does-not-exist"):
        sync_from_directory(tmp_path / "does-not-exist", dest=tmp_path / "sources")


def test_build_without_sync_says_which_command(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="usmca data sync"):
        build_mod.build_store(sources=tmp_path / "nothing", out=tmp_path / "store.sqlite")


def test_failed_build_leaves_previous_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    link = tmp_path / "sources"
    sync_from_directory(_fake_mirror(tmp_path / "mirror"), dest=link)
    out = tmp_path / "store" / "reference.sqlite"

    def good(conn: sqlite3.Connection, sources: Path, log: object) -> dict[str, object]:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
        return {"rows": 1}

    def bad(conn: sqlite3.Connection, sources: Path, log: object) -> dict[str, object]:
        conn.execute("CREATE TABLE u (x INTEGER)")
        raise DataError("step failed on purpose")

    monkeypatch.setattr(build_mod, "STEPS", (("good", "m:good"),))
    monkeypatch.setattr(build_mod, "_resolve", lambda target: good if target == "m:good" else bad)
    report = build_mod.build_store(sources=link, out=out)
    assert report["steps"]["good"]["rows"] == 1
    assert open_store(out).execute("SELECT x FROM t").fetchone()[0] == 1

    monkeypatch.setattr(build_mod, "STEPS", (("good", "m:good"), ("bad", "m:bad")))
    with pytest.raises(DataError, match="on purpose"):
        build_mod.build_store(sources=link, out=out)
    conn = open_store(out)
    assert conn.execute("SELECT x FROM t").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'u'").fetchone()[0] == 0
    assert [p.name for p in out.parent.iterdir()] == ["reference.sqlite"]


def test_missing_and_corrupt_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError, match="usmca data build"):
        open_store(tmp_path / "none.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="corrupt"):
        open_store(bad)
