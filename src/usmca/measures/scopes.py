"""Build step "measures": product-scope lists of the Chapter 99 measures, from the synced tariff-actions data.

Writes
``measure_scope``        one row per (list, HTS prefix) with the dates the prefix is on the list
                         (``valid_from`` / ``valid_to`` inclusive; NULL = open)
``measure_scope_list``   one row per list: the file it came from and its row count
``measure_scope_issue``  every source row not loaded as written, with the reason and the action (never silent)

List names are those the measure records (``measures/data/*.yaml``) refer to; the step fails when a record
names a list that no file provides. At run time :func:`scope_index` loads the lists into memory once.
"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from usmca.errors import DataError

Log = Callable[[str], None]
FOLDER = "tariff-actions/product_scopes"

BLANK_DATE_BY_HEADING = {"9903.85.07": "2025-03-12", "9903.85.08": "2025-03-12", "9903.85.04": "2020-02-08"}

Row = tuple[str, str, str | None, str | None, str, str | None]  # list, prefix, from, to, source, detail
Issue = tuple[str, int, str, str, str]  # file, line, value, problem, action


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise DataError(f"{path} not found; run `usmca data sync --source DIR`")
    with path.open(newline="", encoding="utf-8") as f:
        lines = (ln for ln in f if not ln.startswith("#"))
        for i, row in enumerate(csv.DictReader(lines), start=2):
            yield i, {k.strip().strip('"'): (v or "").strip().strip('"') for k, v in row.items() if k}


def _date_or_none(v: str) -> str | None:
    v = (v or "").strip()
    if not v or v.upper() == "NA":
        return None
    dt.date.fromisoformat(v)  # raises on a bad date: caught by the caller
    return v


class _Collector:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.issues: list[Issue] = []
        self.lists: dict[str, str] = {}

    def code(self, file: str, line: int, raw: str, lengths: tuple[int, ...] = (2, 4, 6, 8, 10)) -> str | None:
        code = raw.replace(".", "").strip()
        if code.isdigit() and len(code) in lengths:
            return code
        self.issues.append(
            (file, line, raw, f"not an HTS code of {'/'.join(map(str, lengths))} digits", "row skipped")
        )
        return None

    def add(
        self, lst: str, prefix: str, vf: str | None, vt: str | None, source: str, detail: str | None
    ) -> None:
        self.rows.append((lst, prefix, vf, vt, source, detail))
        self.lists.setdefault(lst, source)


def _load(src: Path, c: _Collector) -> None:
    base = src / FOLDER
    # Section 301 lists, one per Chapter 99 heading.
    f = "s301_product_lists.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts8"])
        if code:
            c.add(f"s301:{r['ch99_code']}", code, None, None, f, r.get("list"))
    # IEEPA fentanyl lower-rate categories.
    f = "fentanyl_carveout_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts8"])
        if code:
            c.add(f"fentanyl:{r['category']}", code, None, None, f, r["ch99_code"])
    # IEEPA reciprocal Annex II exemptions (dated; the end date is read as the last day on the list).
    f = "ieepa_exempt_products.csv"
    seen: dict[str, tuple[str | None, str | None]] = {}
    pending: list[tuple[int, str, str | None, str | None]] = []
    for i, r in _read_csv(base / f):
        raw = r["hts10"]
        try:
            vf, vt = _date_or_none(r["effective_date_start"]), _date_or_none(r["effective_date_end"])
        except ValueError:
            c.issues.append((f, i, raw, "bad date", "row skipped"))
            continue
        digits = raw.replace(".", "")
        if digits.isdigit() and len(digits) == 12:
            pending.append((i, digits, vf, vt))  # known defect: judged below against the 10-digit rows
            continue
        code = c.code(f, i, raw)
        if code:
            seen[code] = (vf, vt)
            c.add("ieepa:annex_ii", code, vf or "2025-04-05", vt, f, None)
    for i, digits, vf, vt in pending:
        head = digits[:10]
        if seen.get(head) == (vf, vt):
            c.issues.append(
                (
                    f,
                    i,
                    digits,
                    "12-digit code (known defect, SOURCE.md)",
                    f"skipped: its first 10 digits {head} are listed on their own with the same dates",
                )
            )
        else:
            c.issues.append(
                (
                    f,
                    i,
                    digits,
                    "12-digit code (known defect, SOURCE.md)",
                    "skipped: not an HTS code and no 10-digit row with the same dates; the product "
                    "is NOT treated as exempt",
                )
            )
    # Section 122 exemptions (note 2(aa)(ii)-(iv)).
    f = "s122_exempt_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts8"])
        if code:
            c.add("s122:exempt", code, "2026-02-24", None, f, None)
    # Section 232 steel and aluminum articles / derivatives before the annex regime.
    f = "s232_metal_chapter_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts_prefix"])
        if not code:
            continue
        kind = "articles" if r["kind"] == "mill" else "derivatives"
        try:
            vf = _date_or_none(r["effective_date"])
        except ValueError:
            c.issues.append((f, i, r["effective_date"], "bad date", "row skipped"))
            continue
        c.add(f"s232:{r['metal_type']}_{kind}", code, vf, None, f, r.get("source"))
    f = "s232_derivative_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts_prefix"])
        if not code:
            continue
        try:
            vf = _date_or_none(r["effective_date"])
        except ValueError:
            c.issues.append((f, i, r["effective_date"], "bad date", "row skipped"))
            continue
        if vf is None:
            # A blank date means "since the heading existed": 9903.85.07/.08 came with Proclamation 10895
            # (entries from 2025-03-12), 9903.85.04 by Proclamation 9980 (2020-02-08). Recorded, not silent.
            vf = BLANK_DATE_BY_HEADING.get(r["ch99_code"])
            c.issues.append(
                (
                    f,
                    i,
                    r["hts_prefix"],
                    f"blank effective_date under {r['ch99_code']}",
                    f"read as {vf or 'open (no start date)'}",
                )
            )
        c.add(f"s232:{r['derivative_type']}_derivatives", code, vf, None, f, r["ch99_code"])
    f = "s232_copper_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts10"])  # the column is named hts10 but holds 8-digit codes
        if code:
            c.add("s232:copper", code, "2025-08-01", None, f, r["ch99_code"])
    f = "s232_annex_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts_prefix"])
        if not code:
            continue
        try:
            vf = _date_or_none(r["effective_date"])
        except ValueError:
            c.issues.append((f, i, r["effective_date"], "bad date", "row skipped"))
            continue
        c.add(f"s232:annex_{r['annex']}", code, vf, None, f, r["metal_type"])
    for f, lst in (("s232_auto_parts.txt", "s232:auto_parts"), ("s232_mhd_parts.txt", "s232:mhd_parts")):
        p = base / f
        if not p.is_file():
            raise DataError(f"{p} not found; run `usmca data sync --source DIR`")
        for i, ln in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            code = c.code(f, i, ln, (4, 6, 8, 10))
            if code:
                c.add(lst, code, None, None, f, None)
    # Dual-use provisions of the note 33(g) list (the curation's applicability share 0, e.g. bare 8471):
    # a line there is an automobile part only if the importer says so (fact automobile_part).
    f = "s232_auto_parts_applicability.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts_prefix"])
        if code and Decimal(r["applicability_share"] or "1") == 0:
            c.add("s232:auto_parts_dual_use", code, None, None, f, r.get("source_note", "")[:200])
    f = "s232_semi_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts10"])
        if code:
            c.add("s232:semiconductors", code, None, None, f, r["ch99_code"])
    f = "s232_pharma_products.csv"
    for i, r in _read_csv(base / f):
        code = c.code(f, i, r["hts10"])
        if code:
            c.add("s232:pharmaceuticals", code, None, None, f, None)


def build(conn: sqlite3.Connection, sources: Path, log: Log) -> dict[str, Any]:
    from usmca.measures.records import load_measures

    c = _Collector()
    _load(sources, c)
    measures = load_measures()
    missing = sorted(measures.list_names() - set(c.lists))
    if missing:
        raise DataError(f"measure records name product lists no source provides: {', '.join(missing)}")
    conn.execute(
        "CREATE TABLE measure_scope (list TEXT NOT NULL, prefix TEXT NOT NULL, valid_from TEXT,"
        " valid_to TEXT, source TEXT NOT NULL, detail TEXT)"
    )
    conn.execute("CREATE INDEX measure_scope_list_prefix ON measure_scope (list, prefix)")
    conn.execute(
        "CREATE TABLE measure_scope_list (list TEXT PRIMARY KEY, source TEXT NOT NULL, rows INTEGER NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE measure_scope_issue (file TEXT NOT NULL, line INTEGER NOT NULL, value TEXT NOT NULL,"
        " problem TEXT NOT NULL, action TEXT NOT NULL)"
    )
    conn.executemany("INSERT INTO measure_scope VALUES (?, ?, ?, ?, ?, ?)", c.rows)
    counts: dict[str, int] = {}
    for r in c.rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    conn.executemany(
        "INSERT INTO measure_scope_list VALUES (?, ?, ?)",
        [(k, v, counts[k]) for k, v in sorted(c.lists.items())],
    )
    conn.executemany("INSERT INTO measure_scope_issue VALUES (?, ?, ?, ?, ?)", c.issues)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('measures_vintage', ?)", (measures.vintage,))
    # One log line per kind of issue (the table keeps every row).
    kinds: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for file, line, value, problem, action in c.issues:
        kinds.setdefault((file, problem, action), []).append((line, value))
    for (file, problem, action), rows in kinds.items():
        first = ", ".join(f"line {ln} {v!r}" for ln, v in rows[:3])
        more = ", ..." if len(rows) > 3 else ""
        log(f"measures: {file}: {problem}; {action} ({len(rows)} rows: {first}{more})")
    return {
        "lists": len(c.lists),
        "rows": len(c.rows),
        "issues": len(c.issues),
        "records": len(measures.measures),
    }


# ----------------------------------------------------------------------------------------------- run time


@dataclass(frozen=True)
class _Entry:
    valid_from: dt.date | None
    valid_to: dt.date | None


class ScopeIndex:
    """Membership of HTS codes in the dated product lists (all in memory: a few tens of thousands of rows)."""

    def __init__(self, rows: list[tuple[str, str, str | None, str | None]]) -> None:
        self._lists: dict[str, dict[str, list[_Entry]]] = {}
        self._lengths: dict[str, tuple[int, ...]] = {}
        for lst, prefix, vf, vt in rows:
            e = _Entry(dt.date.fromisoformat(vf) if vf else None, dt.date.fromisoformat(vt) if vt else None)
            self._lists.setdefault(lst, {}).setdefault(prefix, []).append(e)
        for lst, d in self._lists.items():
            self._lengths[lst] = tuple(sorted({len(p) for p in d}))

    def names(self) -> set[str]:
        return set(self._lists)

    def contains(self, lst: str, code: str, on: dt.date) -> bool:
        d = self._lists.get(lst)
        if d is None:
            raise DataError(f"product list {lst!r} is not in the reference store; run `usmca data build`")
        for n in self._lengths[lst]:
            if n > len(code):
                break
            for e in d.get(code[:n], ()):
                if (e.valid_from is None or e.valid_from <= on) and (e.valid_to is None or on <= e.valid_to):
                    return True
        return False


_cache_lock = threading.Lock()
_cache: dict[int, ScopeIndex] = {}


def scope_index(conn: sqlite3.Connection) -> ScopeIndex:
    key = id(conn)
    idx = _cache.get(key)
    if idx is None:
        with _cache_lock:
            idx = _cache.get(key)
            if idx is None:
                try:
                    rows = conn.execute(
                        "SELECT list, prefix, valid_from, valid_to FROM measure_scope"
                    ).fetchall()
                except sqlite3.OperationalError:
                    raise DataError(
                        "the reference store has no measure product lists; run `usmca data build` "
                        '(step "measures")'
                    ) from None
                idx = ScopeIndex([tuple(r) for r in rows])
                _cache.clear()
                _cache[key] = idx
    return idx
