"""General provisions of the Regulations as data: de minimis (s. 5) and goods deemed originating (s. 3(7)).

The legal content lives in ``rules/data/general.yaml`` (our transcription, with citations); this module loads
and validates it and answers the questions the origin engine asks:

* ``de_minimis_policy(good_hts)``: which de minimis test applies to the good (value, weight of the good,
  weight of the component), its limit, its bases, the elastomeric cap;
* ``de_minimis_excluded(good_hts, material_hts)``: whether s. 5(3) takes de minimis away for this material
  (with the facts the producer must state where the text limits the goods by description);
* ``chapters_1_27_limit(good_hts, material_hts)``: the s. 5(3)(k) limit for goods of Chapters 1-27;
* ``deemed_originating(hts)``: s. 3(7) and Schedule 2 (the US GN 11(p) text is not in the data: said so).

Codes are digit strings; the material and good codes passed in are current (HS 2022 based) HTS codes. The
s. 5(3) codes are written in HS 2017; the automotive build step records their HS 2022 mapping in the store
(``automotive_code_map``, one_to_one = 0 for those that are not one-to-one); ``deemed_originating`` maps
through the HS 2017 correlation at query time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from usmca.errors import DataError, InputError
from usmca.nomenclature.codes import CodeIndex, CodeRange, CodeSet, normalize_code

DATA_FILE = "general.yaml"
SOURCE_FILE = "usmca/cusma-rules-of-origin-regulations.txt"


def _digits(code: str) -> str:
    return code.replace(".", "").replace(" ", "")


def code_set(items: list[str]) -> CodeSet:
    """Codes as written ("0401-0406", "2009.11-2009.39", "09") as a CodeSet (ranges kept as ranges)."""
    ranges: list[CodeRange] = []
    for it in items:
        if "-" in it:
            a, b = it.split("-", 1)
            ranges.append(CodeRange(_digits(a), _digits(b)))
        else:
            ranges.append(CodeRange.single(_digits(it)))
    return CodeSet(tuple(ranges))


def load_yaml(name: str) -> dict[str, Any]:
    """Load one of our YAML encodings from the package (a broken file is a DataError naming it)."""
    try:
        text = resources.files("usmca.rules").joinpath("data", name).read_text(encoding="utf-8")
        # libyaml's loader where the machine has it (the same safe constructors, several times faster: these
        # files are read at the start of every run)
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"usmca/rules/data/{name} cannot be read: {exc}") from exc
    if not isinstance(doc, dict):
        raise DataError(f"usmca/rules/data/{name} is not a mapping")
    return doc


# ---------------------------------------------------------------- domain types


@dataclass(frozen=True, slots=True)
class DeMinimisTest:
    """One de minimis test the good may use."""

    basis: Literal["value", "weight_of_good", "weight_of_component"]
    limit: float  # share (0.10 = 10%)
    value_bases: tuple[str, ...]  # for "value": transaction_value (adjusted), total_cost
    elastomeric_cap: float | None  # share of the weight of the good / component
    citation: str
    text: str


@dataclass(frozen=True, slots=True)
class DeMinimisPolicy:
    """What de minimis a good may use. ``tests`` is empty when s. 5(1) is excluded for every material and no
    weight rule applies; ``chapters_1_27`` says the s. 5(3)(k) limit applies (see ``chapters_1_27_limit``)."""

    good_hts: str
    tests: tuple[DeMinimisTest, ...]
    rvc_de_minimis: DeMinimisTest  # s. 5(4): RVC need not be met if all VNM <= 10%
    chapters_1_27: bool
    counts_in_rvc: str  # s. 5(1)(b): the materials' value still counts in the RVC
    notes: tuple[str, ...]
    citation: str

    @property
    def limit(self) -> float | None:
        return self.tests[0].limit if self.tests else None

    @property
    def basis(self) -> str | None:
        return self.tests[0].basis if self.tests else None

    @property
    def textile_weight_rule(self) -> bool:
        return any(t.basis != "value" for t in self.tests)

    @property
    def elastomeric_cap(self) -> float | None:
        caps = [t.elastomeric_cap for t in self.tests if t.elastomeric_cap is not None]
        return caps[0] if caps else None


@dataclass(frozen=True, slots=True)
class Exclusion:
    """s. 5(3) takes de minimis away for this material in this good (``certain``), or does so if the facts in
    ``needs`` are true (the text limits the material or the good by description)."""

    paragraph: str  # "a" ... "l"
    citation: str
    text: str
    certain: bool
    needs: tuple[str, ...]  # good.facts keys: true = the exclusion applies
    national_items: tuple[str, ...] = ()  # Canadian tariff items the text names (no US counterpart here)
    note: str = ""


@dataclass(frozen=True, slots=True)
class DeemedOriginating:
    """s. 3(7) / Schedule 2 (GN 11(p) equivalent) for one code."""

    hts: str
    status: Literal["deemed_originating", "not_listed", "unresolved"]
    group: str | None
    entry_codes: tuple[str, ...]  # as written in Schedule 2
    needs: tuple[str, ...]  # good.facts keys that must be true (description in the schedule)
    condition: str  # "imported from the territory of a CUSMA country"
    reason: str
    citation: str
    gn11p_status: str  # "not_available"
    gn11p_reason: str


# ---------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class _Clause:
    codes: CodeSet
    condition: str | None
    national_items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ExceptionRule:
    paragraph: str
    citation: str
    text: str
    material: tuple[_Clause, ...]
    good: tuple[_Clause, ...]
    note: str


@dataclass(frozen=True, slots=True)
class _ScheduleEntry:
    group: str
    codes_as_written: tuple[str, ...]
    subheadings: CodeSet  # 6-digit prefixes the entry sits in
    whole_subheading: bool  # False when it names only Canadian subdivisions
    condition: str | None
    desc: str


class GeneralProvisions:
    """The validated content of general.yaml."""

    def __init__(self, doc: dict[str, Any]) -> None:
        try:
            self.short: str = doc["short"]
            self.nomenclature: str = doc["nomenclature"]
            dm = doc["de_minimis"]
            v = dm["value"]
            self.value_test = DeMinimisTest(
                "value",
                float(v["limit"]),
                tuple(b["key"] for b in v["bases"]),
                None,
                v["citation"],
                f"{v['materials']}: not more than {float(v['limit']):.0%} of "
                + " or ".join(b["text"] for b in v["bases"]),
            )
            self.counts_in_rvc = f"{v['counts_in_rvc']['text']} ({v['counts_in_rvc']['citation']})"
            r = dm["rvc"]
            self.rvc_test = DeMinimisTest(
                "value",
                float(r["limit"]),
                ("transaction_value", "total_cost"),
                None,
                r["citation"],
                r["text"],
            )
            t = dm["textile_good"]
            self.textile_scope = code_set(t["chapters"] + t["headings"])
            self.textile_test = DeMinimisTest(
                "weight_of_good", float(t["limit"]), (), float(t["elastomeric_cap"]), t["citation"], t["text"]
            )
            a = dm["apparel_good"]
            self.apparel_scope = code_set(a["chapters"])
            self.apparel_test = DeMinimisTest(
                "weight_of_component",
                float(a["limit"]),
                (),
                float(a["elastomeric_cap"]),
                a["citation"],
                f"{a['text']}; {a['component']['text']} ({a['component']['citation']}); "
                f"{a['not_for']['text']} ({a['not_for']['citation']})",
            )
            self.exceptions: tuple[_ExceptionRule, ...] = tuple(self._exception(e) for e in dm["exceptions"])
            k = dm["chapters_1_27"]
            self.k_citation: str = k["citation"]
            self.k_text: str = k["text"]
            self.k_scope = code_set(k["chapters"])
            d = doc["deemed_originating"]
            self.gn11p_status: str = d["gn11p"]["status"]
            self.gn11p_reason: str = " ".join(d["gn11p"]["reason"].split())
            self.deemed_citation: str = d["rule"]["citation"]
            self.deemed_condition: str = d["rule"]["condition"]
            self.schedule_2: tuple[_ScheduleEntry, ...] = tuple(self._sched(e) for e in d["schedule_2"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"usmca/rules/data/{DATA_FILE}: malformed ({exc!r})") from exc
        if self.gn11p_status not in ("available", "not_available"):
            raise DataError(f"{DATA_FILE}: gn11p.status must be available | not_available")

    @staticmethod
    def _clause(c: dict[str, Any]) -> _Clause:
        return _Clause(code_set(c["codes"]), c.get("condition"), tuple(c.get("national_items", ())))

    def _exception(self, e: dict[str, Any]) -> _ExceptionRule:
        if not str(e["citation"]).startswith("CUSMA ROO Regulations s. 5(3)"):
            raise DataError(f"{DATA_FILE}: exception {e.get('paragraph')} cites {e['citation']!r}, not s. 5(3)")
        return _ExceptionRule(
            str(e["paragraph"]),
            e["citation"],
            e["text"],
            tuple(self._clause(c) for c in e["material"]),
            tuple(self._clause(c) for c in e["good"]),
            e.get("note", ""),
        )

    @staticmethod
    def _sched(e: dict[str, Any]) -> _ScheduleEntry:
        codes = tuple(e["codes"])
        digits = [_digits(c) for c in codes]
        national = bool(e.get("national_item"))
        # an eight-digit item ending in 00 is a subheading Canada does not subdivide (the whole subheading)
        whole = not national and all(len(d) == 6 or (len(d) == 8 and d.endswith("00")) for d in digits)
        subs = CodeSet(tuple(CodeRange.single(d[:6]) for d in dict.fromkeys(digits)))
        return _ScheduleEntry(e["group"], codes, subs, whole, e.get("condition"), e.get("desc", ""))

    def all_codes(self) -> list[tuple[str, str]]:
        """(provision, code as written) for every code of the file: for the build step's mapping record."""
        out: list[tuple[str, str]] = []
        for e in self.exceptions:
            for c in (*e.material, *e.good):
                for r in c.codes.ranges:
                    out.append((f"s. 5(3)({e.paragraph})", str(r)))
        for s in self.schedule_2:
            for code in s.codes_as_written:
                out.append(("Schedule 2", code))
        return out

    # Indexes of the code lists, for answers asked once per distinct code of a portfolio (a scan of every
    # clause per code was most of a first run's cost on a fresh store).
    @cached_property
    def schedule_2_index(self) -> CodeIndex:
        return CodeIndex([s.subheadings for s in self.schedule_2])

    @cached_property
    def exception_clauses(self) -> dict[str, tuple[CodeIndex, tuple[tuple[int, int], ...]]]:
        """Per side ("good", "material"): an index of every exception's clauses on that side, and for each
        indexed clause its (exception, clause) position."""
        out: dict[str, tuple[CodeIndex, tuple[tuple[int, int], ...]]] = {}
        for side in ("good", "material"):
            clauses = [e.good if side == "good" else e.material for e in self.exceptions]
            owners = tuple((i, j) for i, cs in enumerate(clauses) for j in range(len(cs)))
            sets = [clauses[i][j].codes for i, j in owners]
            out[side] = (CodeIndex(sets), owners)
        return out


