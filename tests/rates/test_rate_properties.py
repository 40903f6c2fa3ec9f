"""Property tests: the parser fails only with RateParseError; ad valorem duty is linear in value; storage
round-trips; a specific duty scales with its quantity."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from usmca.rates import (
    AdValorem,
    Rate,
    RateParseError,
    evaluate,
    parse_rate,
    parse_special,
    rate_from_dict,
)

FRAGMENTS = [
    "Free",
    "free",
    " ",
    "(",
    ")",
    ",",
    "A+",
    "S",
    "S+",
    "JP",
    "1.1",
    "0",
    "33 1/3",
    "1/0",
    "¢",
    "$",
    "%",
    "/",
    "kg",
    "liter",
    "doz.",
    "each",
    "+",
    "less",
    "over 7",
    "on the case",
    "on lead content",
    "percent",
    "See 9823.01.01",
    "The duty provided in the applicable subheading",
    "minus",
    "plus",
    "a duty of",
    "but if",
    "the total duty shall not exceed",
    "for each degree under 100 degrees",
    "<sup>2</sup>",
    "\n",
    "No change",
    ".",
    "-",
    "m2",
    "pf. liter",
    "jewel",
    "1,000",
    "A duty upon",
    "The rate applicable",
]

texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_parse_fails_only_with_rate_parse_error(text: str) -> None:
    for parse in (parse_rate, parse_special):
        try:
            parse(text)
        except RateParseError as e:
            assert e.reason
        # any other exception fails the test


@settings(max_examples=300, deadline=None)
@given(texts)
def test_whatever_parses_round_trips_and_evaluates_without_crashing(text: str) -> None:
    try:
        r = parse_rate(text)
    except RateParseError:
        return
    assert rate_from_dict(r.to_dict()) == r
    e = evaluate(r, Decimal(100), {u: Decimal(3) for u in r.units_needed()}, base_duty=Decimal(1))
    assert e.amount is None or e.amount >= 0
    assert e.formula


money_values = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=500, places=3, allow_nan=False, allow_infinity=False)


@given(percents, money_values, money_values, st.integers(min_value=0, max_value=1000))
def test_ad_valorem_is_linear_in_value(p: Decimal, v1: Decimal, v2: Decimal, k: int) -> None:
    rate: Rate = parse_rate(f"{p:f}%")
    assert rate == AdValorem(percent=p)

    def f(v: Decimal) -> Decimal:
        a = evaluate(rate, v, {}).amount
        assert a is not None
        return a

    assert f(v1 + v2) == f(v1) + f(v2)
    assert f(v1 * k) == f(v1) * k
    assert f(v1) == p * v1 / 100


@given(
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=100),
)
def test_specific_scales_with_quantity(cents: Decimal, q: Decimal, k: int) -> None:
    rate = parse_rate(f"{cents:f}¢/kg")
    a1 = evaluate(rate, Decimal(0), {"kg": q}).amount
    ak = evaluate(rate, Decimal(0), {"kg": q * k}).amount
    assert a1 is not None and ak is not None
    assert ak == a1 * k
    assert a1 == cents * q / 100
