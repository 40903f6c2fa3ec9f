"""IEEPA refunds: by past entry, the IEEPA duty paid, what is refundable, and the administrative route.

The Supreme Court held on 2026-02-20 (Learning Resources, Inc. v. Trump) that IEEPA does not authorize
tariffs; CBP stopped collecting them for entries on or after 2026-02-24. Every IEEPA duty deposited on an
earlier entry is refundable. The route depends on where the entry stands:
- not yet liquidated: a post-summary correction (PSC) in ACE removing the Chapter 99 IEEPA lines (19 CFR
  101.9(b); within 300 days of entry and until 15 days before the scheduled liquidation date); past that
  window, a protest once it liquidates;
- liquidated, within 180 days: a protest (19 U.S.C. 1514(c)(3); 19 CFR 174.12);
- liquidated more than 180 days ago: no administrative route remains; relief depends on court proceedings
  (Court of International Trade, 28 U.S.C. 1581) or any refund process CBP announces - the entry is reported.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from usmca.measures.entry import PastEntries, PastEntry
from usmca.measures.stack import LineDuty, duty_lines

PROTEST_DAYS = 180
PSC_CUTOFF_DAYS = 15
PSC_WINDOW_DAYS = 300
COLLECTION_ENDED = dt.date(2026, 2, 24)


@dataclass(frozen=True, slots=True)
class EntryRefund:
    entry: str
    entry_date: dt.date
    liquidation_date: dt.date | None
    ieepa_computed: Decimal | None  # IEEPA duty our engine computes for the lines (None: unresolved)
    ieepa_paid: Decimal | None  # as declared (ieepa_deposited), else the computed amount
    paid_source: str  # "declared" | "computed" | "unknown"
    refundable: Decimal | None
    route: str  # post_summary_correction | protest | no_administrative_route | none
    deadline: dt.date | None
    explanation: str
    needs: tuple[str, ...]
    lines: tuple[LineDuty, ...]

    def to_dict(self) -> dict[str, Any]:
        def f(d: Decimal | None) -> float | None:
            return None if d is None else float(d)

        return {
            "entry": self.entry,
            "entry_date": self.entry_date.isoformat(),
            "liquidation_date": self.liquidation_date.isoformat() if self.liquidation_date else None,
            "ieepa_computed": f(self.ieepa_computed),
            "ieepa_paid": f(self.ieepa_paid),
            "paid_source": self.paid_source,
            "refundable": f(self.refundable),
            "route": self.route,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "explanation": self.explanation,
            "needs": list(self.needs),
            "lines": [
                {"id": ln.id, "status": ln.status, "ieepa": f(ln.amount_of("ieepa")), "needs": list(ln.needs)}
                for ln in self.lines
            ],
        }


def _route(e: PastEntry, as_of: dt.date) -> tuple[str, dt.date | None, str]:
    if e.liquidation_date is None or e.liquidation_date > as_of:
        psc_end = e.entry_date + dt.timedelta(days=PSC_WINDOW_DAYS)
        if e.liquidation_date is not None:
            psc_end = min(psc_end, e.liquidation_date - dt.timedelta(days=PSC_CUTOFF_DAYS))
        if as_of <= psc_end:
            return (
                "post_summary_correction",
                psc_end,
                f"not liquidated on {as_of}: file a post-summary correction removing the IEEPA Chapter 99 "
                f"lines by {psc_end} (within 300 days of entry and 15 days before the scheduled liquidation; "
                "19 CFR 101.9(b)); if it liquidates first, protest within 180 days",
            )
        return (
            "protest_after_liquidation",
            None,
            f"not liquidated on {as_of} but past the post-summary-correction window ({psc_end}): protest "
            "within 180 days after liquidation (19 U.S.C. 1514; 19 CFR 174.12)",
        )
    deadline = e.liquidation_date + dt.timedelta(days=PROTEST_DAYS)
    if as_of <= deadline:
        return (
            "protest",
            deadline,
            f"liquidated {e.liquidation_date}: protest under 19 U.S.C. 1514 by {deadline} "
            "(180 days after liquidation, 19 CFR 174.12(e))",
        )
    return (
        "no_administrative_route",
        deadline,
        f"liquidated {e.liquidation_date}; the 180-day protest period ended {deadline}: no administrative "
        "route remains - relief depends on court proceedings (CIT, 28 U.S.C. 1581) or a CBP refund process",
    )


def refund_entry(
    e: PastEntry, index: int, as_of: dt.date, conn: sqlite3.Connection | None = None
) -> EntryRefund:
    label = e.entry_number or e.id or f"entries[{index}]"
    lines = tuple(duty_lines(((ln, e.entry_date) for ln in e.lines), conn=conn))
    needs: list[str] = []
    computed: Decimal | None = Decimal(0)
    for ln in lines:
        a = ln.amount_of("ieepa")
        # A need touching an IEEPA measure (or the value it applies to) leaves the IEEPA amount unknown.
        blocking = [n for n in ln.needs if "IEEPA" in n or "not under Section 232" in n]
        if a is None or blocking:
            computed = None
            needs.extend(f"entries[{index}].{n}" for n in (blocking or ln.needs))
        elif computed is not None:
            computed += a
    if e.ieepa_deposited is not None:
        paid: Decimal | None = e.ieepa_deposited
        source = "declared"
    elif computed is not None:
        paid, source = computed, "computed"
    else:
        paid, source = None, "unknown"
    if e.entry_date >= COLLECTION_ENDED:
        return EntryRefund(
            label,
            e.entry_date,
            e.liquidation_date,
            computed,
            paid,
            source,
            Decimal(0),
            "none",
            None,
            "entered on or after 2026-02-24: no IEEPA duty was owed",
            tuple(needs),
            lines,
        )
    route, deadline, why = _route(e, as_of)
    if e.ieepa_deposited is not None and computed is not None and e.ieepa_deposited != computed:
        why += f"; declared IEEPA deposit {e.ieepa_deposited:,.2f} differs from the computed {computed:,.2f}"
    return EntryRefund(
        label,
        e.entry_date,
        e.liquidation_date,
        computed,
        paid,
        source,
        paid,
        route,
        deadline,
        why,
        tuple(needs),
        lines,
    )


def refunds(
    doc: PastEntries, as_of: dt.date | None = None, conn: sqlite3.Connection | None = None
) -> list[EntryRefund]:
    day = as_of or doc.as_of or dt.date.today()
    return [refund_entry(e, i, day, conn) for i, e in enumerate(doc.entries)]