@lru_cache(maxsize=1)
def provisions() -> GeneralProvisions:
    return GeneralProvisions(load_yaml(DATA_FILE))


# ---------------------------------------------------------------- queries


def _code(value: str, field: str, min_digits: int = 4) -> str:
    d = normalize_code(value, field)
    if len(d) < min_digits:
        raise InputError(field, value, f"at least {min_digits} digits are needed to apply the de minimis rules")
    return d


def de_minimis_policy(good_hts: str) -> DeMinimisPolicy:
    """The de minimis tests a good may use (s. 5(1), (4), (6), (7)); s. 5(3) exclusions are per material."""
    p = provisions()
    g = _code(good_hts, "good.hts")
    notes: list[str] = []
    tests: list[DeMinimisTest] = []
    if p.apparel_scope.contains(g):
        tests.append(p.apparel_test)
        notes.append("s. 5(3)(l): the value de minimis of s. 5(1) does not apply to goods of Chapters 50-63")
    elif p.textile_scope.contains(g):
        if g.startswith("9619"):
            tests.append(p.value_test)  # heading 96.19 is outside s. 5(3)(l): both tests are open
        else:
            notes.append("s. 5(3)(l): the value de minimis of s. 5(1) does not apply to goods of Chapters 50-63")
        tests.append(p.textile_test)
    else:
        tests.append(p.value_test)
    k = p.k_scope.contains(g)
    if k:
        notes.append(
            f"s. 5(3)(k): only materials of a different subheading than the good may use de minimis ({p.k_citation})"
        )
    cite = "; ".join(dict.fromkeys(t.citation for t in tests))
    return DeMinimisPolicy(g, tuple(tests), p.rvc_test, k, p.counts_in_rvc, tuple(notes), cite)


