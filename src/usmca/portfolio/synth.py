"""Synthetic portfolios for benchmarks and demos: real HTS codes with their real rules, seeded.

Finished goods take 10-digit codes that the rule corpus covers; materials take real codes drawn partly from
the good's own chapter (so some fail the tariff shift) and partly from anywhere in the schedule. Bills are
mostly one level, some two or three (self-produced sub-assemblies that are SKUs themselves). Values: the
materials add up to 35-85% of the transaction value and never to more than the good's cost; origin mix about
45% originating, 35% non-originating, 20% left empty (settled by supplier declarations where one exists, else unknown).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl


@dataclass(frozen=True)
class SynthSpec:
    skus: int = 1000
    lines: int = 20  # mean BOM lines per SKU
    seed: int = 7
    multi_level: float = 0.08  # share of SKUs whose bill holds a self-produced sub-assembly
    date: dt.date = dt.date(2026, 3, 1)


def codes_from_store(conn: sqlite3.Connection, on: dt.date) -> list[str]:
    """10-digit codes in force on ``on`` (the schedule step's ``hts_line`` table)."""
    rows = conn.execute(
        "SELECT DISTINCT code FROM hts_line WHERE length(code) = 10 AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?) AND code NOT LIKE '98%' AND code NOT LIKE '99%'",
        (on.isoformat(), on.isoformat()),
    ).fetchall()
    return sorted(r[0] for r in rows)


def good_codes_with_rules(codes: list[str], tables: object) -> list[str]:
    """Codes covered by exactly one rule the kernel can evaluate, plus a few others (several rules, none, an
    ambiguous mapping, rules the kernel leaves to the engine): the engine's rule lookup and the fallback."""
    from usmca.portfolio.kernel import RuleTables, match_rules

    assert isinstance(tables, RuleTables)
    m = match_rules(pl.Series("hts", codes, pl.String), tables).with_columns(pl.col("rule_idxs").list.len().alias("n"))
    m = m.with_columns(pl.col("rule_idxs").list.first().alias("rule_idx")).join(
        tables.rule_info, on="rule_idx", how="left"
    )
    ok = m.filter((pl.col("n") == 1) & pl.col("kernel_ok").fill_null(False))["hts"].sort().to_list()
    other = m.filter((pl.col("n") != 1) | ~pl.col("kernel_ok").fill_null(False))["hts"].sort().to_list()
    return ok + other[: max(1, len(ok) // 50)]  # about 2% of goods take those paths


def drawn_codes(conn: sqlite3.Connection, on: dt.date) -> tuple[list[str], list[str]]:
    """What a catalogue for ``on`` draws from: its goods' codes (``good_codes_with_rules``) and every code in
    force (its materials)."""
    from usmca.portfolio.run import load_rule_tables

    tables, _corpus = load_rule_tables(conn)
    codes = codes_from_store(conn, on)
    return good_codes_with_rules(codes, tables), codes


def catalogue_stamp(spec: SynthSpec, goods: list[str], material_codes: list[str]) -> str:
    """A digest of what ``synth_portfolio`` draws from: this module's source, the spec, and the codes (the goods
    are those whose rule the kernel takes, so they move with the store and the kernel). A catalogue kept
    under another stamp is not what this code would generate."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(repr(spec).encode())
    for codes in (goods, material_codes):
        h.update("\n".join(codes).encode() + b"\0")
    return h.hexdigest()[:16]


def synth_portfolio(
    spec: SynthSpec, good_codes: list[str], material_codes: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """PRODUCTS, BOM and DECLARATIONS frames in the interchange section 5 columns (all text, as a user's)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.skus
    goods = np.array(good_codes)
    mats = np.array(material_codes)
    g = goods[rng.integers(0, len(goods), n)]
    sku = np.char.add("SKU-", np.arange(n).astype(str))
    cop = rng.choice(np.array(["MX", "CA", "US", "CN"]), n, p=[0.45, 0.25, 0.25, 0.05])
    tv = np.round(rng.lognormal(4.0, 1.2, n) + 1.0, 2)
    cost = np.round(tv * rng.uniform(0.7, 0.95, n), 2)
    has_tc = rng.random(n) < 0.85
    ship = np.round(tv * rng.uniform(0.0, 0.03, n), 2)
    coo = np.where(rng.random(n) < 0.9, cop, rng.choice(np.array(["MX", "CA", "CN", "DE"]), n))
    annual_q = rng.integers(100, 100_000, n)
    products = pl.DataFrame(
        {
            "sku": sku,
            "hts": g,
            "description": np.char.add("synthetic good ", g),
            "country_of_production": cop,
            "transaction_value": tv.astype(str),
            "international_shipment": ship.astype(str),
            "total_cost": cost.astype(str),
            "net_cost": None,
            "use": None,
            "date": None,
            "annual_quantity": annual_q.astype(str),
            "annual_value": np.round(annual_q * tv, 2).astype(str),
            "country_of_origin": coo,
        },
        schema_overrides={"net_cost": pl.String, "use": pl.String, "date": pl.String},
    )

    products = products.with_columns(
        pl.when(pl.Series(has_tc)).then(pl.col("total_cost")).otherwise(None).alias("total_cost")
    )
    # Lines per SKU: Poisson around the mean, at least 1.
    k = np.maximum(1, rng.poisson(spec.lines, n))
    total = int(k.sum())
    parent = np.repeat(np.arange(n), k)
    pos = np.arange(total) - np.repeat(np.cumsum(k) - k, k)
    # Value shares: exponential weights normalised per SKU (a Dirichlet), times 35-85% of TV. The materials are
    # part of the good's cost: at most 95% of it, and each line rounded down to the cent, so no bill is worth
    # more than its good's total cost or adjusted transaction value (the read reports such a bill as an input
    # error, which a synthetic catalogue should not hold by accident).
    w = rng.exponential(1.0, total)
    wsum = np.bincount(parent, weights=w, minlength=n)
    share = np.minimum(rng.uniform(0.35, 0.85, n), 0.95 * cost / tv)
    value = np.floor(w / wsum[parent] * share[parent] * tv[parent] * 100) / 100
    # Material codes: 30% from the good's own chapter (shift risk), the rest from anywhere.
    order = np.argsort(mats)
    mats_sorted = mats[order]
    chap = np.array([c[:2] for c in mats_sorted])
    gch = np.array([c[:2] for c in g])
    lo = np.searchsorted(chap, gch, "left")
    hi = np.searchsorted(chap, gch, "right")
    same = rng.random(total) < 0.3
    span = np.maximum(hi - lo, 1)[parent]
    pick_same = lo[parent] + (rng.random(total) * span).astype(np.int64)
    pick_same = np.minimum(pick_same, len(mats_sorted) - 1)
    pick_any = rng.integers(0, len(mats_sorted), total)
    mhts = mats_sorted[np.where(same & ((hi - lo)[parent] > 0), pick_same, pick_any)]
    u = rng.random(total)
    origin = np.where(u < 0.45, "originating", np.where(u < 0.80, "non_originating", ""))
    n_sup = max(5, n // 20)
    supplier = np.char.add("SUP-", rng.integers(0, n_sup, total).astype(str))
    country = np.where(
        origin == "originating",
        rng.choice(np.array(["MX", "CA", "US"]), total),
        rng.choice(np.array(["CN", "DE", "JP", "KR", "VN", "MX"]), total),
    )
    comp = np.char.add(np.char.add(sku[parent], "-C"), pos.astype(str))
    # Multi-level: some SKUs take another (lower-numbered, so no cycles) SKU as their first line.
    ml = (rng.random(n) < spec.multi_level) & (np.arange(n) > 0)
    first = np.cumsum(k) - k
    ml_lines = first[ml]
    child = (rng.random(int(ml.sum())) * np.arange(n)[ml]).astype(np.int64)
    comp[ml_lines] = sku[child]
    mhts[ml_lines] = g[child]
    origin[ml_lines] = ""
    # the sub-assembly enters the parent at the child's own price, its sub-assemblies included; the parent's
    # price and cost grow by it (children are lower-numbered, so each child's price is final before its parents')
    tv_new, cost_new = tv.copy(), cost.copy()
    for i, c in zip(np.flatnonzero(ml).tolist(), child.tolist(), strict=True):
        tv_new[i] = round(tv[i] + tv_new[c], 2)
        cost_new[i] = round(cost[i] + tv_new[c], 2)
    value[ml_lines] = tv_new[child]
    products = products.with_columns(
        pl.Series("transaction_value", tv_new.astype(str)),
        pl.when(pl.col("total_cost").is_not_null()).then(pl.Series(cost_new.astype(str))).alias("total_cost"),
        pl.Series("annual_value", np.round(annual_q * tv_new, 2).astype(str)),
    )
    # weights on the lines of about half the SKUs (textile de minimis by weight)
    weighed = (rng.random(n) < 0.5)[parent]
    weight = np.round(rng.exponential(0.2, total) + 0.001, 3).astype(str)
    bom = pl.DataFrame(
        {
            "parent_sku": sku[parent],
            "component_id": comp,
            "description": None,
            "component_hts": mhts,
            "quantity_per": "1",
            "value": value.astype(str),
            "origin": origin,
            "country": country,
            "supplier": supplier,
            "weight_kg": weight,
            "intermediate": None,
        },
        schema_overrides={"description": pl.String, "weight_kg": pl.String, "intermediate": pl.String},
    ).with_columns(
        pl.col("origin").replace("", None),
        # origin not stated: the country is usually not known either
        pl.when(pl.Series(origin) == "").then(None).otherwise(pl.col("country")).alias("country"),
        pl.when(pl.Series(weighed)).then(pl.col("weight_kg")).otherwise(None).alias("weight_kg"),
    )
    # Declarations: a third of the suppliers, supplier-wide, valid over the spec's date, mostly "yes".
    ds = rng.choice(n_sup, max(1, n_sup // 3), replace=False)
    declarations = pl.DataFrame(
        {
            "supplier": np.char.add("SUP-", ds.astype(str)),
            "component_id": None,
            "originating": np.where(rng.random(len(ds)) < 0.7, "yes", "no"),
            "valid_from": (spec.date - dt.timedelta(days=180)).isoformat(),
            "valid_to": (spec.date + dt.timedelta(days=185)).isoformat(),
            "certificate_id": np.char.add("CERT-", ds.astype(str)),
        },
        schema_overrides={"component_id": pl.String},
    )
    return products, bom, declarations


def write_portfolio(
    out: Path, products: pl.DataFrame, bom: pl.DataFrame, declarations: pl.DataFrame, fmt: str = "parquet"
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in (("products", products), ("bom", bom), ("declarations", declarations)):
        p = out / f"{name}.{fmt}"
        if fmt == "parquet":
            df.write_parquet(p)
        else:
            df.write_csv(p)
        paths[name] = p
    return paths
