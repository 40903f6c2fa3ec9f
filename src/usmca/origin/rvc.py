"""Regional value content arithmetic (CUSMA Rules of Origin Regulations, Part 3 and s.8).

Pure functions on decimals, shared by the single-good engine and the portfolio kernel. Percentages are
computed exactly and compared exactly; ``round_pct`` gives the one-decimal figure the Regulations' examples
print (e.g. "72%", "55.6%"), used for display only, so a good at 59.96% never passes a 60% test on rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

Number = Decimal | float | int

TV_CITATION = "CUSMA Rules of Origin Regulations s.7(2) (transaction value method)"
NC_CITATION = "CUSMA Rules of Origin Regulations s.7(3), 7(11) (net cost method)"
VNM_CITATION = "CUSMA Rules of Origin Regulations s.8(1)-(2) (value of materials)"

_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")


def dec(x: Number) -> Decimal:
    """Decimal from a float through its shortest repr (0.1 -> Decimal('0.1'), not the binary expansion)."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, int):
        return Decimal(x)
    return Decimal(repr(x))


def adjusted_transaction_value(tv: Number, international_shipment: Number = 0) -> Decimal:
    """TV "adjusted to exclude any costs incurred in the international shipment of the good" (s.1(1)):
    costs after the point of direct shipment included in TV are deducted; costs up to it that TV does not
    include are added (give them as a negative ``international_shipment``)."""
    return dec(tv) - dec(international_shipment)


def net_cost(total_cost: Number, excluded: Number = 0) -> Decimal:
    """Net cost = total cost minus the excluded costs included in it (s.1(1) "net cost"; s.7(11))."""
    return dec(total_cost) - dec(excluded)


def material_value(value: Number, deductions: Number = 0) -> Decimal:
    """Value of a non-originating material after the s.8(2) deductions (freight, duties, brokerage, waste)."""
    v = dec(value) - dec(deductions)
    if v < 0:
        raise ValueError(f"deductions {deductions} exceed the material value {value}")
    return v


def rvc_pct(base: Number, vnm: Number) -> Decimal:
    """(base - VNM) / base x 100, exact."""
    b = dec(base)
    if b <= 0:
        raise ValueError(f"the RVC base must be positive, got {base}")
    return (b - dec(vnm)) / b * _HUNDRED


def transaction_value_rvc(tv: Number, vnm: Number) -> Decimal:
    """RVC = (TV - VNM) / TV x 100 (s.7(2)); ``tv`` already adjusted for international shipment."""
    return rvc_pct(tv, vnm)


def net_cost_rvc(nc: Number, vnm: Number) -> Decimal:
    """RVC = (NC - VNM) / NC x 100 (s.7(3))."""
    return rvc_pct(nc, vnm)


def round_pct(x: Number) -> float:
    """One decimal place, half up, as the Regulations' examples print percentages."""
    return float(dec(x).quantize(_TENTH, rounding=ROUND_HALF_UP))


def meets(rvc: Decimal | None, threshold: Number | None) -> bool | None:
    """True/False when both are known; None when the method is not allowed or not computable."""
    if rvc is None or threshold is None:
        return None
    return rvc >= dec(threshold)


def share(part: Number, whole: Number) -> Decimal:
    """part / whole as a fraction (de minimis shares)."""
    w = dec(whole)
    if w <= 0:
        raise ValueError(f"the base must be positive, got {whole}")
    return dec(part) / w