def _hs2017(code: str, conn: sqlite3.Connection | None) -> tuple[str, ...]:
    """The HS 2017 counterparts of a current code (the s. 5(3) text is in HS 2017); a 4-digit code as is."""
    if len(code) < 6:
        return (code,)
    from usmca.nomenclature.correlate import nomenclature

    olds: tuple[str, ...] = nomenclature(conn).old_codes_of(code[:6], "HS2017")
    return olds or (code[:6],)


def _side(clauses: tuple[_Clause, ...], olds: tuple[str, ...]) -> tuple[list[_Clause], bool]:
    """Clauses any counterpart falls in, and whether every counterpart falls in one of them."""
    hit = [c for c in clauses if any(c.codes.contains(o) for o in olds)]
    full = all(any(c.codes.contains(o) for c in hit) for o in olds)
    return hit, full


def _needs(hit: list[_Clause]) -> tuple[str, ...]:
    # an unconditional clause settles the side; otherwise the descriptions' facts decide it
    if any(c.condition is None for c in hit):
        return ()
    return tuple(dict.fromkeys(c.condition for c in hit if c.condition))


def exclusion_sides(code: str, side: str, conn: sqlite3.Connection) -> tuple[tuple[int, bool], ...]:
    """One side of ``_excluded`` for one code (its first six digits are read): the s. 5(3) exceptions (by
    index in ``provisions().exceptions``) whose good (``side="good"``) or material clauses name an HS 2017
    counterpart of the code, each with whether that side is settled without facts (every counterpart named,
    an unconditional clause). An exception excludes a pair for certain when both sides are settled, and
    depending on facts when both are named; a portfolio combines sides per pair instead of asking per pair."""
    p = provisions()
    olds = _hs2017(code, conn)
    index, owners = p.exception_clauses[side]
    # the index finds the clauses any counterpart falls in; ``_side`` then reads only those (the others hold
    # no counterpart, so its answer is the one it gives on all of them)
    named: dict[int, set[int]] = {}
    for o in olds:
        for k in index.containing(o):
            i, j = owners[k]
            named.setdefault(i, set()).add(j)
    out = []
    for i in sorted(named):
        e = p.exceptions[i]
        clauses = e.good if side == "good" else e.material
        hit, full = _side(tuple(clauses[j] for j in sorted(named[i])), olds)
        out.append((i, full and not _needs(hit)))
    return tuple(out)


