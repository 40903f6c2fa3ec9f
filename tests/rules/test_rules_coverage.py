"""Corpus validation figures (``usmca.rules.validate.coverage``), asserted on the real corpus."""

from __future__ import annotations

import pytest

from usmca.rules.corpus import load_corpus
from usmca.rules.validate import coverage


@pytest.fixture(scope="module")
def report(conn):  # type: ignore[no-untyped-def]
    return coverage(load_corpus(conn), conn)


def test_counts(report) -> None:  # type: ignore[no-untyped-def]
    # 1,043 numbered rules (MANIFEST) + 48 rules printed as NOTE paragraphs (time-based, trade-direction,
    # 8540.12 glass rules) + 1 rule the print embeds in ch 87 rule 42 = 1,092
    assert report["rules"] == 1092
    # GN 11(o) ch. 29 rule 1 is structured: the bound 2916.33 of its "except 2916.32" is not written in the text
    assert report["status"] == {"structured": 1050, "partial": 6, "defective": 36}
    assert report["chapter_notes"] == 67


def test_structured_share_meets_target(report) -> None:  # type: ignore[no-untyped-def]
    assert report["structured_share_of_non_defective"] >= 0.98
    assert report["structured_target_met"] is True
    assert len(report["not_fully_structured"]) == 6
    assert all(x["reason"] for x in report["not_fully_structured"])


def test_missing_chapters_listed(report) -> None:  # type: ignore[no-untyped-def]
    assert report["chapters_missing"] == ["64", "65", "66", "67"]
    assert "77" not in report["chapters_present"] and len(report["chapters_present"]) == 92


def test_overlaps_only_where_the_source_is_defective(report) -> None:  # type: ignore[no-untyped-def]
    pairs = {tuple(o["rules"]) for o in report["overlaps"]}
    # ch 87 rules 53/54/55 ("For any other good of subheading 8708.99", three thresholds) and ch 85
    # rules 57/58
    # (8523.52 smart cards printed twice) are the only overlaps the text does not distinguish
    assert pairs == {
        ("GN11(o)/87/53", "GN11(o)/87/54"),
        ("GN11(o)/87/53", "GN11(o)/87/55"),
        ("GN11(o)/87/54", "GN11(o)/87/55"),
        ("GN11(o)/85/57", "GN11(o)/85/58"),
    }
    # tariff-item rules nested in subheading rules are reported apart (the more specific prevails)
    assert any(
        n["rules"] == ["GN11(o)/18/2", "GN11(o)/18/3"] for n in report["nested_scopes_more_specific_prevails"]
    )


def test_subheading_coverage(report) -> None:  # type: ignore[no-untyped-def]
    s = report["subheadings"]
    assert s["considered"] == 5565
    assert s["uncovered"] == ["8471.49"]  # ch 84 prints only a chapter rule (units of systems) for it
    assert s["covered_only_in_part"] == []
    assert [x["subheading"] for x in s["covered_by_more_than_one_rule_set"]] == ["8523.52", "8708.99"]
    assert len(s["ambiguous_mapping"]) == 57
    assert s["covered_by_exactly_one_rule_set"] == 5565 - 1 - 2 - 57
