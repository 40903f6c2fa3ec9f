"""`usmca serve`: the web app and the REST API in one process (uvicorn)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        db: str | None = typer.Option(
            None,
            "--db",
            help="Application database URL (sqlite:///PATH or "
            "postgresql://...); default $USMCA_DB, else $USMCA_HOME/app.sqlite.",
        ),
        workers: int = typer.Option(1, "--workers", help="Worker processes."),
        access_log: bool = typer.Option(
            True,
            "--access-log/--no-access-log",
            help="Log every request line (measured: about a quarter of the duty quote's throughput under load).",
        ),
    ) -> None:
        """Start the web app and the REST API (OpenAPI document at /openapi.json)."""
        import os

        import uvicorn

        from usmca.app.db import Database, normalize_url

        if db:
            os.environ["USMCA_DB"] = normalize_url(db)
        from usmca.app.records import fail_interrupted_jobs

        database = Database()  # migrate once, before the workers start, and fail here on a bad URL
        with database.session() as s:
            n = fail_interrupted_jobs(s)
        if n:
            print(f"{n} portfolio run(s) interrupted by the last stop are marked failed")
        database.dispose()
        uvicorn.run(
            "usmca.app.api:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
            server_header=False,
        )
