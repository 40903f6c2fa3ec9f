"""Columns of the bill kept cut into the same pieces (``portfolio.chunks``): a frame read in pieces, with the
read's row numbers, parent ids and declarations set beside its columns, has every column cut alike, and the
values are those of a frame in one piece."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usmca.portfolio.chunks import cut_like, pieces
from usmca.portfolio.read import read_portfolio

ON = dt.date(2026, 3, 1)


def _cuts(s: pl.Series) -> list[int]:
    return [piece.len() for piece in s.get_chunks()]


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(0, 7), min_size=1, max_size=8), split=st.integers(0, 40))
def test_cut_like_cuts_where_the_reference_is_cut(lengths: list[int], split: int) -> None:
    ref = pl.concat([pl.Series("r", [0] * n, pl.Int64) for n in lengths], rechunk=False)
    n = ref.len()
    s = pl.Series("s", [f"v{i}" for i in range(n)], pl.String)
    if 0 < split < n:  # a Series itself in two pieces, cut elsewhere
        s = pl.concat([s.slice(0, split), s.slice(split)], rechunk=False)
    got = cut_like(s, ref)
    assert got.to_list() == [f"v{i}" for i in range(n)] and got.name == "s"
    if ref.n_chunks() > 1:
        assert _cuts(got) == _cuts(ref)
    else:
        assert got.n_chunks() == 1


def test_cut_like_refuses_another_length() -> None:
    with pytest.raises(ValueError, match="3 rows"):
        cut_like(pl.Series("s", [1, 2, 3]), pl.Series("r", [1, 2]))


def test_pieces_names_the_most_cut_column() -> None:
    cut = pl.concat([pl.Series("a", [1]), pl.Series("a", [2])], rechunk=False)
    df = pl.DataFrame([pl.Series("whole", [1, 2]), cut])
    got = pieces(df)
    assert got is not None and got.name == "a"
    assert pieces(pl.DataFrame()) is None


def test_a_bill_read_in_pieces_keeps_its_columns_cut_alike(tmp_path: Path) -> None:
    products = pl.DataFrame(
        {
            "sku": [f"P{i}" for i in range(6)],
            "hts": ["9401.20.00.00"] * 6,
            "country_of_production": ["MX"] * 6,
            "transaction_value": ["100"] * 6,
        }
    )
    n = 60
    bom = pl.DataFrame(
        {
            "parent_sku": [f"P{i // 10}" for i in range(n)],
            "component_id": [f"c{i}" for i in range(n)],
            "description": [f"part {i}" for i in range(n)],
            "component_hts": ["7318.15"] * n,
            "quantity_per": ["1"] * n,
            "value": [str(1 + i % 3) for i in range(n)],
            # every third line's origin is left to the declarations (scattered into the column)
            "origin": [None if i % 3 == 0 else "non_originating" for i in range(n)],
            "country": ["MX"] * n,
            "supplier": [f"S{i % 2}" for i in range(n)],
            "weight_kg": ["0.5"] * n,
            "intermediate": ["no"] * n,
        }
    )
    products.write_parquet(tmp_path / "p.parquet")
    bom.write_parquet(tmp_path / "b.parquet", row_group_size=7)  # read back in pieces
    bom.write_parquet(tmp_path / "one.parquet")
    (tmp_path / "d.csv").write_text("supplier,originating,certificate_id\nS0,yes,C-1\n")
    pf = read_portfolio(tmp_path / "p.parquet", tmp_path / "b.parquet", tmp_path / "d.csv", on=ON)
    cut = {c: _cuts(pf.bom[c]) for c in pf.bom.columns}
    assert len({tuple(v) for v in cut.values()}) == 1, cut
    assert len(cut["parent_sku"]) > 1 and pf.bom.height == n  # (the case tested: a whole bill in pieces)
    # the values are those of the same bill read in one piece
    whole = read_portfolio(tmp_path / "p.parquet", tmp_path / "one.parquet", tmp_path / "d.csv", on=ON)
    assert pf.bom.rechunk().equals(whole.bom.rechunk())
    assert pf.bom["_row"].to_list() == list(range(1, n + 1))
    filled = pf.bom.filter(pl.col("declaration") == "C-1")
    assert filled["_row"].to_list() == [r for r in range(1, n + 1) if (r - 1) % 6 == 0]  # S0's empty origins
    assert set(filled["origin"]) == {"originating"}
