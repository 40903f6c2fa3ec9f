"""Small helpers shared by the command modules (output format, date options)."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from usmca.errors import InputError


class Format(StrEnum):
    table = "table"
    json = "json"


def parse_date(text: str | None, field: str = "--as-of") -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, text, "dates are written YYYY-MM-DD") from None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))
