"""`usmca qualify FILE`: the origin determination of one good from its bill of materials."""

from __future__ import annotations

from pathlib import Path

import typer

from usmca.cli.common import Format, print_json


def register(app: typer.Typer) -> None:
    @app.command("qualify")
    def qualify(
        file: Path = typer.Argument(
            ..., help="Origin case (YAML or JSON): the good, its bill of materials, facts."
        ),
        fmt: Format = typer.Option(
            Format.table,
            "--format",
            help="table: a plain-language memo; json: the determination (interchange format section 2).",
        ),
    ) -> None:
        """Is this good USMCA-originating? The legal tests in order, each with its citation."""
        from usmca.origin.case import load_case
        from usmca.origin.determine import determine

        d = determine(load_case(file))
        if fmt == Format.json:
            print_json(d.to_json_dict())
        else:
            from usmca.origin.explain import memo

            print(memo(d))
