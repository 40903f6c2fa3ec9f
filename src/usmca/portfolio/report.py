"""Portfolio report: tables and charts from a results file, as XLSX (openpyxl, with native charts) or as one
self-contained HTML page (inline SVG charts, no scripts, no CDN)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import polars as pl

from usmca.errors import InputError
from usmca.portfolio.read import BOM_COLUMNS, BOM_REQUIRED, read_table
from usmca.portfolio.run import summaries

STATUS_COLORS = {"originating": "#2e7d32", "non_originating": "#c62828", "unresolved": "#f9a825"}


def load_results(path: Path) -> pl.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError("RESULTS", str(path), "file not found")
    if path.suffix.lower() == ".csv":
        df = pl.read_csv(path, infer_schema_length=10000, schema_overrides={"hts": pl.String, "sku": pl.String})
        return df.with_columns(
            pl.col("blockers").fill_null("").str.split("; ").list.filter(pl.element() != ""),
            pl.col("needs").fill_null("").str.split("; ").list.filter(pl.element() != ""),
        )
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    raise InputError("RESULTS", str(path), "results are .parquet or .csv files")


def build_tables(results: pl.DataFrame, bom: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    st = (
        results.group_by("status")
        .agg(
            pl.len().alias("skus"),
            pl.col("annual_value").sum().alias("annual_value"),
            pl.col("duty_at_stake").sum().alias("duty_at_stake"),
        )
        .sort("status")
    )
    crit = results.filter(pl.col("status") == "originating").group_by("criterion").len().sort("criterion")
    eng = results.group_by("engine", "fallback_reason").len().sort("len", descending=True)
    margins = (
        results.filter(pl.col("rvc_margin").is_not_null())
        .with_columns((pl.col("rvc_margin").clip(-50, 50) // 5 * 5).alias("margin_bucket"))
        .group_by("margin_bucket")
        .len()
        .sort("margin_bucket")
    )
    at_risk = (
        results.filter(pl.col("status") != "originating")
        .sort("duty_at_stake", descending=True, nulls_last=True)
        .head(50)
    )
    near = (
        results.filter((pl.col("status") == "originating") & pl.col("rvc_margin").is_not_null())
        .sort("rvc_margin")
        .head(50)
    )
    tables = {
        "status": st,
        "criterion": crit,
        "engine": eng,
        "rvc_margin": margins,
        "at_risk": at_risk.with_columns(pl.col("blockers").list.join("; "), pl.col("needs").list.join("; ")),
        "near_threshold": near.with_columns(pl.col("blockers").list.join("; "), pl.col("needs").list.join("; ")),
    }
    for k, v in summaries(results, bom).items():
        tables[f"by_{k}"] = v.head(200)
    return tables


def write_report(results_path: Path, out: Path, bom: Path | None = None) -> Path:
    res = load_results(results_path)
    bom_df = read_table(bom, BOM_COLUMNS, BOM_REQUIRED) if bom else None
    tables = build_tables(res, bom_df)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        _xlsx(tables, out)
    elif out.suffix.lower() in (".html", ".htm"):
        out.write_text(_html(tables, res, str(results_path)), encoding="utf-8")
    else:
        raise InputError("--out", str(out), "the report is written as .xlsx or .html")
    return out


# --------------------------------------------------------------------------------------------------- xlsx


def _xlsx(tables: dict[str, pl.DataFrame], out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, PieChart, Reference

    wb = Workbook()
    first = True
    for name, df in tables.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name[:31]
        ws.append(df.columns)
        for row in df.iter_rows():
            ws.append([_cell(v) for v in row])
        n = df.height
        if n == 0:
            continue
        if name == "status":
            pie = PieChart()
            pie.title = "SKUs by status"
            pie.add_data(Reference(ws, min_col=2, min_row=1, max_row=n + 1), titles_from_data=True)
            pie.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
            ws.add_chart(pie, "F2")
        elif name in ("rvc_margin", "by_chapter", "by_country"):
            bar = BarChart()
            bar.title = {
                "rvc_margin": "SKUs by RVC margin (points)",
                "by_chapter": "SKUs by chapter",
                "by_country": "SKUs by country of production",
            }[name]
            col = 2
            bar.add_data(Reference(ws, min_col=col, min_row=1, max_row=min(n, 30) + 1), titles_from_data=True)
            bar.set_categories(Reference(ws, min_col=1, min_row=2, max_row=min(n, 30) + 1))
            ws.add_chart(bar, "J2")
    wb.save(out)


def _cell(v: Any) -> Any:
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    return v


# --------------------------------------------------------------------------------------------------- html


def _svg_bars(items: list[tuple[str, float]], title: str, color: str = "#1565c0", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    items = items[:25]
    if not items:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    top = max(abs(v) for _k, v in items) or 1.0
    row_h, label_w = 20, 160
    h = row_h * len(items) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
        f'aria-label="{html.escape(title)}"><text x="0" y="14" font-size="13" font-weight="bold">'
        f"{html.escape(title)}</text>"
    ]
    for i, (k, v) in enumerate(items):
        y = 24 + i * row_h
        w = int((width - label_w - 80) * abs(v) / top)
        fill = STATUS_COLORS.get(k, color if v >= 0 else "#c62828")
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="11">{html.escape(str(k))[:26]}</text>'
            f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{row_h - 4}" fill="{fill}"/>'
            f'<text x="{label_w + w + 4}" y="{y + 13}" font-size="11">{v:,.0f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(df: pl.DataFrame, limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    rows = []
    for r in df.head(limit).iter_rows():
        cells = "".join(f"<td>{html.escape('' if v is None else _fmt(v))}</td>" for v in r)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    return str(v)


def _html(tables: dict[str, pl.DataFrame], res: pl.DataFrame, source: str) -> str:
    st = tables["status"]
    charts = [
        _svg_bars([(r["status"], float(r["skus"])) for r in st.iter_rows(named=True)], "SKUs by status"),
        _svg_bars(
            [(r["status"], float(r["duty_at_stake"] or 0)) for r in st.iter_rows(named=True)],
            "Duty at stake by status (USD per year)",
        ),
        _svg_bars(
            [(f"{r['margin_bucket']:+.0f}", float(r["len"])) for r in tables["rvc_margin"].iter_rows(named=True)],
            "SKUs by RVC margin over the threshold (points, 5-point buckets)",
        ),
        _svg_bars(
            [
                (str(r["chapter"]), float(r["duty_at_stake_failing"] or 0))
                for r in tables["by_chapter"]
                .sort("duty_at_stake_failing", descending=True, nulls_last=True)
                .iter_rows(named=True)
            ],
            "Duty at stake of non-qualifying SKUs by chapter",
        ),
    ]
    sections = []
    titles = {
        "status": "Status",
        "criterion": "Originating by criterion",
        "engine": "Engine used",
        "at_risk": "Not qualifying: largest duty at stake",
        "near_threshold": "Qualifying closest to the RVC threshold",
        "by_chapter": "By chapter",
        "by_country": "By country of production",
        "by_supplier": "By supplier",
        "rvc_margin": "RVC margin distribution",
    }
    for k, df in tables.items():
        sections.append(f"<h2>{html.escape(titles.get(k, k))}</h2>{_table(df)}")
    css = (
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f0f0f0}"
        ".charts svg{display:block;margin:1em 0}"
    )
    n = res.height
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>USMCA portfolio report</title>"
        f"<style>{css}</style></head><body><h1>USMCA portfolio report</h1>"
        f"<p>{n:,} SKUs from {html.escape(source)}. Statuses follow the single-good engine's meaning "
        f"(interchange section 2); duty at stake is the annual duty without the USMCA claim minus with it, "
        f"empty where unknown (never zero).</p><div class='charts'>{''.join(charts)}</div>"
        f"{''.join(sections)}</body></html>"
    )
