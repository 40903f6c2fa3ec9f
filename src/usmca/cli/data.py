"""`usmca data sync|build|status`."""

from __future__ import annotations

from pathlib import Path

import typer

from usmca.cli.common import Format, print_json

app = typer.Typer(no_args_is_help=True)


@app.command("sync")
def sync(
    source: Path | None = typer.Option(None, "--source", help="Mirror directory (default: $USMCA_DATA_SOURCE)."),
) -> None:
    """Copy the reference datasets from a mirror into the program's source folder (atomically)."""
    from rich.progress import Progress

    from usmca.config import default_source, sources_dir
    from usmca.data.sync import sync_from_directory
    from usmca.errors import DataError

    src = source or default_source()
    if src is None:
        raise DataError("no source given; pass --source DIR (a mirror of the reference data) or set USMCA_DATA_SOURCE")
    with Progress(transient=True) as progress:
        task = progress.add_task("syncing", total=None)

        def step(name: str, done: int, total: int) -> None:
            progress.update(task, description=f"syncing {name}", completed=done, total=total)

        manifest = sync_from_directory(src, progress=step)
    datasets = manifest["datasets"]
    assert isinstance(datasets, dict)
    n_files = sum(len(d["files"]) for d in datasets.values())
    print(f"synced {len(datasets)} datasets ({n_files} files) from {src} into {sources_dir()}")


@app.command("build")
def build(
    only: list[str] = typer.Option([], "--only", help="Build only these steps (for development)."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Compile the read-only reference store from the synced sources (built aside, swapped in atomically)."""
    from rich.console import Console

    from usmca.data.build import build_store

    console = Console(stderr=True)
    report = build_store(only=tuple(only), log=lambda m: console.print(f"[dim]{m}[/dim]"))
    if fmt is Format.json:
        print_json(report)
        return
    for name, figures in report["steps"].items():
        figs = ", ".join(f"{k}={v}" for k, v in figures.items())
        print(f"{name:<12} {figs}")
    print(f"store written to {report['store']} in {report['seconds']} s")


@app.command("status")
def status(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Show what is synced and built, with vintages; re-check synced files against their checksums."""
    from usmca.config import sources_dir
    from usmca.data.sync import load_manifest, verify
    from usmca.store import meta, open_store

    manifest = load_manifest()
    problems = verify()
    info = {"sources": str(sources_dir()), "synced_at": manifest.get("synced_at"), "problems": problems}
    try:
        info["store"] = meta(open_store())
    except Exception as exc:
        info["store"] = {"error": str(exc)}
    if fmt is Format.json:
        print_json(info)
        return
    print(f"sources: {info['sources']} (synced {info['synced_at']})")
    print("checksums: " + ("all files intact" if not problems else "; ".join(problems)))
    store_info = info["store"]
    assert isinstance(store_info, dict)
    for k, v in store_info.items():
        if k != "report":
            print(f"store {k}: {v}")
