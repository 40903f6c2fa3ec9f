"""Columnar batch path of the duty engine: millions of lines as a Polars table.

Lines are grouped by plan key ``(hts, date, country, claim)``; each plan is built once by the same engine as
:func:`usmca.measures.stack.duty_line` (:meth:`Engine.plan_for`). For plans whose arithmetic is linear in the
line's values (ordinary rate Free or plain ad valorem, no all-in floor, no fact or coverage gap) every amount
is computed on integer cents with the same half-up rounding per component as the single-line path:
``amount = floor(rate x base_cents + 1/2)`` with the rate as an exact fraction. Every other line (specific or
compound ordinary rates, floors, unknown codes, declared facts) goes through :func:`apply_plan` one by one, so
results never depend on the path (tests compare both on every plan kind).

Input columns: ``id`` (str), ``hts`` (digits or dotted), ``country_of_origin`` (alpha-2), ``entry_date``
(date), ``entered_value`` (decimal, float or str: exact cents required), ``usmca_claim`` (bool), and optional
``steel``, ``aluminum``, ``copper``, ``us_content_value`` (null = not declared).
Output: ``id, status, total_duty_cents, effective_rate_bp`` (hundredths of a percent), ``needs``, ``plan``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Any

import polars as pl

from usmca.errors import InputError, NotFoundError
from usmca.measures.entry import EntryLine, MetalContent
from usmca.measures.stack import Plan, apply_plan, engine
from usmca.nomenclature.codes import normalize_code

METALS = ("steel", "aluminum", "copper")


def _cents(col: str, df: pl.DataFrame) -> pl.Series:
    """Exact cents of a money column, or a loud error naming the column when a value has sub-cent digits."""
    dtype = df.schema[col]
    if isinstance(dtype, pl.Decimal) or dtype == pl.Utf8:
        out: list[int | None] = []
        for v in df[col].to_list():
            if v is None:
                out.append(None)
                continue
            c = Decimal(str(v)) * 100
            if c != c.to_integral_value() or c < 0:
                raise InputError(col, v, "money values are >= 0 with at most two decimals in the batch path")
            out.append(int(c))
        return pl.Series(col, out, dtype=pl.Int64)
    if dtype in (pl.Float64, pl.Float32):
        x = df[col] * 100
        cents = x.round(0)
        bad = (x - cents).abs() > 1e-6
        if bad.any() or (cents < 0).any():
            v = df[col].filter(bad | (cents < 0))[0]
            raise InputError(col, v, "money values are >= 0 with at most two decimals in the batch path")
        return cents.cast(pl.Int64)
    if dtype.is_integer():
        return df[col].cast(pl.Int64) * 100
    if dtype == pl.Null:
        return pl.Series(col, [None] * df.height, dtype=pl.Int64)
    raise InputError(col, str(dtype), "a money column must be decimal, float, integer or text")


def _frac(rate: Decimal) -> tuple[int, int]:
    n, d = rate.as_integer_ratio()
    return n, d


def _round(expr: pl.Expr, num: int, den: int) -> pl.Expr:
    # floor(num/den * x + 1/2) for x >= 0, on integers only.
    return (expr * (2 * num) + den) // (2 * den)


def _linear(plan: Plan) -> bool:
    return plan.ordinary.fraction is not None and not plan.needs and not any(s.floor for s in plan.steps)


def _plan_exprs(plan: Plan) -> tuple[pl.Expr, pl.Expr]:
    """(total cents, needs text) for the rows of one linear plan."""
    value = pl.col("_v")
    n, d = _frac(plan.ordinary.fraction or Decimal(0))
    amounts = [_round(value, n, d)]
    needs: list[pl.Expr] = []
    for s in plan.steps:
        n, d = _frac(s.rate)
        if s.base_kind == "metal_content":
            base = pl.col(f"_{s.metal}")
            needs.append(pl.when(base.is_null()).then(pl.lit(f"metal_content.{s.metal}")).otherwise(None))
        elif s.base_kind == "non_us_content":
            base = pl.when(pl.col("_us").is_null()).then(value).otherwise(value - pl.col("_us"))
        elif s.base_kind == "remainder":
            taken = pl.lit(0, dtype=pl.Int64)
            for metal, _h in s.remainder_metals:
                c = pl.col(f"_{metal}")
                taken = taken + c
                needs.append(pl.when(c.is_null()).then(pl.lit(f"metal_content.{metal}")).otherwise(None))
            base = pl.max_horizontal(pl.lit(0, dtype=pl.Int64), value - taken)
        else:
            base = value
        amounts.append(_round(base, n, d))
    total = pl.sum_horizontal(amounts) if len(amounts) > 1 else amounts[0]
    # sum_horizontal skips nulls: a null component makes the total unknown, never smaller.
    any_null = pl.any_horizontal([a.is_null() for a in amounts])
    total = pl.when(any_null).then(None).otherwise(total)
    need = pl.concat_str(needs, separator="; ", ignore_nulls=True) if needs else pl.lit("")
    return total, need


def duty_columns(df: pl.DataFrame, *, conn: sqlite3.Connection | None = None) -> pl.DataFrame:
    """Duty for every row of ``df`` (see the module docstring for the columns)."""
    e = engine(conn)
    for c in ("id", "hts", "country_of_origin", "entry_date", "entered_value"):
        if c not in df.columns:
            raise InputError(c, None, "required column of the duty batch input")
    work = df.with_row_index("_row").with_columns(
        pl.col("hts").cast(pl.Utf8).str.replace_all(r"[.\s-]", "").alias("_hts"),
        pl.col("country_of_origin").cast(pl.Utf8).str.to_uppercase().alias("_ctry"),
        (pl.col("usmca_claim") if "usmca_claim" in df.columns else pl.lit(False))
        .fill_null(False)
        .alias("_claim"),
    )
    money = {"_v": "entered_value", "_us": "us_content_value", **{f"_{m}": m for m in METALS}}
    for alias, col in money.items():
        if col in work.columns:
            work = work.with_columns(_cents(col, work).alias(alias))
        else:
            work = work.with_columns(pl.lit(None, dtype=pl.Int64).alias(alias))
    keys = work.select("_hts", "entry_date", "_ctry", "_claim").unique(maintain_order=True)
    plans: dict[tuple[str, dt.date, str, bool], Plan | str] = {}
    for h, d, c, cl in keys.iter_rows():
        try:
            normalize_code(h, "hts", (6, 8, 10))
            plans[(h, d, c, cl)] = e.plan_for(h, d, c, cl, None)
        except (NotFoundError, InputError) as exc:
            plans[(h, d, c, cl)] = str(exc)
    key_ids = {k: i for i, k in enumerate(plans)}
    key_frame = pl.DataFrame(
        {
            "_hts": [k[0] for k in plans],
            "entry_date": [k[1] for k in plans],
            "_ctry": [k[2] for k in plans],
            "_claim": [k[3] for k in plans],
            "plan": list(key_ids.values()),
        },
        schema={
            "_hts": pl.Utf8,
            "entry_date": work.schema["entry_date"],
            "_ctry": pl.Utf8,
            "_claim": pl.Boolean,
            "plan": pl.Int64,
        },
    )
    work = work.join(key_frame, on=["_hts", "entry_date", "_ctry", "_claim"], how="left")
    parts: list[pl.DataFrame] = []
    slow_rows: list[pl.DataFrame] = []
    for k, pid in key_ids.items():
        p = plans[k]
        rows = work.filter(pl.col("plan") == pid)
        if isinstance(p, str):
            parts.append(
                rows.select(
                    "_row",
                    "id",
                    pl.lit("unresolved").alias("status"),
                    pl.lit(None, dtype=pl.Int64).alias("total_duty_cents"),
                    pl.lit(f"hts: {p}").alias("needs"),
                    "plan",
                    "_v",
                )
            )
        elif _linear(p):
            total, need = _plan_exprs(p)
            out = rows.with_columns(total.alias("total_duty_cents"), need.alias("needs"))
            out = out.with_columns(
                pl.when(pl.col("total_duty_cents").is_null())
                .then(pl.lit("unresolved"))
                .otherwise(pl.lit("complete"))
                .alias("status")
            )
            parts.append(out.select("_row", "id", "status", "total_duty_cents", "needs", "plan", "_v"))
        else:
            slow_rows.append(rows)
    for rows in slow_rows:
        parts.append(_slow(rows, plans))
    res = pl.concat(parts, how="vertical_relaxed").sort("_row")
    res = res.with_columns(
        pl.when(pl.col("total_duty_cents").is_not_null() & (pl.col("_v") > 0))
        .then((pl.col("total_duty_cents") * 20000 + pl.col("_v")) // (2 * pl.col("_v")))
        .otherwise(None)
        .alias("effective_rate_bp")
    )
    return res.select("id", "status", "total_duty_cents", "effective_rate_bp", "needs", "plan")


def _slow(rows: pl.DataFrame, plans: dict[Any, Any]) -> pl.DataFrame:
    """Rows whose plan is not linear: the object path, one line at a time."""
    out: dict[str, list[Any]] = {
        "_row": [],
        "id": [],
        "status": [],
        "total_duty_cents": [],
        "needs": [],
        "plan": [],
        "_v": [],
    }
    qty_col = "quantity" in rows.columns
    for r in rows.iter_rows(named=True):
        plan = plans[(r["_hts"], r["entry_date"], r["_ctry"], r["_claim"])]
        mc = MetalContent.model_validate({m: _dec(r[f"_{m}"]) for m in METALS})
        line = EntryLine.model_validate(
            {
                "id": str(r["id"]),
                "hts": r["_hts"],
                "country_of_origin": r["_ctry"],
                "entered_value": _dec(r["_v"]),
                "usmca_claim": r["_claim"],
                "us_content_value": _dec(r["_us"]),
                "quantity": r["quantity"] if qty_col and r["quantity"] else (),
            }
        ).model_copy(update={"metal_content": mc})
        ld = apply_plan(plan, line, f"rows[{r['_row']}]")
        out["_row"].append(r["_row"])
        out["id"].append(r["id"])
        out["status"].append(ld.status)
        out["total_duty_cents"].append(None if ld.total_duty is None else int(ld.total_duty * 100))
        out["needs"].append("; ".join(ld.needs))
        out["plan"].append(r["plan"])
        out["_v"].append(r["_v"])
    return pl.DataFrame(
        out,
        schema={
            "_row": pl.UInt32,
            "id": rows.schema["id"],
            "status": pl.Utf8,
            "total_duty_cents": pl.Int64,
            "needs": pl.Utf8,
            "plan": pl.Int64,
            "_v": pl.Int64,
        },
    )


def _dec(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100
