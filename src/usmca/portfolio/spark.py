"""The portfolio kernel on Apache Spark (PySpark), for portfolios beyond one machine (docs/adr/0004).

Spark distributes; the legal tests stay in one place. SKUs are hash-partitioned with their bill lines and each
partition runs ``kernel.evaluate`` (the very code of the embedded backend) through ``mapInArrow``, so the two
backends cannot drift apart. Facts that need the reference store (the schedule's parts wording, Schedule 2)
are resolved on the driver once per distinct good code and shipped with the task; the de minimis provisions
are pure code and run on the workers.

Local mode for tests and CI: ``local_session()`` (master local[2], UI off, driver bound to 127.0.0.1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import pyarrow as pa

from usmca.portfolio.kernel import RESULT_SCHEMA, VEHICLE_HEADINGS, KernelResult, RuleTables, evaluate, match_rules

PRODUCT_COLS = (
    "sku",
    "hts",
    "country_of_production",
    "use",
    "transaction_value_u",
    "international_shipment_u",
    "total_cost_u",
    "net_cost_u",
    "date",
)
LINE_COLS = ("component_id", "component_hts", "value_u", "origin", "weight_u")


def local_session(app: str = "usmca-portfolio", cores: int = 2) -> Any:
    """A local Spark session configured for this machine (no UI, loopback only)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


OUT_DDL = (
    "sku string, status string, criterion string, rule_id string, rvc_transaction_value double, "
    "rvc_net_cost double, rvc_margin double, blockers array<string>, needs array<string>, "
    "de_minimis boolean, "
    "fallback_reason string"
)


def _out_schema() -> pa.Schema:
    return pa.schema(
        [
            ("sku", pa.string()),
            ("status", pa.string()),
            ("criterion", pa.string()),
            ("rule_id", pa.string()),
            ("rvc_transaction_value", pa.float64()),
            ("rvc_net_cost", pa.float64()),
            ("rvc_margin", pa.float64()),
            ("blockers", pa.list_(pa.string())),
            ("needs", pa.list_(pa.string())),
            ("de_minimis", pa.bool_()),
            ("fallback_reason", pa.string()),
        ]
    )


