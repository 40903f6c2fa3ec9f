"""Typed grammar of USMCA product-specific rules (HTSUS General Note 11(o); USMCA Annex 4-B).

A ``Rule`` (one numbered rule of GN 11(o)) has a scope (the codes the rule changes *to*), an optional
end-use condition on the good, and one or more ``Alternative`` s that are OR-ed (the text's (A), (B), ...).
An alternative is a conjunction: a tariff shift that every non-originating material must make, a regional
value content threshold, and named conditions (facts the engine must be given). What cannot be structured is
kept with ``unparsed_reason``; the engine then answers ``unresolved`` naming it.

The evaluation primitives (``TariffShift.allows``) live here so that the single-good engine and the
columnar kernel share one definition of each legal test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from usmca.nomenclature.codes import LEVEL_DIGITS, CodeSet, Level

ShiftKind = Literal[
    "any_other",  # "from any other chapter|heading|subheading|tariff item"
    "outside_group",  # "from any heading outside that group"
    "including_group",  # "from any other subheading, including another subheading within that group"
    "from_codes",  # "from heading 8607" / "from subheading 9401.90" (optionally "whether or not ... any other chapter")
    "no_change",  # "No change in tariff classification required"
]


@dataclass(frozen=True, slots=True)
class TariffShift:
    """What a non-originating material must undergo: a change at ``level`` of the stated ``kind``.

    ``group`` is the group named by "that group" (normally the rule's scope); ``from_codes`` the codes a
    ``from_codes`` shift names; ``also_from_level`` the level of "whether or not there is also a change from any
    other <level>" (materials changing at that level are allowed too); ``except_from`` the exclusions.
    """

    kind: ShiftKind
    level: Level = "heading"
    group: CodeSet = field(default_factory=CodeSet)
    from_codes: CodeSet = field(default_factory=CodeSet)
    also_from_level: Level | None = None
    except_from: CodeSet = field(default_factory=CodeSet)
    text: str = ""

    def allows(self, material_hts: str, good_hts: str) -> bool:
        """True when a non-originating material classified in ``material_hts`` satisfies this shift for a
        good classified in ``good_hts`` (digit strings; the material code must be at least as long as the level).
        """
        if self.except_from and self.except_from.contains(material_hts):
            return False
        if self.kind == "no_change":
            return True
        n = LEVEL_DIGITS[self.level]
        if self.kind in ("any_other", "including_group"):
            return material_hts[:n] != good_hts[:n]
        if self.kind == "outside_group":
            return not self.group.contains(material_hts[:n])
        # from_codes
        if self.from_codes.contains(material_hts):
            return True
        if self.also_from_level is not None:
            m = LEVEL_DIGITS[self.also_from_level]
            return material_hts[:m] != good_hts[:m]
        return False

    def needs_digits(self) -> int:
        """Digits of a material's code this shift needs to be decided (exclusions may need more)."""
        widths = [LEVEL_DIGITS[self.level]] if self.kind != "no_change" else [0]
        for cs in (self.except_from, self.from_codes, self.group):
            widths.extend(r.width for r in cs.ranges)
        return max(widths)


@dataclass(frozen=True, slots=True)
class RegionalValueContent:
    """RVC thresholds in percent; ``None`` means the method is not allowed by the rule."""

    transaction_value: float | None = None
    net_cost: float | None = None
    text: str = ""


ConditionKind = Literal["use", "good_type", "process", "share", "other"]


@dataclass(frozen=True, slots=True)
class Condition:
    """A proviso the text states that the engine cannot compute from the bill: it must be given as a fact.

    ``name`` is the fact key the origin case supplies (``good.use`` for kind ``use``; ``good.facts[name]``
    otherwise); ``values`` the accepted values where the text enumerates them.
    """

    kind: ConditionKind
    name: str
    text: str
    values: tuple[str, ...] = ()
    # Materials the proviso is about (e.g. the groups of "except from more than one of the following", or
    # described materials "parts of brakes of subheading 8708.30"): when no non-originating material falls in
    # any of them the condition does not bite; otherwise the fact is needed. Empty = always needed.
    code_groups: tuple[CodeSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Alternative:
    label: str  # "A", "B", ... or "" for a single-branch rule
    shift: TariffShift | None = None
    rvc: RegionalValueContent | None = None
    conditions: tuple[Condition, ...] = ()
    good_qualifier: Condition | None = None  # "A change to a passenger vehicle of ..." (what the good must be)
    text: str = ""
    unparsed_reason: str | None = None
    # Codes this branch changes TO when narrower than the rule's scope ("A change to tariff items 8708.99.03,
    # ..."), current nomenclature; empty = the rule's whole scope. The engine skips a branch whose target does
    # not contain the good.
    target: CodeSet = field(default_factory=CodeSet)


@dataclass(frozen=True, slots=True)
class CodeMapping:
    """How a code written in an older HS edition maps to current codes."""

    original: str  # digits as written in the text
    mapped: tuple[str, ...]  # current (HS 2022) codes
    relationship: str  # "1:1", "1:n", "n:1", "n:n", "identity", "none"
    source: str  # correlation table used


@dataclass(frozen=True, slots=True)
class Provenance:
    source: str  # e.g. "HTSUS General Note 11(o)"
    source_file: str  # e.g. "usmca/gn11o/chapter-94.txt"
    chapter: str  # two digits
    rule_number: str  # "2", or "NOTE:subheading rule" for unnumbered paragraphs
    number_inferred: bool
    vintage: str  # vintage the source claims, e.g. "2026 HTS Rev 15 (as quoted)"
    nomenclature: str  # "HS2022", "HS2017" or "mixed": the edition the rule's codes are written in
    code_mappings: tuple[CodeMapping, ...] = ()
    defects: tuple[str, ...] = ()  # reasons from the source's MANIFEST that this rule is not trustworthy


RuleStatus = Literal["structured", "partial", "unparsed", "defective"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str  # "GN11(o)/94/2"
    citation: str  # "HTSUS General Note 11(o), Chapter 94, rule 2"
    scope: CodeSet  # current-nomenclature codes this rule applies to (after mapping)
    scope_as_written: CodeSet  # codes as the text writes them
    alternatives: tuple[Alternative, ...]
    text: str
    provenance: Provenance
    use: tuple[str, ...] = ()  # end uses the rule is limited to ("For a good ... for use in a passenger vehicle")
    use_text: str = ""
    status: RuleStatus = "structured"
    unparsed_reason: str | None = None
    valid_from: dt.date | None = None  # time-based rules ("Beginning on July 1, 2023 ...")
    valid_to: dt.date | None = None  # exclusive
    # "For a body stamping of subheading 8708.29 ...": what the good must be for the rule to apply;
    # values ("*other*",) = any good not named by the sibling rules of the same scope.
    good: Condition | None = None
    # Trade-direction rules (ch 51-61): ("CA-US",), ("MX-US",) or ("*other*",) for "all other trade".
    trade: tuple[str, ...] = ()
    # Current codes the mapped scope covers only in part (an n:1 / n:n correlation): a good there may fall
    # under this rule or another, so the query answers ``ambiguous_mapping``.
    scope_ambiguous: CodeSet = field(default_factory=CodeSet)

    def applies_to(self, hts: str, on: dt.date | None = None) -> bool:
        if not self.scope.contains(hts):
            return False
        if on is not None:
            if self.valid_from is not None and on < self.valid_from:
                return False
            if self.valid_to is not None and on >= self.valid_to:
                return False
        return True