def de_minimis_excluded(
    good_hts: str, material_hts: str, *, conn: sqlite3.Connection | None = None
) -> Exclusion | None:
    """The s. 5(3) exception that takes the value de minimis away for this material in this good, or None.

    An exclusion whose text limits the material or the good by description comes back with ``certain=False``
    and the facts that decide it in ``needs``; so does one where only some HS 2017 counterparts of a code are
    named by the text (fact ``good_hs2017_subheading`` / ``material_hs2017_subheading``). Paragraph (k)
    (Chapters 1-27) is answered by ``chapters_1_27_limit`` and also reported here when it applies.
    """
    g = _code(good_hts, "good.hts")
    m = _code(material_hts, "material.hts")
    if conn is None:
        from usmca.store import store

        conn = store()
    return _excluded(g, m, conn)


@lru_cache(maxsize=16384)
def _excluded(g: str, m: str, conn: sqlite3.Connection) -> Exclusion | None:
    """de_minimis_excluded on normalized codes (cached per connection: the store is read-only)."""
    p = provisions()
    # A certain exclusion (paragraph (k) needs no facts) beats one that depends on facts.
    k_reason = chapters_1_27_limit(g, m)
    if k_reason is not None:
        return Exclusion("k", p.k_citation, p.k_text, True, (), (), k_reason)
    g_olds, m_olds = _hs2017(g, conn), _hs2017(m, conn)
    best: Exclusion | None = None
    for e in p.exceptions:
        goods, g_full = _side(e.good, g_olds)
        mats, m_full = _side(e.material, m_olds)
        if not goods or not mats:
            continue
        needs = list(_needs(mats)) + list(_needs(goods))
        note = e.note
        if not m_full:
            needs.append("material_hs2017_subheading")
            note += f" material {m[:6]} corresponds to HS 2017 {', '.join(m_olds)}, not all named in s. 5(3)"
        if not g_full:
            needs.append("good_hs2017_subheading")
            note += f" good {g[:6]} corresponds to HS 2017 {', '.join(g_olds)}, not all named in s. 5(3)"
        need_t = tuple(dict.fromkeys(needs))
        national = tuple(n for c in goods for n in c.national_items)
        exc = Exclusion(e.paragraph, e.citation, e.text, not need_t, need_t, national, note.strip())
        if exc.certain:
            return exc
        if best is None:
            best = exc
    return best


