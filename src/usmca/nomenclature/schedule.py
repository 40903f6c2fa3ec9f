"""The HTS schedule at any date: point lookups, hierarchy, full-text search, history and revision diffs.

Reads the tables written by :mod:`usmca.nomenclature.schedule_build`. The line in force on date D is the one
in the revision in force on D (the newest revision whose effective date is on or before D). Every function
takes an optional connection; by default it uses the shared read-only store.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from usmca.errors import DataError, InputError, NotFoundError, ReferenceNotFound
from usmca.nomenclature.codes import format_code, level_of, normalize_code
from usmca.rates.grammar import Rate, SpecialRate

CODE_LENGTHS = (4, 6, 8, 10)
RATE_COLUMNS = ("general", "special", "other")
# Fields compared by history() and diff(), in the order they are reported.
VERSION_FIELDS = (
    "description",
    "indent",
    "parent_code",
    "path",
    "units",
    "general",
    "special",
    "other",
    "rates_inherited_from",
    "footnotes",
    "chapter99_refs",
)


# ----------------------------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class Revision:
    seq: int
    id: str  # "2025_rev_17"
    label: str  # "2025 rev 17"
    year: int
    effective_date: dt.date
    valid_to: dt.date | None  # the next revision's effective date; None for the newest
    date_source: str  # "revision_dates.csv" or "SOURCE.md"
    note: str
    file: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "year": self.year,
            "effective_date": self.effective_date.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "date_source": self.date_source,
            "note": self.note,
            "file": self.file,
        }


@dataclass(frozen=True, slots=True)
class ExcludedRevision:
    id: str
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class Footnote:
    columns: tuple[str, ...]  # which columns it is attached to: desc, general, special, other, units, stat
    type: str  # endnote | footnote
    value: str
    marker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"columns": list(self.columns), "type": self.type, "value": self.value}
        if self.marker:
            d["marker"] = self.marker
        return d


@dataclass(frozen=True)
class HtsLine:
    """One line of the schedule as in force on ``as_of``."""

    code: str  # digits
    code_dotted: str
    level: str  # heading | subheading | tariff_item | statistical
    indent: int
    description: str
    path: tuple[str, ...]  # ancestor descriptions (indent-only headers included) and its own, outermost first
    parent_code: str | None
    units: tuple[str, ...]
    general: str  # column 1 general rate text ("" when the schedule gives none)
    special: str  # column 1 special rate text with its program list
    other: str  # column 2 rate text
    general_rate: Rate | None  # parsed general rate, or None (blank text, or see general_error)
    special_rates: tuple[SpecialRate, ...] | None  # program groups of the special column, or None
    other_rate: Rate | None
    general_error: str | None
    special_error: str | None
    other_error: str | None
    rates_inherited_from: str | None  # 8-digit line whose rates a statistical line takes
    footnotes: tuple[Footnote, ...]
    chapter99_refs: tuple[str, ...]  # digit codes or "start-end" ranges; includes the rate source's
    revision: Revision
    valid_from: dt.date  # this exact content is in force from ...
    valid_to: dt.date | None  # ... until (exclusive); None = still in the newest revision
    as_of: dt.date
    requested: str  # the code asked for (digits); differs from ``code`` when a 00-padded line stands for it
    coverage_warning: str | None = None
    rate_note: str | None = None

    @property
    def citation(self) -> str:
        return f"HTSUS {self.code_dotted}, revision {self.revision.label}"

    def usmca_rate(self) -> Rate | None:
        """The rate for SPI S/S+ (USMCA) from the special column, or None when the line gives no USMCA
        preference (see ``usmca.rates.grammar.usmca_rate``; raises RateParseError when unreadable)."""
        from usmca.rates.grammar import usmca_rate

        return usmca_rate(self.special)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_dotted": self.code_dotted,
            "requested": self.requested,
            "level": self.level,
            "indent": self.indent,
            "description": self.description,
            "path": list(self.path),
            "parent_code": self.parent_code,
            "units": list(self.units),
            "general": self.general,
            "special": self.special,
            "other": self.other,
            "general_rate": _jsonable(self.general_rate),
            "special_rates": _jsonable(self.special_rates),
            "other_rate": _jsonable(self.other_rate),
            "rate_errors": {
                k: v
                for k, v in (
                    ("general", self.general_error),
                    ("special", self.special_error),
                    ("other", self.other_error),
                )
                if v
            },
            "rates_inherited_from": self.rates_inherited_from,
            "rate_note": self.rate_note,
            "footnotes": [f.to_dict() for f in self.footnotes],
            "chapter99_refs": list(self.chapter99_refs),
            "as_of": self.as_of.isoformat(),
            "revision": {
                "id": self.revision.id,
                "label": self.revision.label,
                "effective_date": self.revision.effective_date.isoformat(),
            },
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "coverage_warning": self.coverage_warning,
            "citation": self.citation,
        }


@dataclass(frozen=True, slots=True)
class SearchHit:
    code: str
    code_dotted: str
    description: str
    path: tuple[str, ...]
    general: str
    score: float  # bm25: lower is better

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_dotted": self.code_dotted,
            "description": self.description,
            "path": list(self.path),
            "general": self.general,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    revision: Revision
    hits: tuple[SearchHit, ...]
    coverage_warning: str | None = None
    note: str | None = None  # how the query was read (common words ignored, fallback to any word)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "revision": self.revision.label,
            "coverage_warning": self.coverage_warning,
            "note": self.note,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass(frozen=True, slots=True)
class LineVersion:
    """One distinct version of a line and the revisions it held through."""

    code: str
    valid_from: dt.date
    valid_to: dt.date | None
    rev_from: Revision
    rev_to: Revision
    description: str
    indent: int
    parent_code: str | None
    path: tuple[str, ...]
    units: tuple[str, ...]
    general: str
    special: str
    other: str
    rates_inherited_from: str | None
    footnotes: tuple[Footnote, ...]
    chapter99_refs: tuple[str, ...]
    changed: tuple[str, ...]  # fields that differ from the previous version; ("new",) for the first

    def value(self, name: str) -> Any:
        v = getattr(self, name)
        if name == "footnotes":
            return [f.to_dict() for f in v]
        return list(v) if isinstance(v, tuple) else v

    def to_dict(self) -> dict[str, Any]:
        d = {n: self.value(n) for n in VERSION_FIELDS}
        return {
            "code": self.code,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "rev_from": self.rev_from.label,
            "rev_to": self.rev_to.label,
            **d,
            "changed": list(self.changed),
        }


@dataclass(frozen=True, slots=True)
class History:
    code: str
    requested: str
    versions: tuple[LineVersion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_dotted": format_code(self.code),
            "requested": self.requested,
            "versions": [v.to_dict() for v in self.versions],
        }


@dataclass(frozen=True, slots=True)
class DiffLine:
    code: str
    description: str
    general: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_dotted": format_code(self.code),
            "description": self.description,
            "general": self.general,
        }


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class LineChange:
    code: str
    description: str
    changes: tuple[FieldChange, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_dotted": format_code(self.code),
            "description": self.description,
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class ScheduleDiff:
    rev_a: Revision
    rev_b: Revision
    added: tuple[DiffLine, ...]
    removed: tuple[DiffLine, ...]
    changed: tuple[LineChange, ...]
    field_counts: dict[str, int] = field(default_factory=dict)  # how many changed lines touch each field

    def to_dict(self) -> dict[str, Any]:
        return {
            "rev_a": self.rev_a.label,
            "rev_b": self.rev_b.label,
            "counts": {
                "added": len(self.added),
                "removed": len(self.removed),
                "changed": len(self.changed),
                "by_field": self.field_counts,
            },
            "added": [x.to_dict() for x in self.added],
            "removed": [x.to_dict() for x in self.removed],
            "changed": [x.to_dict() for x in self.changed],
        }


# ----------------------------------------------------------------------------------------------- helpers


def _jsonable(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    return obj


def _conn(conn: sqlite3.Connection | None) -> sqlite3.Connection:
    if conn is not None:
        return conn
    from usmca.store import store

    return store()


def _check_store(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hts_line'").fetchone()
    if row is None:
        raise DataError('the reference store has no HTS schedule; run `usmca data build` (step "schedule")')


# Per-connection caches (the store is read-only, so what it answered once stays true). Connections cannot be
# weakly referenced: keep the last few, by identity, holding them so an id is never reused while cached.
_CACHES: list[tuple[sqlite3.Connection, dict[Any, Any]]] = []


def _cache(c: sqlite3.Connection) -> dict[Any, Any]:
    for cached_conn, d in _CACHES:
        if cached_conn is c:
            return d
    d = {}
    _CACHES.insert(0, (c, d))
    del _CACHES[4:]
    return d


def revisions(conn: sqlite3.Connection | None = None) -> tuple[Revision, ...]:
    """Every revision in the store, oldest first."""
    c = _conn(conn)
    cache = _cache(c)
    if "revisions" in cache:
        got: tuple[Revision, ...] = cache["revisions"]
        return got
    _check_store(c)
    revs = tuple(
        Revision(
            seq=r[0],
            id=r[1],
            label=r[2],
            year=r[3],
            effective_date=dt.date.fromisoformat(r[4]),
            valid_to=dt.date.fromisoformat(r[5]) if r[5] else None,
            date_source=r[6],
            note=r[7],
            file=r[8],
        )
        for r in c.execute(
            "SELECT seq, id, label, year, effective_date, valid_to, date_source, note, file "
            "FROM hts_revision ORDER BY seq"
        )
    )
    if not revs:
        raise DataError("the reference store holds no HTS revision; run `usmca data build`")
    cache["revisions"] = revs
    cache["dates"] = [r.effective_date for r in revs]
    return revs


def excluded_revisions(conn: sqlite3.Connection | None = None) -> tuple[ExcludedRevision, ...]:
    """Revision files in the source that the build left out, with the reason."""
    c = _conn(conn)
    _check_store(c)
    return tuple(ExcludedRevision(*r) for r in c.execute("SELECT id, file, reason FROM hts_revision_excluded"))


def _as_date(as_of: dt.date | str | None, field: str = "as_of") -> dt.date:
    if as_of is None:
        return dt.date.today()
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    if isinstance(as_of, str):
        try:
            return dt.date.fromisoformat(as_of)
        except ValueError:
            pass
    raise InputError(field, as_of, "dates are written YYYY-MM-DD")


def _coverage(as_of: dt.date, conn: sqlite3.Connection | None) -> tuple[Revision, str | None]:
    revs = revisions(conn)
    first, newest = revs[0], revs[-1]
    if as_of < first.effective_date:
        raise ReferenceNotFound(
            "as_of",
            as_of.isoformat(),
            f"before the schedule's coverage, which starts with {first.label} effective "
            f"{first.effective_date.isoformat()}",
            f"ask for a date from {first.effective_date.isoformat()} on",
        )
    i = bisect.bisect_right(_cache(_conn(conn))["dates"], as_of) - 1
    rev = revs[i]
    warning = None
    if rev is newest and as_of > newest.effective_date:
        warning = (
            f"{as_of.isoformat()} is after the newest revision in the store ({newest.label}, effective "
            f"{newest.effective_date.isoformat()}); newer revisions may exist: run `usmca data sync` and "
            "`usmca data build` to update"
        )
    return rev, warning


def revision_on(as_of: dt.date | str, conn: sqlite3.Connection | None = None) -> Revision:
    """The revision in force on ``as_of`` (the newest one for any later date)."""
    return _coverage(_as_date(as_of), conn)[0]


def coverage_warning(as_of: dt.date | str, conn: sqlite3.Connection | None = None) -> str | None:
    """The warning that goes with answers for ``as_of`` (None inside the data's coverage)."""
    return _coverage(_as_date(as_of), conn)[1]


_REV_NAME = re.compile(r"^(\d{4})[\s_\-]*(?:(basic)|(?:rev(?:ision)?)?[\s_\-]*(\d+))$", re.IGNORECASE)


def find_revision(name: str, conn: sqlite3.Connection | None = None, field: str = "revision") -> Revision:
    """A revision by id ("2025_rev_17"), label ("2025 rev 17", "2026 basic") or date (the one in force)."""
    revs = revisions(conn)
    text = (name or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return revision_on(text, conn)
    m = _REV_NAME.match(text)
    if m:
        rid = f"{m.group(1)}_basic" if m.group(2) else f"{m.group(1)}_rev_{int(m.group(3))}"
        for r in revs:
            if r.id == rid:
                return r
    raise InputError(
        field,
        name,
        "no such HTS revision in the store",
        f"use an id such as {revs[-1].id}, a label such as '{revs[-1].label}', or a date; "
        "`usmca hts revisions` lists them",
    )


def _candidates(code: str) -> list[str]:
    """The code, then the same code padded with 00 up to 10 digits: a heading or subheading without
    subdivisions is printed as one line (0205 -> 0205.00.00.00)."""
    out = [code]
    while len(out[-1]) < 10:
        out.append(out[-1] + "00")
    return out


_LINE_COLS = (
    "l.code, l.indent, l.description, l.parent_code, t.path, l.units, l.general, l.special, l.other, "
    "l.rates_from, l.footnotes, l.ch99_refs, l.rev_from, l.rev_to, l.valid_from, l.valid_to"
)


def _footnotes(text: str) -> tuple[Footnote, ...]:
    return tuple(
        Footnote(tuple(f.get("columns") or ()), f.get("type") or "", f.get("value") or "", f.get("marker"))
        for f in json.loads(text)
    )


def _parsed(conn: sqlite3.Connection, kind: str, text: str) -> tuple[Any | None, str | None]:
    """The rate parsed at build time for a rate text (a Rate, or for the special column a tuple of
    SpecialRate), or the reason there is none."""
    if not text:
        return None, None
    row = conn.execute("SELECT parsed, error FROM hts_rate WHERE kind = ? AND text = ?", (kind, text)).fetchone()
    if row is None:
        return None, "rate text not in the store's rate table; run `usmca data build`"
    if row[0] is None:
        return None, row[1] or "not parsed"
    from usmca.rates.grammar import rate_from_dict, special_from_dict

    data = json.loads(row[0])
    if kind == "special":
        return tuple(special_from_dict(g) for g in data), None
    return rate_from_dict(data), None


def _line(
    conn: sqlite3.Connection, row: Any, rev: Revision, as_of: dt.date, requested: str, warning: str | None
) -> HtsLine:
    code = row[0]
    general, special, other = row[6], row[7], row[8]
    g, ge = _parsed(conn, "rate", general)
    s, se = _parsed(conn, "special", special)
    o, oe = _parsed(conn, "rate", other)
    note = None
    if len(code) == 10 and not (general or special or other) and row[9] is None:
        note = (
            "statistical line with no rates of its own and no 8-digit parent line in this revision "
            "(source anomaly): its rates are unknown, not free"
        )
    return HtsLine(
        code=code,
        code_dotted=format_code(code),
        level=level_of(code),
        indent=row[1],
        description=row[2],
        path=tuple(json.loads(row[4])),
        parent_code=row[3],
        units=tuple(json.loads(row[5])),
        general=general,
        special=special,
        other=other,
        general_rate=g,
        special_rates=s,
        other_rate=o,
        general_error=ge,
        special_error=se,
        other_error=oe,
        rates_inherited_from=row[9],
        footnotes=_footnotes(row[10]),
        chapter99_refs=tuple(json.loads(row[11])),
        revision=rev,
        valid_from=dt.date.fromisoformat(row[14]),
        valid_to=dt.date.fromisoformat(row[15]) if row[15] else None,
        as_of=as_of,
        requested=requested,
        coverage_warning=warning,
        rate_note=note,
    )


def _windows(conn: sqlite3.Connection, codes: list[str]) -> list[tuple[str, str | None]]:
    """Date windows in which any of ``codes`` existed, merged where they touch."""
    marks = ",".join("?" * len(codes))
    rows = conn.execute(
        f"SELECT valid_from, valid_to FROM hts_line WHERE code IN ({marks}) ORDER BY valid_from", codes
    ).fetchall()
    out: list[list[str | None]] = []
    for a, b in rows:
        if out and out[-1][1] is not None and out[-1][1] >= a:
            prev_end = out[-1][1]
            out[-1][1] = None if b is None else max(prev_end, b)
        elif out and out[-1][1] is None:
            continue
        else:
            out.append([a, b])
    return [(str(a), b) for a, b in out]


def _not_found(conn: sqlite3.Connection, code: str, as_of: dt.date) -> NotFoundError:
    wins = _windows(conn, _candidates(code))
    dotted = format_code(code)
    if not wins:
        revs = revisions(conn)
        return NotFoundError(
            f"{dotted} is not in any HTS revision in the store ({revs[0].label} to {revs[-1].label}); "
            "check the code, or find it with `usmca hts search TEXT`"
        )
    spans = ", ".join(f"{a} to {b}" if b else f"from {a} on" for a, b in wins)
    return NotFoundError(f"{dotted} does not exist on {as_of.isoformat()}; it was valid {spans}")


def _find(conn: sqlite3.Connection, code: str, rev: Revision, cols: str = _LINE_COLS) -> Any | None:
    """The row (``cols``, the line's code first) of the code or its 00-padded line in force in ``rev``."""
    cands = _candidates(code)
    marks = ",".join("?" * len(cands))
    rows = conn.execute(
        f"SELECT {cols} FROM hts_line l JOIN hts_text t ON t.id = l.text_id "
        f"WHERE l.code IN ({marks}) AND l.rev_from <= ? AND l.rev_to >= ?",
        (*cands, rev.seq, rev.seq),
    ).fetchall()
    if not rows:
        return None
    return min(rows, key=lambda r: len(r[0]))


# ----------------------------------------------------------------------------------------------- queries


def normalize(code: object, field: str = "code") -> str:
    """Digits of a 4, 6, 8 or 10-digit HTS code written with or without dots; InputError otherwise."""
    return normalize_code(code, field=field, lengths=CODE_LENGTHS)


def lookup(code: str, as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None) -> HtsLine:
    """The line ``code`` as in force on ``as_of`` (default: today).

    Raises InputError for a malformed code or a date before the data's coverage, NotFoundError when the code
    is not in the schedule on that date (saying when it was). A date after the newest revision is answered
    from the newest revision with ``coverage_warning`` set.
    """
    c = _conn(conn)
    digits = normalize(code)
    day = _as_date(as_of)
    rev, warning = _coverage(day, c)
    row = _find(c, digits, rev)
    if row is None:
        raise _not_found(c, digits, day)
    return _line(c, row, rev, day, digits, warning)


def path(code: str, as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None) -> tuple[str, ...]:
    """``lookup(code, as_of).path`` (the descriptions from the heading down to the line) without reading the
    line's rates: asked once per distinct code of a portfolio, where the rates are not wanted. Raises as
    ``lookup`` does."""
    c = _conn(conn)
    digits = normalize(code)
    day = _as_date(as_of)
    rev, _warning = _coverage(day, c)
    row = _find(c, digits, rev, "l.code, t.path")
    if row is None:
        raise _not_found(c, digits, day)
    return tuple(json.loads(row[1]))


def exists(code: str, as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None) -> bool:
    """True when the code (or its 00-padded line) is in the schedule on ``as_of``."""
    c = _conn(conn)
    rev, _w = _coverage(_as_date(as_of), c)
    return _find(c, normalize(code), rev) is not None


def codes_in_force(as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None) -> frozenset[str]:
    """Every code printed in the schedule on ``as_of`` (one query per revision, cached per connection)."""
    c = _conn(conn)
    rev, _w = _coverage(_as_date(as_of), c)
    cache = _cache(c)
    key = ("in_force", rev.seq)
    if key not in cache:
        rows = c.execute("SELECT code FROM hts_line WHERE rev_from <= ? AND rev_to >= ?", (rev.seq, rev.seq))
        cache[key] = frozenset(r[0] for r in rows)
    got: frozenset[str] = cache[key]
    return got


def exists_many(
    codes: Iterable[str], as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None
) -> list[bool]:
    """``exists`` for many codes at once (a portfolio's distinct codes): one set of in-force codes, then a
    membership test per code and its 00-padded forms, as ``_find`` asks."""
    in_force = codes_in_force(as_of, conn)
    return [any(k in in_force for k in _candidates(normalize(code))) for code in codes]


def children(
    code: str, as_of: dt.date | str | None = None, conn: sqlite3.Connection | None = None
) -> tuple[HtsLine, ...]:
    """The lines directly under ``code`` (its nearest coded descendants), in code order."""
    c = _conn(conn)
    parent = lookup(code, as_of, c)
    rev = parent.revision
    rows = c.execute(
        f"SELECT {_LINE_COLS} FROM hts_line l JOIN hts_text t ON t.id = l.text_id "
        "WHERE l.parent_code = ? AND l.rev_from <= ? AND l.rev_to >= ? ORDER BY l.code",
        (parent.code, rev.seq, rev.seq),
    ).fetchall()
    return tuple(_line(c, r, rev, parent.as_of, r[0], parent.coverage_warning) for r in rows)


def subheadings(
    as_of: dt.date | str | None = None,
    conn: sqlite3.Connection | None = None,
    include_chapters_98_99: bool = False,
) -> frozenset[str]:
    """Six-digit subheadings in the schedule on ``as_of``.

    A subheading without subdivisions has no 6-digit row of its own (0101.21 is printed as 0101.21.00), so
    this is the set of 6-digit prefixes of every line of 6 or more digits. Chapters 98 and 99 (US-only
    provisions, not HS subheadings) are left out unless asked for.
    """
    c = _conn(conn)
    rev, _w = _coverage(_as_date(as_of), c)
    cache = _cache(c)
    key = ("subheadings", rev.seq, include_chapters_98_99)
    got: frozenset[str] | None = cache.get(key)
    if got is None:
        sql = (
            "SELECT DISTINCT substr(code, 1, 6) FROM hts_line WHERE length(code) >= 6 AND rev_from <= ? AND rev_to >= ?"
        )
        if not include_chapters_98_99:
            sql += " AND code < '98'"
        got = frozenset(r[0] for r in c.execute(sql, (rev.seq, rev.seq)))
        cache[key] = got
    return got


_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Words so common in the schedule ("Other", "of", "and") that they rank nothing and, matching most lines,
# make a query slow: dropped from a query that has other words.
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "or", "nor", "of", "the", "for", "in", "on", "to", "by", "with", "without", "not",
    "than", "whether", "other", "others", "otherwise", "its", "their", "be", "being", "as", "at", "from",
    "thereof", "such", "this", "that", "which", "including", "excluding", "except", "nesoi",
})
# fmt: on


