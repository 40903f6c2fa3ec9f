"""`usmca duty FILE`, `usmca refunds ENTRIES` (land with the duty engine)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
