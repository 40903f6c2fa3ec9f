"""The GN 11(o) rule corpus: build step "rules" (parse, map nomenclature, mark defects, store) and the
query API.

Build: every ``chapter-NN.txt`` of the synced ``usmca/gn11o/`` is parsed (``usmca.rules.parse``); the
MANIFEST.md is read for the per-chapter facts (inferred rule numbers, generated text, missing chapters) and
for
the defects it names, which are quoted into each affected rule's provenance. Codes written in an older HS
edition
(a 6-digit code absent from HS 2022) are mapped through the UNSD correlation tables; every mapping is
recorded.
Rules and chapter notes are stored as JSON rows (``usmca.rules.serialize``) with a corpus version.

Query: ``load_corpus(conn).rules_for(hts, on, use, trade)`` returns a ``RuleMatch`` whose status tells the
origin
engine whether it can evaluate (``found``) or must answer ``unresolved`` naming the reason (every other
status).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from usmca.errors import DataError, NotFoundError
from usmca.nomenclature.codes import CodeRange, CodeSet, format_code, normalize_code
from usmca.nomenclature.correlate import Nomenclature
from usmca.rules import parse as P
from usmca.rules.grammar import (
    Alternative,
    CodeMapping,
    Condition,
    Provenance,
    Rule,
    RuleStatus,
    TariffShift,
)
from usmca.rules.serialize import codeset_from, codeset_to, condition_from, condition_to, rule_from, rule_to

PARSER_VERSION = "1"
GN_DIR = "usmca/gn11o"
SOURCE = "HTSUS General Note 11(o)"
MISSING_CHAPTERS_RESERVED = ("77",)  # reserved in the HS: no rules exist (not a gap)

MatchStatus = Literal[
    "found",  # evaluate these rules (several only when they differ by the good's description: rule.good)
    "no_rule",  # the chapter is present but no rule covers the code (a gap the source flags, or reserved)
    "chapter_missing",  # the source has no text for the chapter (64-67): never guess
    "ambiguous_mapping",  # the rule was written in an older HS edition and the code maps n:1 / n:n
    "needs_use",  # rules differ by end use and none was given
    "needs_date",  # rules differ by date (time-based rules) and no date was given
    "needs_trade",  # rules differ by trade direction (CA-US / MX-US / all other trade) and none was given
    "conflict",  # two rules cover the code and the text does not distinguish them (a source defect)
]


@dataclass(frozen=True, slots=True)
class ChapterNote:
    """An unnumbered chapter / heading / subheading note kept as data with its text (not a rule)."""

    id: str  # "GN11(o)/27/note-4"
    chapter: str
    kind: str  # chapter_rule | heading_rule | subheading_rule | underscoring | note
    label: str  # the transcription's label
    text: str
    scope: CodeSet  # codes the note names (empty = the whole chapter)
    conditions: tuple[Condition, ...] = ()
    citation: str = ""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    status: MatchStatus
    rules: tuple[Rule, ...]
    reason: str
    chapter_notes: tuple[ChapterNote, ...] = ()


# ---------------------------------------------------------------- MANIFEST


@dataclass(frozen=True, slots=True)
class ChapterFacts:
    chapter: str
    numbered: int
    notes: int
    inferred: frozenset[str]
    inferred_all: bool
    generated: frozenset[str]
    source_file: str


@dataclass(frozen=True, slots=True)
class Manifest:
    chapters: dict[str, ChapterFacts]
    missing: tuple[str, ...]
    vintage: str
    bullets: tuple[str, ...]  # every bullet / table line of the MANIFEST, for quoting reasons
    mismatches: dict[tuple[str, str], str]  # (chapter, rule) -> cross-check row with result MISMATCH

    def quote(self, phrase: str) -> str:
        """The MANIFEST line containing ``phrase`` (quoted as a defect reason); loud when the MANIFEST
        changed."""
        for b in self.bullets:
            if phrase.lower() in b.lower():
                return "MANIFEST: " + re.sub(r"\s+", " ", b.strip("*- ")).strip()
        raise DataError(
            f"usmca/gn11o/MANIFEST.md no longer mentions {phrase!r}; review the defect table in "
            "usmca.rules.corpus"
        )


def _numbers(cell: str) -> tuple[frozenset[str], bool]:
    cell = cell.strip()
    if cell.lower().startswith("all"):
        return frozenset(), True
    if cell in ("none", "-", ""):
        return frozenset(), False
    out: set[str] = set()
    for part in re.split(r",\s*", cell):
        m = re.fullmatch(r"(\d+)-(\d+)", part.strip())
        if m:
            out.update(str(k) for k in range(int(m.group(1)), int(m.group(2)) + 1))
        elif part.strip().isdigit():
            out.add(part.strip())
    return frozenset(out), False


def read_manifest(text: str) -> Manifest:
    chapters: dict[str, ChapterFacts] = {}
    for line in text.splitlines():
        m = re.match(
            r"^\|\s*(\d{2})\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|([^|]*)\|([^|]*)\|\s*`?([^|`]*)`?\s*\|", line
        )
        if m:
            inferred, all_ = _numbers(m.group(4))
            generated, _ = _numbers(m.group(5))
            chapters[m.group(1)] = ChapterFacts(
                m.group(1), int(m.group(2)), int(m.group(3)), inferred, all_, generated, m.group(6).strip()
            )
    missing: list[str] = []
    for m in re.finditer(r"^\*\s+\*\*([\d, ]+)\*\*\s+—\s+no sector file", text, re.M):
        missing.extend(c.strip() for c in m.group(1).split(","))
    vm = re.search(r"vintage claimed by the source \|\s*(.*?)\s*—", text)
    vintage = (vm.group(1) if vm else "unstated").replace('"', "")
    bullets = tuple(ln for ln in text.splitlines() if ln.strip().startswith(("*", "-", "|")))
    mismatches: dict[tuple[str, str], str] = {}
    for ln in bullets:
        mm = re.match(r"^\|\s*\d+\s*\|\s*ch (\d+) rule (\d+)\s*\|.*\*\*MISMATCH\*\*", ln)
        if mm:
            mismatches[(mm.group(1).zfill(2), mm.group(2))] = "MANIFEST cross-check: " + re.sub(
                r"\s+", " ", ln
            )
    if not chapters:
        raise DataError("usmca/gn11o/MANIFEST.md: per-chapter table not found")
    return Manifest(chapters, tuple(missing), vintage, bullets, mismatches)


# Our own reading of which MANIFEST statements make which rules untrustworthy (status "defective") or only
# flagged. The reason text is quoted from the MANIFEST at build time, never copied here.
# key: (chapter, rule number or "note:<label fragment>"), value: (phrase to find in the MANIFEST, defective?)
DEFECTS: tuple[tuple[str, str, str, bool], ...] = (
    ("84", "47", "Ch 84 rule 47 is truncated", True),
    ("84", "196", "Ch 84 rule 196", True),
    ("85", "113", "Ch 84 rule 196", True),
    ("73", "note:7308", "Ch 73 7308.10/.20/.30/.40/.90", True),
    ("73", "note:time-based", "Ch 73 time-based rules", False),
    ("40", "10", "ch 40 rule 10(C)", True),
    ("04", "2", "Internal inconsistencies in the source", False),
    ("84", "5", "Internal inconsistencies in the source", False),
    ("84", "125", "Internal inconsistencies in the source", False),
    ("84", "138", "Internal inconsistencies in the source", False),
    ("84", "233", "Internal inconsistencies in the source", False),
    ("84", "248", "Internal inconsistencies in the source", False),
    ("85", "8", "Internal inconsistencies in the source", False),
    ("84", "243", "Internal inconsistencies in the source", False),
    ("85", "18", "Internal inconsistencies in the source", False),
    ("42", "5", "Ch 42 rules 5, 7, 9", False),
    ("42", "7", "Ch 42 rules 5, 7, 9", False),
    ("42", "9", "Ch 42 rules 5, 7, 9", False),
    ("87", "42", "rule 42 embeds the 'any other good of 8708.92' rule", False),
)
GENERATED_PHRASE = "are generated in the source from shared clause constants"
CH72_83_PHRASE = "no rule number is quoted anywhere in the source file"
VINTAGE_PHRASE = "Nomenclature vintage does not match HTS 2026"


# ---------------------------------------------------------------- nomenclature mapping


@dataclass
class _Mapper:
    nom: Nomenclature
    edition: str
    mappings: list[CodeMapping] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # HS2022 codes reached through n:1 / n:n

    def _old_codes_in(self, r: CodeRange) -> list[str]:
        table = self.nom._table(self.edition)
        width = r.width
        olds = sorted({k[:width] for k in table if r.start <= k[:width] <= r.end})
        return olds

    def map_set(
        self, cs: CodeSet, as_written_scope: CodeSet | None = None, materials: bool = False
    ) -> CodeSet:
        """Map a code set. ``as_written_scope``: the rule's own scope (codes reached n:1 / n:n from outside it
        are ambiguous); ``materials``: codes of materials (those still existing keep their code, the goods
        that
        moved elsewhere and n:1 / n:n targets are ambiguous)."""
        out: list[CodeRange] = []
        for r in cs.ranges:
            out.extend(self.map_range(r, as_written_scope, materials))
        return CodeSet(tuple(dict.fromkeys(out)))

    def map_range(
        self, r: CodeRange, as_written_scope: CodeSet | None, materials: bool = False
    ) -> list[CodeRange]:
        width = r.width
        if width > 6:
            return self._map_item(r)
        olds = self._old_codes_in(r) or ([r.start] if r.start == r.end else [])
        if not olds:
            self.defects.append(
                f"code range {r} not found in the {self.edition} correlation table; kept as written"
            )
            return [r]
        news: set[str] = set()
        unchanged = True
        for o in olds:
            c = self.nom.map_to_2022(o, self.edition)
            self.mappings.append(CodeMapping(o, c.hs2022, c.relationship, c.source))
            if c.relationship == "none":
                self.defects.append(f"{format_code(o)} ({self.edition}) has no HS 2022 correlation")
                unchanged = False
                continue
            if materials and len(o) == 6 and o in self.nom.hs2022 and c.hs2022 != (o,):
                # a material code that still exists keeps its own code; the goods of it that moved elsewhere
                # make those codes uncertain (the caller turns them into a condition)
                news.add(o)
                self.ambiguous.extend(x for x in c.hs2022 if x != o)
                continue
            if not (c.relationship == "identity" or (c.relationship == "1:1" and c.hs2022 == (o,))):
                unchanged = False
            news.update(c.hs2022)
            if materials and c.relationship in ("n:1", "n:n"):
                self.ambiguous.extend(c.hs2022)
            elif as_written_scope is not None and c.relationship in ("n:1", "n:n"):
                for n in c.hs2022:
                    feeders = self.nom.old_codes_of(n, self.edition)
                    if any(not as_written_scope.contains(f) for f in feeders):
                        self.ambiguous.append(n)
        if unchanged:
            return [r]
        return _compress(sorted(n for n in news if len(n) == 6), self.nom.subheadings) + [
            CodeRange.single(n) for n in sorted(news) if len(n) != 6
        ]

    def _map_item(self, r: CodeRange) -> list[CodeRange]:
        p0, p1 = r.start[:6], r.end[:6]
        if p0 in self.nom.hs2022 and p1 in self.nom.hs2022:
            return [r]
        c = self.nom.map_to_2022(p0, self.edition)
        self.mappings.append(
            CodeMapping(
                r.start if r.start == r.end else f"{r.start}-{r.end}", c.hs2022, c.relationship, c.source
            )
        )
        if c.relationship == "1:1" and p0 == p1:
            new = c.hs2022[0]
            return [CodeRange(new + r.start[6:], new + r.end[6:])]
        self.defects.append(
            f"tariff item {r} sits under {self.edition} subheading {format_code(p0)}, which maps "
            f"{c.relationship} to "
            f"{', '.join(format_code(x) for x in c.hs2022) or 'nothing'}; a national tariff item cannot be "
            "correlated: kept as written"
        )
        self.ambiguous.extend(c.hs2022)
        return [r]


def _compress(codes: list[str], universe: tuple[str, ...]) -> list[CodeRange]:
    """Runs of consecutive codes (in the HS 2022 subheading order) as ranges."""
    if not codes:
        return []
    idx = {c: i for i, c in enumerate(universe)}
    out: list[CodeRange] = []
    start = prev = codes[0]
    for c in codes[1:]:
        if c in idx and prev in idx and idx[c] == idx[prev] + 1:
            prev = c
            continue
        out.append(CodeRange(start, prev))
        start = prev = c
    out.append(CodeRange(start, prev))
    return out


def _all_codes(pr: P.ParsedRule) -> list[CodeRange]:
    rs: list[CodeRange] = list(pr.scope.ranges)
    for a in pr.alternatives:
        rs.extend(a.target.ranges)
        if a.shift is not None:
            rs.extend(a.shift.from_codes.ranges + a.shift.except_from.ranges + a.shift.group.ranges)
        for c in a.conditions:
            for g in c.code_groups:
                rs.extend(g.ranges)
    return rs


_WRITTEN_CODE = re.compile(r"(?<![\d.])(\d{4})(?:\.(\d{2}))?")


def written_codes(*texts: str) -> frozenset[str]:
    """The headings and subheadings a text names (4 and 6 digits; a tariff item counts as its subheading)."""
    return frozenset(m.group(1) + (m.group(2) or "") for t in texts for m in _WRITTEN_CODE.finditer(t))


def decide_edition(
    nom: Nomenclature, ranges: list[CodeRange], written: frozenset[str] | None = None
) -> tuple[str, list[str]]:
    """The HS edition the rule's codes are written in: HS2022 unless a 6-digit code is absent from HS 2022.

    ``written``: the codes the rule's text names. A range bound the text does not name is not evidence of an
    edition: "2901.10 through 2942.00, except for a good of subheading 2916.32" is held as ranges ending at
    2916.31 and starting at 2916.33, a bound no edition has and the law never wrote."""
    absent: list[str] = []
    for r in ranges:
        for c in {r.start, r.end}:
            if len(c) >= 6 and c[:6] not in nom.hs2022:
                absent.append(c[:6])
            elif len(c) == 4 and c not in nom.hs2022:
                absent.append(c)
    absent = sorted(a for a in set(absent) if written is None or a in written)
    if not absent:
        return "HS2022", []
    for ed in ("HS2017", "HS2012"):
        if all(nom.exists(a, ed) for a in absent):
            return ed, absent
    return "unknown", absent


# ---------------------------------------------------------------- build


def _rule_status(alts: tuple[Alternative, ...], reason: str | None) -> RuleStatus:
    if reason or not alts:
        return "unparsed"
    bad = [a for a in alts if a.unparsed_reason]
    if not bad:
        return "structured"
    return "unparsed" if len(bad) == len(alts) else "partial"


def _map_alt(a: Alternative, m: _Mapper, scope: CodeSet) -> Alternative:
    target = m.map_set(a.target) if a.target else a.target
    shift = a.shift
    conds = list(a.conditions)
    if shift is not None:
        amb_before = len(m.ambiguous)
        exc = m.map_set(shift.except_from, materials=True) if shift.except_from else shift.except_from
        frm = m.map_set(shift.from_codes, materials=True) if shift.from_codes else shift.from_codes
        amb = sorted(set(m.ambiguous[amb_before:]))
        del m.ambiguous[amb_before:]
        if amb:
            conds.append(
                Condition(
                    "other",
                    "material_code_mapping",
                    "the rule names materials in an older HS edition; a non-originating material of "
                    f"{', '.join(format_code(x) for x in amb)} may or may not be one the text names "
                    "(n:1 / n:n "
                    "correlation): its older-edition classification is needed",
                    (),
                    (CodeSet.of(*amb),),
                )
            )
        group = (
            scope
            if shift.kind in ("outside_group", "including_group", "any_other")
            else (m.map_set(shift.group) if shift.group else shift.group)
        )
        shift = TariffShift(shift.kind, shift.level, group, frm, shift.also_from_level, exc, shift.text)
    mapped_conds = []
    for c in conds:
        if c.code_groups and c.name != "material_code_mapping":
            before = len(m.ambiguous)
            c = replace(c, code_groups=tuple(m.map_set(g, materials=True) for g in c.code_groups))
            del m.ambiguous[before:]  # the condition already asks for the fact when such a material is used
        mapped_conds.append(c)
    return replace(a, target=target, shift=shift, conditions=tuple(mapped_conds))


def _citation(ch: str, number: str, label: str, pr: P.ParsedRule, part: str) -> str:
    chn = int(ch)
    if number:
        return f"{SOURCE}, Chapter {chn}, rule {number}{part}"
    when = ""
    if pr.valid_from:
        when = f", beginning {pr.valid_from.isoformat()}"
        if pr.valid_to:
            when += f" until {pr.valid_to.isoformat()}"
    return f"{SOURCE}, Chapter {chn}, unnumbered rule ({label}){when}"


def _note_conditions(kind: str, label: str, text: str) -> tuple[CodeSet, tuple[Condition, ...]]:
    scope = CodeSet()
    m = re.search(r"heading (\d{4})|subheading (\d{4}\.\d{2})", label)
    if m:
        scope = CodeSet.of((m.group(1) or m.group(2)).replace(".", ""))
    elif kind in ("underscoring", "subheading_rule", "heading_rule"):
        scope = P.codes_in(text)
    conds: list[Condition] = []
    sm = re.search(
        r"provided that the (?P<what>[\w ]+?) constitutes no more than (?P<pct>\d+) percent by volume", text
    )
    if sm and "diluent" in sm.group("what"):
        conds.append(
            Condition("share", "diluent_volume_share", sm.group(0), (f"max_percent={sm.group('pct')}",))
        )
    elif sm:
        conds.append(
            Condition(
                "share",
                P._slug(sm.group("what"), 4) + "_volume_share",
                sm.group(0),
                (f"max_percent={sm.group('pct')}",),
            )
        )
    if kind == "underscoring":
        conds.append(
            Condition(
                "use",
                "use",
                "subdivision (k) may apply to goods for use in a motor vehicle of chapter 87",
                ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle"),
            )
        )
    return scope, tuple(conds)


def build(conn: sqlite3.Connection, sources: Path, log: Any) -> dict[str, Any]:
    """Build step "rules": parse GN 11(o), map codes, store ``rules_corpus``, ``rules_chapter_notes`` and
    ``rules_meta``."""
    gn = sources / GN_DIR
    man_path = gn / "MANIFEST.md"
    if not man_path.is_file():
        raise DataError(f"missing {man_path}; run `usmca data sync`")
    try:
        nom = Nomenclature(conn)
    except DataError as exc:
        raise DataError(f"the rules step needs the hs step in the same build ({exc})") from exc
    man_text = man_path.read_text(encoding="utf-8")
    manifest = read_manifest(man_text)
    files = sorted(gn.glob("chapter-*.txt"))
    if not files:
        raise DataError(f"no chapter files in {gn}; run `usmca data sync`")
    digest = hashlib.sha256(man_text.encode())
    for code_file in (Path(P.__file__), Path(__file__)):  # a parser change is a new corpus version
        digest.update(code_file.read_bytes())
    rules: list[Rule] = []
    notes: list[ChapterNote] = []
    pending: list[Any] = []
    chapters_present: list[str] = []
    gen_reason = manifest.quote(GENERATED_PHRASE)
    ch72_reason = manifest.quote(CH72_83_PHRASE)
    vintage_reason = manifest.quote(VINTAGE_PHRASE)
    defect_table = [(ch, key, manifest.quote(phrase), bad) for ch, key, phrase, bad in DEFECTS]
    for f in files:
        text = f.read_text(encoding="utf-8")
        digest.update(f.name.encode() + text.encode())
        ch = re.search(r"chapter-(\d{2})", f.name)
        if ch is None:
            continue
        chapter = ch.group(1)
        chapters_present.append(chapter)
        facts = manifest.chapters.get(chapter)
        cf = P.read_chapter(text, chapter)
        header_inferred, header_all = P.inferred_numbers(cf.header)
        rel = f"{GN_DIR}/{f.name}"
        note_no = 0
        for item in cf.items:
            kind = "rule" if item.kind == "rule" else P.note_kind(item.label, item.text)
            if item.kind == "note":
                note_no += 1
            if kind not in ("rule", "time_rule", "trade_rule", "special_rule"):
                scope, conds = _note_conditions(kind, item.label, item.text)
                notes.append(
                    ChapterNote(
                        f"GN11(o)/{chapter}/note-{note_no}",
                        chapter,
                        kind,
                        item.label,
                        item.text,
                        scope,
                        conds,
                        f"{SOURCE}, Chapter {int(chapter)}, {item.label} (unnumbered)",
                    )
                )
                continue
            parsed = P.parse_paragraph(item.text)
            for part_no, pr in enumerate(parsed):
                pending.append((facts, chapter, rel, item, note_no, part_no, pr, header_inferred, header_all))
    # A heading where any rule is written in an older edition is read in that edition throughout: a code such
    # as 8462.29 exists in both HS 2017 and HS 2022 but does not mean the same goods.
    older: dict[str, str] = {}
    for _f, _c, _r, item, _n, _p, pr, _h, _a in pending:
        ed, _abs = decide_edition(nom, list(pr.scope.ranges) + _all_codes(pr), written_codes(item.text, item.label))
        if ed in ("HS2017", "HS2012"):
            for rg in pr.scope.ranges:
                older.setdefault(rg.start[:4], ed)
                older.setdefault(rg.end[:4], ed)
    for facts, chapter, rel, item, note_no, part_no, pr, header_inferred, header_all in pending:
        heads = {rg.start[:4] for rg in pr.scope.ranges} | {rg.end[:4] for rg in pr.scope.ranges}
        force = next((older[h] for h in sorted(heads) if h in older), None)
        rules.append(
            _make_rule(
                nom,
                manifest,
                facts,
                chapter,
                rel,
                item,
                note_no,
                part_no,
                pr,
                header_inferred,
                header_all,
                gen_reason,
                ch72_reason,
                vintage_reason,
                defect_table,
                force,
            )
        )
    version = f"gn11o-{digest.hexdigest()[:12]}-p{PARSER_VERSION}"
    _fix_windows(rules)
    dropped = _drop_foreign(rules, nom)
    extended = _extend_new_subheadings(rules, nom, set(chapters_present))
    conn.execute(
        "CREATE TABLE rules_corpus (id TEXT PRIMARY KEY, chapter TEXT NOT NULL, seq INTEGER NOT NULL,"
        " status TEXT NOT NULL, json TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX rules_corpus_chapter ON rules_corpus (chapter)")
    conn.execute(
        "CREATE TABLE rules_chapter_notes (id TEXT PRIMARY KEY, chapter TEXT NOT NULL, seq INTEGER NOT NULL,"
        " json TEXT NOT NULL)"
    )
    conn.execute("CREATE TABLE rules_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.executemany(
        "INSERT INTO rules_corpus VALUES (?, ?, ?, ?, ?)",
        [
            (r.id, r.provenance.chapter, i, r.status, json.dumps(rule_to(r), sort_keys=True))
            for i, r in enumerate(rules)
        ],
    )
    conn.executemany(
        "INSERT INTO rules_chapter_notes VALUES (?, ?, ?, ?)",
        [(n.id, n.chapter, i, json.dumps(note_to(n), sort_keys=True)) for i, n in enumerate(notes)],
    )
    missing = sorted(set(manifest.missing) - set(chapters_present))
    meta = {
        "version": version,
        "source": SOURCE,
        "vintage": manifest.vintage,
        "chapters_present": ",".join(chapters_present),
        "chapters_missing": ",".join(missing),
        "chapters_reserved": ",".join(MISSING_CHAPTERS_RESERVED),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    conn.executemany("INSERT INTO rules_meta VALUES (?, ?)", list(meta.items()))
    counts: dict[str, int] = defaultdict(int)
    for r in rules:
        counts[r.status] += 1
    figures = {
        "version": version,
        "rules": len(rules),
        "chapter_notes": len(notes),
        "new_subheadings_reached_by_correlation": extended,
        "mapped_codes_left_to_their_own_chapter": dropped,
        "chapters": len(chapters_present),
        "chapters_missing": missing,
        **{f"status_{k}": v for k, v in counts.items()},
    }
    log(f"rules: {figures}")
    _CACHE.clear()
    return figures


def _fix_windows(rules: list[Rule]) -> None:
    """Where a paraphrased window ends the day before the next begins ("until 2023-06-30" then "from
    2023-07-01"), the end is read as inclusive so the windows meet (valid_to is exclusive)."""
    by_scope: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rules):
        if r.valid_from is not None:
            by_scope[(r.provenance.chapter, str(r.scope))].append(i)
    for idxs in by_scope.values():
        for i in idxs:
            r = rules[i]
            if r.valid_to is None:
                continue
            for j in idxs:
                nxt = rules[j].valid_from
                if nxt is not None and nxt == r.valid_to + dt.timedelta(days=1):
                    rules[i] = replace(
                        r,
                        valid_to=nxt,
                        provenance=replace(
                            r.provenance,
                            defects=(
                                *r.provenance.defects,
                                f"window end {r.valid_to.isoformat()} (paraphrased) read as "
                                "inclusive: valid until "
                                f"{nxt.isoformat()} exclusive, when the next window begins",
                            ),
                        ),
                    )