def _ranked(c: sqlite3.Connection, q: str, rev: Revision, limit: int, rank: bool) -> list[tuple[Any, ...]]:
    """Best lines for FTS query ``q`` in revision ``rev``: score the index first, join only its top texts."""
    k: int | None = limit * 5
    while True:
        if rank:
            sql = "SELECT rowid, bm25(hts_fts, 4.0, 1.0) FROM hts_fts WHERE hts_fts MATCH ? ORDER BY 2 LIMIT ?"
        else:
            sql = "SELECT rowid, 0.0 FROM hts_fts WHERE hts_fts MATCH ? LIMIT ?"
        top = c.execute(sql, (q, -1 if k is None else k)).fetchall()
        if not top:
            return []
        score = dict(top)
        marks = ",".join("?" * len(score))
        rows = c.execute(
            "SELECT l.code, l.description, t.path, l.general, l.text_id FROM hts_line l "
            f"JOIN hts_text t ON t.id = l.text_id WHERE l.text_id IN ({marks}) AND l.rev_from <= ? "
            "AND l.rev_to >= ?",
            (*score, rev.seq, rev.seq),
        ).fetchall()
        if len(rows) >= limit or k is None or len(top) < k:
            out = [(r[0], r[1], r[2], r[3], score[r[4]]) for r in rows]
            out.sort(key=lambda r: (r[4], len(r[0]), r[0]))
            return out[:limit]
        # Too few of the top texts are in this revision: widen, finally to every match.
        k = k * 8 if k < 5000 else None


