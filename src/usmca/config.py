"""Where the program keeps its synced sources and its compiled store.

``USMCA_HOME`` overrides the default (``~/.local/share/usmca``); ``USMCA_DATA_SOURCE`` names the mirror
directory that ``usmca data sync`` copies from when ``--source`` is not given.
"""

from __future__ import annotations

import os
from pathlib import Path


def usmca_home() -> Path:
    env = os.environ.get("USMCA_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".local" / "share" / "usmca"


def sources_dir() -> Path:
    """The synced copy of the reference datasets (laid out like the mirror)."""
    return usmca_home() / "sources"


def store_path() -> Path:
    """The compiled, read-only reference store."""
    env = os.environ.get("USMCA_STORE")
    if env:
        return Path(env).expanduser().resolve()
    return usmca_home() / "store" / "reference.sqlite"


def default_source() -> Path | None:
    env = os.environ.get("USMCA_DATA_SOURCE")
    return Path(env).expanduser().resolve() if env else None
