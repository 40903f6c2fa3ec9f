"""Copy (or download) the reference datasets into the program's own source folder, atomically.

The new copy is written into a fresh folder beside the current one, checked, and only then made current by
replacing one symlink (an atomic rename). A failed or interrupted sync leaves the previous copy in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from usmca.config import sources_dir
from usmca.data.sources import DATASETS, Dataset
from usmca.errors import DataError

MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class SyncedFile:
    path: str
    sha256: str
    bytes: int


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _collect(ds: Dataset, src_root: Path) -> list[Path]:
    folder = src_root / ds.folder
    if not folder.is_dir():
        raise DataError(f"dataset {ds.name!r}: folder {folder} not found in the source; "
                        "pass --source DIR with a mirror laid out like the reference-data folder")
    for req in ds.required:
        if not (folder / req).is_file():
            raise DataError(f"dataset {ds.name!r}: required file {folder / req} is missing from the source")
    files: set[Path] = set()
    for pat in ds.patterns:
        files.update(p for p in folder.glob(pat) if p.is_file())
    if len(files) < ds.min_files:
        raise DataError(f"dataset {ds.name!r}: only {len(files)} file(s) found under {folder}")
    return sorted(files)


def _swap_current(link: Path, target: Path) -> None:
    tmp = link.with_name(link.name + ".swap")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target.name, tmp)
    os.replace(tmp, link)  # atomic on POSIX


def sync_from_directory(
    src_root: Path,
    dest: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, object]:
    """Copy every registered dataset from ``src_root``; return the manifest written."""
    src_root = Path(src_root).expanduser().resolve()
    if not src_root.is_dir():
        raise DataError(f"source directory {src_root} does not exist; pass --source DIR or set USMCA_DATA_SOURCE")
    link = dest or sources_dir()
    parent = link.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {parent}: {exc.strerror}; set USMCA_HOME to a writable folder") from exc
    if link.exists() and not link.is_symlink():
        raise DataError(f"{link} exists and is not a sync link; move it away or set USMCA_HOME")

    plan = [(ds, _collect(ds, src_root)) for ds in DATASETS]  # fail before writing anything
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = parent / f"{link.name}.{stamp}.partial"
    final = parent / f"{link.name}.{stamp}"
    total = sum(len(files) for _, files in plan)
    done = 0
    datasets: dict[str, object] = {}
    manifest: dict[str, object] = {
        "synced_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": str(src_root),
        "datasets": datasets,
    }
    try:
        staging.mkdir()
        for ds, files in plan:
            entries: list[dict[str, object]] = []
            seen: set[Path] = set()
            for f in files:
                rel = f.relative_to(src_root)
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                if rel not in seen:
                    shutil.copyfile(f, out)
                    seen.add(rel)
                entries.append({"path": str(rel), "sha256": _sha256(out), "bytes": out.stat().st_size})
                done += 1
                if progress:
                    progress(ds.name, done, total)
            datasets[ds.name] = {
                "licence": ds.licence,
                "vintage": ds.vintage,
                "official_url": ds.official_url,
                "files": entries,
            }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(staging, final)
        _swap_current(link, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = exc.strerror or exc
        raise DataError(f"sync failed writing under {parent}: {reason}; the previous copy is kept") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # Older copies are no longer referenced; remove them (and any leftovers of interrupted syncs).
    for old in parent.glob(f"{link.name}.*"):
        if old.is_dir() and not old.is_symlink() and old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def download(url: str, out: Path, timeout: float = 60.0) -> None:
    """Fetch one file from an official address (http(s) or file URL) to ``out``, atomically."""
    tmp = out.with_name(out.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, tmp.open("wb") as f:
            shutil.copyfileobj(resp, f)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download of {url} failed: {exc}; sync from a mirror with --source DIR instead") from exc


def load_manifest(root: Path | None = None) -> dict[str, object]:
    base = root or sources_dir()
    path = base / MANIFEST
    if not path.is_file():
        raise DataError(f"no synced reference data at {base}; run `usmca data sync --source DIR`")
    try:
        data: dict[str, object] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"sync manifest {path} is unreadable ({exc}); run `usmca data sync` again") from exc
    return data


def verify(root: Path | None = None) -> list[str]:
    """Re-hash every synced file; return the problems found (empty when intact)."""
    base = root or sources_dir()
    manifest = load_manifest(base)
    problems: list[str] = []
    datasets = manifest["datasets"]
    if not isinstance(datasets, dict):
        raise DataError(f"sync manifest under {base} has no dataset list; run `usmca data sync` again")
    for name, info in datasets.items():
        for entry in info["files"]:
            p = base / entry["path"]
            if not p.is_file():
                problems.append(f"{name}: {entry['path']} missing")
            elif _sha256(p) != entry["sha256"]:
                problems.append(f"{name}: {entry['path']} checksum differs")
    return problems
