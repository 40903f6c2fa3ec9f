"""Outputs of scenario comparisons and the macro view: plain-text tables, JSON (``to_dict``) and a standalone
HTML report with inline SVG charts (no scripts, no CDN)."""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from usmca.scenarios.compare import Comparison
from usmca.scenarios.macro import Macro
from usmca.scenarios.model import Scenario

PALETTE = ("#455a64", "#1565c0", "#c62828", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00")


def _money(v: Any) -> str:
    if v is None:
        return "unknown"
    v = float(v)
    if abs(v) >= 1e9:
        return f"{v / 1e9:,.2f} bn"
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} m"
    return f"{v:,.2f}"


def _grid(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ text


def comparison_text(cmp: Comparison, flips_limit: int = 20) -> str:
    runs = [cmp.baseline, *cmp.runs]
    rows = []
    for r in runs:
        s = r.summary()
        b = s["by_status"]
        base = cmp.baseline.summary()["duty_owed"] or 0.0
        rows.append(
            [
                r.name,
                str(s["skus"]),
                str(b.get("originating", 0)),
                str(b.get("non_originating", 0)),
                str(b.get("unresolved", 0)),
                str(cmp.flips.filter((pl.col("scenario") == r.name) & pl.col("flipped")).height)
                if r is not cmp.baseline
                else "-",
                _money(s["duty_owed"]),
                "-" if r is cmp.baseline else _money((s["duty_owed"] or 0) - base),
                str(s["duty_owed_unknown_skus"]),
            ]
        )
    out = [f"Scenario comparison on {cmp.date.isoformat()} (duty in USD per year)", ""]
    out.append(
        _grid(
            rows,
            [
                "scenario",
                "skus",
                "originating",
                "non_orig",
                "unresolved",
                "flips",
                "duty owed",
                "change",
                "duty unknown (skus)",
            ],
        )
    )
    for run, sc in zip(cmp.runs, cmp.scenarios, strict=True):
        fl = cmp.flips.filter((pl.col("scenario") == run.name) & pl.col("flipped"))
        out += ["", f"== {sc.name}: {sc.title}"]
        out += [f"   note: {n}" for n in run.notes]
        if fl.height:
            out.append(f"   {fl.height} SKU(s) flip:")
            for f in fl.head(flips_limit).iter_rows(named=True):
                out.append(
                    f"   {f['sku']:<12} {f['hts']:<11} {f['status_before']} -> {f['status_after']}; margin "
                    f"{_num(f['margin_before'])} -> {_num(f['margin_after'])}; duty "
                    f"{_money(f['duty_before'])} -> "
                    f"{_money(f['duty_after'])}; {f['reason'] or ''}"
                )
            if fl.height > flips_limit:
                out.append(f"   ... {fl.height - flips_limit} more (use --format json or html)")
        else:
            out.append("   no SKU changes status")
        rem = cmp.remedies.filter(pl.col("scenario") == run.name)
        for m in rem.head(flips_limit).iter_rows(named=True):
            mark = "verified" if m["verified"] else "NOT restored"
            out.append(f"   remedy {m['sku']} ({mark}, {_money(m['value_resourced'])} re-sourced): {m['arithmetic']}")
    out += ["", "Assumptions:"] + [f" - {a}" for a in cmp.assumptions]
    for sc in cmp.scenarios:
        out += [f" - {sc.name}: {a}" for a in sc.assumptions]
    return "\n".join(out)


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):+.1f}"


def macro_text(m: Macro) -> str:
    rows = [
        [
            r["scenario"],
            r["country"],
            _money(r["total_value"]),
            _money(r["claimed_value"]),
            _money(r["lost_value"]),
            _money(r["duty"]),
            _money(r["duty_change"]),
            _money(r["unknown_duty_value"]),
        ]
        for r in m.totals.iter_rows(named=True)
    ]
    out = [
        f"Macro view: US imports from Canada and Mexico, 2025 values, duty on {m.date.isoformat()} (USD)",
        "",
    ]
    out.append(
        _grid(
            rows,
            [
                "scenario",
                "country",
                "imports",
                "claimed",
                "claim lost",
                "duty",
                "change vs base",
                "value, duty unknown",
            ],
        )
    )
    scen = [s for s in m.totals["scenario"].unique(maintain_order=True).to_list() if s != "baseline"]
    for s in scen:
        d = _chapter_delta(m, s).head(8)
        if d.height:
            out += ["", f"{s}: chapters with the largest duty change"]
            out += [f"   ch {r['chapter']} {r['country']}: {_money(r['duty_change'])}" for r in d.iter_rows(named=True)]
    if m.unknown.height:
        out += ["", "Why duty is unknown for some lines (baseline):"]
        out += [
            f"   {_money(r['total_value'])} in {r['lines']} lines: {r['duty_note']}"
            for r in m.unknown.iter_rows(named=True)
        ]
    out += ["", "Assumptions:"] + [f" - {a}" for a in m.assumptions]
    return "\n".join(out)


