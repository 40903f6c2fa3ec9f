"""Build step "schedule": every line of every HTS revision, stored once per distinct content.

Reads the synced USITC JSON exports (``hts/revisions/hts_<year>_<basic|rev_N>.json.gz``) and the revision
effective dates (``hts/revision_dates.csv``), and writes:

``hts_revision``            one row per revision in force at some date: id, label, effective date, valid_to
                            (the next revision's date), where the date came from, row count.
``hts_revision_excluded``   revision files present in the source but left out, with the reason (never silent).
``hts_line``                one row per distinct version of a coded line, with its validity window over
                            revisions ``[rev_from, rev_to]`` and dates ``[valid_from, valid_to)``; identical
                            consecutive versions are collapsed.
``hts_rate``                each distinct rate text parsed once (``kind`` = ``rate`` for the general and
                            column-2 columns, ``special`` for the special-program column), with the parse
                            error if any.
``hts_text``                each distinct description path (ancestors, headers included, + own), shared by
                            the versions that have it.
``hts_fts``                 FTS5 index over description and ancestor path (one row per ``hts_text`` row).

Texts are stored without the export's HTML presentation markup (``<sup>3</sup>`` -> ``3``), which otherwise
flips between revisions and would make spurious versions.

Statistical (10-digit) lines whose three rate columns are blank take their rates from their 8-digit parent,
and record it in ``rates_from``.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import gzip
import itertools
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usmca.errors import DataError

Log = Callable[[str], None]

HTS_FOLDER = "hts"
_FILE_RE = re.compile(r"^hts_(\d{4})_(basic|rev_(\d+))\.json\.gz$")
_CH99_RE = re.compile(r"\b(99\d\d\.\d\d(?:\.\d\d)?)(?:\s*(?:-|–|through)\s*(99\d\d\.\d\d(?:\.\d\d)?))?")
# The USITC export carries HTML presentation markup that comes and goes between revisions
# ("$1.13/m<sup>3</sup>" in one, "$1.13/m3" in the next): kept, it would make spurious versions.
_BREAK_TAG_RE = re.compile(r"<\s*(?:br|nl|newline)\s*/?\s*>|<\s*/\s*(?:newline|nl)\s*>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?\s*[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
# SOURCE.md states publication dates of revisions that revision_dates.csv leaves out, e.g.
# "excludes 2026 Rev 8 (published 2026-05-22)".
_SOURCE_MD_DATE_RE = re.compile(r"(\d{4}) Rev (\d+)\s*\(published (\d{4}-\d{2}-\d{2})\)")

# Content of one line version, compared for equality across revisions:
# (indent, description, parent_code, path, units, general, special, other, rates_from, footnotes, ch99_refs)
Content = tuple[Any, ...]


@dataclass(frozen=True)
class RevisionFile:
    id: str  # "2025_rev_17", "2026_basic"
    label: str  # "2025 rev 17"
    year: int
    number: int  # 0 for the basic edition
    path: Path
    effective_date: str | None
    date_source: str
    note: str


# ----------------------------------------------------------------------------------------------- revisions


def _rev_id(year: int, number: int) -> str:
    return f"{year}_basic" if number == 0 else f"{year}_rev_{number}"


def read_revision_files(src: Path) -> tuple[list[RevisionFile], list[tuple[str, str, str]]]:
    """Revision files with their effective dates, in schedule order; and the excluded ones with reasons."""
    folder = src / HTS_FOLDER
    rev_dir = folder / "revisions"
    if not rev_dir.is_dir():
        raise DataError(f"HTS revisions folder {rev_dir} not found; run `usmca data sync --source DIR`")
    dates_csv = folder / "revision_dates.csv"
    if not dates_csv.is_file():
        raise DataError(f"{dates_csv} not found; run `usmca data sync --source DIR`")
    dates: dict[str, tuple[str, str]] = {}
    with dates_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rid, eff = row["revision"].strip(), row["effective_date"].strip()
            # Rows of the first year carry no year prefix ("basic", "rev_5"): the year is the date's.
            if not re.match(r"^\d{4}_", rid):
                rid = f"{eff[:4]}_{rid}"
            dates[rid] = (eff, (row.get("policy_event") or "").strip())
    source_md = folder / "SOURCE.md"
    md_dates: dict[str, str] = {}
    if source_md.is_file():
        for y, n, d in _SOURCE_MD_DATE_RE.findall(source_md.read_text(encoding="utf-8")):
            md_dates[f"{y}_rev_{n}"] = d

    files: list[RevisionFile] = []
    excluded: list[tuple[str, str, str]] = []
    for p in sorted(rev_dir.glob("hts_*.json.gz")):
        m = _FILE_RE.match(p.name)
        if not m:
            excluded.append((p.name, p.name, "file name not of the form hts_<year>_<basic|rev_N>.json.gz"))
            continue
        year = int(m.group(1))
        number = int(m.group(3)) if m.group(3) else 0
        rid = _rev_id(year, number)
        label = f"{year} basic" if number == 0 else f"{year} rev {number}"
        if rid in dates:
            eff, event = dates[rid]
            note = (
                f"policy note (curator's annotation in revision_dates.csv, not USITC data): {event}"
                if event and event != "NA"
                else ""
            )
            files.append(RevisionFile(rid, label, year, number, p, eff, "revision_dates.csv", note))
        elif rid in md_dates:
            files.append(
                RevisionFile(
                    rid,
                    label,
                    year,
                    number,
                    p,
                    md_dates[rid],
                    "SOURCE.md",
                    "not in revision_dates.csv (the tracker drops it as editorial-only); "
                    f"effective date taken from the publication date {md_dates[rid]} stated in hts/SOURCE.md",
                )
            )
        else:
            excluded.append((rid, p.name, "no effective date in revision_dates.csv or SOURCE.md"))
    files.sort(key=lambda r: (r.year, r.number))
    # Dates must rise with the revision order, or "the revision in force on D" is ill-defined.
    for a, b in itertools.pairwise(files):
        if a.effective_date is None or b.effective_date is None or not a.effective_date < b.effective_date:
            raise DataError(
                f"HTS revision dates out of order: {a.label} {a.effective_date} then {b.label} "
                f"{b.effective_date} (from {a.date_source} / {b.date_source}); fix the source and rebuild"
            )
    if not files:
        raise DataError(f"no HTS revision files with effective dates under {rev_dir}")
    return files, excluded


# ----------------------------------------------------------------------------------------------- parsing


def chapter99_refs(texts: Iterable[str]) -> list[str]:
    """Chapter 99 headings cited in footnote texts, as digits; a range stays a range ("99038801-99038804")."""
    out: list[str] = []
    for text in texts:
        for a, b in _CH99_RE.findall(text):
            ref = a.replace(".", "")
            if b:
                end = b.replace(".", "")
                if len(end) == len(ref) and end > ref:
                    ref = f"{ref}-{end}"
            if ref not in out:
                out.append(ref)
    return out


def clean_text(text: object) -> str:
    """Text without HTML markup (the inner text is kept) and with whitespace collapsed."""
    t = str(text or "")
    if "<" in t:
        t = _TAG_RE.sub("", _BREAK_TAG_RE.sub(" ", t))
    return " ".join(t.split())


# Footnote as compared and pickled: (columns, type, value, marker)
Footnote = tuple[tuple[str, ...], str, str, str]
_RATE_COLUMNS = frozenset({"general", "special", "other"})


def footnote_dict(f: Footnote) -> dict[str, Any]:
    d: dict[str, Any] = {"columns": list(f[0]), "type": f[1], "value": f[2]}
    if f[3]:
        d["marker"] = f[3]
    return d


def parse_revision(path: Path) -> tuple[dict[str, Content], dict[str, int]]:
    """One revision file -> {code: content} for its coded lines, and figures (rows, anomalies)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read HTS revision {path}: {exc}; run `usmca data sync` again") from exc
    lines: dict[str, Content] = {}
    figures = {"rows": len(rows), "coded": 0, "inherited": 0, "uninheritable_blank_10": 0, "duplicates": 0}
    # Most texts repeat ("Other", "Free", the same footnote): clean each distinct one once.
    cleaned: dict[str, str] = {}
    refs_of: dict[str, tuple[str, ...]] = {}

    def clean(v: Any) -> str:
        if not v:
            return ""
        got = cleaned.get(v)
        if got is None:
            got = cleaned[v] = clean_text(v)
        return got

    def refs_in(value: str) -> tuple[str, ...]:
        got = refs_of.get(value)
        if got is None:
            got = refs_of[value] = tuple(chapter99_refs((value,)))
        return got

    # Stack of open ancestors: (indent, code, description, general, special, other, footnotes)
    stack: list[tuple[int, str, str, str, str, str, tuple[Footnote, ...]]] = []
    for r in rows:
        try:
            indent = int(r.get("indent") or 0)
        except (TypeError, ValueError):
            raise DataError(f"{path.name}: bad indent {r.get('indent')!r} on {r.get('htsno')!r}") from None
        code = (r.get("htsno") or "").replace(".", "").strip()
        desc = clean(r.get("description"))
        general = clean(r.get("general"))
        special = clean(r.get("special"))
        other = clean(r.get("other"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        fns: tuple[Footnote, ...] = tuple(
            (
                tuple(f.get("columns") or ()),
                f.get("type") or "",
                clean(f.get("value")),
                str(f.get("marker") or ""),
            )
            for f in r.get("footnotes") or ()
        )
        if code:
            parent = None
            for s in reversed(stack):
                if s[1]:
                    parent = s
                    break
            rates_from: str | None = None
            refs: list[str] = []
            for fn in fns:
                refs.extend(x for x in refs_in(fn[2]) if x not in refs)
            if len(code) == 10 and not (general or special or other):
                # A statistical line takes the rates of its 8-digit tariff line; it has none of its own.
                if parent is not None and len(parent[1]) == 8 and code.startswith(parent[1]):
                    rates_from = parent[1]
                    general, special, other = parent[3], parent[4], parent[5]
                    # Chapter 99 cross-references on the parent's rate columns apply to its statistical lines.
                    for fn in parent[6]:
                        if _RATE_COLUMNS.intersection(fn[0]):
                            refs.extend(x for x in refs_in(fn[2]) if x not in refs)
                    figures["inherited"] += 1
                else:
                    figures["uninheritable_blank_10"] += 1
            if code in lines:
                figures["duplicates"] += 1  # keep the first; counted so the build report shows it
            else:
                lines[code] = (
                    indent,
                    desc,
                    parent[1] if parent else None,
                    (*(s[2] for s in stack), desc),
                    tuple(r.get("units") or ()),
                    general,
                    special,
                    other,
                    rates_from,
                    fns,
                    tuple(refs),
                )
                figures["coded"] += 1
        stack.append((indent, code, desc, general, special, other, fns))
    return lines, figures


# One version: [code, content, first_seq, last_seq]
Version = list[Any]


def collapse_chunk(chunk: list[tuple[int, str]]) -> tuple[list[Version], dict[int, dict[str, int]]]:
    """Parse consecutive revisions (seq, path) and collapse identical consecutive versions of each code."""
    done: list[Version] = []
    open_: dict[str, Version] = {}
    figures: dict[int, dict[str, int]] = {}
    for seq, path in chunk:
        lines, figs = parse_revision(Path(path))
        figures[seq] = figs
        for code, content in lines.items():
            v = open_.get(code)
            if v is not None and v[3] == seq - 1 and v[1] == content:
                v[3] = seq
                continue
            if v is not None:
                done.append(v)
            open_[code] = [code, content, seq, seq]
    done.extend(open_.values())
    return done, figures


def _merge_chunks(chunks: list[tuple[int, int, list[Version]]]) -> list[Version]:
    """Join versions that continue unchanged across a chunk boundary."""
    out: list[Version] = []
    tail: dict[str, Version] = {}  # versions of the previous chunks that reach its last revision
    for first_seq, last_seq, versions in chunks:
        new_tail: dict[str, Version] = {}
        for v in versions:
            prev = tail.get(v[0]) if v[2] == first_seq else None
            if prev is not None and prev[1] == v[1]:
                prev[3] = v[3]
                v = prev
            else:
                out.append(v)
            if v[3] == last_seq:
                new_tail[v[0]] = v
        tail = new_tail
    return out


# ----------------------------------------------------------------------------------------------- rates


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    return obj


def parse_rates(
    texts: dict[str, set[str]],
) -> tuple[list[tuple[str, str, str | None, str | None]], dict[str, Any]]:
    """Parse each distinct rate text once: rows (kind, text, parsed_json, error) and coverage figures.

    ``kind`` "rate" texts (general and column 2) go through ``parse_rate``; "special" texts through
    ``parse_special`` (a list of program groups). A text that does not parse is kept with its reason.
    """
    from usmca.rates.grammar import RateParseError, parse_rate, parse_special

    rows: list[tuple[str, str, str | None, str | None]] = []
    figs: dict[str, Any] = {}
    for kind, ts in texts.items():
        fn: Callable[[str], Any] = parse_special if kind == "special" else parse_rate
        ok = 0
        for t in sorted(ts):
            try:
                parsed = fn(t)
            except RateParseError as exc:
                rows.append((kind, t, None, exc.reason))
                continue
            rows.append((kind, t, json.dumps(_jsonable(parsed), ensure_ascii=False), None))
            ok += 1
        figs[f"{kind}_texts"] = len(ts)
        figs[f"{kind}_parsed"] = ok
    return rows, figs


# ----------------------------------------------------------------------------------------------- build

SCHEMA = """
CREATE TABLE hts_revision (
  seq INTEGER PRIMARY KEY,           -- 0, 1, ... in schedule order
  id TEXT NOT NULL UNIQUE,           -- 2025_rev_17
  label TEXT NOT NULL,               -- 2025 rev 17
  year INTEGER NOT NULL,
  number INTEGER NOT NULL,           -- 0 = basic edition
  effective_date TEXT NOT NULL,
  valid_to TEXT,                     -- next revision's effective date; NULL for the newest
  date_source TEXT NOT NULL,         -- revision_dates.csv | SOURCE.md
  note TEXT NOT NULL,
  file TEXT NOT NULL,
  rows INTEGER NOT NULL,
  coded_lines INTEGER NOT NULL
);
CREATE TABLE hts_revision_excluded (id TEXT PRIMARY KEY, file TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE hts_line (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL,                -- digits
  indent INTEGER NOT NULL,
  description TEXT NOT NULL,
  parent_code TEXT,                  -- nearest coded ancestor
  text_id INTEGER NOT NULL,          -- hts_text.id = rowid in hts_fts (description + path)
  units TEXT NOT NULL,               -- JSON list
  general TEXT NOT NULL,
  special TEXT NOT NULL,
  other TEXT NOT NULL,
  rates_from TEXT,                   -- 8-digit code whose rates a statistical line takes
  footnotes TEXT NOT NULL,           -- JSON list of {columns, type, value[, marker]}
  ch99_refs TEXT NOT NULL,           -- JSON list of digit codes or "start-end" ranges
  rev_from INTEGER NOT NULL,
  rev_to INTEGER NOT NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT
);
CREATE TABLE hts_text (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL                 -- JSON list: ancestor descriptions (headers included) + own
);
CREATE TABLE hts_rate (
  kind TEXT NOT NULL,                -- rate | special
  text TEXT NOT NULL,
  parsed TEXT,                       -- JSON (Rate.to_dict / parse_special result)
  error TEXT,
  PRIMARY KEY (kind, text)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE hts_fts USING fts5(
  description, ancestors, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""
INDEXES = """
CREATE INDEX hts_line_code ON hts_line (code, rev_from);
CREATE INDEX hts_line_parent ON hts_line (parent_code, rev_from);
CREATE INDEX hts_line_text ON hts_line (text_id);
CREATE INDEX hts_line_rev ON hts_line (rev_from, rev_to);
"""


def build(conn: sqlite3.Connection, sources: Path, log: Log) -> dict[str, Any]:
    t0 = time.perf_counter()
    revs, excluded = read_revision_files(sources)
    for _rid, fname, reason in excluded:
        log(f"schedule: excluding {fname}: {reason}")
    for r in revs:
        if r.date_source != "revision_dates.csv":
            log(f"schedule: {r.label}: {r.note}")
    # Two contiguous chunks parsed in two processes (JSON decoding dominates); joined at the boundary.
    items = [(seq, str(r.path)) for seq, r in enumerate(revs)]
    mid = (len(items) + 1) // 2
    parts = [items[:mid], items[mid:]] if len(items) > 1 else [items]
    results: list[tuple[list[Version], dict[int, dict[str, int]]]]
    if len(parts) > 1:
        with cf.ProcessPoolExecutor(max_workers=len(parts)) as pool:
            results = list(pool.map(collapse_chunk, parts))
    else:
        results = [collapse_chunk(parts[0])]
    t_parse = time.perf_counter() - t0
    versions = _merge_chunks(
        [(part[0][0], part[-1][0], res[0]) for part, res in zip(parts, results, strict=True)]
    )
    rev_figs: dict[int, dict[str, int]] = {}
    for _, figs in results:
        rev_figs.update(figs)

    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO hts_revision VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                seq,
                r.id,
                r.label,
                r.year,
                r.number,
                r.effective_date,
                revs[seq + 1].effective_date if seq + 1 < len(revs) else None,
                r.date_source,
                r.note,
                r.path.name,
                rev_figs[seq]["rows"],
                rev_figs[seq]["coded"],
            )
            for seq, r in enumerate(revs)
        ],
    )
    conn.executemany("INSERT INTO hts_revision_excluded VALUES (?,?,?)", excluded)

    dates = [r.effective_date for r in revs]
    texts: dict[str, int] = {}  # path JSON -> hts_text.id
    rate_texts: dict[str, set[str]] = {"rate": set(), "special": set()}
    line_rows = []
    versions.sort(key=lambda v: (v[0], v[2]))
    for i, (code, c, first, last) in enumerate(versions, start=1):
        text_id = texts.setdefault(json.dumps(c[3], ensure_ascii=False), len(texts) + 1)
        for t in (c[5], c[7]):
            if t:
                rate_texts["rate"].add(t)
        if c[6]:
            rate_texts["special"].add(c[6])
        line_rows.append(
            (
                i,
                code,
                c[0],
                c[1],
                c[2],
                text_id,
                json.dumps(c[4], ensure_ascii=False),
                c[5],
                c[6],
                c[7],
                c[8],
                json.dumps([footnote_dict(f) for f in c[9]], ensure_ascii=False),
                json.dumps(c[10]),
                first,
                last,
                dates[first],
                dates[last + 1] if last + 1 < len(dates) else None,
            )
        )
    conn.executemany("INSERT INTO hts_line VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", line_rows)
    conn.executemany("INSERT INTO hts_text VALUES (?,?)", [(tid, p) for p, tid in texts.items()])
    fts_rows = []
    for p, tid in texts.items():
        path_list = json.loads(p)
        fts_rows.append((tid, path_list[-1], " / ".join(path_list[:-1])))
    conn.executemany("INSERT INTO hts_fts (rowid, description, ancestors) VALUES (?,?,?)", fts_rows)
    conn.executescript(INDEXES)
    conn.execute("INSERT INTO hts_fts (hts_fts) VALUES ('optimize')")
    t_rates = time.perf_counter()
    rate_rows, rate_figs = parse_rates(rate_texts)
    conn.executemany("INSERT INTO hts_rate VALUES (?,?,?,?)", rate_rows)
    t_rates = time.perf_counter() - t_rates

    total_rows = sum(f["rows"] for f in rev_figs.values())
    figures: dict[str, Any] = {
        "revisions": len(revs),
        "excluded_revisions": [f"{rid} ({reason})" for rid, _f, reason in excluded],
        "dates_from_source_md": [r.id for r in revs if r.date_source == "SOURCE.md"],
        "source_rows": total_rows,
        "line_versions": len(line_rows),
        "distinct_texts": len(texts),
        "inherited_rate_lines": sum(f["inherited"] for f in rev_figs.values()),
        "blank_statistical_lines_without_parent_rates": sum(
            f["uninheritable_blank_10"] for f in rev_figs.values()
        ),
        "duplicate_codes_dropped": sum(f["duplicates"] for f in rev_figs.values()),
        "parse_seconds": round(t_parse, 2),
        "rate_parse_seconds": round(t_rates, 2),
        **rate_figs,
    }
    log(
        f"schedule: {len(revs)} revisions, {total_rows} source rows -> {len(line_rows)} line versions "
        f"({len(texts)} distinct texts)"
    )
    return figures
