"""`usmca hts show|search|history|diff|revisions`: the US tariff schedule at any date."""

from __future__ import annotations

from typing import Any

import typer

from usmca.cli.common import Format, parse_date, print_json

app = typer.Typer(no_args_is_help=True)

_AS_OF_HELP = "Date (YYYY-MM-DD) the schedule is read at; default today."


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False)


def _warn(console: Any, warning: str | None) -> None:
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _rate_cell(text: str, parsed: Any, error: str | None) -> str:
    if not text:
        return "[dim](none)[/dim]"
    from rich.markup import escape

    out = escape(text)
    if error:
        out += f"\n[red]not parsed:[/red] {escape(error)}"
    return out


@app.command("show")
def show(
    code: str = typer.Argument(..., help="HTS code, 4 to 10 digits, with or without dots (9401.99.10.85)."),
    as_of: str | None = typer.Option(None, "--as-of", help=_AS_OF_HELP),
    with_children: bool = typer.Option(False, "--children", help="Also list the lines directly under it."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """One line as in force on a date: description path, rates, units, footnotes and the revision used."""
    from rich.markup import escape
    from rich.table import Table

    from usmca.nomenclature import schedule

    line = schedule.lookup(code, parse_date(as_of))
    kids = schedule.children(line.code, line.as_of) if with_children else ()
    if fmt is Format.json:
        data = line.to_dict()
        if with_children:
            data["children"] = [
                {
                    "code": k.code,
                    "code_dotted": k.code_dotted,
                    "description": k.description,
                    "general": k.general,
                }
                for k in kids
            ]
        print_json(data)
        return
    console = _console()
    _warn(console, line.coverage_warning)
    title = f"HTSUS {line.code_dotted}"
    if line.requested != line.code:
        title += f" (for {escape(line.requested)})"
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    t.add_row("description", "\n".join(f"{'  ' * i}{escape(p)}" for i, p in enumerate(line.path)))
    t.add_row("level", f"{line.level} (indent {line.indent})")
    t.add_row("units", ", ".join(line.units) or "-")
    inherited = f"  [dim](from {line.rates_inherited_from})[/dim]" if line.rates_inherited_from else ""
    t.add_row("general", _rate_cell(line.general, line.general_rate, line.general_error) + inherited)
    t.add_row("special", _rate_cell(line.special, line.special_rates, line.special_error) + inherited)
    t.add_row("column 2", _rate_cell(line.other, line.other_rate, line.other_error) + inherited)
    if line.rate_note:
        t.add_row("rates", f"[red]{escape(line.rate_note)}[/red]")
    if line.footnotes:
        t.add_row(
            "footnotes", "\n".join(escape(f"[{'/'.join(f.columns)}] {f.value}") for f in line.footnotes)
        )
    t.add_row("chapter 99", ", ".join(line.chapter99_refs) or "-")
    t.add_row("revision", f"{line.revision.label} (effective {line.revision.effective_date})")
    valid = f"{line.valid_from} to {line.valid_to or 'newest revision'}"
    t.add_row("this version", f"{valid} (as of {line.as_of})")
    console.print(t)
    if with_children:
        ct = Table(title="lines under it", title_justify="left")
        for col in ("code", "description", "general"):
            ct.add_column(col, overflow="fold")
        for k in kids:
            ct.add_row(k.code_dotted, escape(k.description), escape(k.general))
        console.print(ct)


@app.command("search")
def search(
    text: str = typer.Argument(..., help="Words to find in descriptions and the headings above them."),
    as_of: str | None = typer.Option(None, "--as-of", help=_AS_OF_HELP),
    limit: int = typer.Option(20, "--limit", min=1, help="Most hits to show."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Ranked full-text search over descriptions with their parents (best first)."""
    from rich.markup import escape
    from rich.table import Table

    from usmca.nomenclature import schedule

    res = schedule.search(text, parse_date(as_of), limit=limit)
    if fmt is Format.json:
        print_json(res.to_dict())
        return
    console = _console()
    _warn(console, res.coverage_warning)
    if res.note:
        console.print(f"[dim]{escape(res.note)}[/dim]", highlight=False)
    t = Table(title=f"'{escape(text)}' in {res.revision.label}: {len(res.hits)} hit(s)", title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("code", no_wrap=True)
    t.add_column("description (with the headings above it)", overflow="fold")
    t.add_column("general", overflow="fold")
    for i, h in enumerate(res.hits, 1):
        above = " / ".join(h.path[:-1])
        desc = f"[bold]{escape(h.description)}[/bold]" + (f"\n[dim]{escape(above)}[/dim]" if above else "")
        t.add_row(str(i), h.code_dotted, desc, escape(h.general))
    console.print(t)
    if not res.hits:
        console.print("no line matches; try fewer or other words")


@app.command("history")
def history(
    code: str = typer.Argument(..., help="HTS code, 4 to 10 digits."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """How a line's description and rates changed across revisions (one row per distinct version)."""
    from rich.markup import escape
    from rich.table import Table

    from usmca.nomenclature import schedule

    h = schedule.history(code)
    if fmt is Format.json:
        print_json(h.to_dict())
        return
    t = Table(title=f"HTSUS {h.to_dict()['code_dotted']}: {len(h.versions)} version(s)", title_justify="left")
    for col in ("from", "to", "revisions", "general", "special", "column 2", "changed"):
        t.add_column(col, overflow="fold")
    for v in h.versions:
        revs = (
            v.rev_from.label if v.rev_from.seq == v.rev_to.seq else f"{v.rev_from.label} - {v.rev_to.label}"
        )
        t.add_row(
            str(v.valid_from),
            str(v.valid_to or "(newest)"),
            revs,
            escape(v.general),
            escape(v.special),
            escape(v.other),
            ", ".join(v.changed),
        )
    _console().print(t)


@app.command("diff")
def diff(
    rev_a: str = typer.Argument(..., help="Older revision: id (2025_rev_32), label ('2026 basic') or date."),
    rev_b: str = typer.Argument(..., help="Newer revision, same forms."),
    limit: int = typer.Option(50, "--limit", min=0, help="Most lines to list per section in the table."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Lines added, removed and changed between two revisions."""
    from rich.markup import escape
    from rich.table import Table

    from usmca.nomenclature import schedule

    d = schedule.diff(rev_a, rev_b)
    if fmt is Format.json:
        print_json(d.to_dict())
        return
    console = _console()
    by_field = ", ".join(f"{k} {v}" for k, v in sorted(d.field_counts.items(), key=lambda kv: -kv[1]))
    console.print(
        f"{d.rev_a.label} -> {d.rev_b.label}: {len(d.added)} added, {len(d.removed)} removed, "
        f"{len(d.changed)} changed" + (f" ({by_field})" if by_field else ""),
        highlight=False,
    )
    for name, rows in (("added", d.added), ("removed", d.removed)):
        if rows:
            t = Table(title=f"{name} ({len(rows)})", title_justify="left")
            for col in ("code", "description", "general"):
                t.add_column(col, overflow="fold")
            for r in rows[:limit]:
                t.add_row(r.to_dict()["code_dotted"], escape(r.description), escape(r.general))
            console.print(t)
    if d.changed:
        t = Table(title=f"changed ({len(d.changed)})", title_justify="left")
        for col in ("code", "field", "before", "after"):
            t.add_column(col, overflow="fold")
        for ch in d.changed[:limit]:
            for i, fc in enumerate(ch.changes):
                t.add_row(
                    ch.to_dict()["code_dotted"] if i == 0 else "",
                    fc.field,
                    escape(str(fc.before)),
                    escape(str(fc.after)),
                )
        console.print(t)
    shown = max(len(d.added), len(d.removed), len(d.changed))
    if shown > limit:
        console.print(f"[dim]lists cut at {limit} per section; use --limit or --format json for all[/dim]")


@app.command("revisions")
def revisions(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The HTS revisions in the store with their effective dates (and any left out, with why)."""
    from rich.markup import escape
    from rich.table import Table

    from usmca.nomenclature import schedule

    revs = schedule.revisions()
    excluded = schedule.excluded_revisions()
    if fmt is Format.json:
        print_json(
            {
                "revisions": [r.to_dict() for r in revs],
                "excluded": [{"id": e.id, "file": e.file, "reason": e.reason} for e in excluded],
            }
        )
        return
    t = Table(title=f"{len(revs)} HTS revisions in the store", title_justify="left")
    for col in ("id", "effective", "in force until", "date from", "note"):
        t.add_column(col, overflow="fold")
    for r in revs:
        src = r.date_source if r.date_source == "revision_dates.csv" else f"[yellow]{r.date_source}[/yellow]"
        t.add_row(r.id, str(r.effective_date), str(r.valid_to or "(newest)"), src, escape(r.note))
    console = _console()
    console.print(t)
    for e in excluded:
        console.print(f"[yellow]excluded:[/yellow] {e.file}: {escape(e.reason)}", highlight=False)
