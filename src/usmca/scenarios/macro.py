"""Macro view: US imports from Canada and Mexico in 2025 (USITC DataWeb via the Budget Lab tracker, synced
``trade-flows/usmca_product_shares_monthly/*_2025_*.csv.gz``: customs value and the value entered under SPI
S/S+, by HTS10 and country), priced by the duty engine under the baseline and under each scenario.

Per HTS10 and country: claimed = the USMCA-claimed value, unclaimed = the rest. A scenario moves the share
``macro.claimed_share_lost`` (by chapter, stated in the scenario; never inferred) of the claimed value to the
unclaimed side, and its measure overlays change the rates. Duty = claimed x rate with claim + unclaimed x rate
without, on the date asked. Lines whose duty the engine cannot state are counted as "value with unknown duty",
never as zero duty.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from usmca.errors import DataError
from usmca.scenarios.model import Scenario
from usmca.scenarios.overlay import overlay_measures

COUNTRIES = {"1220": "CA", "2010": "MX"}
TRADE_DIR = "trade-flows/usmca_product_shares_monthly"
YEAR = 2025
SOURCE = (
    "USITC DataWeb imports for consumption, customs value, SPI S/S+ = USMCA claimed; monthly 2025 files of "
    "the "
    "Budget Lab at Yale tariff-rate-tracker (commit 9919812), summed over the 12 months"
)


@dataclass(frozen=True)
class Macro:
    date: dt.date
    by_chapter: pl.DataFrame  # scenario, chapter, country, total_value, claimed_value, lost_value, duty, ...
    totals: pl.DataFrame  # scenario, country, ...
    assumptions: tuple[str, ...]
    source: str
    unknown: pl.DataFrame  # baseline: why duty is unknown, with the value concerned

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "source": self.source,
            "assumptions": list(self.assumptions),
            "totals": self.totals.to_dicts(),
            "unknown_duty": self.unknown.to_dicts(),
            "by_chapter": self.by_chapter.to_dicts(),
        }


def trade_2025(sources: Path | None = None) -> pl.DataFrame:
    """hts10, country (CA/MX), total_value, claimed_value for calendar 2025 (rows with imports only)."""
    if sources is None:
        from usmca.config import sources_dir

        sources = sources_dir()
    folder = Path(sources) / TRADE_DIR
    files = sorted(folder.glob(f"usmca_product_shares_{YEAR}_*.csv.gz"))
    if len(files) != 12:
        raise DataError(f"{folder}: expected the 12 monthly {YEAR} files, found {len(files)}; run `usmca data sync`")
    frames = [
        pl.read_csv(
            f,
            schema_overrides={
                "hts10": pl.String,
                "cty_code": pl.String,
                "total_value": pl.Float64,
                "usmca_value": pl.Float64,
                "usmca_share": pl.Float64,
            },
        )
        for f in files
    ]
    df = pl.concat(frames).filter(pl.col("cty_code").is_in(list(COUNTRIES)))
    out = (
        df.group_by("hts10", "cty_code")
        .agg(pl.col("total_value").sum(), pl.col("usmca_value").sum())
        .filter(pl.col("total_value") > 0)
        .with_columns(pl.col("cty_code").replace_strict(COUNTRIES).alias("country"))
        .select(
            pl.col("hts10").str.zfill(10).alias("hts"),
            "country",
            "total_value",
            pl.col("usmca_value").alias("claimed_value"),
        )
        .sort("hts", "country")
    )
    return out


def rates(trade: pl.DataFrame, measures: Any, on: dt.date, conn: sqlite3.Connection) -> pl.DataFrame:
    from usmca.scenarios.compare import duty_rates

    keys = (
        trade.select("hts", pl.col("country").alias("country_of_origin"))
        .unique()
        .with_columns(pl.lit(on).alias("date"))
        .sort("hts", "country_of_origin")
    )
    return duty_rates(keys, measures, conn).drop("date").rename({"country_of_origin": "country"})


def _price(trade: pl.DataFrame, rt: pl.DataFrame, name: str, sc: Scenario | None) -> pl.DataFrame:
    t = trade.join(rt, on=["hts", "country"], how="left").with_columns(pl.col("hts").str.slice(0, 2).alias("chapter"))
    if sc is not None and (sc.macro.claimed_share_lost or sc.macro.claimed_share_lost_by_chapter):
        lost_tbl = pl.DataFrame(
            {
                "chapter": [f"{i:02d}" for i in range(1, 100)],
                "_lost": [sc.macro.lost(f"{i:02d}") for i in range(1, 100)],
            },
        )
        t = t.join(lost_tbl, on="chapter", how="left").with_columns(
            pl.when(pl.col("country").is_in(list(sc.macro.countries)))
            .then(pl.col("_lost").fill_null(0.0))
            .otherwise(0.0)
            .alias("_lost")
        )
    else:
        t = t.with_columns(pl.lit(0.0).alias("_lost"))
    t = t.with_columns((pl.col("claimed_value") * pl.col("_lost")).alias("lost_value"))
    claimed = pl.col("claimed_value") - pl.col("lost_value")
    unclaimed = pl.col("total_value") - claimed
    known = pl.col("rate_claim").is_not_null() & pl.col("rate_no_claim").is_not_null()
    t = t.with_columns(
        pl.when(known).then(claimed * pl.col("rate_claim") + unclaimed * pl.col("rate_no_claim")).alias("duty"),
        pl.when(known)
        .then(pl.col("claimed_value") * (pl.col("rate_no_claim") - pl.col("rate_claim")))
        .alias("duty_at_stake"),
        pl.when(known).then(0.0).otherwise(pl.col("total_value")).alias("unknown_duty_value"),
    )
    return (
        t.group_by("chapter", "country")
        .agg(
            pl.col("total_value").sum(),
            pl.col("claimed_value").sum(),
            pl.col("lost_value").sum(),
            pl.col("duty").sum(),
            pl.col("duty_at_stake").sum(),
            pl.col("unknown_duty_value").sum(),
            pl.len().alias("lines"),
        )
        .with_columns(pl.lit(name).alias("scenario"))
        .select(
            "scenario",
            "chapter",
            "country",
            "lines",
            "total_value",
            "claimed_value",
            "lost_value",
            "duty",
            "duty_at_stake",
            "unknown_duty_value",
        )
        .sort("chapter", "country")
    )


def macro(
    scenarios: list[Scenario],
    *,
    on: dt.date,
    conn: sqlite3.Connection | None = None,
    sources: Path | None = None,
    measures: Any = None,
    trade: pl.DataFrame | None = None,
) -> Macro:
    """Duty exposure by chapter and country under the baseline and each scenario."""
    from usmca.measures.records import load_measures

    if conn is None:
        from usmca.store import store

        conn = store()
    base_ms = measures if measures is not None else load_measures()
    tr = trade if trade is not None else trade_2025(sources)
    cache: dict[int, pl.DataFrame] = {}

    def rt_for(ms: Any) -> pl.DataFrame:
        if id(ms) not in cache:
            cache[id(ms)] = rates(tr, ms, on, conn)
        return cache[id(ms)]

    parts = [_price(tr, rt_for(base_ms), "baseline", None)]
    assumptions = [
        f"Trade: {SOURCE}.",
        f"Rates: the duty engine on {on.isoformat()} per HTS10 and country, with and without the USMCA "
        "claim, at "
        "10,000 and 20,000 of value; lines with specific/compound rates or unresolved duty are reported as "
        "value "
        "with unknown duty (not zero).",
        "Baseline: the 2025 claimed share is kept as it was; the scenario moves the stated share of "
        "claimed value "
        "to unclaimed (duty without the claim).",
        "Duty at stake = claimed value x (rate without claim - rate with claim).",
    ]
    for sc in scenarios:
        ms = overlay_measures(base_ms, sc)
        parts.append(_price(tr, rt_for(ms), sc.name, sc))
        lost = ", ".join(f"ch {k}: {v:.0%}" for k, v in sorted(sc.macro.claimed_share_lost_by_chapter.items()))
        assumptions.append(
            f"{sc.name}: claimed share lost ({'/'.join(sc.macro.countries)}) "
            f"{sc.macro.claimed_share_lost:.0%} by default"
            + (f"; {lost}" if lost else "")
            + (f" ({sc.macro.rationale})" if sc.macro.rationale else "")
            + "; "
            + "; ".join(sc.assumptions)
        )
    by_ch = pl.concat(parts)
    totals = (
        by_ch.group_by("scenario", "country")
        .agg(pl.exclude("chapter", "scenario", "country").sum())
        .sort("scenario", "country")
    )
    base_tot = totals.filter(pl.col("scenario") == "baseline").select("country", pl.col("duty").alias("_base_duty"))
    totals = (
        totals.join(base_tot, on="country", how="left")
        .with_columns((pl.col("duty") - pl.col("_base_duty")).alias("duty_change"))
        .drop("_base_duty")
    )
    order = {"baseline": 0, **{s.name: i + 1 for i, s in enumerate(scenarios)}}
    totals = totals.with_columns(pl.col("scenario").replace_strict(order).alias("_o")).sort("_o", "country").drop("_o")
    unknown = (
        tr.join(rt_for(base_ms), on=["hts", "country"], how="left")
        .filter(pl.col("rate_claim").is_null() | pl.col("rate_no_claim").is_null())
        .with_columns(pl.col("duty_note").fill_null("duty unknown").str.slice(0, 120))
        .group_by("duty_note")
        .agg(pl.len().alias("lines"), pl.col("total_value").sum())
        .sort("total_value", descending=True)
    )
    return Macro(on, by_ch, totals, tuple(assumptions), SOURCE, unknown)
