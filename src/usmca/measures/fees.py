"""Entry fees: merchandise processing fee (MPF) and harbor maintenance fee (HMF).

MPF (19 U.S.C. 58c(a)(9); 19 CFR 24.23(b)(1)): 0.3464% of the value of the formal entry, at least the
fiscal year's minimum and at most its maximum (adjusted for inflation each fiscal year, 19 CFR 24.22(k)).
Originating goods of Canada and Mexico entered under USMCA are exempt (19 CFR 24.23(c)):
lines with a USMCA claim are left out of the MPF base.
HMF (26 U.S.C. 4461; 19 CFR 24.24): 0.125% of the value of commercial cargo loaded or unloaded at a U.S.
port, i.e. ocean shipments here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from usmca.measures.entry import Entry

MPF_RATE = Decimal("0.003464")
HMF_RATE = Decimal("0.00125")
CENT = Decimal("0.01")
INFORMAL_LIMIT = Decimal(2500)


@dataclass(frozen=True, slots=True)
class MpfLimits:
    fiscal_year: int
    start: dt.date
    end: dt.date  # inclusive
    minimum: Decimal
    maximum: Decimal
    citation: str


# Fiscal years run October 1 - September 30.
MPF_LIMITS: tuple[MpfLimits, ...] = (
    MpfLimits(
        2024,
        dt.date(2023, 10, 1),
        dt.date(2024, 9, 30),
        Decimal("31.67"),
        Decimal("614.35"),
        "19 CFR 24.23(b)(1); FY2024 limits as restated in CBP notice FR 2024-15990 (2024-07-22)",
    ),
    MpfLimits(
        2025,
        dt.date(2024, 10, 1),
        dt.date(2025, 9, 30),
        Decimal("32.71"),
        Decimal("634.62"),
        "19 CFR 24.23(b)(1); CBP notice 'Customs User Fees To Be Adjusted for Inflation in Fiscal Year "
        "2025', FR 2024-15990 (2024-07-22)",
    ),
    MpfLimits(
        2026,
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
        Decimal("33.58"),
        Decimal("651.50"),
        "19 CFR 24.23(b)(1); CBP Dec. 25-10, 90 FR 34665 (2025-07-23), FR 2025-13869",
    ),
)


def mpf_limits(d: dt.date) -> MpfLimits | None:
    for lim in MPF_LIMITS:
        if lim.start <= d <= lim.end:
            return lim
    return None


@dataclass(frozen=True, slots=True)
class Fees:
    mpf: Decimal | None  # None: unknown (fiscal year not encoded) - never a silent zero
    hmf: Decimal | None
    mpf_base: Decimal
    hmf_base: Decimal | None
    mpf_formula: str
    hmf_formula: str
    citations: tuple[str, ...]
    needs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mpf": None if self.mpf is None else float(self.mpf),
            "hmf": None if self.hmf is None else float(self.hmf),
            "mpf_formula": self.mpf_formula,
            "hmf_formula": self.hmf_formula,
            "citations": list(self.citations),
            "needs": list(self.needs),
        }


def _q(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def entry_fees(entry: Entry) -> Fees:
    needs: list[str] = []
    cites: list[str] = []
    base = sum((ln.entered_value for ln in entry.lines if not ln.usmca_claim), Decimal(0))
    exempt = sum((ln.entered_value for ln in entry.lines if ln.usmca_claim), Decimal(0))
    lim = mpf_limits(entry.entry_date)
    mpf: Decimal | None
    if base == 0:
        mpf = Decimal("0.00")
        mpf_formula = (
            "no MPF: every line is a USMCA-originating good (19 CFR 24.23(c), USMCA-originating goods)"
        )
    elif lim is None:
        mpf = None
        mpf_formula = "unknown"
        needs.append(
            f"fees.mpf: MPF minimum/maximum for the fiscal year of {entry.entry_date} are not encoded"
        )
    else:
        raw = base * MPF_RATE
        mpf = _q(min(max(raw, lim.minimum), lim.maximum))
        clamp = " (minimum)" if raw < lim.minimum else " (maximum)" if raw > lim.maximum else ""
        mpf_formula = (
            f"0.3464% x {base:,.2f} = {raw:,.2f}, within FY{lim.fiscal_year} "
            f"min {lim.minimum} / max {lim.maximum}{clamp}"
        )
        cites.append(lim.citation)
    total_value = base + exempt
    if total_value <= INFORMAL_LIMIT:
        mpf_formula += (
            f"; entry value {total_value:,.2f} is within the informal-entry limit ($2,500, 19 CFR "
            "143.21(a)): if entered informally the flat informal-entry fee applies instead (not computed)"
        )
    if exempt:
        mpf_formula += (
            f"; {exempt:,.2f} of USMCA-claimed lines excluded (19 CFR 24.23(c), USMCA-originating goods)"
        )
    hmf: Decimal | None
    unknown = [ln.id for ln in entry.lines if ln.transport is None]
    ocean = sum((ln.entered_value for ln in entry.lines if ln.transport == "ocean"), Decimal(0))
    if unknown:
        hmf = None
        hmf_formula = "unknown"
        for lid in unknown:
            needs.append(
                f"lines[{lid}].transport: ocean | air | other (the harbor maintenance fee applies to ocean)"
            )
        hmf_base: Decimal | None = None
    else:
        hmf = _q(ocean * HMF_RATE)
        hmf_base = ocean
        hmf_formula = f"0.125% x {ocean:,.2f} ocean value" if ocean else "no ocean shipment: no HMF"
        cites.append("26 U.S.C. 4461; 19 CFR 24.24")
    return Fees(mpf, hmf, base, hmf_base, mpf_formula, hmf_formula, tuple(cites), tuple(needs))