def search(
    text: str, as_of: dt.date | str | None = None, limit: int = 20, conn: sqlite3.Connection | None = None
) -> SearchResult:
    """Lines whose description, or the descriptions above them, match ``text``, best first (FTS5 bm25,
    description weighted 4:1 over its ancestors). All words must match; if no line has them all, any may.
    Very common words (``STOPWORDS``) are ignored when the query has others; a query of only such words
    matches descriptions alone and comes back unranked, in code order (``note`` says so)."""
    c = _conn(conn)
    if not isinstance(text, str) or not _TOKEN.search(text):
        raise InputError("text", text, "search needs at least one word")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputError("limit", limit, "must be a whole number of at least 1")
    day = _as_date(as_of)
    rev, warning = _coverage(day, c)
    tokens = list(dict.fromkeys(_TOKEN.findall(text.lower())))
    words = [t for t in tokens if t not in STOPWORDS]
    note = None
    rank = bool(words)
    if not words:
        words = tokens
        note = "only very common words: matched in descriptions alone, not ranked (in code order)"
    elif len(words) < len(tokens):
        note = "ignored very common words: " + ", ".join(t for t in tokens if t in STOPWORDS)
    rows: list[tuple[Any, ...]] = []
    both = " AND ".join(f'"{w}"' for w in words)  # each word quoted: FTS syntax in the text stays inert
    if not rank:
        rows = _ranked(c, f"description : ({both})", rev, limit, rank=False)
    else:
        # Lines whose own description has every word score best; scoring only those first is much cheaper
        # than scoring every line under a heading that has the word. Fall back to the full index.
        rows = _ranked(c, f"description : ({both})", rev, limit, rank=True)
        if len(rows) < limit:
            rows = _ranked(c, both, rev, limit, rank=True)
        if not rows and len(words) > 1:
            rows = _ranked(c, " OR ".join(f'"{w}"' for w in words), rev, limit, rank=True)
            note = ((note + "; ") if note else "") + "no line has all the words: lines with any of them"
    if not rank:
        rows.sort(key=lambda r: r[0])
    hits = tuple(SearchHit(r[0], format_code(r[0]), r[1], tuple(json.loads(r[2])), r[3], float(r[4])) for r in rows)
    return SearchResult(text, rev, hits, warning, note)