def _partition_fn(
    tables: RuleTables, hooks: dict[str, Any]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tbl = pa.Table.from_batches(list(batches))
        if tbl.num_rows == 0:
            return
        df = pl.from_arrow(tbl)
        assert isinstance(df, pl.DataFrame)
        products = df.select(list(PRODUCT_COLS)).unique("sku", maintain_order=True)
        lines = df.filter(pl.col("component_id").is_not_null()).select(pl.col("sku").alias("parent_sku"), *LINE_COLS)
        kr = evaluate(products, lines, tables, **_hooks(hooks))
        yield from _to_arrow(kr).to_batches()

    return run


def _hooks(h: dict[str, Any]) -> dict[str, Any]:
    """The kernel's hooks on a worker: store facts from the shipped dictionaries, de minimis from code."""
    from usmca.portfolio.run import general_hooks

    exclusion, mode = general_hooks() if h["general"] else (None, None)
    parts: dict[str, bool | None] = h["parts"]
    deemed: dict[str, bool] = h["deemed"]
    notes: dict[str, list[str]] = h.get("notes", {})
    part6: dict[tuple[str, Any], list[str] | None] = h.get("part6", {})
    lookup: dict[tuple[Any, ...], str | tuple[str, ...]] = h.get("lookup", {})
    s2: dict[str, list[str] | None] = h.get("s2", {})

    def deemed_fn(g: str) -> bool:
        return deemed.get(g, False)

    deemed_fn.needs = s2.get  # type: ignore[attr-defined]
    vehicles: dict[tuple[str, Any, Any], Any] = h.get("vehicle", {})

    def part6_fn(g: str, d: Any) -> list[str] | None:
        return part6.get((g, d))

    part6_fn.vehicle = lambda g, u, d: vehicles.get((g, u, d))  # type: ignore[attr-defined]
    return {
        "dm_exclusion": exclusion,
        "dm_mode": mode,
        "parts_in_nomenclature": parts.get,
        "deemed_originating": deemed_fn,
        "note_needs": lambda g: notes.get(g, []),
        "part6_open": part6_fn,
        "rule_lookup": (lambda g, d, u, c: lookup.get((g, d, u, c))) if lookup else None,
    }


def _to_arrow(kr: KernelResult) -> pa.Table:
    res = kr.results.with_columns(pl.lit(None, pl.String).alias("fallback_reason"))
    fb = kr.fallback.select(
        "sku",
        pl.lit(None, pl.String).alias("status"),
        *[pl.lit(None, t).alias(c) for c, t in RESULT_SCHEMA.items() if c not in ("sku", "status")],
        pl.col("reason").alias("fallback_reason"),
    )
    out = pl.concat([res, fb.cast(res.schema)], how="vertical")
    return out.to_arrow().cast(_out_schema())


def _lookups(
    products: pl.DataFrame,
    tables: RuleTables,
    rule_lookup: Callable[[str, Any, str | None, str | None], str | tuple[str, ...]],
) -> dict[tuple[Any, ...], str | tuple[str, ...]]:
    m = match_rules(products["hts"], tables).filter(pl.col("ambiguous") | (pl.col("rule_idxs").list.len() != 1))
    keys = products.filter(pl.col("hts").is_in(m["hts"].implode())).select(
        "hts", "date", "use", "country_of_production"
    )
    return {(g, d, u, c): rule_lookup(g, d, u, c) for g, d, u, c in keys.unique().iter_rows()}


def evaluate_spark(
    products: pl.DataFrame,
    lines: pl.DataFrame,
    tables: RuleTables,
    *,
    dm_exclusion: Any = None,
    dm_mode: Any = None,
    parts_in_nomenclature: Callable[[str], bool | None] | None = None,
    deemed_originating: Callable[[str], bool] | None = None,
    note_needs: Callable[[str], list[str]] | None = None,
    part6_open: Callable[[str, Any], list[str] | None] | None = None,
    rule_lookup: Callable[[str, Any, str | None, str | None], str | tuple[str, ...]] | None = None,
    spark: Any = None,
    partitions: int | None = None,
) -> KernelResult:
    """``kernel.evaluate`` distributed over Spark partitions; same inputs, same result."""
    spark = spark or local_session()
    if "date" not in products.columns:
        products = products.with_columns(pl.lit(None, pl.Date).alias("date"))
    codes = products["hts"].unique().to_list()
    hooks = {
        "general": dm_exclusion is not None or dm_mode is not None,
        "parts": {c: parts_in_nomenclature(c) for c in codes} if parts_in_nomenclature else {},
        "deemed": {c: bool(deemed_originating(c)) for c in codes} if deemed_originating else {},
        "s2": {c: s2(c) for c in codes} if (s2 := getattr(deemed_originating, "needs", None)) else {},
        "notes": {c: list(note_needs(c)) for c in codes} if note_needs else {},
        "part6": {(c, d): part6_open(c, d) for c, d in products.select("hts", "date").unique().iter_rows()}
        if part6_open
        else {},
        "vehicle": {
            (c, u, d): vehicle(c, u, d)
            for c, u, d in products.filter(pl.col("hts").str.slice(0, 4).is_in(VEHICLE_HEADINGS))
            .select("hts", "use", "date")
            .unique()
            .iter_rows()
        }
        if (vehicle := getattr(part6_open, "vehicle", None))
        else {},
        # the engine's rule lookup, asked on the driver for the codes the rule tables cannot place
        "lookup": _lookups(products, tables, rule_lookup) if rule_lookup else {},
    }
    wide = products.select(list(PRODUCT_COLS)).join(
        lines.select(pl.col("parent_sku").alias("sku"), *LINE_COLS), on="sku", how="left"
    )
    # Spark reads Arrow; large frames go through Parquet-sized chunks rather than one driver-side object.
    sdf = spark.createDataFrame(wide.to_arrow())
    n = partitions or max(2, int(spark.sparkContext.defaultParallelism) * 2)
    out = sdf.repartition(n, "sku").mapInArrow(_partition_fn(tables, hooks), OUT_DDL)
    got = pl.from_arrow(out.toArrow())
    assert isinstance(got, pl.DataFrame)
    if got.height == 0:
        got = pl.from_arrow(_out_schema().empty_table())
        assert isinstance(got, pl.DataFrame)
    is_fb = pl.col("fallback_reason").is_not_null()
    results = got.filter(~is_fb).drop("fallback_reason").cast(RESULT_SCHEMA)
    fallback = got.filter(is_fb).select("sku", pl.col("fallback_reason").alias("reason"))
    return KernelResult(results=results, fallback=fallback)
