"""`usmca scenarios list | show | compare | macro`: joint-review scenarios as data, applied to a portfolio
or to the 2025 trade flows. Engines are imported inside the commands so `usmca --help` stays fast."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path

import typer

from usmca.cli.common import parse_date, print_json

app = typer.Typer(no_args_is_help=True)


class Out(StrEnum):
    table = "table"
    json = "json"
    html = "html"


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written: {out}", err=True)


@app.command("list")
def list_(fmt: Out = typer.Option(Out.table, "--format", help="table or json")) -> None:
    """The bundled scenarios."""
    from usmca.scenarios.model import bundled

    sc = bundled()
    if fmt == Out.json:
        print_json([{"name": s.name, "title": s.title, "effective": s.effective} for s in sc.values()])
        return
    w = max(len(n) for n in sc)
    for s in sc.values():
        typer.echo(f"{s.name.ljust(w)}  {s.title}")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="a bundled scenario name or a scenario .yaml file"),
    fmt: Out = typer.Option(Out.table, "--format", help="table or json"),
) -> None:
    """A scenario: description, overlays, sources and assumptions."""
    from usmca.scenarios.model import get_scenario
    from usmca.scenarios.overlay import describe

    s = get_scenario(name)
    if fmt == Out.json:
        print_json(s.to_dict())
        return
    lines = [f"{s.name}: {s.title}", "", s.description.strip(), ""]
    if s.effective:
        lines.append(f"effective: {s.effective}")
    lines.append("overlays:")
    lines += [f"  - {d}" for d in describe(s)] or ["  (none)"]
    lines.append("sources:")
    lines += [
        f"  - {x.title}" + (f" <{x.url}>" if x.url else "") + (f" ({x.note})" if x.note else "") for x in s.sources
    ]
    lines.append("assumptions:")
    lines += [f"  - {a}" for a in s.assumptions] or ["  (none)"]
    if s.uncertain:
        lines.append(f"uncertain: {s.uncertain}")
    typer.echo("\n".join(lines))


@app.command("compare")
def compare(
    products: Path = typer.Argument(..., help="PRODUCTS table (.csv, .xlsx or .parquet)"),
    bom: Path = typer.Argument(..., help="BOM table (.csv, .xlsx or .parquet)"),
    scenario: list[str] = typer.Option(..., "--scenario", help="scenario name or .yaml file (repeatable)"),
    declarations: Path | None = typer.Option(None, "--declarations", help="supplier declarations table"),
    date: str | None = typer.Option(None, "--date", help="date of production/export and entry; default today"),
    fmt: Out = typer.Option(Out.table, "--format", help="table, json or html"),
    out: Path | None = typer.Option(None, "--out", help="write the output to this file"),
) -> None:
    """Baseline and each scenario on the same portfolio: flips, RVC margins, duty, cheapest remedies."""
    from usmca.portfolio.read import read_portfolio
    from usmca.portfolio.run import schedule_checker
    from usmca.scenarios.compare import compare_portfolio
    from usmca.scenarios.model import get_scenario
    from usmca.scenarios.report import comparison_html, comparison_text
    from usmca.store import store

    on = parse_date(date, "--date") or dt.date.today()
    scs = [get_scenario(s) for s in scenario]
    conn = store()
    pf = read_portfolio(products, bom, declarations, on=on, known_codes=schedule_checker(conn))
    cmp = compare_portfolio(pf, scs, on=on, conn=conn)
    if fmt == Out.json:
        import json

        _emit(json.dumps(cmp.to_dict(), indent=2, default=str, ensure_ascii=False), out)
    elif fmt == Out.html:
        _emit(comparison_html(cmp), out)
    else:
        _emit(comparison_text(cmp), out)


@app.command("macro")
def macro(
    scenario: list[str] = typer.Option(..., "--scenario", help="scenario name or .yaml file (repeatable)"),
    date: str | None = typer.Option(None, "--date", help="entry date for the duty rates; default today"),
    fmt: Out = typer.Option(Out.table, "--format", help="table, json or html"),
    out: Path | None = typer.Option(None, "--out", help="write the output to this file"),
) -> None:
    """Duty exposure on 2025 US imports from Canada and Mexico by chapter and country under each scenario."""
    from usmca.scenarios.macro import macro as run_macro
    from usmca.scenarios.model import get_scenario
    from usmca.scenarios.report import macro_html, macro_text

    on = parse_date(date, "--date") or dt.date.today()
    scs = [get_scenario(s) for s in scenario]
    m = run_macro(scs, on=on)
    if fmt == Out.json:
        import json

        _emit(json.dumps(m.to_dict(), indent=2, default=str, ensure_ascii=False), out)
    elif fmt == Out.html:
        _emit(macro_html(m, scs), out)
    else:
        _emit(macro_text(m), out)
