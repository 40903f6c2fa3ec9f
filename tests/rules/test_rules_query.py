"""Corpus queries (``Corpus.rules_for``) on the real corpus: every status the origin engine must handle."""

from __future__ import annotations

import datetime as dt

import pytest

from usmca.errors import InputError, NotFoundError
from usmca.rules.corpus import load_corpus


@pytest.fixture(scope="module")
def corpus(conn):  # type: ignore[no-untyped-def]
    return load_corpus(conn)


def test_cached_per_connection(conn, corpus) -> None:  # type: ignore[no-untyped-def]
    assert load_corpus(conn) is corpus
    assert corpus.version.startswith("gn11o-")


def test_found_one_rule(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("7009.92.10")
    assert m.status == "found" and [r.id for r in m.rules] == ["GN11(o)/70/8"]


@pytest.mark.parametrize("code", ["6401.10.00", "6505.00", "6601.10", "6702.10"])
def test_missing_chapters(corpus, code: str) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for(code)
    assert m.status == "chapter_missing" and m.rules == ()
    assert f"chapter {int(code[:2])}" in m.reason and "missing" in m.reason


def test_needs_use_for_vehicle_branches(corpus) -> None:  # type: ignore[no-untyped-def]
    assert corpus.rules_for("8703.23.01").status == "needs_use"
    m = corpus.rules_for("8703.23.01", use="passenger_vehicle")
    assert m.status == "found" and [r.id for r in m.rules] == ["GN11(o)/87/7"]


def test_use_selects_the_rule(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("8706.00", use="heavy_truck")
    assert [r.id for r in m.rules] == ["GN11(o)/87/15"]
    m = corpus.rules_for("8706.00", use="aftermarket")  # "For any other good of heading 8706"
    assert [r.id for r in m.rules] == ["GN11(o)/87/16"]
    assert corpus.rules_for("8706.00").status == "needs_use"


def test_body_stamping_rules_distinguished_by_good(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("8708.29.50", use="passenger_vehicle")
    assert m.status == "found"
    assert [r.id for r in m.rules] == ["GN11(o)/87/24", "GN11(o)/87/25"]
    assert {r.good.values for r in m.rules if r.good} == {("body stamping",), ("*other*",)}
    m = corpus.rules_for("8708.29.50", use="not_automotive")
    assert [r.id for r in m.rules] == ["GN11(o)/87/26"]


def test_time_based_rules(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("8504.21.00")
    assert m.status == "needs_date"
    early = corpus.rules_for("8504.21.00", on=dt.date(2024, 6, 30))
    late = corpus.rules_for("8504.21.00", on=dt.date(2025, 7, 1))
    assert early.status == late.status == "found"
    (e,), (lt,) = early.rules, late.rules
    assert e.valid_from == dt.date(2020, 7, 1) and e.valid_to == dt.date(2025, 7, 1)
    assert lt.valid_from == dt.date(2025, 7, 1) and lt.valid_to is None
    # 8607.91: the print leaves a gap between January 1 and July 1, 2023 (kept: no rule in force)
    assert corpus.rules_for("8607.91", on=dt.date(2023, 3, 1)).status == "no_rule"


def test_trade_direction(corpus) -> None:  # type: ignore[no-untyped-def]
    assert corpus.rules_for("5112.11.20").status == "needs_trade"
    ca = corpus.rules_for("5112.11.20", trade="CA-US")
    other = corpus.rules_for("5112.11.20", trade="MX-US")
    assert ca.status == other.status == "found"
    assert ca.rules[0].trade == ("CA-US",) and other.rules[0].trade == ("*other*",)


def test_more_specific_rule_prevails(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("1806.10.43")
    assert [r.id for r in m.rules] == ["GN11(o)/18/2"] and "GN11(o)/18/3" in m.reason
    assert [r.id for r in corpus.rules_for("1806.10.10").rules] == ["GN11(o)/18/3"]


def test_ambiguous_mapping(corpus) -> None:  # type: ignore[no-untyped-def]
    # HS 2017 8462.21/8462.29 -> HS 2022 8462.22-8462.29: n:n
    m = corpus.rules_for("8462.29.00")
    assert m.status == "ambiguous_mapping"
    assert "n:n" in m.reason or "n:1" in m.reason


def test_new_hs2022_subheading_reached_by_correlation(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("8708.22", use="heavy_truck")
    assert m.status == "found" and "GN11(o)/87/25" in [r.id for r in m.rules]
    r = corpus.rule("GN11(o)/87/25")
    assert any(mp.original == "870829" and mp.mapped == ("870822",) for mp in r.provenance.code_mappings)


def test_conflict_reported(corpus) -> None:  # type: ignore[no-untyped-def]
    m = corpus.rules_for("8708.99.81", use="aftermarket")
    assert m.status == "conflict" and "GN11(o)/87/53" in m.reason


def test_no_rule_gap(corpus) -> None:  # type: ignore[no-untyped-def]
    assert corpus.rules_for("8471.49").status == "no_rule"


def test_bad_input(corpus) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="hts"):
        corpus.rules_for("94x1")
    with pytest.raises(InputError):
        corpus.rules_for("9401")  # a good is classified to at least 6 digits
    with pytest.raises(NotFoundError, match="GN11"):
        corpus.rule("GN11(o)/94/99")