def _chapter_delta(m: Macro, scenario: str) -> pl.DataFrame:
    b = m.by_chapter.filter(pl.col("scenario") == "baseline").select("chapter", "country", pl.col("duty").alias("_b"))
    s = m.by_chapter.filter(pl.col("scenario") == scenario).select("chapter", "country", "duty")
    return (
        s.join(b, on=["chapter", "country"], how="left")
        .with_columns((pl.col("duty") - pl.col("_b")).alias("duty_change"))
        .filter(pl.col("duty_change").abs() > 0.5)
        .sort(pl.col("duty_change").abs(), descending=True)
    )


# ------------------------------------------------------------------------------------------------ SVG


def svg_bars(groups: list[str], series: list[tuple[str, list[float]]], title: str, width: int = 720) -> str:
    """Grouped horizontal bars: one group per label, one bar per series (baseline first)."""
    if not groups or not series:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    top = max((abs(v) for _, vals in series for v in vals), default=0.0) or 1.0
    bar, gap, label_w = 12, 8, 150
    group_h = bar * len(series) + gap
    h = 40 + group_h * len(groups) + 18 * len(series)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
        f'aria-label="{html.escape(title)}"><text x="0" y="14" font-size="13" font-weight="bold">'
        f"{html.escape(title)}</text>"
    ]
    for gi, g in enumerate(groups):
        y0 = 26 + gi * group_h
        out.append(f'<text x="0" y="{y0 + bar}" font-size="11">{html.escape(g)[:24]}</text>')
        for si, (_name, vals) in enumerate(series):
            v = vals[gi]
            w = int((width - label_w - 90) * abs(v) / top)
            y = y0 + si * bar
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar - 2}" '
                f'fill="{PALETTE[si % len(PALETTE)]}"/><text x="{label_w + w + 4}" y="{y + bar - 3}" '
                f'font-size="10">{html.escape(_money(v))}</text>'
            )
    ly = 30 + group_h * len(groups)
    for si, (name, _) in enumerate(series):
        out.append(
            f'<rect x="0" y="{ly + 18 * si}" width="12" height="12" fill="{PALETTE[si % len(PALETTE)]}"/>'
            f'<text x="18" y="{ly + 18 * si + 11}" font-size="11">{html.escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _table(df: pl.DataFrame, limit: int = 100) -> str:
    if df.height == 0:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for r in df.head(limit).iter_rows():
        cells = []
        for v in r:
            if isinstance(v, list):
                v = ", ".join(str(x) for x in v)
            elif isinstance(v, float):
                v = f"{v:,.2f}"
            cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>{df.height - limit} more rows in the JSON output</p>" if df.height > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#eceff1}h2{border-bottom:2px solid #455a64;padding-bottom:4px}"
    ".note{color:#555;font-size:13px}"
)


def _web_url(url: str | None) -> bool:
    """Only http(s) addresses become links: a scenario file may come from anyone (no javascript: links)."""
    return bool(url) and str(url).lower().startswith(("https://", "http://"))


def _scenario_block(sc: Scenario) -> str:
    from usmca.scenarios.overlay import describe

    src = "".join(
        f"<li>{html.escape(s.title)}"
        + (f' (<a href="{html.escape(str(s.url))}">{html.escape(str(s.url))}</a>)' if _web_url(s.url) else "")
        + (f" ({html.escape(str(s.url))})" if s.url and not _web_url(s.url) else "")
        + (f" &mdash; {html.escape(s.note)}" if s.note else "")
        + "</li>"
        for s in sc.sources
    )
    overlays = "".join(f"<li><code>{html.escape(d)}</code></li>" for d in describe(sc))
    return (
        f"<h3>{html.escape(sc.name)}: {html.escape(sc.title)}</h3><p>{html.escape(sc.description)}</p>"
        f"<p class=note>Overlays:</p><ul>{overlays}</ul>"
        f"<p class=note>Sources:</p><ul>{src}</ul>"
        "<p "
        f"class=note>Assumptions:</p><ul>{''.join(f'<li>{html.escape(a)}</li>' for a in sc.assumptions)}</ul>"
        + (f"<p class=note>Uncertain: {html.escape(sc.uncertain)}</p>" if sc.uncertain else "")
    )


