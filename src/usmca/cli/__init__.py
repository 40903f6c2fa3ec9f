"""The `usmca` command: a thin Typer shell over the engines.

Each command group lives in its own module and imports its engine inside the command function, so that
`usmca --help` starts fast. Errors the user can act on (``UsmcaError``) print as one line and exit 2.
"""

from __future__ import annotations

import sys

import typer

from usmca.cli import audit as audit_cli
from usmca.cli import data as data_cli
from usmca.cli import duty as duty_cli
from usmca.cli import hts as hts_cli
from usmca.cli import origin as origin_cli
from usmca.cli import portfolio as portfolio_cli
from usmca.cli import rules as rules_cli
from usmca.cli import scenarios as scenarios_cli
from usmca.cli import serve as serve_cli
from usmca.cli import users as users_cli

app = typer.Typer(
    name="usmca",
    help="USMCA origin, US duty at any date, portfolio exposure and joint-review scenarios, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_cli.app, name="data", help="Sync reference data and build the reference store.")
app.add_typer(hts_cli.app, name="hts", help="The US tariff schedule (HTSUS) at any date.")
app.add_typer(rules_cli.app, name="rules", help="The USMCA product-specific rule corpus.")
app.add_typer(portfolio_cli.app, name="portfolio", help="Whole-portfolio qualification and duty exposure.")
app.add_typer(scenarios_cli.app, name="scenarios", help="Joint-review scenarios as data, compared.")
origin_cli.register(app)
duty_cli.register(app)
serve_cli.register(app)
app.add_typer(audit_cli.app, name="audit", help="Verify and export the tamper-evident record.")
app.add_typer(users_cli.app, name="users", help="Users and API keys of the web app and REST API.")


def main() -> None:
    from usmca.errors import UsmcaError

    try:
        app()
    except UsmcaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