def _drop_foreign(rules: list[Rule], nom: Nomenclature) -> int:
    """A mapped scope that reaches a subheading of another chapter (9405.99 (HS 2017) -> 8539.90) gives it up
    where
    a rule printed in that chapter names it: the goods are governed there. Recorded on the rule."""
    own: dict[str, list[Rule]] = defaultdict(list)
    for r in rules:
        own[r.provenance.chapter].append(r)
    count = 0
    for i, r in enumerate(rules):
        if r.scope == r.scope_as_written:
            continue
        keep: list[CodeRange] = []
        gone: list[str] = []
        for rg in r.scope.ranges:
            if rg.width != 6 or rg.start[:2] == r.provenance.chapter == rg.end[:2]:
                keep.append(rg)
                continue
            codes = [c for c in nom.subheadings if rg.start <= c <= rg.end]
            for c in codes:
                if c[:2] != r.provenance.chapter and any(o.scope_as_written.contains(c) for o in own[c[:2]]):
                    gone.append(c)
                else:
                    keep.append(CodeRange.single(c))
        if gone:
            count += len(gone)
            amb = CodeSet(tuple(x for x in r.scope_ambiguous.ranges if x.start not in gone))
            rules[i] = replace(
                r,
                scope=CodeSet(
                    tuple(_compress(sorted(k.start for k in keep if k.width == 6), nom.subheadings))
                    + tuple(k for k in keep if k.width != 6)
                ),
                scope_ambiguous=amb,
                provenance=replace(
                    r.provenance,
                    defects=(
                        *r.provenance.defects,
                        f"the correlation also reaches {', '.join(format_code(g) for g in gone)} in another "
                        "chapter, whose own rule names it: left to that rule",
                    ),
                ),
            )
    return count


