"""`usmca audit verify`, `usmca audit export`: the tamper-evident record of the application database."""

from __future__ import annotations

from pathlib import Path

import typer

from usmca.cli.common import Format, print_json

app = typer.Typer(no_args_is_help=True)

_DB_HELP = "Application database URL (default $USMCA_DB, else $USMCA_HOME/app.sqlite)."


@app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Walk the hash chain and re-hash every determination and certificate; exit 1 on any break."""
    from usmca.app import records
    from usmca.app.db import Database

    database = Database(db)
    with database.session() as s:
        report = records.verify(s)
    if fmt is Format.json:
        print_json(report.to_dict())
    else:
        state = "intact" if report.ok else "TAMPERED"
        print(
            f"audit log {state}: {report.entries} entries, {report.determinations} determinations, "
            f"{report.certificates} certificates; head {report.head}"
        )
        for p in report.problems:
            print(f"  - {p}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export(
    product: str = typer.Argument(..., help="The good's key (its SKU / good.id)."),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here (default: standard output)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Everything kept about one good, as one JSON document for an auditor."""
    import json

    from usmca.app import records
    from usmca.app.db import Database

    with Database(db).session() as s:
        doc = records.export_record(s, product)
    if out is None:
        print_json(doc)
    else:
        out.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        print(f"wrote {out}")
