"""The worked Examples of the CUSMA Rules of Origin Regulations whose outcome can be computed
(tests/cases/*.yaml).

Each file holds the origin case (interchange format section 1), the rule as the Example states it (Schedule 1
of the Regulations does not reproduce Annex 4-B, so the Examples name the rule they apply) and the outcome the
Example reaches. The copy of the Regulations omits the Examples of ss.7-9 (RVC, value of materials,
accumulation): those provisions are covered by test_determine.py instead.

``test_case_examples`` runs without the store (general provisions from package data, no Part 6);
``test_case_examples_with_store`` runs the same files with the reference store: codes must exist in the
schedule on the date, and Part 6 thresholds apply where the good is for use in a vehicle.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from tests.origin.conftest import FakeCorpus, Match, alt, rule
from usmca.nomenclature.codes import CodeSet
from usmca.origin.case import parse_case
from usmca.origin.determine import determine
from usmca.rules.grammar import Condition, RegionalValueContent, TariffShift

CASES = sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.yaml"))


def _shift(d: dict[str, Any] | None) -> TariffShift | None:
    if d is None:
        return None
    kw = dict(d)
    for k in ("group", "from_codes", "except_from"):
        if k in kw:
            kw[k] = CodeSet.of(*str(kw[k]).split(","))
    return TariffShift(**kw)


def _rules(doc: dict[str, Any]) -> list[Any]:
    out = []
    for r in doc.get("rules", []):
        alts = []
        for a in r["alternatives"]:
            rv = a.get("rvc")
            label = a.get("label", "")
            x = alt(
                label,
                _shift(a.get("shift")),
                conditions=tuple(Condition(**c) for c in a.get("conditions", [])),
                text=f"branch {label}" if label else "",
            )
            if rv:
                x = type(x)(
                    label=x.label,
                    shift=x.shift,
                    rvc=RegionalValueContent(rv.get("transaction_value"), rv.get("net_cost")),
                    conditions=x.conditions,
                    text=x.text,
                )
            alts.append(x)
        out.append(rule(r["scope"], *alts, rid=r["id"], text=r.get("text", "as the Example states it")))
    return out


class CaseCorpus(FakeCorpus):
    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(_rules(doc), version="example-rules")
        self.notes = tuple(SimpleNamespace(**n, citation=n["id"]) for n in doc.get("notes", []))

    def rules_for(self, hts: str, on: Any = None, use: Any = None, trade: Any = None) -> Match:
        m = super().rules_for(hts, on, use)
        return Match(m.status, m.rules, m.reason, self.notes)


def _check(d: Any, expect: dict[str, Any]) -> None:
    assert d.status == expect["status"], (d.status, d.needs, d.trace)
    if "criterion" in expect:
        assert d.criterion == expect["criterion"]
    for k, v in expect.get("rvc", {}).items():
        assert d.rvc[k] == v
    for k, v in expect.get("de_minimis", {}).items():
        assert d.de_minimis[k] == v, d.de_minimis
    for path, status in expect.get("parts", {}).items():
        assert d.parts[path].status == status
    if "rule_alternative" in expect:  # the branch the Example says decides
        assert d.rule["summary"] == f"branch {expect['rule_alternative']}"


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert doc["example"].startswith("CUSMA Rules of Origin Regulations s.")
    return doc


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_examples(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each computable Example of ss.3-6 of the Regulations reaches the Example's outcome."""
    mod = sys.modules["usmca.origin.determine"]
    auto = SimpleNamespace(vehicle_requirement=lambda *a, **k: None, core_part=lambda *a, **k: None)
    real = mod._optional
    monkeypatch.setattr(mod, "_optional", lambda m: auto if m.endswith(".automotive") else real(m))
    doc = _load(path)
    d = determine(parse_case(doc["case"]), corpus=CaseCorpus(doc))
    _check(d, doc["expect"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_examples_with_store(path: Path, conn: sqlite3.Connection) -> None:
    """The same Examples with the store: every code exists on the date; Part 6 applies where stated."""
    doc = _load(path)
    d = determine(parse_case(doc["case"]), corpus=CaseCorpus(doc), conn=conn)
    _check(d, doc["expect"])
    assert d.vintage["schedule"]


def test_there_are_enough_examples() -> None:
    assert len(CASES) >= 20
