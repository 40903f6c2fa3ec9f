"""`usmca duty FILE` (the tariff stack on an entry) and `usmca refunds ENTRIES` (IEEPA refunds by entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from usmca.cli.common import Format, parse_date, print_json


def _amt(v: Any) -> str:
    return "unknown" if v is None else f"{v:,.2f}"


def _print_line(ld: Any, title: str | None = None) -> None:
    from usmca.nomenclature.codes import format_code

    head = f"line {ld.id}: {format_code(ld.hts)} from {ld.country}" + (
        " (USMCA claimed)" if ld.usmca_claim else ""
    )
    print(title + " " + head if title else head)
    for c in ld.components:
        print(f"  {c.measure:<52} {c.heading:<24} {c.rate:<14} {_amt(c.amount):>14}")
        print(f"      {c.formula}; {c.citation}")
        if c.note:
            print(f"      note: {c.note}")
        if c.status == "struck_down":
            print("      struck down 2026-02-20 (collected on this date; refundable - see `usmca refunds`)")
    rate = "unknown" if ld.effective_rate is None else f"{ld.effective_rate}%"
    print(f"  total duty {_amt(ld.total_duty)}  effective rate {rate}  [{ld.status}]")
    for n in ld.needs:
        print(f"  needs: {n}")
    for n in ld.notes:
        print(f"  note: {n}")


def register(app: typer.Typer) -> None:
    @app.command("duty")
    def duty(
        file: Path = typer.Argument(..., help="Entry lines (YAML or JSON, interchange format section 3)."),
        fmt: Format = typer.Option(Format.table, "--format", help="table or json (interchange section 4)."),
        compare_claim: bool = typer.Option(
            False, "--compare-claim", help="Each Canadian/Mexican line with and without a USMCA claim."
        ),
    ) -> None:
        """US duty on an entry at its date: ordinary duty and every Chapter 99 measure, cited."""
        from usmca.measures.entry import parse_entry, read_document
        from usmca.measures.stack import compare_claim as compare
        from usmca.measures.stack import duty_entry

        entry = parse_entry(read_document(file))
        result = duty_entry(entry)
        comparisons = []
        if compare_claim:
            for i, ln in enumerate(entry.lines):
                if ln.country_of_origin in ("CA", "MX"):
                    comparisons.append(compare(ln, entry.entry_date, prefix=f"lines[{i}]"))
        if fmt == Format.json:
            doc = result.to_dict()
            if compare_claim:
                doc["compare_claim"] = [
                    {
                        "id": c["id"],
                        "with_claim": c["with_claim"].to_dict(),
                        "without_claim": c["without_claim"].to_dict(),
                        "saving": None if c["saving"] is None else float(c["saving"]),
                    }
                    for c in comparisons
                ]
            print_json(doc)
            return
        print(f"entry date {result.entry_date}  ({result.currency})")
        for ld in result.lines:
            _print_line(ld)
        f = result.fees
        print(f"fees: MPF {_amt(f.mpf)} ({f.mpf_formula}); HMF {_amt(f.hmf)} ({f.hmf_formula})")
        for n in f.needs:
            print(f"  needs: {n}")
        print(f"total duty {_amt(result.total_duty)}  [{result.status}]")
        if compare_claim:
            print("\nUSMCA claim compared:")
            if not comparisons:
                print("  no line of Canada or Mexico")
            for c in comparisons:
                w, wo = c["with_claim"], c["without_claim"]
                print(
                    f"  line {c['id']}: without claim {_amt(wo.total_duty)}, "
                    f"with claim {_amt(w.total_duty)}, "
                    f"saved {_amt(c['saving'])}"
                )
                for n in w.notes:
                    if n.startswith("no USMCA preference"):
                        print(f"    {n}")
        v = result.vintage
        print(f"vintage: schedule {v['schedule']}; {v['measures']}")

    @app.command("refunds")
    def refunds_cmd(
        entries: Path = typer.Argument(
            ...,
            help="Past entries (YAML/JSON): entries: [{entry_number, entry_date, "
            "liquidation_date, lines, ieepa_deposited}]",
        ),
        fmt: Format = typer.Option(Format.table, "--format"),
        as_of: str | None = typer.Option(
            None, "--as-of", help="Judge the routes at this date (default today)."
        ),
    ) -> None:
        """IEEPA duty paid and refundable by entry, and the route (post-summary correction or protest)."""
        from usmca.measures.entry import parse_past_entries, read_document
        from usmca.measures.refunds import refunds

        doc = parse_past_entries(read_document(entries))
        out = refunds(doc, parse_date(as_of))
        if fmt == Format.json:
            print_json({"entries": [r.to_dict() for r in out]})
            return
        total = 0.0
        known = True
        for r in out:
            print(
                f"entry {r.entry} of {r.entry_date}: IEEPA paid {_amt(r.ieepa_paid)} ({r.paid_source}), "
                f"refundable {_amt(r.refundable)}; route: {r.route}"
            )
            print(f"  {r.explanation}")
            for n in r.needs:
                print(f"  needs: {n}")
            if r.refundable is None:
                known = False
            else:
                total += float(r.refundable)
        print(f"total refundable {'unknown' if not known else f'{total:,.2f}'}")