def _extend_new_subheadings(rules: list[Rule], nom: Nomenclature, chapters: set[str]) -> int:
    """HS 2022 subheadings no rule names (new in HS 2022, e.g. 8708.22 split from 8708.29) take the rule(s) of
    the
    older-edition codes their goods came from, through the correlation; recorded, and ambiguous when the
    goods came
    from codes under different rules (or under no rule)."""
    by_ch: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rules):
        for rg in r.scope.ranges:
            for c in range(int(rg.start[:2]), int(rg.end[:2]) + 1):
                by_ch[f"{c:02d}"].append(i)
    count = 0
    for s in nom.subheadings:
        if s[:2] not in chapters or any(rules[i].scope.contains(s) for i in by_ch[s[:2]]):
            continue
        hits: dict[int, list[str]] = {}
        feeders: tuple[str, ...] = ()
        edition = ""
        for ed in ("HS2017", "HS2012"):
            feeders = nom.old_codes_of(s, ed)
            for f in feeders:
                for i in by_ch[f[:2]]:
                    if rules[i].scope_as_written.contains(f) and rules[i].provenance.chapter == f[:2]:
                        hits.setdefault(i, []).append(f)
            if hits:
                edition = ed
                break
        if not hits:
            continue
        count += 1
        uncovered = [f for f in feeders if not any(f in fs for fs in hits.values())]
        distinct = {tuple(fs) for fs in hits.values()}
        ambiguous = bool(uncovered) or len(distinct) > 1
        for i, fs in hits.items():
            r = rules[i]
            rel = "1:n" if len(feeders) == 1 else ("n:1" if len(distinct) == 1 and not uncovered else "n:n")
            note = (
                f"scope extended to {format_code(s)}: a subheading the text does not name (new in HS "
                "2022); its "
                f"goods were in {', '.join(format_code(f) for f in feeders)} ({edition})"
            )
            if ambiguous:
                note += " — under more than one rule (or none), so the query answers ambiguous_mapping"
            rules[i] = replace(
                r,
                scope=CodeSet((*r.scope.ranges, CodeRange.single(s))),
                scope_ambiguous=CodeSet((*r.scope_ambiguous.ranges, CodeRange.single(s)))
                if ambiguous
                else r.scope_ambiguous,
                provenance=replace(
                    r.provenance,
                    code_mappings=r.provenance.code_mappings
                    + tuple(
                        CodeMapping(f, (s,), rel, f"UNSD HS2022-{edition} correlation table") for f in fs
                    ),
                    defects=(*r.provenance.defects, note),
                ),
            )
    return count


