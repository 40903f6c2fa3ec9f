"""Keeping a frame's columns cut into the same pieces.

A Polars column is a list of pieces (chunks). Before an eager operation on a frame whose columns are cut in
different places, Polars copies the frame into single pieces, and it does so again on the next one: about a
second for each ``select``, ``with_columns`` or ``filter`` on a bill of 20 million lines. A bill read from a
file comes in pieces (a row group each); a column computed whole and set beside them (a row number, a lookup,
a scatter) must be cut where they are.
"""

from __future__ import annotations

import polars as pl


def cut_like(s: pl.Series, ref: pl.Series) -> pl.Series:
    """``s`` (as long as ``ref``) cut where ``ref`` is cut: slices of one piece, so nothing is copied."""
    if s.len() != ref.len():
        raise ValueError(f"cut_like: {s.name} has {s.len()} rows, {ref.name} {ref.len()}")
    if ref.n_chunks() <= 1:
        return s.rechunk() if s.n_chunks() > 1 else s
    lengths = [piece.len() for piece in ref.get_chunks()]
    if s.n_chunks() == len(lengths) and [piece.len() for piece in s.get_chunks()] == lengths:
        return s  # (already cut so)
    whole = s.rechunk() if s.n_chunks() > 1 else s
    parts, at = [], 0
    for n in lengths:
        parts.append(whole.slice(at, n))
        at += n
    return pl.concat(parts, rechunk=False)


def pieces(df: pl.DataFrame) -> pl.Series | None:
    """A column of ``df`` cut as its bulk is (the one with the most pieces), to cut new columns by; None for an
    empty frame."""
    if not df.width:
        return None
    counts = df.n_chunks("all")
    return df.to_series(max(range(df.width), key=counts.__getitem__))
