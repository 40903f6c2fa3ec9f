"""Reading the portfolio tables: codes as text, row problems reported with file and row, the run continues."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usmca.errors import InputError
from usmca.portfolio.read import DECLARATION_SCHEMA, read_portfolio

ON = dt.date(2026, 3, 1)

PRODUCTS_CSV = """sku,hts,country_of_production,transaction_value,total_cost,date
A,0403.20.50.00,MX,100,,
B,9401.20.00.00,MX,,80,2026-02-01
C,12345,MX,100,,
D,9401.20.00.00,Mexico,100,,
E,9401.20.00.00,CA,abc,,
F,9999.99.99.99,CA,100,,
"""
BOM_CSV = """parent_sku,component_id,component_hts,value,origin,supplier,country
A,a1,0402.10,10,non_originating,,
B,b1,7318.15,5,,S1,
B,b2,7318.16,,originating,,MX
Z,z1,7318.15,5,unknown,,
A,a2,7318.15,5,maybe,,
"""


def _known(codes: pl.Series, on: dt.date) -> pl.Series:
    return ~codes.str.starts_with("9999")


def test_row_problems_are_reported_and_the_rest_continues(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(PRODUCTS_CSV)
    (tmp_path / "b.csv").write_text(BOM_CSV)
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", on=ON, known_codes=_known)
    errs = {(e.file, e.row, e.field) for e in pf.errors}
    assert ("p.csv", 4, "hts") in errs  # C: 5 digits
    assert ("p.csv", 5, "country_of_production") in errs  # D: not a code
    assert ("p.csv", 6, "transaction_value") in errs  # E: not a number
    assert ("p.csv", 7, "hts") in errs  # F: not in the schedule
    assert ("b.csv", 4, "value") in errs  # B's line without a value
    assert ("b.csv", 5, "parent_sku") in errs  # a component without a parent
    assert ("b.csv", 6, "origin") in errs  # A's line with a bad origin
    assert set(pf.skipped) == {"A", "B", "C", "D", "E", "F"}
    assert "bad BOM line" in pf.skipped["A"] and "b.csv row 6" in pf.skipped["A"]
    # codes keep their leading zeros
    assert "0403205000" not in pf.products["hts"].to_list()  # skipped with its bad line, not mangled


def test_declarations_by_date_and_supplier(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(
        "sku,hts,country_of_production,transaction_value,date\n"
        "A,0403.20.50.00,MX,100,2026-03-01\nB,0403.20.50.00,MX,100,2027-03-01\n"
    )
    (tmp_path / "b.csv").write_text(
        "parent_sku,component_id,component_hts,value,origin,supplier\n"
        "A,m1,0402.10,10,,S1\nA,m2,0402.10,10,,S2\nA,m3,0402.10,10,non_originating,S1\n"
        "B,m1,0402.10,10,,S1\n"
    )
    (tmp_path / "d.csv").write_text(
        "supplier,component_id,originating,valid_from,valid_to,certificate_id\n"
        "S1,,yes,2026-01-01,2026-12-31,C-1\nS2,m2,no,,,C-2\nS2,,yes,,,C-3\n"
    )
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", tmp_path / "d.csv", on=ON)
    got = {(r["parent_sku"], r["component_id"]): (r["origin"], r["declaration"]) for r in pf.bom.iter_rows(named=True)}
    assert got[("A", "m1")] == ("originating", "C-1")  # supplier-wide, in its window
    assert got[("A", "m2")] == ("non_originating", "C-2")  # the component's own declaration wins
    assert got[("A", "m3")] == ("non_originating", None)  # the bill's own origin stays
    assert got[("B", "m1")] == ("unknown", None)  # B's date is after the window


def test_xlsx_and_parquet(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "hts", "country_of_production", "transaction_value"])
    ws.append(["A", "0403.20.50.00", "MX", 100])
    wb.save(tmp_path / "p.xlsx")
    pl.DataFrame(
        {
            "parent_sku": ["A"],
            "component_id": ["m"],
            "component_hts": ["0402.10"],
            "value": [10.0],
            "origin": ["unknown"],
        }
    ).write_parquet(tmp_path / "b.parquet")
    pf = read_portfolio(tmp_path / "p.xlsx", tmp_path / "b.parquet", on=ON)
    assert pf.products["hts"].to_list() == ["0403205000"] and pf.bom.height == 1 and not pf.errors
    pl.DataFrame({"sku": ["A"], "hts": [403205000], "country_of_production": ["MX"]}).write_parquet(
        tmp_path / "p.parquet"
    )
    with pytest.raises(InputError, match="text"):
        read_portfolio(tmp_path / "p.parquet", tmp_path / "b.parquet", on=ON)


def test_unknown_component_hts_is_a_row_error(tmp_path: Path) -> None:
    # The BOM's only problem is a component code absent from the schedule (was a polars ShapeError).
    (tmp_path / "p.csv").write_text(
        "sku,hts,country_of_production,transaction_value\nA,9401.20.00.00,MX,100\nB,9401.20.00.00,MX,100\n"
    )
    (tmp_path / "b.csv").write_text(
        "parent_sku,component_id,component_hts,value,origin\nA,a1,9999.99,10,non_originating\nB,b1,7318.15,5,unknown\n"
    )
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", on=ON, known_codes=_known)
    assert [(e.file, e.row, e.field, e.value) for e in pf.errors] == [("b.csv", 2, "component_hts", "999999")]
    assert "A" in pf.skipped and pf.products["sku"].to_list() == ["B"]


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("p.csv", b"", "empty"),
        ("p.parquet", b"\x00garbage", "PARQUET"),
        ("p.xlsx", b"PK\x03\x04junk", "XLSX"),
        ("p.csv", b'sku,hts,country_of_production\n"open,1,MX\n', "unterminated"),
        ("p.csv", b"sku,hts,country_of_production,SKU \nP1,7402.00,US,P2\n", "repeat"),
    ],
)
def test_unreadable_tables_name_the_file(tmp_path: Path, name: str, raw: bytes, problem: str) -> None:
    (tmp_path / name).write_bytes(raw)
    (tmp_path / "b.csv").write_text("parent_sku,component_id,component_hts,value\n")
    with pytest.raises(InputError) as ei:
        read_portfolio(tmp_path / name, tmp_path / "b.csv", on=ON)
    assert ei.value.field == name and problem in ei.value.problem


def test_xlsx_formula_without_saved_value_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["sku", "hts", "country_of_production"])
    ws.append(["=A1", "9401.20.00.00", "MX"])  # openpyxl saves no computed result: reads back empty
    wb.save(tmp_path / "p.xlsx")
    (tmp_path / "b.csv").write_text("parent_sku,component_id,component_hts,value\n")
    with pytest.raises(InputError) as ei:
        read_portfolio(tmp_path / "p.xlsx", tmp_path / "b.csv", on=ON)
    assert ei.value.field == "p.xlsx row 2 column sku" and ei.value.value == "=A1"


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from([None, "originating", "non_originating", "unknown"]),
            st.sampled_from([None, "S1", "S2", "S3"]),
            st.sampled_from(["m1", "m2", "m3"]),
        ),
        min_size=1,
        max_size=12,
    ),
    decls=st.lists(
        st.tuples(
            st.sampled_from(["S1", "S2", "S3"]),
            st.sampled_from([None, None, "m1", "m2"]),
            st.booleans(),
            st.sampled_from([None, dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]),
            st.sampled_from([None, dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2027, 1, 1)]),
            st.sampled_from([None, "C-1", "C-2", "C-3"]),
        ),
        max_size=8,
    ),
)
def test_one_date_declarations_equal_the_general_path(
    lines: list[tuple[str | None, str | None, str]], decls: list[tuple[object, ...]]
) -> None:
    """The fast path for a run where every SKU has one date gives what the per-SKU-date path gives, including
    an empty origin with no supplier to ask (unknown, never left empty: an empty origin would count as
    originating in the kernel)."""
    from usmca.portfolio.read import apply_declarations

    bom = pl.DataFrame(
        {
            "parent_sku": ["A"] * len(lines),
            "component_id": [c for _o, _s, c in lines],
            "origin": [o for o, _s, _c in lines],
            "supplier": [s for _o, s, _c in lines],
        },
        schema={"parent_sku": pl.String, "component_id": pl.String, "origin": pl.String, "supplier": pl.String},
    )
    decl = pl.DataFrame(decls, schema=DECLARATION_SCHEMA, orient="row")
    one = apply_declarations(bom, pl.DataFrame({"sku": ["A"], "date": [ON]}), decl)
    # a second SKU on another date (no lines) sends the same bill through the general path
    general = apply_declarations(bom, pl.DataFrame({"sku": ["A", "Z"], "date": [ON, dt.date(2027, 1, 1)]}), decl)
    assert one.equals(general), (one, general)
    assert one["origin"].null_count() == 0


def test_bill_with_blanks_and_cases_reads_as_the_clean_bill(tmp_path: Path) -> None:
    """The bill is read unstripped and repaired only in the columns where a cell needs it: a bill padded with
    blanks (including the \\x1c-\\x1f separators and no-break spaces) and written in other cases reads exactly
    as the clean one."""
    prods = "sku,hts,country_of_production,transaction_value\nA,9401.20.00.00,MX,100\nB,9401.20.00.00,MX,100\n"
    clean = (
        "parent_sku,component_id,component_hts,value,origin,supplier,country,weight_kg,intermediate\n"
        "A,a1,7318.15,5,originating,S1,MX,1.5,no\n"
        "A,a2,731815,2,,S1,,,\n"
        "B,b1,9401.99,7,non_originating,S2,CN,,\n"
    )
    padded = (
        "parent_sku,component_id,component_hts,value,origin,supplier,country,weight_kg,intermediate\n"
        " A,a1\x1c,7318.15 , 5,Originating,S1\xa0,mx,1.5 ,No\n"
        "A ,\ta2, 731815,2,  ,S1,,,\n"
        "B,b1,9401.99,7 ,NON_ORIGINATING, S2,CN\u3000,,\n"
    )
    decl = "supplier,component_id,originating,valid_from,valid_to,certificate_id\nS1,,yes,,,C-1\n"
    out = {}
    for name, text in (("clean", clean), ("padded", padded)):
        d = tmp_path / name
        d.mkdir()
        (d / "p.csv").write_text(prods)
        (d / "b.csv").write_text(text)
        (d / "d.csv").write_text(decl)
        pf = read_portfolio(d / "p.csv", d / "b.csv", d / "d.csv", on=ON)
        assert not pf.errors, pf.errors
        out[name] = pf.bom.drop("_row")
    assert out["clean"].equals(out["padded"]), (out["clean"], out["padded"])
    assert out["padded"]["origin"].to_list() == ["originating", "originating", "non_originating"]


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.one_of(
            st.integers(0, 9)
            .flatmap(lambda p: st.decimals(min_value=-(10**13), max_value=10**13, allow_nan=False, places=p))
            .map(str),
            st.builds(
                lambda i, f, e: f"{i}.{f}" + (f"e{e}" if e is not None else ""),
                st.integers(0, 10**12),
                st.integers(0, 10**10).map(str),
                st.one_of(st.none(), st.integers(-9, 6)),
            ),
            st.sampled_from(["0.1234565", "0.1234575", "1.0000005", "999999999.9999995", "nan", "inf", "-0", ".5"]),
            st.text(alphabet="0123456789.e-+ ", max_size=12),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_micros_from_floats_equal_the_decimal_reading(cells: list[str]) -> None:
    """Millionths taken from the float reading (most cells) equal the decimal reading of every cell, halfway
    cells (rounded half to even), many decimals and large values included."""
    from usmca.portfolio.read import TOO_LARGE, micros, micros_of

    df = pl.DataFrame({"v": cells}, schema={"v": pl.String}).with_columns(
        pl.col("v").cast(pl.Float64, strict=False).alias("__fv")
    )
    (fast,) = micros_of(df, ["v"])
    want = df.select(micros("v")).to_series()
    assert fast.equals(want.alias("v"), check_names=False), df.with_columns(fast=fast, want=want)
    # a cell of a trillion or more is not read (the checks refuse it), never an overflow
    big = df.filter(pl.col("__fv").abs() >= TOO_LARGE)
    assert big.select(micros("v")).to_series().null_count() == big.height


@settings(max_examples=200, deadline=None)
@given(
    keep=st.lists(st.booleans(), min_size=1, max_size=200),
    run=st.integers(1, 20),
    slices=st.sampled_from([1, 3, 2000]),
)
def test_keep_by_slices_equals_a_filter(keep: list[bool], run: int, slices: int) -> None:
    """Dropping rows by joining the kept runs as slices gives what a filter gives, as a frame of several
    chunks (columns of text, numbers and nulls), whether it takes slices or falls back to the filter."""
    import usmca.portfolio.read as rd

    mask = [k for k in keep for _ in range(run)]
    n = len(mask)
    parts = [
        pl.DataFrame({"s": [f"x{i}" for i in range(a, min(a + 7, n))], "i": list(range(a, min(a + 7, n)))})
        for a in range(0, n, 7)
    ]
    df = pl.concat(parts, rechunk=False).with_columns(pl.lit(None, pl.String).alias("e"))
    old = rd.KEEP_SLICES
    rd.KEEP_SLICES = slices
    try:
        got = rd._keep(df, pl.Series(mask))
    finally:
        rd.KEEP_SLICES = old
    assert got.equals(df.filter(pl.Series(mask)))


def test_numbers_of_a_trillion_or_more_are_row_errors(tmp_path: Path) -> None:
    """A value too large to hold as millionths is reported against its row (no overflow stops the run); so
    are "nan" and "inf", which parse as floats but are no amount."""
    (tmp_path / "p.csv").write_text(
        "sku,hts,country_of_production,transaction_value\n"
        "A,9401.20.00.00,MX,100\nB,9401.20.00.00,MX,100\nC,9401.20.00.00,MX,100\n"
    )
    (tmp_path / "b.csv").write_text(
        "parent_sku,component_id,component_hts,value,origin,supplier,country,weight_kg\n"
        "A,a1,7318.15,12345678901234567890123456789012.5,,,,\n"
        "A,a2,7318.15,5,,,,\n"
        "B,b1,7318.15,5,,,,\n"
        "C,c1,7318.15,nan,,,,\n"
        "C,c2,7318.15,5,,,,-inf\n"
    )
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", on=ON)
    got = {(e.row, e.field, "trillion" if "trillion" in e.problem else e.problem) for e in pf.errors}
    assert got == {(2, "value", "trillion"), (5, "value", "not a number"), (6, "weight_kg", "not a number")}
    assert len(pf.errors) == 3
    assert set(pf.skipped) == {"A", "C"}
    assert pf.bom["value_u"].to_list() == [5_000_000]


def test_originating_lines_outside_the_territory(tmp_path: Path) -> None:
    """An originating material is produced in the territory (US, MX, CA): a line that says otherwise is a row
    problem, and a declaration that would make such a line originating contradicts the bill; lines inside the
    territory, without a country, or not originating pass."""
    (tmp_path / "p.csv").write_text(
        "sku,hts,country_of_production,transaction_value,date\n"
        + "".join(f"{s},9401.20.00.00,MX,100,2026-03-01\n" for s in "ABCDEFG")
    )
    (tmp_path / "b.csv").write_text(
        "parent_sku,component_id,component_hts,value,origin,supplier,country\n"
        "A,a1,7318.15,5,originating,,CN\n"  # row problem
        "B,b1,7318.15,5,originating,,us\n"  # read as US
        "C,c1,7318.15,5,,S1,DE\n"  # declared originating: contradiction
        "D,d1,7318.15,5,,S1,CA\n"  # declared originating in the territory
        "E,e1,7318.15,5,originating,,\n"  # no country given
        "F,f1,7318.15,5,non_originating,,CN\n"
        "G,g1,7318.15,5,,S2,USA\n"  # not a two-letter code
    )
    (tmp_path / "d.csv").write_text(
        "supplier,component_id,originating,valid_from,valid_to,certificate_id\nS1,,yes,2026-01-01,2026-12-31,C-1\n"
    )
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", tmp_path / "d.csv", on=ON)
    problems = {(e.row, e.field): e.problem for e in pf.errors}
    assert "USMCA territory" in problems[(2, "country")]
    assert "contradicts" in pf.skipped["C"] and "outside the USMCA territory" in problems[(4, "country")]
    assert "declared originating (C-1)" in problems[(4, "country")]
    assert "ISO 3166" in problems[(8, "country")]
    assert set(pf.skipped) == {"A", "C", "G"}
    origin = dict(pf.bom.select("parent_sku", "origin").iter_rows())
    assert origin == {"B": "originating", "D": "originating", "E": "originating", "F": "non_originating"}


def test_a_declaration_without_a_certificate_is_named_so(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("sku,hts,country_of_production,transaction_value\nC,9401.20.00.00,MX,100\n")
    (tmp_path / "b.csv").write_text(
        "parent_sku,component_id,component_hts,value,supplier,country\nC,c1,7318.15,5,S1,DE\n"
    )
    (tmp_path / "d.csv").write_text("supplier,originating\nS1,yes\n")
    pf = read_portfolio(tmp_path / "p.csv", tmp_path / "b.csv", tmp_path / "d.csv", on=ON)
    (err,) = pf.errors
    assert err.problem.startswith("declared originating (no certificate id) but produced outside")


def test_parquet_statistics_change_nothing_read(tmp_path: Path) -> None:
    """A Parquet file's statistics spare reading a column empty throughout and the empty-cell pass over columns
    without an empty cell; the bill reads the same with and without them (empty text, blanks and nulls
    included), row errors too."""
    prods = pl.DataFrame(
        {
            "sku": ["A", "B"],
            "hts": ["9401.20.00.00"] * 2,
            "country_of_production": ["MX"] * 2,
            "transaction_value": ["100"] * 2,
        }
    )
    n = 40
    bom = pl.DataFrame(
        {
            "parent_sku": ["A" if i < 25 else "B" for i in range(n)],
            "component_id": [f"c{i}" if i != 7 else " c7" for i in range(n)],
            "description": pl.Series([None] * n, dtype=pl.String),  # empty throughout
            "component_hts": ["7318.15"] * n,
            "value": [str(1 + i % 3) if i != 30 else "" for i in range(n)],  # one empty text cell: a row error
            "origin": [None if i % 4 == 0 else ("" if i % 4 == 1 else "non_originating") for i in range(n)],
            "country": pl.Series([None] * 10 + ["MX"] * (n - 10), dtype=pl.String),  # a piece without a value
            "supplier": [f"S{i % 3}" for i in range(n)],
        }
    )
    prods.write_parquet(tmp_path / "p.parquet")
    (tmp_path / "d.csv").write_text("supplier,originating,certificate_id\nS0,yes,C-1\n")
    got = {}
    for stats in (True, False):
        path = tmp_path / f"b{stats}.parquet"
        bom.write_parquet(path, row_group_size=10, statistics=stats)
        got[stats] = read_portfolio(tmp_path / "p.parquet", path, tmp_path / "d.csv", on=ON)
    with_stats, without = got[True], got[False]
    assert with_stats.bom.equals(without.bom)
    assert with_stats.products.equals(without.products)
    assert [{**e.as_dict(), "file": None} for e in with_stats.errors] == [
        {**e.as_dict(), "file": None} for e in without.errors
    ]
    assert any(e.field == "value" and e.row == 31 for e in with_stats.errors)
    assert with_stats.bom["description"].null_count() == with_stats.bom.height