def _make_rule(
    nom: Nomenclature,
    manifest: Manifest,
    facts: ChapterFacts | None,
    chapter: str,
    rel: str,
    item: P.Item,
    note_no: int,
    part_no: int,
    pr: P.ParsedRule,
    header_inferred: set[str],
    header_all: bool,
    gen_reason: str,
    ch72_reason: str,
    vintage_reason: str,
    defect_table: list[tuple[str, str, str, bool]],
    force_edition: str | None = None,
) -> Rule:
    number = item.number
    defects: list[str] = list(pr.notes)
    why_bad: list[str] = []  # the defects that make the text untrustworthy (status "defective")
    trade: tuple[str, ...] = ()
    valid_from, valid_to = pr.valid_from, pr.valid_to
    scope_w = pr.scope
    if item.kind == "note":
        trade = P.trade_of(item.label)
        if valid_from is None:
            lf, lt = P.dates_in_label(item.label)
            if lf is not None:
                valid_from, valid_to = lf, lt
                defects.append(
                    "time-based rule: the lead-in with its dates is not quoted in the source; dates are "
                    "the source's paraphrase as labelled in the transcription"
                )
        if not scope_w:
            scope_w = P.codes_in(
                item.label.replace("subheading rules for", "subheadings")
                .replace("subheading rule for", "subheading")
                .replace("heading rule for", "heading")
            )
        if not scope_w:
            scope_w = CodeSet.of(*re.findall(r"\b\d{4}\.\d{2}\b", item.label))
    inferred = False
    if number:
        if (
            (facts is not None and (facts.inferred_all or number in facts.inferred))
            or header_all
            or (number in header_inferred)
        ):
            inferred = True
            defects.append("rule number inferred from record order (MANIFEST per-chapter table)")
        if facts is not None and number in facts.generated:
            defects.append(gen_reason)
            why_bad.append(gen_reason)
        if (chapter, number) in manifest.mismatches:
            defects.append(manifest.mismatches[(chapter, number)])
            why_bad.append(manifest.mismatches[(chapter, number)])
    if "72" <= chapter <= "83":
        defects.append(ch72_reason)
    for ch, key, why, bad in defect_table:
        if ch != chapter:
            continue
        if key.startswith("note:"):
            if item.kind == "note" and key[5:] in item.label:
                defects.append(why)
                if bad:
                    why_bad.append(why)
        elif key == number and item.kind == "rule":
            defects.append(why)
            if bad:
                why_bad.append(why)
    # nomenclature
    edition, absent = decide_edition(
        nom, list(scope_w.ranges) + _all_codes(pr), written_codes(item.text, item.label)
    )
    if edition == "HS2022" and force_edition is not None:
        edition = force_edition
        defects.append(
            f"read in {edition} nomenclature like the other rules of its heading(s), which name codes "
            "absent from HS 2022"
        )
    mapper = _Mapper(nom, edition if edition in ("HS2017", "HS2012") else "HS2017")
    alts = pr.alternatives
    scope = scope_w
    if edition in ("HS2017", "HS2012"):
        if absent:
            defects.append(
                f"written in {edition} nomenclature ({', '.join(format_code(a) for a in absent)} absent "
                "from HS 2022); codes mapped through the correlation table. " + vintage_reason
            )
        scope = mapper.map_set(scope_w, scope_w)
        alts = tuple(_map_alt(a, mapper, scope) for a in alts)
        defects.extend(dict.fromkeys(mapper.defects))
    elif edition == "unknown":
        defects.append(
            f"codes {', '.join(format_code(a) for a in absent)} exist in no correlated HS edition; "
            "kept as written"
        )
        why_bad.append(defects[-1])
    scope_amb = CodeSet.of(*sorted(set(mapper.ambiguous))) if mapper.ambiguous else CodeSet()
    for d in defects:
        lost = re.search(r"the (\d{4}\.\d{2})-(\d{4}\.\d{2}) rule text is lost", d)
        if lost and status_hint_truncated(pr):
            # a truncated rule whose scope the MANIFEST names: keep the scope so a good there gets this rule's
            # defect, not "no rule"
            scope = scope_w = CodeSet.of(f"{lost.group(1)}-{lost.group(2)}")
    status = _rule_status(alts, pr.unparsed_reason)
    if why_bad:
        status = "defective"
    suffix = f"({'ABCDEFGH'[part_no]})" if part_no and number else ""
    label = item.label
    rid = f"GN11(o)/{chapter}/{number}" if number else f"GN11(o)/{chapter}/note-{note_no}"
    if part_no:
        rid += f"/part-{part_no + 1}"
    reason: str | None = pr.unparsed_reason
    if status == "partial":
        reason = "; ".join(f"({a.label}) {a.unparsed_reason}" for a in alts if a.unparsed_reason)
    elif status == "defective" and reason is None:
        reason = "the source text is not trustworthy for evaluation: " + "; ".join(why_bad)
    return Rule(
        id=rid,
        citation=_citation(chapter, number, label, pr, f" (embedded rule {part_no + 1})" if suffix else ""),
        scope=scope,
        scope_as_written=scope_w,
        alternatives=alts,
        text=item.text,
        provenance=Provenance(
            SOURCE,
            rel,
            chapter,
            number or f"NOTE:{label}",
            inferred,
            manifest.vintage + " (as quoted by the transcription)",
            edition if edition != "unknown" else "mixed",
            tuple(dict.fromkeys(mapper.mappings)),
            tuple(dict.fromkeys(defects)),
        ),
        use=pr.use,
        use_text=pr.use_text,
        status=status,
        unparsed_reason=reason,
        valid_from=valid_from,
        valid_to=valid_to,
        good=pr.good,
        trade=trade,
        scope_ambiguous=scope_amb,
    )


