"""Fixtures for the origin engine: rules built directly from the grammar (the contract), and a tiny corpus
that answers ``rules_for`` the way ``usmca.rules.corpus.Corpus`` does, so the engine is tested without the
store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from usmca.nomenclature.codes import CodeSet
from usmca.origin.case import parse_case
from usmca.rules.grammar import (
    Alternative,
    Condition,
    Provenance,
    RegionalValueContent,
    Rule,
    TariffShift,
)


def rule(
    scope: str,
    *alts: Alternative,
    rid: str = "GN11(o)/99/1",
    text: str = "test rule",
    status: str = "structured",
    defects: tuple[str, ...] = (),
    unparsed_reason: str | None = None,
) -> Rule:
    ch = rid.split("/")[1]
    cs = CodeSet.of(*scope.split(","))
    return Rule(
        id=rid,
        citation=f"HTSUS General Note 11(o), Chapter {ch}, rule {rid.split('/')[-1]}",
        scope=cs,
        scope_as_written=cs,
        alternatives=alts,
        text=text,
        provenance=Provenance(
            "HTSUS General Note 11(o)",
            f"usmca/gn11o/chapter-{ch}.txt",
            ch,
            rid.split("/")[-1],
            False,
            "test",
            "HS2022",
            defects=defects,
        ),
        status=status,
        unparsed_reason=unparsed_reason,
    )  # type: ignore[arg-type]


def shift(kind: str = "any_other", level: str = "heading", **kw: Any) -> TariffShift:
    for k in ("group", "from_codes", "except_from"):
        if k in kw and isinstance(kw[k], str):
            kw[k] = CodeSet.of(*kw[k].split(","))
    return TariffShift(kind=kind, level=level, **kw)  # type: ignore[arg-type]


def alt(
    label: str = "",
    sh: TariffShift | None = None,
    tv: float | None = None,
    nc: float | None = None,
    conditions: tuple[Condition, ...] = (),
    text: str = "",
    unparsed: str | None = None,
) -> Alternative:
    rvc = RegionalValueContent(tv, nc) if (tv is not None or nc is not None) else None
    return Alternative(
        label=label, shift=sh, rvc=rvc, conditions=conditions, text=text, unparsed_reason=unparsed
    )


@dataclass(frozen=True)
class Match:
    status: str
    rules: tuple[Rule, ...] = ()
    reason: str = ""
    chapter_notes: tuple[str, ...] = ()


@dataclass
class FakeCorpus:
    rules: list[Rule] = field(default_factory=list)
    version: str = "test-corpus"
    missing_chapters: tuple[str, ...] = ()

    def rules_for(self, hts: str, on: dt.date | None = None, use: str | None = None) -> Match:
        if hts[:2] in self.missing_chapters:
            return Match("chapter_missing", reason=f"chapter {hts[:2]} is not in the source")
        found = tuple(r for r in self.rules if r.applies_to(hts, on))
        if not found:
            return Match("no_rule", reason=f"no rule covers {hts}")
        return Match("found", found)


def case(good: dict[str, Any], materials: list[dict[str, Any]], date: str = "2026-03-01", **top: Any) -> Any:
    g = {"country_of_production": "MX", **good}
    return parse_case({"date": date, "good": g, "materials": materials, **top})


@pytest.fixture
def corpus() -> FakeCorpus:
    return FakeCorpus()
