"""`usmca rules show|export|coverage`: the USMCA product-specific rule corpus (HTSUS General Note 11(o))."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from usmca.cli.common import Format, parse_date, print_json

app = typer.Typer(no_args_is_help=True)

_USES = "passenger_vehicle, light_truck, heavy_truck, other_vehicle, aftermarket, not_automotive"


@app.command("show")
def show(
    code: str = typer.Argument(
        ..., help="HTS code of the good (6, 8 or 10 digits), or a rule id 'GN11(o)/94/2'."
    ),
    date: str | None = typer.Option(
        None, "--date", help="Date of production (YYYY-MM-DD): selects time-based rules."
    ),
    use: str | None = typer.Option(None, "--use", help=f"End use of the good: {_USES}."),
    trade: str | None = typer.Option(
        None, "--trade", help="Trade direction for ch 51-61 rules: CA-US, MX-US, other."
    ),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """The rule(s) for a good: plain words, citation, provenance and the structured form (--format json)."""
    from usmca.errors import InputError
    from usmca.rules.corpus import ChapterNote, describe, load_corpus
    from usmca.rules.grammar import Rule
    from usmca.rules.serialize import rule_to

    uses = {u.strip() for u in _USES.split(",")}
    if use is not None and use not in uses:
        raise InputError("--use", use, f"not a known end use; one of {_USES}")
    corpus = load_corpus()
    rules: tuple[Rule, ...]
    notes: tuple[ChapterNote, ...]
    if code.startswith("GN11"):
        rules = (corpus.rule(code),)
        status, reason, notes = "found", "rule asked by id", ()
    else:
        m = corpus.rules_for(code, parse_date(date, "--date"), use, trade)
        rules, status, reason, notes = m.rules, m.status, m.reason, m.chapter_notes
    if fmt is Format.json:
        from usmca.rules.corpus import note_to

        print_json(
            {
                "query": {"code": code, "date": date, "use": use, "trade": trade},
                "corpus_version": corpus.version,
                "status": status,
                "reason": reason,
                "rules": [rule_to(r) for r in rules],
                "chapter_notes": [note_to(n) for n in notes],
            }
        )
        return
    from rich.console import Console
    from rich.markup import escape

    con = Console(soft_wrap=False)
    con.print(
        f"[bold]{escape(code)}[/bold]  status: [bold]{status}[/bold]  ({escape(reason)})", highlight=False
    )
    for r in rules:
        con.print()
        con.print(f"[bold]{escape(r.id)}[/bold]  {escape(r.citation)}  [{r.status}]", highlight=False)
        for line in describe(r):
            con.print(escape(line), highlight=False)
        con.print(f"[dim]text:[/dim] {escape(r.text)}", highlight=False)
        p = r.provenance
        con.print(
            f"[dim]source:[/dim] {escape(p.source_file)}; vintage {escape(p.vintage)}; nomenclature "
            f"{p.nomenclature}; rule number {'inferred' if p.number_inferred else 'quoted'}",
            highlight=False,
        )
        for mp in p.code_mappings:
            if mp.relationship not in ("identity",):
                con.print(
                    f"[dim]mapped:[/dim] {mp.original} -> {', '.join(mp.mapped) or '(none)'} "
                    f"({mp.relationship})",
                    highlight=False,
                )
        for d in p.defects:
            con.print(f"[yellow]defect:[/yellow] {escape(d)}", highlight=False)
    for n in notes:
        con.print()
        con.print(f"[bold]{escape(n.id)}[/bold] {escape(n.citation)}", highlight=False)
        con.print(escape(n.text), highlight=False)
    con.print(f"\n[dim]corpus {corpus.version}[/dim]", highlight=False)


@app.command("export")
def export(
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here (default: standard output)."),
) -> None:
    """The whole corpus as versioned JSON."""
    from usmca.rules.corpus import export as export_corpus
    from usmca.rules.corpus import load_corpus

    data = export_corpus(load_corpus())
    if out is None:
        print_json(data)
        return
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    print(
        f"wrote {len(data['rules'])} rules and {len(data['chapter_notes'])} chapter notes "
        f"(corpus {data['version']}) to {out}"
    )


@app.command("coverage")
def coverage(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Validation of the corpus: structured share, overlaps, subheading coverage, missing chapters."""
    from usmca.rules.corpus import load_corpus
    from usmca.rules.validate import coverage as run
    from usmca.store import store

    rep: dict[str, Any] = run(load_corpus(), store())
    if fmt is Format.json:
        print_json(rep)
        return
    s = rep["subheadings"]
    lines = [
        f"corpus {rep['corpus_version']} ({rep['source_vintage']})",
        f"rules: {rep['rules']}  statuses: {rep['status']}  chapter notes: {rep['chapter_notes']}",
        f"structured share of non-defective rules: {rep['structured_share_of_non_defective']:.2%} "
        f"(target {rep['structured_target']:.0%}: {'met' if rep['structured_target_met'] else 'NOT met'})",
        f"rules written in an older HS edition (mapped): {rep['rules_in_older_nomenclature']['count']}",
        f"overlapping scopes not distinguished by the text: {len(rep['overlaps'])}",
        f"chapters missing from the source: {', '.join(rep['chapters_missing'])}",
        f"subheadings ({s['source']}): {s['considered']} in the chapters present; "
        f"{s['covered_by_exactly_one_rule_set']} covered by exactly one rule set",
        f"  uncovered ({len(s['uncovered'])}): {', '.join(s['uncovered'])}",
        f"  covered only in part ({len(s['covered_only_in_part'])}): "
        + ", ".join(x["subheading"] for x in s["covered_only_in_part"]),
        f"  covered by more than one rule set ({len(s['covered_by_more_than_one_rule_set'])}): "
        + ", ".join(f"{x['subheading']} {x['rules']}" for x in s["covered_by_more_than_one_rule_set"]),
        f"  reached through an ambiguous correlation ({len(s['ambiguous_mapping'])}): "
        + ", ".join(x["subheading"] for x in s["ambiguous_mapping"]),
    ]
    for o in rep["overlaps"]:
        lines.append(f"overlap: {o['rules'][0]} ({o['scopes'][0]}) / {o['rules'][1]} ({o['scopes'][1]})")
    for u in rep["not_fully_structured"]:
        lines.append(f"{u['status']}: {u['id']}: {u['reason']}")
    for d in rep["defective"]:
        lines.append(f"defective: {d['id']}: {str(d['reason'])[:160]}")
    print("\n".join(lines))