def status_hint_truncated(pr: P.ParsedRule) -> bool:
    return not pr.alternatives or all(a.shift is None and a.rvc is None for a in pr.alternatives)


def note_to(n: ChapterNote) -> dict[str, Any]:
    return {
        "id": n.id,
        "chapter": n.chapter,
        "kind": n.kind,
        "label": n.label,
        "text": n.text,
        "scope": codeset_to(n.scope),
        "conditions": [condition_to(c) for c in n.conditions],
        "citation": n.citation,
    }


def note_from(d: dict[str, Any]) -> ChapterNote:
    conds = tuple(c for c in (condition_from(x) for x in d["conditions"]) if c is not None)
    return ChapterNote(
        d["id"],
        d["chapter"],
        d["kind"],
        d["label"],
        d["text"],
        codeset_from(d["scope"]),
        conds,
        d["citation"],
    )


# ---------------------------------------------------------------- query


class Corpus:
    """The rule corpus loaded from the store (immutable)."""

    def __init__(self, rules: tuple[Rule, ...], notes: tuple[ChapterNote, ...], meta: dict[str, str]) -> None:
        self.rules = rules
        self.notes = notes
        self.meta = meta
        self.version: str = meta.get("version", "unknown")
        self.vintage: str = meta.get("vintage", "unknown")
        self.chapters_present = frozenset(c for c in meta.get("chapters_present", "").split(",") if c)
        self.chapters_missing = tuple(c for c in meta.get("chapters_missing", "").split(",") if c)
        self.chapters_reserved = tuple(c for c in meta.get("chapters_reserved", "").split(",") if c)
        self._by_id = {r.id: r for r in rules}
        self._by_chapter: dict[str, list[Rule]] = defaultdict(list)  # by the chapters the scope reaches
        self._in_chapter: dict[str, list[Rule]] = defaultdict(list)  # by the chapter the rule is printed in
        for r in rules:
            self._in_chapter[r.provenance.chapter].append(r)
            for ch in sorted({x.start[:2] for x in r.scope.ranges} | {x.end[:2] for x in r.scope.ranges}):
                self._by_chapter[ch].append(r)
        self._notes_by_chapter: dict[str, list[ChapterNote]] = defaultdict(list)
        for n in notes:
            self._notes_by_chapter[n.chapter].append(n)

    def rule(self, rule_id: str) -> Rule:
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise NotFoundError(
                f"no rule {rule_id!r} in corpus {self.version} (ids look like 'GN11(o)/94/2')"
            ) from None

    def rules_in_chapter(self, chapter: str) -> tuple[Rule, ...]:
        return tuple(self._in_chapter.get(chapter, ()))

    def notes_for(self, hts: str) -> tuple[ChapterNote, ...]:
        return tuple(
            n
            for n in self._notes_by_chapter.get(hts[:2], ())
            if not n.scope or n.scope.contains(hts) or any(r.start.startswith(hts) for r in n.scope.ranges)
        )

    def rules_for(
        self, hts: str, on: dt.date | None = None, use: str | None = None, trade: str | None = None
    ) -> RuleMatch:
        """The rule(s) for a good classified in ``hts`` (6, 8 or 10 digits, current nomenclature).

        ``on`` selects time-based rules; ``use`` the end use (passenger_vehicle, light_truck, heavy_truck,
        other_vehicle, aftermarket, not_automotive); ``trade`` the trade direction ("CA-US", "MX-US", or
        any other
        value for "all other trade"). Any status other than ``found`` means the engine answers
        ``unresolved`` with
        the ``reason``.
        """
        code = normalize_code(hts, "hts", lengths=(6, 8, 10))
        ch = code[:2]
        notes = self.notes_for(code)
        if ch in self.chapters_missing or (
            ch not in self.chapters_present and ch not in self.chapters_reserved and "01" <= ch <= "97"
        ):
            return RuleMatch(
                "chapter_missing",
                (),
                f"the product-specific rule for {format_code(code)} is in GN 11(o) "
                f"chapter {int(ch)}, whose text is missing from the source transcription; the rule "
                "cannot be determined (never guessed)",
                notes,
            )
        if ch not in self.chapters_present:
            return RuleMatch(
                "no_rule", (), f"GN 11(o) has no chapter {int(ch)} (reserved or outside chapters 1-97)", notes
            )
        cands = [r for r in self._by_chapter[ch] if r.scope.contains(code)]
        if not cands:
            return RuleMatch(
                "no_rule",
                (),
                f"no rule of GN 11(o) chapter {int(ch)} in this corpus covers "
                f"{format_code(code)} (a gap in the source; see the coverage report)",
                notes,
            )
        # time
        if any(r.valid_from or r.valid_to for r in cands):
            if on is None:
                windows = "; ".join(
                    f"{r.id}: {r.valid_from or '...'} to {r.valid_to or '...'}"
                    for r in cands
                    if r.valid_from or r.valid_to
                )
                return RuleMatch(
                    "needs_date",
                    tuple(cands),
                    f"the rules for {format_code(code)} change with the date "
                    f"({windows}); give the date of production",
                    notes,
                )
            cands = [r for r in cands if r.applies_to(code, on)]
            if not cands:
                return RuleMatch("no_rule", (), f"no rule for {format_code(code)} is in force on {on}", notes)
        # trade direction
        if any(r.trade for r in cands):
            if trade is None:
                return RuleMatch(
                    "needs_trade",
                    tuple(cands),
                    f"the rules for {format_code(code)} differ by trade "
                    "direction (Canada-US, Mexico-US, all other trade); give the trade direction",
                    notes,
                )
            exact = [r for r in cands if trade in r.trade]
            cands = exact or [r for r in cands if P.OTHER in r.trade or not r.trade]
        # end use
        alt_use = any(
            a.good_qualifier is not None and a.good_qualifier.kind == "use"
            for r in cands
            for a in r.alternatives
        )
        if alt_use and use is None:
            return RuleMatch(
                "needs_use",
                tuple(cands),
                f"the branches of {', '.join(r.id for r in cands)} differ by "
                "the vehicle the good is (passenger vehicle, light truck, heavy truck, any other); give "
                "the good's use",
                notes,
            )
        if any(r.use for r in cands):
            if use is None:
                uses = sorted({u for r in cands for u in r.use})
                return RuleMatch(
                    "needs_use",
                    tuple(cands),
                    f"the rules for {format_code(code)} differ by end use "
                    f"({', '.join(u.replace(P.OTHER, 'any other use') for u in uses)}); give the good's "
                    "use",
                    notes,
                )
            exact = [r for r in cands if use in r.use]
            cands = exact or [r for r in cands if P.OTHER in r.use or not r.use]
            if not cands:
                return RuleMatch(
                    "no_rule", (), f"no rule for {format_code(code)} covers the use {use!r}", notes
                )

        # the most specific scope prevails (a tariff-item rule over the rule of its subheading or heading)
        def width(r: Rule) -> int:
            return max(x.width for x in r.scope.ranges if x.contains(code))

        best = max(width(r) for r in cands)
        dropped = [r for r in cands if width(r) < best]
        cands = [r for r in cands if width(r) == best]
        # nomenclature mapping
        amb = [r for r in cands if r.scope_ambiguous.contains(code)]
        if amb:
            maps = "; ".join(
                f"{r.id}: "
                + ", ".join(
                    f"{format_code(m.original)}->{'/'.join(format_code(x) for x in m.mapped)} "
                    f"({m.relationship})"
                    for m in r.provenance.code_mappings
                    if m.relationship in ("n:1", "n:n") and any(code.startswith(x) for x in m.mapped)
                )
                for r in amb
            )
            return RuleMatch(
                "ambiguous_mapping",
                tuple(cands),
                f"{format_code(code)} is reached from the rule's "
                f"{amb[0].provenance.nomenclature} codes through a correlation that is not one-to-one "
                f"({maps}); the good may fall under this rule or another",
                notes,
            )
        if len(cands) > 1 and not all(r.good is not None for r in cands):
            return RuleMatch(
                "conflict",
                tuple(cands),
                f"rules {', '.join(r.id for r in cands)} all cover "
                f"{format_code(code)} and the text does not distinguish them",
                notes,
            )
        reason = (
            "one rule applies"
            if len(cands) == 1
            else (
                "the rules differ by the good's description (rule.good): the engine must be told "
                "which the good is"
            )
        )
        if dropped:
            reason += (
                f"; the more specific rule prevails over {', '.join(r.id for r in dropped)} (written for the "
                "wider code)"
            )
        flagged = [r for r in cands if r.status != "structured"]
        if flagged:
            reason += "; " + "; ".join(f"{r.id} is {r.status}: {r.unparsed_reason}" for r in flagged)
        return RuleMatch("found", tuple(cands), reason, notes)


