"""TariffShift.allows on real rules of the corpus with real material codes."""

from __future__ import annotations

import pytest

from usmca.rules.corpus import load_corpus


@pytest.fixture(scope="module")
def corpus(conn):  # type: ignore[no-untyped-def]
    return load_corpus(conn)


def _shift(corpus, rule_id: str, label: str = ""):  # type: ignore[no-untyped-def]
    r = corpus.rule(rule_id)
    (alt,) = [a for a in r.alternatives if a.label == label]
    return alt.shift


@pytest.mark.parametrize(
    ("rule_id", "label", "material", "good", "allowed"),
    [
        # 94/1 (B): from 9401.90 (HS 2017) = 9401.91/9401.99 now, or any other chapter
        ("GN11(o)/94/1", "B", "94019910", "94017100", True),
        ("GN11(o)/94/1", "B", "73181500", "94017100", True),  # screws: another chapter
        ("GN11(o)/94/1", "B", "94017900", "94017100", False),  # another seat of 9401: not named
        ("GN11(o)/94/1", "A", "94019910", "94017100", False),  # (A) wants another chapter
        # 85/1: any other heading except the three tariff items of 8503.00
        ("GN11(o)/85/1", "A", "85030035", "85015100", False),
        ("GN11(o)/85/1", "A", "85030095", "85015100", True),
        ("GN11(o)/85/1", "B", "85030035", "85015100", True),
        # 52/2: outside the group 5208-5212, except from yarns of 5205-5206
        ("GN11(o)/52/2", "", "52051100", "52081100", False),
        ("GN11(o)/52/2", "", "52091100", "52081100", False),  # inside the group
        ("GN11(o)/52/2", "", "52010000", "52081100", True),  # raw cotton
        # 70/7: 7009.10-7009.91 from any other heading except 7003-7008
        ("GN11(o)/70/7", "", "70071100", "70091000", False),
        ("GN11(o)/70/7", "", "70010000", "70091000", True),
        # 27/12: 2711.29 from any other subheading except 2711.12-2711.21
        ("GN11(o)/27/12", "", "27111300", "27112900", False),
        ("GN11(o)/27/12", "", "27111100", "27112900", True),
        # 60/1: any other chapter except chapters 54-55 and chapter 52
        ("GN11(o)/60/1", "", "55032000", "60011000", False),
        ("GN11(o)/60/1", "", "52052100", "60011000", False),
        ("GN11(o)/60/1", "", "51061000", "60011000", False),
        ("GN11(o)/60/1", "", "50050000", "60011000", True),
        # 87/25 (B): no change required
        ("GN11(o)/87/25", "B", "87082950", "87082950", True),
        # 74/1 (A): including another heading of the group, except 7404
        ("GN11(o)/74/1", "A", "74010000", "74031100", True),
        ("GN11(o)/74/1", "A", "74040030", "74031100", False),
    ],
)
def test_allows(corpus, rule_id: str, label: str, material: str, good: str, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    assert _shift(corpus, rule_id, label).allows(material, good) is allowed


def test_at_most_one_group_condition(corpus) -> None:  # type: ignore[no-untyped-def]
    # 84/140: "except from more than one of the following: (A) tariff items 8466.93.15, ..., (B) subheading
    # 8537.10, (C) subheading 9013.20" -> a condition over the bill naming the three groups
    alt = corpus.rule("GN11(o)/84/140").alternatives[0]
    (cond,) = alt.conditions
    assert cond.name == "nonoriginating_from_at_most_one_group"
    assert [str(g) for g in cond.code_groups] == ["8466.93.15, 8466.93.30, 8466.93.53", "8537.10", "9013.20"]
    assert alt.shift is not None and alt.shift.allows(
        "85371000", "84561100"
    )  # per material: a change of heading
