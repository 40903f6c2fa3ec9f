"""Corpus validation: how much is structured, where scopes overlap, which current subheadings no rule covers.

Run by the tests and by ``usmca rules coverage``. Every figure names the items behind it so a reader can
check.

* **structured share**: rules with status ``structured`` among the rules the MANIFEST does not make defective.
* **overlaps**: two rules of a chapter whose scopes overlap and which the text does not distinguish (by end
use,
  the good's description, trade direction or non-overlapping time windows).
* **subheading coverage**: every 6-digit subheading of the current schedule (``usmca.nomenclature.schedule``,
  or the HS 2022 nomenclature when the schedule is not in the store) in the chapters present must be
  covered by
  exactly one rule set (the rules of one set are the variants the text distinguishes). Reported: uncovered,
  covered only in part (a rule written at tariff-item level), and covered by more than one set.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from typing import Any

from usmca.nomenclature.codes import CodeRange, format_code
from usmca.rules.corpus import Corpus
from usmca.rules.grammar import Rule

TARGET_STRUCTURED_SHARE = 0.98


def _distinguished(a: Rule, b: Rule) -> bool:
    """True when the text itself tells the two rules apart (so their scopes may overlap)."""
    if a.use != b.use and (a.use or b.use):
        return True
    if a.good != b.good and (a.good is not None or b.good is not None):
        return True
    if a.trade != b.trade and (a.trade or b.trade):
        return True
    if a.valid_from or a.valid_to or b.valid_from or b.valid_to:
        a0, a1 = a.valid_from or dt.date.min, a.valid_to or dt.date.max
        b0, b1 = b.valid_from or dt.date.min, b.valid_to or dt.date.max
        if a1 <= b0 or b1 <= a0:
            return True
    return False


def _nested(a: Rule, b: Rule) -> bool:
    """True when every overlap of the two scopes is between ranges of different widths: the more specific rule
    (e.g. tariff items 1806.10.43, ...) prevails over the wider one (subheading 1806.10) for its codes."""
    pairs = [(x, y) for x in a.scope.ranges for y in b.scope.ranges if x.overlaps(y)]
    return bool(pairs) and all(x.width != y.width for x, y in pairs)


def _firm(r: Rule, universe: frozenset[str]) -> list[CodeRange]:
    """The scope's ranges without the subheadings reached only through an ambiguous correlation (those are
    reported separately and answered ``ambiguous_mapping``)."""
    if not r.scope_ambiguous:
        return list(r.scope.ranges)
    out: list[CodeRange] = []
    for x in r.scope.ranges:
        if x.width == 6:
            firm = [s for s in universe if x.start <= s <= x.end and not r.scope_ambiguous.contains(s)]
            out.extend(CodeRange.single(s) for s in firm)
        else:
            out.append(x)
    return out


def overlaps(
    corpus: Corpus, universe: frozenset[str], nested: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out = []
    by_ch: dict[str, list[Rule]] = defaultdict(list)
    for r in corpus.rules:
        by_ch[r.provenance.chapter].append(r)
    firm = {r.id: _firm(r, universe) for r in corpus.rules}
    for rules in by_ch.values():
        for i, a in enumerate(rules):
            for b in rules[i + 1 :]:
                if not a.scope.overlaps(b.scope):
                    continue
                fa, fb = firm[a.id], firm[b.id]
                if any(x.overlaps(y) for x in fa for y in fb) and not _distinguished(a, b):
                    if _nested(a, b):
                        if nested is not None:
                            nested.append({"rules": [a.id, b.id], "scopes": [str(a.scope), str(b.scope)]})
                        continue
                    out.append(
                        {
                            "rules": [a.id, b.id],
                            "scopes": [str(a.scope), str(b.scope)],
                            "statuses": [a.status, b.status],
                        }
                    )
    return out


def _covers_fully(r: CodeRange, code: str) -> bool:
    return r.contains(code)


def current_subheadings(
    conn: sqlite3.Connection | None, as_of: dt.date | None = None
) -> tuple[frozenset[str], str]:
    """The 6-digit subheadings to cover, and where they came from."""
    try:
        from usmca.nomenclature import schedule

        subs = schedule.subheadings(as_of, conn=conn)
        if subs:
            return frozenset(subs), f"HTSUS schedule ({'latest' if as_of is None else as_of})"
    except Exception as exc:  # the schedule step may not be in this store
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "schedule empty"
    from usmca.nomenclature.correlate import nomenclature

    return frozenset(
        nomenclature(conn).subheadings
    ), f"HS 2022 nomenclature (schedule not available: {reason})"


def coverage(
    corpus: Corpus, conn: sqlite3.Connection | None = None, as_of: dt.date | None = None
) -> dict[str, Any]:
    rules = corpus.rules
    status: dict[str, int] = defaultdict(int)
    for r in rules:
        status[r.status] += 1
    non_defective = [r for r in rules if r.status != "defective"]
    structured = [r for r in non_defective if r.status == "structured"]
    share = len(structured) / len(non_defective) if non_defective else 0.0
    subs, subs_source = current_subheadings(conn, as_of)
    present = corpus.chapters_present
    uncovered: list[str] = []
    partial: list[dict[str, Any]] = []
    multiple: list[dict[str, Any]] = []
    ambiguous: list[dict[str, Any]] = []
    exactly_one = 0
    by_ch: dict[str, list[Rule]] = defaultdict(list)
    for r in rules:
        for ch in {x.start[:2] for x in r.scope.ranges} | {x.end[:2] for x in r.scope.ranges}:
            by_ch[ch].append(r)
    considered = sorted(s for s in subs if s[:2] in present)
    for s in considered:
        full = [r for r in by_ch[s[:2]] if any(_covers_fully(x, s) for x in r.scope.ranges)]
        if full:  # the most specific covering rules prevail
            best = max(max(x.width for x in r.scope.ranges if x.contains(s)) for r in full)
            full = [r for r in full if max(x.width for x in r.scope.ranges if x.contains(s)) == best]
        part = [
            r
            for r in by_ch[s[:2]]
            if r not in full and any(x.width > 6 and x.start[:6] <= s <= x.end[:6] for x in r.scope.ranges)
        ]
        amb = [r.id for r in full if r.scope_ambiguous.contains(s)]
        if amb:  # the query answers ambiguous_mapping here, whatever else covers it
            ambiguous.append({"subheading": format_code(s), "rules": amb})
            continue
        if not full:
            if part:
                partial.append({"subheading": format_code(s), "rules": [r.id for r in part]})
            else:
                uncovered.append(format_code(s))
            continue
        # group the covering rules into sets of mutually distinguished variants
        sets: list[list[Rule]] = []
        for r in full:
            for st in sets:
                if all(_distinguished(r, o) for o in st):
                    st.append(r)
                    break
            else:
                sets.append([r])
        if len(sets) == 1:
            exactly_one += 1
        else:
            multiple.append({"subheading": format_code(s), "rules": [r.id for r in full]})
    unparsed = [
        {"id": r.id, "status": r.status, "reason": r.unparsed_reason}
        for r in rules
        if r.status in ("partial", "unparsed")
    ]
    defective = [{"id": r.id, "reason": r.unparsed_reason} for r in rules if r.status == "defective"]
    mapped = [r for r in rules if r.provenance.nomenclature != "HS2022"]
    nested: list[dict[str, Any]] = []
    return {
        "corpus_version": corpus.version,
        "source_vintage": corpus.vintage,
        "rules": len(rules),
        "chapter_notes": len(corpus.notes),
        "status": dict(status),
        "structured_share_of_non_defective": round(share, 4),
        "structured_target": TARGET_STRUCTURED_SHARE,
        "structured_target_met": share >= TARGET_STRUCTURED_SHARE,
        "not_fully_structured": unparsed,
        "defective": defective,
        "rules_in_older_nomenclature": {
            "count": len(mapped),
            "rules": [{"id": r.id, "edition": r.provenance.nomenclature} for r in mapped],
        },
        "overlaps": overlaps(corpus, subs, nested),
        "nested_scopes_more_specific_prevails": nested,
        "chapters_present": sorted(present),
        "chapters_missing": list(corpus.chapters_missing),
        "chapters_reserved": list(corpus.chapters_reserved),
        "subheadings": {
            "source": subs_source,
            "considered": len(considered),
            "covered_by_exactly_one_rule_set": exactly_one,
            "uncovered": uncovered,
            "covered_only_in_part": partial,
            "covered_by_more_than_one_rule_set": multiple,
            "ambiguous_mapping": ambiguous,
        },
    }