_CACHE: dict[int, Corpus] = {}


def load_corpus(conn: sqlite3.Connection | None = None) -> Corpus:
    """The corpus of the store (cached per connection)."""
    if conn is None:
        from usmca.store import store

        conn = store()
    key = id(conn)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        rows = conn.execute("SELECT json FROM rules_corpus ORDER BY seq").fetchall()
        nrows = conn.execute("SELECT json FROM rules_chapter_notes ORDER BY seq").fetchall()
        meta = {r[0]: r[1] for r in conn.execute("SELECT key, value FROM rules_meta")}
    except sqlite3.OperationalError as exc:
        raise DataError(
            f"the store has no rule corpus ({exc}); run `usmca data build --only hs --only rules`"
        ) from exc
    corpus = Corpus(
        tuple(rule_from(json.loads(r[0])) for r in rows),
        tuple(note_from(json.loads(r[0])) for r in nrows),
        meta,
    )
    _CACHE[key] = corpus
    return corpus


def export(corpus: Corpus) -> dict[str, Any]:
    """The whole corpus as one versioned JSON document."""
    return {
        "format": "usmca-rule-corpus",
        "format_version": 1,
        "version": corpus.version,
        "source": SOURCE,
        "vintage": corpus.vintage,
        "chapters_missing": list(corpus.chapters_missing),
        "rules": [rule_to(r) for r in corpus.rules],
        "chapter_notes": [note_to(n) for n in corpus.notes],
    }


