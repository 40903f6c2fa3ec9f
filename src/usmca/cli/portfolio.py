"""`usmca portfolio run | report | synth`: whole-portfolio qualification and duty exposure.

Engines are imported inside the commands so `usmca --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from usmca.cli.common import parse_date

app = typer.Typer(no_args_is_help=True)


@app.command("run")
def run(
    products: Path = typer.Argument(..., help="PRODUCTS table (.csv, .xlsx or .parquet)"),
    bom: Path = typer.Argument(..., help="BOM table (.csv, .xlsx or .parquet)"),
    declarations: Path | None = typer.Option(None, "--declarations", help="supplier declarations table"),
    date: str | None = typer.Option(
        None, "--date", help="date of production/export (YYYY-MM-DD); default today"
    ),
    backend: str = typer.Option("embedded", "--backend", help="embedded (Polars) or spark (PySpark)"),
    out: Path = typer.Option(..., "--out", help="results file (.parquet or .csv)"),
    no_exposure: bool = typer.Option(False, "--no-exposure", help="skip the duty-at-stake computation"),
) -> None:
    """Qualify every SKU of a portfolio (interchange section 5) and price the duty at stake."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from usmca.portfolio.run import run_files, write_results

    on = parse_date(date, "--date") or dt.date.today()
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        res = run_files(
            products, bom, declarations, on=on, backend=backend, progress=progress, exposure=not no_exposure
        )
    paths = write_results(res, out)
    s = res.summary()
    console.print(
        f"[bold]{s['skus']}[/bold] SKUs evaluated: "
        + ", ".join(f"{k} {v}" for k, v in s["by_status"].items())
    )
    console.print("engine: " + ", ".join(f"{k} {v}" for k, v in s["engine"].items()))
    for reason, n in s["fallback_reasons"].items():
        console.print(f"  single-good engine for {n}: {reason}")
    if s["skipped"]:
        console.print(f"[yellow]{s['skipped']} SKUs skipped[/yellow] (see {paths['skipped']}):")
        for reason, n in s["skipped_reasons"].items():
            console.print(f"  {n}: {reason}")
    if s["row_errors"]:
        console.print(f"[yellow]{s['row_errors']} row problems[/yellow] reported in {paths['errors']}")
    console.print(f"exposure: {s['exposure']}")
    console.print(f"results: {paths['results']}")


@app.command("report")
def report(
    results: Path = typer.Argument(..., help="results file written by `usmca portfolio run`"),
    out: Path = typer.Option(..., "--out", help="report.xlsx or report.html"),
    bom: Path | None = typer.Option(None, "--bom", help="the BOM table, for the supplier summary"),
) -> None:
    """Tables and charts of a portfolio run: status, exposure, RVC margins, by chapter, country, supplier."""
    from usmca.portfolio.report import write_report

    write_report(results, out, bom=bom)
    typer.echo(f"report: {out}")


@app.command("synth")
def synth(
    skus: int = typer.Option(1000, "--skus", help="number of finished goods"),
    lines: int = typer.Option(20, "--lines", help="mean BOM lines per SKU"),
    seed: int = typer.Option(7, "--seed"),
    multi_level: float = typer.Option(
        0.08, "--multi-level", help="share of SKUs with a self-produced sub-assembly"
    ),
    date: str | None = typer.Option(
        "2026-03-01", "--date", help="date the codes and declarations are valid on"
    ),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv"),
    out: Path = typer.Option(..., "--out", help="output folder"),
) -> None:
    """A synthetic portfolio from real HTS codes and their real rules (seeded), for benchmarks and demos."""
    from usmca.errors import InputError
    from usmca.portfolio.synth import SynthSpec, drawn_codes, synth_portfolio, write_portfolio
    from usmca.store import store

    if fmt not in ("parquet", "csv"):
        raise InputError("--format", fmt, "parquet or csv")
    if skus < 1 or lines < 1:
        raise InputError("--skus/--lines", f"{skus}/{lines}", "must be at least 1")
    on = parse_date(date, "--date") or dt.date(2026, 3, 1)
    goods, codes = drawn_codes(store(), on)
    spec = SynthSpec(skus=skus, lines=lines, seed=seed, multi_level=multi_level, date=on)
    p, b, d = synth_portfolio(spec, goods, codes)
    paths = write_portfolio(out, p, b, d, fmt)
    typer.echo(
        f"{p.height} products, {b.height} BOM lines, {d.height} declarations -> "
        + ", ".join(str(x) for x in paths.values())
    )
