"""`usmca portfolio synth | run | report` end to end on a small synthetic portfolio (real codes and rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

from usmca.cli import app


def test_synth_run_report(conn: Any, tmp_path: Path) -> None:
    r = CliRunner()
    out = r.invoke(
        app,
        [
            "portfolio",
            "synth",
            "--skus",
            "150",
            "--lines",
            "6",
            "--multi-level",
            "0.1",
            "--out",
            str(tmp_path / "pf"),
        ],
    )
    assert out.exit_code == 0, out.output
    res = tmp_path / "results.parquet"
    out = r.invoke(
        app,
        [
            "portfolio",
            "run",
            str(tmp_path / "pf/products.parquet"),
            str(tmp_path / "pf/bom.parquet"),
            "--declarations",
            str(tmp_path / "pf/declarations.parquet"),
            "--date",
            "2026-03-01",
            "--out",
            str(res),
        ],
    )
    assert out.exit_code == 0, out.output
    df = pl.read_parquet(res)
    assert df.columns[:9] == [
        "sku",
        "status",
        "criterion",
        "rule_id",
        "rvc_transaction_value",
        "rvc_net_cost",
        "blockers",
        "needs",
        "duty_at_stake",
    ]
    assert set(df["status"].unique()) <= {"originating", "non_originating", "unresolved"}
    assert set(df["engine"].unique()) >= {"kernel", "single_good"}  # multi-level bills go to the engine
    # duty at stake is a figure or empty with the reason, never a silent zero for an unknown
    unknown = df.filter(pl.col("duty_at_stake").is_null())
    assert unknown["exposure_note"].null_count() == 0
    assert (tmp_path / "results.errors.csv").exists() and (tmp_path / "results.skipped.csv").exists()
    for name in ("report.html", "report.xlsx"):
        out = r.invoke(
            app,
            [
                "portfolio",
                "report",
                str(res),
                "--out",
                str(tmp_path / name),
                "--bom",
                str(tmp_path / "pf/bom.parquet"),
            ],
        )
        assert out.exit_code == 0, out.output
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page  # charts inline, nothing fetched
    assert "<script" not in page and "<link" not in page and "src=" not in page