# ---------------------------------------------------------------- plain words


def _cs(cs: CodeSet) -> str:
    return str(cs) if cs else "(none)"


def describe_shift(s: TariffShift) -> str:
    lvl = s.level.replace("_", " ")
    if s.kind == "no_change":
        out = "no change in tariff classification required"
    elif s.kind == "any_other":
        out = f"every non-originating material must come from another {lvl}"
    elif s.kind == "including_group":
        out = f"every non-originating material must come from another {lvl} (other {lvl}s of the group count)"
    elif s.kind == "outside_group":
        out = f"every non-originating material must come from a {lvl} outside {_cs(s.group)}"
    else:
        out = f"non-originating materials may come from {_cs(s.from_codes)}"
        if s.also_from_level:
            out += f" or from any other {s.also_from_level.replace('_', ' ')}"
    if s.except_from:
        out += f", but none from {_cs(s.except_from)}"
    return out


def describe_alternative(a: Alternative) -> str:
    parts: list[str] = []
    if a.target:
        parts.append(f"for goods of {_cs(a.target)}")
    if a.good_qualifier is not None:
        q = a.good_qualifier
        parts.append("if the good is " + ("any other good" if P.OTHER in q.values else q.text))
    if a.shift is not None:
        parts.append(describe_shift(a.shift))
    if a.rvc is not None:
        m = []
        if a.rvc.transaction_value is not None:
            m.append(f"{a.rvc.transaction_value:g}% (transaction value)")
        if a.rvc.net_cost is not None:
            m.append(f"{a.rvc.net_cost:g}% (net cost)")
        parts.append("regional value content at least " + " or ".join(m))
    for c in a.conditions:
        parts.append(f"condition [{c.name}]: {c.text}")
    if a.unparsed_reason:
        parts.append(f"NOT STRUCTURED: {a.unparsed_reason}")
    return "; ".join(parts)