def history(code: str, conn: sqlite3.Connection | None = None) -> History:
    """Every distinct version of a line across the revisions, oldest first, with what changed each time."""
    c = _conn(conn)
    digits = normalize(code)
    revs = revisions(c)
    rows: list[Any] = []
    for cand in _candidates(digits):
        rows = c.execute(
            f"SELECT {_LINE_COLS} FROM hts_line l JOIN hts_text t ON t.id = l.text_id "
            "WHERE l.code = ? ORDER BY l.rev_from",
            (cand,),
        ).fetchall()
        if rows:
            break
    if not rows:
        raise NotFoundError(
            f"{format_code(digits)} is not in any HTS revision in the store ({revs[0].label} to "
            f"{revs[-1].label}); check the code, or find it with `usmca hts search TEXT`"
        )
    out: list[LineVersion] = []
    for r in rows:
        v = LineVersion(
            code=r[0],
            valid_from=dt.date.fromisoformat(r[14]),
            valid_to=dt.date.fromisoformat(r[15]) if r[15] else None,
            rev_from=revs[r[12]],
            rev_to=revs[r[13]],
            description=r[2],
            indent=r[1],
            parent_code=r[3],
            path=tuple(json.loads(r[4])),
            units=tuple(json.loads(r[5])),
            general=r[6],
            special=r[7],
            other=r[8],
            rates_inherited_from=r[9],
            footnotes=_footnotes(r[10]),
            chapter99_refs=tuple(json.loads(r[11])),
            changed=(),
        )
        if not out:
            changed: tuple[str, ...] = ("new",)
        else:
            prev = out[-1]
            changed = tuple(n for n in VERSION_FIELDS if getattr(prev, n) != getattr(v, n))
            if prev.rev_to.seq + 1 != v.rev_from.seq:
                changed = ("reinstated", *changed)
        out.append(_replace_changed(v, changed))
    return History(rows[0][0], digits, tuple(out))


