"""Fuzz targets: one function per parser/loader taking the fuzzer's bytes. A target returns normally for a
result or an expected, clear error; anything else is a failure (recorded by the harness in harness.py)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from usmca.errors import InputError
from usmca.measures.entry import parse_entry, read_document
from usmca.origin.case import loads_case
from usmca.portfolio import read as pread
from usmca.rates import RateParseError, evaluate, parse_rate, parse_special
from usmca.rules.parse import parse_paragraph, read_chapter

_TMP = Path(tempfile.mkdtemp(prefix="usmca-fuzz-"))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _input_error(exc: InputError) -> None:
    if not (exc.field and exc.problem):
        raise AssertionError(f"InputError without field/problem: {exc!r}")


def rate(data: bytes) -> None:
    text = _text(data)
    try:
        r = parse_rate(text)
    except RateParseError:
        return
    r.to_dict()
    try:
        ev = evaluate(r, Decimal(1000), {"kg": Decimal(10), "doz.": Decimal(2)}, base_duty=None)
    except InputError as exc:
        _input_error(exc)
        return
    if ev.amount is None and not ev.needs:
        raise AssertionError(f"unknown duty without needs for {text!r}")


def special(data: bytes) -> None:
    try:
        for g in parse_special(_text(data)):
            g.to_dict()
    except RateParseError:
        return


def rule(data: bytes) -> None:
    text = _text(data)
    parse_paragraph(text)
    try:
        read_chapter(text, "74")
    except ValueError as exc:
        if "chapter 74 line" not in str(exc):
            raise


def case_yaml(data: bytes) -> None:
    try:
        loads_case(_text(data))
    except InputError as exc:
        _input_error(exc)


def case_json(data: bytes) -> None:
    try:
        loads_case(_text(data), json_=True)
    except InputError as exc:
        _input_error(exc)


def entry(data: bytes) -> None:
    p = _TMP / ("entry.json" if data[:1] in (b"{", b"[") else "entry.yaml")
    p.write_bytes(data)
    try:
        parse_entry(read_document(p))
    except InputError as exc:
        _input_error(exc)


def _table(ext: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        # First half of the input: products; second: bill of materials.
        half = len(data) // 2
        pp, bp = _TMP / f"products{ext}", _TMP / f"bom{ext}"
        pp.write_bytes(data[:half])
        bp.write_bytes(data[half:])
        try:
            pread.read_portfolio(pp, bp, on=dt.date(2026, 3, 1))
        except InputError as exc:
            _input_error(exc)

    run.__name__ = f"portfolio{ext.replace('.', '_')}"
    return run


portfolio_csv = _table(".csv")
portfolio_parquet = _table(".parquet")
portfolio_xlsx = _table(".xlsx")

TARGETS: dict[str, Callable[[bytes], None]] = {
    "rate": rate,
    "special": special,
    "rule": rule,
    "case_yaml": case_yaml,
    "case_json": case_json,
    "entry": entry,
    "portfolio_csv": portfolio_csv,
    "portfolio_parquet": portfolio_parquet,
    "portfolio_xlsx": portfolio_xlsx,
}


def seeds(name: str) -> list[bytes]:
    """Starting corpus for a target (from tests/hardening/seeds.py)."""
    import io
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.hardening import seeds as S

    if name in ("rate", "special"):
        return [s.encode() for s in S.RATE_SEEDS]
    if name == "rule":
        return [s.encode() for s in S.RULE_SEEDS] + [f"{i}. {s}".encode() for i, s in enumerate(S.RULE_SEEDS, 1)]
    if name in ("case_yaml", "case_json"):
        return [json.dumps(S.CASE_SEED).encode()]
    if name == "entry":
        return [json.dumps(S.ENTRY_SEED).encode()]
    import polars as pl

    out = []
    p = pl.DataFrame(S.PRODUCT_SEED)
    b = pl.DataFrame(S.BOM_SEED)
    if name == "portfolio_csv":
        pb, bb = p.write_csv().encode(), b.write_csv().encode()
        # Equal halves so the target's split lands on the boundary.
        n = max(len(pb), len(bb))
        out.append(pb.ljust(n, b"\n") + bb.ljust(n, b"\n"))
    elif name == "portfolio_parquet":
        bp, bq = io.BytesIO(), io.BytesIO()
        p.write_parquet(bp)
        b.write_parquet(bq)
        x, y = bp.getvalue(), bq.getvalue()
        if len(x) == len(y):
            out.append(x + y)
        out.append(x + x)
    return out or [b""]