def chapters_1_27_limit(good_hts: str, material_hts: str) -> str | None:
    """s. 5(3)(k): for a good of Chapters 1-27, a material of the same subheading may not use de minimis.

    Returns the reason (with citation) when the material may not use de minimis, None otherwise. Both codes
    need at least six digits when the good is in Chapters 1-27.
    """
    p = provisions()
    g = normalize_code(good_hts, "good.hts")
    if not p.k_scope.contains(g[:2]):
        return None
    m = normalize_code(material_hts, "material.hts")
    if len(g) < 6:
        raise InputError("good.hts", good_hts, "six digits are needed to apply s. 5(3)(k) (same subheading)")
    if len(m) < 6:
        raise InputError(
            "material.hts",
            material_hts,
            "six digits are needed to apply s. 5(3)(k) (same subheading as the good)",
        )
    if m[:6] == g[:6]:
        return (
            f"material {m[:4]}.{m[4:6]} is of the same subheading as the good of Chapter {g[:2]}: de minimis "
            f"does not apply ({p.k_citation})"
        )
    return None


def deemed_originating(hts: str, *, conn: sqlite3.Connection | None = None) -> DeemedOriginating:
    """s. 3(7) and Schedule 2: goods originating when imported from a CUSMA country, however produced.

    Schedule 2 is written in HS 2017: the code's HS 2017 counterparts (UNSD correlation in the store) are
    looked up; where only some of them are listed the answer is ``unresolved``. HTSUS GN 11(p) (the US list)
    is not in the data; Schedule 2 names some Canadian eight-digit items: a code under those subheadings is
    ``unresolved`` with the reason.
    """
    from usmca.nomenclature.correlate import nomenclature

    p = provisions()
    d = normalize_code(hts, "hts")
    if len(d) < 6:
        raise InputError("hts", hts, "six digits or more are needed to look up Schedule 2 / GN 11(p)")
    olds = nomenclature(conn).old_codes_of(d[:6], "HS2017") or (d[:6],)
    base = dict(
        condition=p.deemed_condition,
        citation=p.deemed_citation,
        gn11p_status=p.gn11p_status,
        gn11p_reason=p.gn11p_reason,
    )
    per_old = {o: [p.schedule_2[i] for i in p.schedule_2_index.containing(o)] for o in olds}
    listed = [o for o, hits in per_old.items() if hits]
    if not listed:
        return DeemedOriginating(d, "not_listed", None, (), (), reason="not referred to in Schedule 2", **base)
    s = per_old[listed[0]][0]
    if len(listed) < len(olds):
        return DeemedOriginating(
            d,
            "unresolved",
            s.group,
            s.codes_as_written,
            (),
            reason=(
                f"HS 2022 {d[:4]}.{d[4:6]} corresponds to HS 2017 {', '.join(olds)}, of which only "
                f"{', '.join(listed)} is referred to in Schedule 2 (the mapping is not one-to-one)"
            ),
            **base,
        )
    if not s.whole_subheading:
        return DeemedOriginating(
            d,
            "unresolved",
            s.group,
            s.codes_as_written,
            (),
            reason=(
                f"Schedule 2 names Canadian tariff items {', '.join(s.codes_as_written)} "
                f"({s.desc or s.group}); their US counterparts are in HTSUS GN 11(p), which is not in the "
                "data"
            ),
            **base,
        )
    needs = (s.condition,) if s.condition else ()
    reason = f"referred to in Schedule 2, {s.group}" + (f" ({s.desc})" if s.desc else "")
    if olds != (d[:6],):
        reason += f"; HS 2017 counterpart(s) {', '.join(olds)}"
    if needs:
        reason += f"; the good must be {s.desc} (fact {s.condition})"
    return DeemedOriginating(d, "deemed_originating", s.group, s.codes_as_written, needs, reason=reason, **base)


# ---------------------------------------------------------------- build support


def record_mappings(conn: sqlite3.Connection, mapper: Any) -> dict[str, Any]:
    """Write the HS 2017 -> HS 2022 mapping of every code of general.yaml into ``automotive_code_map``.

    ``mapper(provision, code_as_written, edition)`` is the automotive build step's mapper (it writes rows and
    returns the relationship). Returns figures for the build report.
    """
    p = provisions()
    rels: dict[str, int] = {}
    for provision, code in p.all_codes():
        rel = mapper("general", provision, code, p.nomenclature)
        rels[rel] = rels.get(rel, 0) + 1
    return {"general_codes": sum(rels.values()), "general_relationships": rels}