def _replace_changed(v: LineVersion, changed: tuple[str, ...]) -> LineVersion:
    from dataclasses import replace

    return replace(v, changed=changed)


def diff(rev_a: str | Revision, rev_b: str | Revision, conn: sqlite3.Connection | None = None) -> ScheduleDiff:
    """Lines added, removed and changed from revision ``rev_a`` to ``rev_b`` (ids, labels or dates)."""
    c = _conn(conn)
    a = rev_a if isinstance(rev_a, Revision) else find_revision(rev_a, c, "rev_a")
    b = rev_b if isinstance(rev_b, Revision) else find_revision(rev_b, c, "rev_b")

    def load(rev: Revision) -> dict[str, Any]:
        return {
            r[0]: r
            for r in c.execute(
                "SELECT l.code, l.id, l.description, l.indent, l.parent_code, t.path, l.units, l.general, "
                "l.special, l.other, l.rates_from, l.footnotes, l.ch99_refs FROM hts_line l JOIN hts_text t "
                "ON t.id = l.text_id WHERE l.rev_from <= ? AND l.rev_to >= ?",
                (rev.seq, rev.seq),
            )
        }

    la, lb = load(a), load(b)
    added = tuple(DiffLine(k, lb[k][2], lb[k][7]) for k in sorted(lb.keys() - la.keys()))
    removed = tuple(DiffLine(k, la[k][2], la[k][7]) for k in sorted(la.keys() - lb.keys()))
    # column index in the rows above of each compared field
    idx = {
        "description": 2,
        "indent": 3,
        "parent_code": 4,
        "path": 5,
        "units": 6,
        "general": 7,
        "special": 8,
        "other": 9,
        "rates_inherited_from": 10,
        "footnotes": 11,
        "chapter99_refs": 12,
    }
    json_fields = {"path", "units", "footnotes", "chapter99_refs"}
    changed: list[LineChange] = []
    counts: dict[str, int] = {}
    for k in sorted(la.keys() & lb.keys()):
        ra, rb = la[k], lb[k]
        if ra[1] == rb[1]:
            continue  # same stored version
        fcs = []
        for name in VERSION_FIELDS:
            va, vb = ra[idx[name]], rb[idx[name]]
            if va != vb:
                if name in json_fields:
                    va, vb = json.loads(va), json.loads(vb)
                fcs.append(FieldChange(name, va, vb))
                counts[name] = counts.get(name, 0) + 1
        if fcs:
            changed.append(LineChange(k, rb[2], tuple(fcs)))
    return ScheduleDiff(a, b, added, removed, tuple(changed), counts)