def describe(rule: Rule) -> list[str]:
    """The rule in plain words, one line per branch."""
    lines = []
    head = f"Goods of {_cs(rule.scope)}"
    if rule.scope != rule.scope_as_written:
        head += f" (the text names {_cs(rule.scope_as_written)}; see the mappings)"
    if rule.use:
        head += " for use in " + ", ".join(
            "any other use" if u == P.OTHER else u.replace("_", " ") for u in rule.use
        )
    if rule.good is not None:
        head += " that are " + ("any other good" if P.OTHER in rule.good.values else rule.good.text)
    if rule.trade:
        head += " in trade " + ", ".join("all other" if t == P.OTHER else t for t in rule.trade)
    if rule.valid_from or rule.valid_to:
        head += (
            f" from {rule.valid_from or 'the start'} until {rule.valid_to or 'further notice'} (exclusive)"
        )
    lines.append(head + ":")
    for a in rule.alternatives:
        lines.append(f"  {('(' + a.label + ') ') if a.label else ''}{describe_alternative(a)}")
        if a is not rule.alternatives[-1]:
            lines.append("  or")
    return lines


def summary(rule: Rule) -> str:
    """One line, e.g. "change to 9401.99 from any other subheading" (for reports)."""
    first = rule.text.split(";")[0].strip()
    return first[:200]
