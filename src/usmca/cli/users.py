"""`usmca users add|key|role`: accounts of the web app and API keys (the first admin starts here)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)

_DB_HELP = "Application database URL (default $USMCA_DB, else $USMCA_HOME/app.sqlite)."


@app.command("add")
def add(
    username: str = typer.Argument(...),
    role: str = typer.Option("viewer", "--role", help="viewer | analyst | admin"),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Create a user; the password is asked for (never taken from the command line, which is logged)."""
    from usmca.app import records
    from usmca.app.db import Database

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with Database(db).session() as s:
        u = records.create_user(s, username, password, role, actor="cli")
        print(f"user {u.username} ({u.role}) created")


@app.command("key")
def key(
    username: str = typer.Argument(...),
    name: str = typer.Option("api", "--name", help="A label for the key."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Make an API key for a user; it is printed once and stored only as a hash."""
    from usmca.app import records
    from usmca.app.db import Database

    with Database(db).session() as s:
        print(records.create_api_key(s, username, name, actor="cli"))


@app.command("role")
def role(
    username: str = typer.Argument(...),
    new_role: str = typer.Argument(..., help="viewer | analyst | admin"),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Change a user's role (recorded in the audit log)."""
    from usmca.app import records
    from usmca.app.db import Database

    with Database(db).session() as s:
        u = records.set_role(s, username, new_role, actor="cli")
        print(f"user {u.username} is now {u.role}")