def comparison_html(cmp: Comparison) -> str:
    """A standalone HTML document (``usmca scenarios compare --format html``)."""
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>usmca scenarios {cmp.date}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Joint-review scenarios on the portfolio</h1>{comparison_body(cmp)}</body></html>"
    )


def comparison_body(cmp: Comparison) -> str:
    """The report without the document around it (no styles, no scripts): the web app embeds it as is."""
    runs = [cmp.baseline, *cmp.runs]
    statuses = ["originating", "non_originating", "unresolved"]
    sums = [r.summary() for r in runs]
    status_chart = svg_bars(
        statuses,
        [(s["scenario"], [float(s["by_status"].get(k, 0)) for k in statuses]) for s in sums],
        "SKUs by status, baseline and each scenario",
    )
    duty_chart = svg_bars(
        [s["scenario"] for s in sums],
        [("duty owed (USD/yr)", [float(s["duty_owed"] or 0) for s in sums])],
        "Duty owed per year on the portfolio's entry lines",
    )
    summary = pl.DataFrame(
        [
            {
                "scenario": s["scenario"],
                "skus": s["skus"],
                **{k: s["by_status"].get(k, 0) for k in statuses},
                "duty_owed": s["duty_owed"],
                "duty_unknown_skus": s["duty_owed_unknown_skus"],
                "duty_at_stake": s["duty_at_stake"],
            }
            for s in sums
        ]
    )
    parts = [
        f"<p class=note>Date {cmp.date.isoformat()}; "
        f"rules {html.escape(str(cmp.baseline.vintage.get('rules')))}; measures "
        f"{html.escape(str(cmp.baseline.vintage.get('measures')))}</p>",
        "<h2>Summary</h2>",
        _table(summary),
        status_chart,
        duty_chart,
    ]
    for run, sc in zip(cmp.runs, cmp.scenarios, strict=True):
        fl = cmp.flips.filter(pl.col("scenario") == run.name).drop("scenario")
        rem = cmp.remedies.filter(pl.col("scenario") == run.name).drop("scenario")
        parts += [f"<h2>{html.escape(sc.name)}</h2>", _scenario_block(sc)]
        parts += [f"<p class=note>{html.escape(n)}</p>" for n in run.notes]
        parts += ["<h3>SKUs that flip or change</h3>", _table(fl.sort("flipped", descending=True))]
        parts += ["<h3>Cheapest change that restores qualification</h3>", _table(rem)]
    parts += ["<h2>Assumptions</h2><ul>", *[f"<li>{html.escape(a)}</li>" for a in cmp.assumptions], "</ul>"]
    return "".join(parts)


def macro_html(m: Macro, scenarios: list[Scenario]) -> str:
    """A standalone HTML document (``usmca scenarios macro --format html``)."""
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>usmca scenarios macro {m.date}</title>"
        f"<style>{CSS}</style></head><body><h1>Macro view: US imports from Canada and Mexico</h1>"
        f"{macro_body(m, scenarios)}</body></html>"
    )


def macro_body(m: Macro, scenarios: list[Scenario]) -> str:
    """The macro report without the document around it (no styles, no scripts): the web app embeds it."""
    tot = m.totals
    names = tot["scenario"].unique(maintain_order=True).to_list()
    charts = []
    for c in ("CA", "MX"):
        t = tot.filter(pl.col("country") == c)
        charts.append(
            svg_bars(
                names,
                [("duty (USD/yr)", [float(t.filter(pl.col("scenario") == n)["duty"].sum()) for n in names])],
                f"Duty on 2025 imports from {c}, by scenario",
            )
        )
    for sc in scenarios:
        d = _chapter_delta(m, sc.name).head(15)
        if d.height:
            charts.append(
                svg_bars(
                    [f"ch {r['chapter']} {r['country']}" for r in d.iter_rows(named=True)],
                    [("duty change", d["duty_change"].to_list())],
                    f"{sc.name}: duty change by chapter and country",
                )
            )
    parts = [
        f"<p class=note>{html.escape(m.source)}; duty on {m.date.isoformat()}</p><h2>Totals</h2>",
        _table(tot),
        *charts,
        "<h2>Why duty is unknown for some lines</h2>",
        _table(m.unknown),
        "<h2>By chapter and country</h2>",
        _table(m.by_chapter.sort("scenario", "chapter", "country"), limit=400),
        "<h2>Scenarios</h2>",
        *[_scenario_block(s) for s in scenarios],
        "<h2>Assumptions</h2><ul>",
        *[f"<li>{html.escape(a)}</li>" for a in m.assumptions],
        "</ul>",
    ]
    return "".join(parts)
