"""Property-based tests of every parser and loader: each input gives a result or a clear error naming the
field (InputError / the parser's own error), never another exception, a hang or a silent default."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usmca.errors import InputError, UsmcaError
from usmca.measures.entry import parse_entry, read_document
from usmca.origin.case import loads_case, parse_case
from usmca.portfolio import read as pread
from usmca.rates import RateParseError, evaluate, parse_rate, parse_special
from usmca.rules.parse import parse_paragraph, read_chapter

from .seeds import BOM_SEED, CASE_SEED, ENTRY_SEED, PRODUCT_SEED, RATE_SEEDS, RULE_SEEDS
from .strategies import RATE_TOKENS, RULE_TOKENS, json_like, mutated, mutated_doc, table, token_text

# Short CI budget; `fuzz/run.py` runs the long one. A deadline turns a hang into a failure.
FAST = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

rate_text = st.one_of(token_text(RATE_TOKENS), mutated(RATE_SEEDS), st.text(max_size=60))
rule_text = st.one_of(token_text(RULE_TOKENS, 30), mutated(RULE_SEEDS), st.text(max_size=80))


# --------------------------------------------------------------------------------------------- rate texts


def test_rate_seeds_parse() -> None:
    for s in RATE_SEEDS:
        if s.startswith("Free ("):
            assert parse_special(s)
        else:
            assert parse_rate(s).text


@FAST
@given(rate_text)
def test_parse_rate_result_or_rate_error(text: str) -> None:
    try:
        r = parse_rate(text)
    except RateParseError as exc:
        assert str(exc)
        return
    assert r.text is not None
    r.to_dict()
    r.units_needed()


@FAST
@given(rate_text)
def test_parse_special_result_or_rate_error(text: str) -> None:
    try:
        groups = parse_special(text)
    except RateParseError as exc:
        assert str(exc)
        return
    for g in groups:
        g.to_dict()


@FAST
@given(
    st.sampled_from(RATE_SEEDS[:7] + RATE_SEEDS[9:10] + RATE_SEEDS[13:]),
    st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**30)),
    st.dictionaries(
        st.sampled_from(["kg", "doz.", "m2", "liter", "No.", "kg ", "value:x", "bogus"]),
        st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.integers(-5, 10**12)),
        max_size=3,
    ),
    st.one_of(st.none(), st.decimals(allow_nan=True, allow_infinity=True)),
)
def test_evaluate_amount_or_needs_or_input_error(
    text: str, value: Decimal, quantities: dict[str, Decimal], base: Decimal | None
) -> None:
    rate = parse_rate(text)
    try:
        ev = evaluate(rate, Decimal(value), quantities, base_duty=base)
    except InputError as exc:
        assert exc.field
        return
    # Unknown duty is never zero: a missing amount must say what it needs.
    if ev.amount is None:
        assert ev.needs
    else:
        assert ev.amount.is_finite() and ev.amount >= 0


# --------------------------------------------------------------------------------------------- GN 11(o) rules


def test_rule_seeds_parse() -> None:
    for s in RULE_SEEDS:
        assert parse_paragraph(s)


@FAST
@given(rule_text)
def test_rule_paragraph_result_or_clear_error(text: str) -> None:
    try:
        rules = parse_paragraph(text)
    except UsmcaError as exc:
        assert str(exc)
        return
    assert isinstance(rules, list)


@FAST
@given(st.lists(st.one_of(rule_text, st.sampled_from(["", "1.", "(a)", "Chapter 74", "|x|y|"])), max_size=8))
def test_read_chapter_never_crashes(lines: list[str]) -> None:
    try:
        read_chapter("\n".join(lines), "74")
    except ValueError as exc:
        # Reference-data loader: a clear message naming the chapter and line is the contract.
        assert "chapter 74 line" in str(exc)


# --------------------------------------------------------------------------------------------- origin cases


def test_case_seed_is_valid() -> None:
    assert parse_case(CASE_SEED).good.hts


def _check_input_error(exc: InputError) -> None:
    assert exc.field and isinstance(exc.field, str)
    assert exc.problem


@FAST
@given(st.one_of(mutated_doc(CASE_SEED), json_like))
def test_parse_case_result_or_input_error(doc: object) -> None:
    try:
        parse_case(doc)
    except InputError as exc:
        _check_input_error(exc)


@FAST
@given(st.one_of(st.text(max_size=200), mutated_doc(CASE_SEED).map(lambda d: yaml.safe_dump(d))))
def test_loads_case_yaml_text(text: str) -> None:
    try:
        loads_case(text)
    except InputError as exc:
        _check_input_error(exc)


@FAST
@given(st.one_of(st.text(max_size=200), mutated_doc(CASE_SEED).map(lambda d: json.dumps(d))))
def test_loads_case_json_text(text: str) -> None:
    try:
        loads_case(text, json_=True)
    except InputError as exc:
        _check_input_error(exc)


def test_case_self_reference_is_an_input_error() -> None:
    doc: dict[str, object] = json.loads(json.dumps(CASE_SEED))
    doc["good"]["self"] = doc  # type: ignore[index]  # a YAML anchor can build this
    with pytest.raises(InputError):
        parse_case(doc)


def test_case_yaml_alias_bomb_is_bounded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(InputError):
        loads_case(bomb)


# --------------------------------------------------------------------------------------------- entry lines


def test_entry_seed_is_valid() -> None:
    assert parse_entry(ENTRY_SEED).lines


@FAST
@given(st.one_of(mutated_doc(ENTRY_SEED), json_like))
def test_parse_entry_result_or_input_error(doc: object) -> None:
    try:
        parse_entry(doc)
    except InputError as exc:
        _check_input_error(exc)


@FILES
@given(
    text=st.one_of(st.text(max_size=200), mutated_doc(ENTRY_SEED).map(json.dumps)),
    ext=st.sampled_from([".json", ".yaml"]),
)
def test_read_document_then_parse(tmp_path: Path, text: str, ext: str) -> None:
    p = tmp_path / f"entry{ext}"
    p.write_text(text, encoding="utf-8")
    try:
        parse_entry(read_document(p))
    except InputError as exc:
        _check_input_error(exc)


# --------------------------------------------------------------------------------------------- portfolio tables


def _write(df: pl.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        df.write_csv(path)
    elif path.suffix == ".parquet":
        df.write_parquet(path)
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(df.columns)
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        for row in df.iter_rows():
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
        wb.save(path)


def _read(tmp_path: Path, prod: dict[str, list[str | None]], bom: dict[str, list[str | None]], ext: str) -> None:
    pp, bp = tmp_path / f"products{ext}", tmp_path / f"bom{ext}"
    if ext == ".xlsx":  # a worksheet cannot hold control characters: compare with what was written
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        def clean(t: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
            def one(v: str | None) -> str | None:  # XML also normalises CR and CRLF to LF
                return ILLEGAL_CHARACTERS_RE.sub("", v).replace("\r\n", "\n").replace("\r", "\n") if v else v

            return {c: [one(v) for v in vs] for c, vs in t.items()}

        prod, bom = clean(prod), clean(bom)
    _write(pl.DataFrame(prod, schema={c: pl.String for c in prod}), pp)
    _write(pl.DataFrame(bom, schema={c: pl.String for c in bom}), bp)
    try:
        pf = pread.read_portfolio(pp, bp, on=dt.date(2026, 3, 1))
    except InputError as exc:
        _check_input_error(exc)
        return
    # Every row read is either evaluated or reported (row error / skipped), never silently dropped.
    skus = {s for s in (prod.get("sku") or []) if s and s.strip()}
    kept = set(pf.products["sku"].to_list()) if "sku" in pf.products.columns else set()
    reported = set(pf.skipped) | {e.sku for e in pf.errors if e.sku}
    assert {s.strip() for s in skus} <= kept | reported | {e.value for e in pf.errors}
    for e in pf.errors:
        assert e.field and e.problem and e.row >= 1


def test_portfolio_seed_reads() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        _read(Path(d), PRODUCT_SEED, BOM_SEED, ".csv")


@FILES
@given(
    prod=table(pread.PRODUCT_COLUMNS, pread.PRODUCT_REQUIRED),
    bom=table(pread.BOM_COLUMNS, pread.BOM_REQUIRED),
    ext=st.sampled_from([".csv", ".parquet"]),
)
def test_portfolio_random_tables(
    tmp_path: Path, prod: dict[str, list[str | None]], bom: dict[str, list[str | None]], ext: str
) -> None:
    _read(tmp_path, prod, bom, ext)


@settings(
    max_examples=15, deadline=10000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(prod=table(pread.PRODUCT_COLUMNS, pread.PRODUCT_REQUIRED), bom=table(pread.BOM_COLUMNS, pread.BOM_REQUIRED))
def test_portfolio_random_xlsx(
    tmp_path: Path, prod: dict[str, list[str | None]], bom: dict[str, list[str | None]]
) -> None:
    _read(tmp_path, prod, bom, ".xlsx")


# Was a known bug (fixed in portfolio/read.py): an empty or corrupt file let polars/zipfile errors through
# instead of an InputError naming the file.
@FILES
@given(raw=st.binary(max_size=300))
def test_portfolio_garbage_bytes(tmp_path: Path, raw: bytes) -> None:
    for ext in (".csv", ".parquet", ".xlsx"):
        p = tmp_path / f"products{ext}"
        p.write_bytes(raw)
        try:
            pread.read_table(p, pread.PRODUCT_COLUMNS, pread.PRODUCT_REQUIRED)
        except InputError as exc:
            _check_input_error(exc)


def test_portfolio_duplicate_headers_after_folding(tmp_path: Path) -> None:
    p = tmp_path / "products.csv"
    p.write_text("sku,hts,country_of_production,SKU \nP1,7402.00,US,P2\n")
    with pytest.raises(InputError):
        pread.read_table(p, pread.PRODUCT_COLUMNS, pread.PRODUCT_REQUIRED)


@pytest.mark.parametrize(
    ("raw", "ext"),
    [(b"", e) for e in (".csv", ".parquet", ".xlsx")]
    + [(b"\x00garbage", e) for e in (".parquet", ".xlsx")]
    + [(b'sku,hts,country_of_production\n"open', ".csv")],
)
def test_portfolio_corrupt_file_is_input_error(tmp_path: Path, raw: bytes, ext: str) -> None:
    p = tmp_path / f"products{ext}"
    p.write_bytes(raw)
    with pytest.raises(InputError):
        pread.read_table(p, pread.PRODUCT_COLUMNS, pread.PRODUCT_REQUIRED)


@FILES
@given(raw=st.binary(max_size=200))
def test_document_files_of_any_bytes(tmp_path: Path, raw: bytes) -> None:
    """Non-UTF-8 or binary files: an InputError naming FILE (was a UnicodeDecodeError before the fix)."""
    from usmca.origin.case import load_case

    for ext in (".json", ".yaml"):
        p = tmp_path / f"doc{ext}"
        p.write_bytes(raw)
        try:
            parse_entry(read_document(p))
        except InputError as exc:
            _check_input_error(exc)
        try:
            load_case(p)
        except InputError as exc:
            _check_input_error(exc)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5%", Decimal(10) ** 27),
        ("3" + "7" * 60 + "%", Decimal(1000)),
        ("4" * 60 + "¢/m2", Decimal(1000)),
        # a 28-digit percentage: the rate parses, the duty overflows only when rounded to cents
        ("8" * 27 + "3%", Decimal(1000)),
    ],
)
def test_evaluate_huge_numbers(text: str, value: Decimal) -> None:
    """Found by the long atheris run (target `rate`): a clear error or an amount, never InvalidOperation."""
    try:
        rate = parse_rate(text)
        evaluate(rate, value, {"m2": Decimal(1)})
    except (InputError, RateParseError):
        pass
