"""Rate evaluation: amounts worked out by hand, formula texts, and what is needed when a fact is missing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from usmca.errors import InputError
from usmca.rates import evaluate, money, parse_rate

SUGAR = (
    "1.4606¢/kg less 0.020668¢/kg for each degree under 100 degrees (and fractions of a degree in "
    "proportion) but not less than 0.943854¢/kg"
)
MOVEMENT = (
    "6% + 2.3¢/jewel + 0.2¢ for each other piece or part, but if consisting in part of a plate or a set of "
    "plates the total duty shall not exceed the duty for the complete movement"
)

# (text, value, quantities, base_duty, amount worked out by hand, formula)
CASES = [
    ("5.3%", "10000", {}, None, "530.00", "5.3% x 10,000.00 = 530.00"),
    ("Free", "10000", {}, None, "0", "Free = 0.00"),
    ("1.1¢/kg", "10000", {"kg": "120"}, None, "1.32", "1.1¢/kg x 120 kg = 1.32"),
    # 0.011 x 120 + 0.02 x 10,000
    (
        "1.1¢/kg + 2%",
        "10000",
        {"kg": "120"},
        None,
        "201.32",
        "1.1¢/kg x 120 kg + 2% x 10,000.00 = 1.32 + 200.00 = 201.32",
    ),
    # 1.035 $/kg x 500 kg (0.5 t)
    ("$1.035/kg", "1", {"t": "0.5"}, None, "517.50", "$1.035/kg x 500 kg (0.5 t x 1,000) = 517.50"),
    # 120 No. = 10 doz.; 0.44 x 10
    ("44¢/doz.", "1", {"No.": "120"}, None, "4.40", "44¢/doz. x 10 doz. (120 No. / 12) = 4.40"),
    ("$1.34/1000", "1", {"no": "5000"}, None, "6.70", "$1.34/1000 x 5,000 No. = 6.70"),
    # 1/3 of 9,000
    ("33 1/3%", "9000", {}, None, "3000.00", "33 1/3% x 9,000.00 = 3,000.00"),
    # 0.43 x 10 + 0.028 x (17 - 7) + 0.037 x 2,000
    (
        "43¢ each + 2.8¢/jewel over 7 + 3.7% on the case",
        "5000",
        {"no": "10", "jewel": "17", "value:case": "2000"},
        None,
        "78.58",
        "43¢ each x 10 No. + 2.8¢/jewel over 7 x (17 - 7) jewels + 3.7% on the case x 2,000.00 "
        "= 4.30 + 0.28 + 74.00 = 78.58",
    ),
    # 4 jewels: none over 7
    ("2.8¢/jewel over 7", "1", {"jewel": "4"}, None, "0.00", "2.8¢/jewel over 7 x (4 - 7) jewels = 0.00"),
    # 1.4606 - 0.020668 x 3.5 = 1.388262 ¢/kg x 1,000 kg
    (
        SUGAR,
        "1",
        {"kg": "1000", "polarity": "96.5"},
        None,
        "13.88",
        "(1.4606¢/kg - 0.020668¢/kg x 3.5 degrees under 100) = 1.388262¢/kg x 1,000 kg = 13.88",
    ),
    # 1.4606 - 0.020668 x 50 = 0.4272 < floor 0.943854
    (
        SUGAR,
        "1",
        {"kg": "1000", "polarity": "50"},
        None,
        "9.44",
        "(1.4606¢/kg - 0.020668¢/kg x 50 degrees under 100) = 0.943854¢/kg (floor) x 1,000 kg = 9.44",
    ),
    (
        SUGAR,
        "1",
        {"kg": "1000", "polarity": "100"},
        None,
        "14.61",
        "(1.4606¢/kg - 0.020668¢/kg x 0 degrees under 100) = 1.4606¢/kg x 1,000 kg = 14.61",
    ),
    (
        "The duty provided in the applicable subheading + 25%",
        "10000",
        {},
        "530",
        "3030.00",
        "530.00 (duty of the applicable subheading) + 25% x 10,000.00 = 530.00 + 2,500.00 = 3,030.00",
    ),
    (
        "The duty provided in the applicable subheading + a duty of 50% upon the value of the steel content.",
        "10000",
        {"value:steel_content": "3000"},
        "0",
        "1500.00",
        "0.00 (duty of the applicable subheading) + 50% upon the value of the steel content x 3,000.00 "
        "= 0.00 + 1,500.00 = 1,500.00",
    ),
    ("No change", "10000", {}, "250", "250.00", "250.00 (duty of the applicable subheading) = 250.00"),
    (
        "The duty rate provided in such subheading minus 0.5%",
        "10000",
        {},
        "300",
        "250.00",
        "300.00 (duty of such subheading) - 0.5% x 10,000.00 = 300.00 - 50.00 = 250.00",
    ),
    (
        "See 9823.01.01-9823.01.07",
        "10000",
        {},
        "12.5",
        "12.50",
        "12.50 (duty under 9823.01.01-9823.01.07) = 12.50",
    ),
    # the conditional cap is reported, not applied: 0.06 x 10,000 + 0.023 x 17 + 0.002 x 30
    (
        MOVEMENT,
        "10000",
        {"jewel": "17", "no:other_parts": "30"},
        None,
        "600.45",
        "6% x 10,000.00 + 2.3¢/jewel x 17 jewels + 0.2¢ for each other piece or part x 30 No. of other "
        "pieces or parts = 600.00 + 0.39 + 0.06 = 600.45",
    ),
    (
        "0.7¢/kg on copper content + 0.7¢/kg on lead content",
        "1",
        {"Cu kg": "100", "kg:Pb": "50"},
        None,
        "1.05",
        "0.7¢/kg on copper content x 100 kg of copper content + 0.7¢/kg on lead content x 50 kg of "
        "lead content = 0.70 + 0.35 = 1.05",
    ),
]


@pytest.mark.parametrize(
    ("text", "value", "qty", "base", "amount", "formula"),
    CASES,
    ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)],
)
def test_evaluate_by_hand(
    text: str, value: str, qty: dict[str, str], base: str | None, amount: str, formula: str
) -> None:
    e = evaluate(
        parse_rate(text),
        D(value),
        {k: D(v) for k, v in qty.items()},
        base_duty=D(base) if base is not None else None,
    )
    assert e.amount is not None and money(e.amount) == D(amount)
    assert e.formula == formula
    assert e.needs == ()


def test_missing_quantity_is_named_never_zero() -> None:
    e = evaluate(parse_rate("1.1¢/kg + 2%"), D(10000), {})
    assert e.amount is None
    assert e.needs == ("quantity in kg",) and e.need_keys == ("kg",)
    e = evaluate(parse_rate("0.8¢/kg on lead content"), D(1), {"kg": D(10)})  # kg is not kg of lead
    assert e.amount is None and e.need_keys == ("kg:Pb",)
    assert e.needs == ("quantity in kg of lead content (kg:Pb)",)
    e = evaluate(parse_rate("$1.16 each + 6% on the case"), D(100), {"no": D(1)})
    assert e.amount is None and e.needs == ("value of the case (value:case)",)


def test_missing_base_duty_is_named() -> None:
    e = evaluate(parse_rate("The duty provided in the applicable subheading + 25%"), D(10000), {})
    assert e.amount is None and e.need_keys == ("base_duty",)
    assert e.needs[0].startswith("duty of the applicable subheading")
    e = evaluate(parse_rate("See additional U.S. note 1"), D(1), {})
    assert e.amount is None and e.need_keys == ("base_duty",)


def test_sugar_scale_needs_polarity() -> None:
    e = evaluate(parse_rate(SUGAR), D(1), {"kg": D(1)})
    assert e.amount is None and e.need_keys == ("polarity",)


def test_conditional_cap_is_reported() -> None:
    e = evaluate(parse_rate(MOVEMENT), D(1), {"jewel": D(1), "no:other_parts": D(1)})
    assert any("complete movement" in n and "not applied" in n for n in e.notes)


def test_free_condition_is_reported() -> None:
    e = evaluate(parse_rate("Free, under bond, as prescribed in U.S. note 1 to this subchapter"), D(5), {})
    assert e.amount == 0 and any("under bond" in n for n in e.notes)


def test_reduction_below_zero_is_no_duty_with_a_note() -> None:
    e = evaluate(
        parse_rate("The duty rate provided in such subheading minus 2.0%"), D(1000), {}, base_duty=D(5)
    )
    assert e.amount == 0 and e.notes


@pytest.mark.parametrize(
    ("value", "qty", "field"),
    [(D(-1), {}, "value"), (D(1), {"kg": D(-2)}, "quantities[kg]"), (D(1), {"furlong": D(1)}, "unit")],
)
def test_bad_input_names_the_field(value: D, qty: dict[str, D], field: str) -> None:
    with pytest.raises(InputError) as ei:
        evaluate(parse_rate("1.1¢/kg"), value, qty)
    assert ei.value.field == field
