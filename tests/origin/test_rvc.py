"""Regional value content arithmetic (CUSMA Rules of Origin Regulations Part 3, s.8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from usmca.origin import rvc as R


def test_transaction_value_method_formula() -> None:
    """s.7(2): RVC = (TV - VNM) / TV x 100."""
    assert R.transaction_value_rvc(100, 40) == Decimal(60)
    assert R.round_pct(R.transaction_value_rvc(Decimal("40.00"), Decimal("8.20"))) == 79.5


def test_net_cost_method_formula_regs_s4_example_1() -> None:
    """s.7(3), as s.4(4) Example 1 prints it: ($1,000 - $280) / $1,000 x 100 = 72%."""
    assert R.net_cost_rvc(1000, 280) == Decimal(72)


def test_adjusted_transaction_value_deducts_or_adds_international_shipment() -> None:
    """s.1(1) "adjusted to exclude any costs incurred in the international shipment of the good": costs after
    the point of direct shipment are deducted; costs up to it, not in TV, are added (negative adjustment)."""
    assert R.adjusted_transaction_value(100, 5) == Decimal(95)
    assert R.adjusted_transaction_value(100, -3) == Decimal(103)


def test_net_cost_is_total_cost_minus_excluded_costs() -> None:
    """s.1(1) "net cost"; s.7(11)."""
    assert R.net_cost(Decimal("120"), Decimal("20")) == Decimal(100)


def test_material_value_deductions() -> None:
    """s.8(2): freight, duties, brokerage, waste may be deducted from a non-originating material's value."""
    assert R.material_value(10, 2) == Decimal(8)
    with pytest.raises(ValueError):
        R.material_value(1, 2)


def test_rounding_is_display_only_and_half_up() -> None:
    """Interchange s.2: one decimal as the Regulations print; a 59.96% RVC never passes a 60% threshold."""
    x = R.transaction_value_rvc(Decimal("100"), Decimal("40.04"))
    assert R.round_pct(x) == 60.0
    assert R.meets(x, 60) is False
    assert R.round_pct(Decimal("55.55")) == 55.6
    assert R.meets(None, 60) is None


def test_floats_are_read_through_their_repr() -> None:
    assert R.dec(0.1) == Decimal("0.1")
    assert R.transaction_value_rvc(0.3, 0.1) * 3 == Decimal(200)


def test_nonpositive_base_is_an_error() -> None:
    with pytest.raises(ValueError):
        R.net_cost_rvc(0, 1)
