"""Read the portfolio tables (interchange section 5) from CSV, XLSX or Parquet into checked Polars frames.

Every cell is read as text first (codes keep their leading zeros), then checked column by column in
vectorized form. A bad row never stops the run: it goes to the error report with its file and row number,
and the SKU it belongs to is skipped (a SKU with a bad bill line cannot be evaluated without guessing).
Supplier declarations fill the origin of BOM lines whose ``origin`` cell is empty, by the SKU's date.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import string
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from usmca.errors import InputError
from usmca.portfolio.chunks import cut_like, pieces
from usmca.portfolio.kernel import TERRITORY, sku_ids

PRODUCT_COLUMNS = (
    "sku",
    "hts",
    "description",
    "country_of_production",
    "transaction_value",
    "international_shipment",
    "total_cost",
    "net_cost",
    "use",
    "date",
    "annual_quantity",
    "annual_value",
    "country_of_origin",
)
PRODUCT_REQUIRED = ("sku", "hts", "country_of_production")
PRODUCT_MONEY = (
    "transaction_value",
    "international_shipment",
    "total_cost",
    "net_cost",
    "annual_quantity",
    "annual_value",
)
BOM_COLUMNS = (
    "parent_sku",
    "component_id",
    "description",
    "component_hts",
    "quantity_per",
    "value",
    "origin",
    "country",
    "supplier",
    "weight_kg",
    "intermediate",
)
BOM_REQUIRED = ("parent_sku", "component_id", "component_hts", "value")
DECLARATION_COLUMNS = ("supplier", "component_id", "originating", "valid_from", "valid_to", "certificate_id")
DECLARATION_REQUIRED = ("supplier", "originating")
# checked declarations, as ``Portfolio.declarations`` holds them
DECLARATION_SCHEMA = pl.Schema(
    {
        "supplier": pl.String(),
        "component_id": pl.String(),
        "originating": pl.Boolean(),
        "valid_from": pl.Date(),
        "valid_to": pl.Date(),
        "certificate_id": pl.String(),
    }
)

USES = ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle", "aftermarket", "not_automotive")
ORIGINS = ("originating", "non_originating", "unknown")
TRUE_WORDS = ("yes", "y", "true", "1", "originating")
FALSE_WORDS = ("no", "n", "false", "0", "non_originating")
CODE_RE = r"^(\d{6}|\d{8}|\d{10})$"
# Blanks stripped from every cell: what Python's str.strip() strips (includes the \x1c-\x1f separators that
# polars' default Unicode White_Space does not), so a cell reads the same as in the single-good engine.
BLANKS = "".join(chr(i) for i in range(0x3001) if chr(i).isspace())
COUNTRY_RE = r"^[A-Z]{2}$"


@dataclass(frozen=True, slots=True)
class RowError:
    """One row-level problem: ``row`` is the spreadsheet row (header = 1), for Parquet the 1-based record."""

    file: str
    row: int
    field: str
    value: str | None
    problem: str
    sku: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "problem": self.problem,
            "sku": self.sku,
        }


@dataclass
class Portfolio:
    """Checked tables ready for the kernel, plus what was set aside and why."""

    products: pl.DataFrame  # one row per evaluable SKU
    # lines of evaluable SKUs; `origin` final (declarations applied), `self_produced` flag; `_mhts` is
    # component_hts as an Enum of the bill's distinct codes (the kernel's code ids): a change to
    # component_hts must drop or recompute it
    bom: pl.DataFrame
    declarations: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # sku -> first reason
    # the products' distinct SKUs as read (kept and skipped): ``bom._pid`` is each line's parent as a row of
    # these, so the kernel maps its SKU ids through a million names, not twenty million lines; a change to
    # parent_sku must drop ``_pid``
    sku_names: pl.Series | None = None

    def skipped_summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for reason in self.skipped.values():
            key = reason.split(":", 1)[0]
            out[key] = out.get(key, 0) + 1
        return out


# --------------------------------------------------------------------------------------------- raw reading


def read_table(path: Path, columns: Iterable[str], required: Iterable[str], *, strip: bool = True) -> pl.DataFrame:
    """Read a table with every column as text (nulls for empty cells) and a ``_row`` column for the report.

    ``strip=False`` leaves blanks around cells for the caller to strip where any are (``BOM_SPECS``): the
    bill's tens of millions of cells are mostly clean, and stripping every one costs seconds."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), str(path), "file not found")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm", ".parquet", ".pq"):
        raise InputError(str(path), suffix, "unsupported table format", "use .csv, .xlsx or .parquet")
    if path.stat().st_size == 0:
        raise InputError(path.name, str(path), "the file is empty", "expected a header row and data rows")
    try:
        lf, first_row = _read_raw(path, suffix)
        names = lf.collect_schema().names()
        facts = _parquet_facts(path) if suffix in (".parquet", ".pq") else {}
    except InputError:
        raise
    except Exception as exc:  # polars, pyarrow, zipfile, openpyxl and decoding errors all mean the same here
        raise _unreadable(path, suffix, exc) from exc
    folded: dict[str, list[str]] = {}
    for c in names:
        folded.setdefault(c.strip().lower(), []).append(c)
    dupes = {k: v for k, v in folded.items() if len(v) > 1}
    if dupes:
        raise InputError(
            path.name,
            "; ".join(", ".join(repr(c) for c in v) for v in dupes.values()),
            "column headers repeat (case and surrounding blanks are ignored)",
            "keep one column per name",
        )
    lf = lf.rename({c: c.strip().lower() for c in names})
    present = {c.strip().lower() for c in names}
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(
            f"{path.name}",
            ", ".join(missing),
            "required column(s) missing",
            f"expected columns: {', '.join(columns)}",
        )
    cols = list(columns)
    by_name = {c.strip().lower(): facts[c] for c in names if c in facts}

    def cell(c: str) -> pl.Expr:
        # (a column the statistics say is empty throughout is not read: held as one value, as below)
        if c not in present or by_name.get(c) == _ALL_NULL:
            return pl.lit(None, pl.String).alias(c)
        text = pl.col(c).cast(pl.String)
        return (text.str.strip_chars(BLANKS) if strip else text).alias(c)

    # One lazy query (read, keep the known columns, strip blanks) so no full-width text copy is held twice.
    # Strip blanks; an empty cell is unknown (null), never zero.
    lf = lf.select(cell(c) for c in cols).with_columns(
        # empty -> null by length, not ``replace("", None)``: that builds a hash map per column and doubled
        # the peak memory of a 20-million-line read (not needed where the statistics say no cell is empty
        # and none is stripped)
        pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c)
        for c in cols
        if c in present and (strip or by_name.get(c) is None)
    )
    try:
        df = lf.collect()
    except Exception as exc:
        raise _unreadable(path, suffix, exc) from exc
    # a column empty throughout is held as one value, not millions of nulls: every later pass and copy of the
    # table then skips it
    empty = [c for c in cols if c in present and df.height and df[c].null_count() == df.height]
    if empty:
        df = df.with_columns(pl.lit(None, pl.String).alias(c) for c in empty)
    # the row numbers cut as the columns are (``chunks``): else every eager step on the table copies it whole
    row = pl.int_range(first_row, first_row + df.height, dtype=pl.Int64, eager=True).alias("_row")
    ref = pieces(df)
    return df.insert_column(0, row if ref is None else cut_like(row, ref))


_ALL_NULL = "all null"
_FILLED = "no empty cell"


def _parquet_facts(path: Path) -> dict[str, object]:
    """What a Parquet file's statistics say of each text column, where every row group has them: ``_ALL_NULL``
    (no value) or ``_FILLED`` (no empty text; nulls may be). The bounds stay bounds where a writer truncates
    them (the format requires it), so a least value above "" means no empty cell. A column the statistics say
    nothing of is read as any other."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # (the read proper reports an unreadable file)
        return {}
    out: dict[str, object] = {}
    schema = meta.schema
    for i in range(meta.num_columns):
        col = schema.column(i)
        top = col.path == col.name and col.max_repetition_level == 0 and col.max_definition_level <= 1
        if not top or col.physical_type != "BYTE_ARRAY":
            continue
        nulls, lows, known = 0, set(), meta.num_row_groups > 0
        for r in range(meta.num_row_groups):
            st = meta.row_group(r).column(i).statistics
            rows = meta.row_group(r).num_rows
            if st is None or not st.has_null_count:
                known = False
                break
            nulls += st.null_count
            if st.null_count == rows:
                continue
            if not st.has_min_max:
                known = False
                break
            lows.add(st.min)
        if not known:
            continue
        if nulls == meta.num_rows:
            out[col.name] = _ALL_NULL
        elif lows and all(isinstance(v, str) and v > "" for v in lows):
            out[col.name] = _FILLED
    return out


def _unreadable(path: Path, suffix: str, exc: BaseException) -> InputError:
    return InputError(path.name, str(path), f"not a readable {suffix.lstrip('.').upper()} table", _short(exc))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _read_raw(path: Path, suffix: str) -> tuple[pl.LazyFrame, int]:
    """The table as text columns and the file row number of its first record."""
    if suffix == ".csv":
        # An unterminated quote makes a CSV reader swallow the rest of the file into one cell; a well-formed
        # file holds an even number of quote characters (escaped quotes are doubled). Counted in chunks.
        quotes = 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                quotes += chunk.count(b'"')
        if quotes % 2:
            raise InputError(path.name, str(path), "unterminated quoted field in the CSV file")
        return pl.scan_csv(path, infer_schema=False), 2
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path).lazy(), 2
    schema = pl.read_parquet_schema(path)
    for name, dtype in schema.items():
        if name in ("hts", "component_hts") and dtype.is_integer():
            raise InputError(
                f"{path.name}:{name}",
                str(dtype),
                "HTS codes must be stored as text so leading zeros are kept",
            )
    return pl.scan_parquet(path), 1


def _read_xlsx(path: Path) -> pl.DataFrame:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    named = [h.lower() for h in header if h]
    if len(set(named)) < len(named):
        dup = sorted({h for h in named if named.count(h) > 1})
        raise InputError(path.name, ", ".join(dup), "column headers repeat (case and surrounding blanks are ignored)")
    data: dict[str, list[str | None]] = {h: [] for h in header if h}
    # The same sheet with formulas as written: a formula cell without a saved result reads as empty above,
    # which would silently drop a value; it is refused instead (the workbook must be saved with its values).
    wbf = openpyxl.load_workbook(path, read_only=True, data_only=False)
    frows = wbf.worksheets[0].iter_rows(values_only=True)
    next(frows, ())
    for n, (r, fr) in enumerate(zip(rows, frows, strict=False), start=2):
        for i, h in enumerate(header):
            if not h:
                continue
            v = r[i] if i < len(r) else None
            if v is None and i < len(fr) and isinstance(fr[i], str) and fr[i].startswith("="):
                wbf.close()
                wb.close()
                raise InputError(
                    f"{path.name} row {n} column {h}",
                    fr[i],
                    "a formula without a saved value",
                    "save the workbook in a spreadsheet program, or export the values",
                )
            if isinstance(v, dt.datetime):
                v = v.date().isoformat()
            elif isinstance(v, dt.date):
                v = v.isoformat()
            elif isinstance(v, float) and h in ("hts", "component_hts"):
                v = None if v is None else repr(v)  # a numeric code cell: reported below as malformed
            data[h].append(None if v is None else str(v))
    wb.close()
    wbf.close()
    return pl.DataFrame(data, schema={h: pl.String for h in data})


# ------------------------------------------------------------------------------------------- checks


Check = tuple[str, pl.Expr, str]  # (field, bad-row predicate, problem)


def _errors(
    df: pl.DataFrame,
    file: str,
    checks: list[Check],
    sku_col: str | None,
    dirty: dict[str, tuple[pl.Expr | None, pl.Expr]] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Rows failing any check, one row per (row, field): columns _row, field, value, problem, sku; and, with
    ``dirty`` (column -> (clean, fix), as ``BOM_SPECS``), the columns where some cell is not clean (the
    checks are then to be run again once those columns are fixed). A column whose ``clean`` is None is
    unclean when the fix changes a cell that failed one of its own checks: a cell its checks pass is already
    as the checks want it, so only the few failing rows are looked at."""
    # All predicates in one lazy pass (shared sub-expressions such as number casts computed once, columns in
    # parallel), then the per-check rows are cut from the few rows that failed anything.
    flags = [bad.fill_null(False).alias(f"__bad{i}") for i, (_f, bad, _p) in enumerate(checks)]
    spec = {c: v for c, v in (dirty or {}).items() if c in df.columns}
    scan = [(c, clean) for c, (clean, _fix) in spec.items() if clean is not None]
    flags += [(~clean.fill_null(False) & pl.col(c).is_not_null()).alias(f"__dirty{c}") for c, clean in scan]
    # one computation of the flags feeds both results (common subplan)
    base = df.lazy().with_columns(flags)
    failing = base.filter(pl.any_horizontal([f"__bad{i}" for i in range(len(checks))]))
    if scan:
        hits, seen = pl.collect_all([failing, base.select(pl.col(f"__dirty{c}").any() for c, _ in scan)])
        unclean = [c for c, _ in scan if seen[f"__dirty{c}"][0]]
    else:
        hits, unclean = failing.collect(), []
    for c, (clean, fix) in spec.items():
        own = [f"__bad{i}" for i, (fld, _b, _p) in enumerate(checks) if fld == c]
        if clean is None and own and hits.height:
            changed = hits.filter(pl.any_horizontal(own)).select(fix.ne_missing(pl.col(c)).any()).item()
            if changed:
                unclean.append(c)
    if unclean:
        return hits.clear(), unclean
    frames = []
    for i, (fld, _bad, problem) in enumerate(checks):
        hit = hits.filter(pl.col(f"__bad{i}"))
        if hit.height:
            frames.append(
                hit.select(
                    pl.col("_row"),
                    pl.lit(fld).alias("field"),
                    pl.col(fld).cast(pl.String).alias("value") if fld in df.columns else pl.lit(None, pl.String),
                    pl.lit(problem).alias("problem"),
                    (pl.col(sku_col) if sku_col else pl.lit(None, pl.String)).alias("sku"),
                )
            )
    if not frames:
        empty = pl.DataFrame(
            schema={
                "_row": pl.Int64,
                "field": pl.String,
                "value": pl.String,
                "problem": pl.String,
                "sku": pl.String,
                "file": pl.String,
            }
        )
        return empty, []
    return pl.concat(frames).with_columns(pl.lit(file).alias("file")).sort("_row", maintain_order=True), []


def _to_errors(df: pl.DataFrame) -> list[RowError]:
    return [
        RowError(
            file=r["file"],
            row=r["_row"],
            field=r["field"],
            value=r["value"],
            problem=r["problem"],
            sku=r["sku"],
        )
        for r in df.iter_rows(named=True)
    ]


def _normalized(df: pl.DataFrame, *specs: tuple[str, str, pl.Expr]) -> pl.DataFrame:
    """Apply each (column, pattern, fix) only when some cell matches the pattern: one cheap scan per column
    (no new strings) spares rewriting tens of millions of cells that are already clean."""
    flags = df.select(pl.col(c).str.contains(pat).any().alias(c) for c, pat, _fix in specs).row(0, named=True)
    fixes = [fix.alias(c) for c, _pat, fix in specs if flags[c]]
    return df.with_columns(fixes) if fixes else df


def _clean_code(code: pl.Expr) -> pl.Expr:
    """A code as digits: the dots, dashes and blanks people write inside it removed."""
    return code.str.replace_all(r"[\s.\-]", "")


# A cell that already reads as the checks want it (a code of digits, a known word, a plain number) has no
# blanks to strip and nothing to normalise; any other cell might.


def _stripped(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars(BLANKS)
    return pl.when(s.str.len_bytes() > 0).then(s)


def _verbatim(col: str) -> tuple[pl.Expr, pl.Expr]:
    """Free text and identifiers: clean when no blank starts or ends the cell, i.e. stripping it leaves its
    length (a third cheaper than a pattern anchored at both ends, which scans the cell)."""
    c = pl.col(col)
    return c.str.strip_chars(BLANKS).str.len_bytes() == c.str.len_bytes(), _stripped(col)


# (clean, fix) per bill column. ``clean`` None: the column's own checks fail every cell that is not as they
# want it, so only the failing cells are looked at (``_errors``); a parent SKU with blanks around it, for
# one, is never among the products' SKUs (stripped).
BOM_SPECS: dict[str, tuple[pl.Expr | None, pl.Expr]] = {
    "parent_sku": (None, _stripped("parent_sku")),
    **{c: _verbatim(c) for c in ("component_id", "description", "supplier")},
    # codes: a strip, then dots, dashes and blanks inside removed (as for the products' codes)
    "component_hts": (None, _clean_code(_stripped("component_hts"))),
    "origin": (None, _stripped("origin").str.to_lowercase()),
    "country": (None, _stripped("country").str.to_uppercase()),
    "intermediate": (None, _stripped("intermediate").str.to_lowercase()),
    # a number Polars reads has no blanks around it (it refuses them)
    **{c: (None, _stripped(c)) for c in ("quantity_per", "value", "weight_kg")},
}
BOM_NUMBERS = ("value", "quantity_per", "weight_kg")
# what ``COUNTRY_RE`` accepts, as a set: a lookup per cell costs less than a pattern match
TWO_LETTERS = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]


def _not_a_number(col: str, num: pl.Expr | None = None) -> pl.Expr:
    """A cell that is written but reads as no finite number (``num``: its float reading): "nan" and "inf"
    parse as floats but are no amount."""
    num = pl.col(col).cast(pl.Float64, strict=False) if num is None else num
    return pl.col(col).is_not_null() & (num.is_null() | ~num.is_finite())


def _number_checks(cols: Iterable[str], floats: str | None = None) -> list[Check]:
    """Not a number, negative, too large; ``floats``: the name pattern of columns holding the cells already
    read as floats (else read here)."""
    out: list[Check] = []
    for c in cols:
        num = pl.col(floats.format(c)) if floats else pl.col(c).cast(pl.Float64, strict=False)
        out.append((c, _not_a_number(c, num), "not a number"))
        # (a cell that is no finite number is reported once, as not a number)
        out.append((c, num.is_finite() & (num < 0), "a negative value is not allowed"))
        out.append((c, num.is_finite() & (num.abs() >= TOO_LARGE), TOO_LARGE_TEXT))
    return out


# Money and measures are held as integer millionths (``micros``): a trillion or more is a unit or input
# error, and would not fit.
TOO_LARGE = 1e12
TOO_LARGE_TEXT = "a number of a trillion or more is not read (check the unit)"


def micros(col: str) -> pl.Expr:
    """Money as integer millionths: sums and the RVC comparisons are then exact, as the single-good engine's
    decimals are (a good at 59.96% must not pass a 60% test through binary rounding). Cells of a trillion or
    more are refused by the checks (``TOO_LARGE``) and read as null here."""
    small = pl.when(pl.col(col).cast(pl.Float64, strict=False).abs() < TOO_LARGE).then(pl.col(col))
    return (small.str.to_decimal(scale=6) * 1_000_000).cast(pl.Int64)


def micros_of(df: pl.DataFrame, cols: Iterable[str]) -> list[pl.Series]:
    """``micros(c)`` of each column, for a frame holding the columns' float readings ``__f<c>``, without parsing
    most cells again. Below 1e9 the float is within 2^-24 relative of the cell, so f * 1e6 (one correctly
    rounded product) is within 0.13 of the cell's exact millionths: when it is within 0.25 of an integer,
    that integer is the cell rounded to six decimals, as ``micros`` gives. Other cells (halfway, large, not
    finite) are parsed as decimals; there are few or none."""
    cols = list(cols)
    exprs = []
    for c in cols:
        f = pl.col(f"__f{c}")
        e = f * 1_000_000
        exact = (f.abs() < 1e9) & ((e - e.round()).abs() < 0.25)
        exprs += [
            # (every cell that is not exact is overwritten below: no mask here, which costs a pass)
            e.round().cast(pl.Int64, strict=False).alias(c),
            (~exact.fill_null(False) & pl.col(c).is_not_null()).alias(f"_s{c}"),
        ]
    out = df.select(exprs)  # the columns in parallel
    got = []
    for c in cols:
        slow, fast = out[f"_s{c}"].arg_true(), out[c]
        if slow.len():
            fast = fast.scatter(slow, df[c].gather(slow).to_frame().select(micros(c)).to_series())
        got.append(fast)
    return got


def _parse_date(col: str) -> pl.Expr:
    return pl.col(col).str.to_date("%Y-%m-%d", strict=False)


KnownCodes = Callable[[pl.Series, dt.date], pl.Series]


def read_portfolio(
    products_path: Path,
    bom_path: Path,
    declarations_path: Path | None = None,
    *,
    on: dt.date,
    known_codes: KnownCodes | None = None,
) -> Portfolio:
    """Read and check the three tables; apply declarations; return what the kernel evaluates.

    ``known_codes(codes, on)`` returns a boolean Series: whether each digit code exists in the schedule on the
    date (the run passes the schedule's check; None skips the existence check and says so in the report).
    """
    p_name, b_name = Path(products_path).name, Path(bom_path).name
    # The raw tables are passed without keeping a reference here, so check_portfolio can free them as it goes.
    return check_portfolio(
        read_table(products_path, PRODUCT_COLUMNS, PRODUCT_REQUIRED),
        read_table(bom_path, BOM_COLUMNS, BOM_REQUIRED, strip=False),
        read_table(declarations_path, DECLARATION_COLUMNS, DECLARATION_REQUIRED) if declarations_path else None,
        on=on,
        known_codes=known_codes,
        names=(p_name, b_name, Path(declarations_path).name if declarations_path else ""),
    )


def _check_products(
    prod: pl.DataFrame, p_name: str, on: dt.date, known_codes: KnownCodes | None
) -> tuple[pl.DataFrame, list[RowError], dict[str, str]]:
    """The products that pass their row checks (money as millionths, dates parsed), the row errors, and the
    SKUs set aside with the first reason."""
    errors: list[RowError] = []
    prod = _normalized(
        prod,
        ("hts", r"[^0-9]", _clean_code(pl.col("hts"))),
        ("country_of_production", "[a-z]", pl.col("country_of_production").str.to_uppercase()),
        ("country_of_origin", "[a-z]", pl.col("country_of_origin").str.to_uppercase()),
    )
    p_checks: list[Check] = [
        ("sku", pl.col("sku").is_null(), "a SKU is required"),
        ("sku", pl.col("sku").is_duplicated() & pl.col("sku").is_not_null(), "SKU appears more than once"),
        ("hts", pl.col("hts").is_null(), "an HTS code is required"),
        ("hts", ~pl.col("hts").str.contains(CODE_RE), "an HTS code has 6, 8 or 10 digits"),
        (
            "country_of_production",
            pl.col("country_of_production").is_null(),
            "country of production is required",
        ),
        (
            "country_of_production",
            ~pl.col("country_of_production").str.contains(COUNTRY_RE),
            "not an ISO 3166 alpha-2 country code",
        ),
        (
            "country_of_origin",
            ~pl.col("country_of_origin").str.contains(COUNTRY_RE),
            "not an ISO 3166 alpha-2 country code",
        ),
        ("use", ~pl.col("use").is_in(USES), f"use must be one of {', '.join(USES)}"),
        (
            "date",
            pl.col("date").is_not_null() & _parse_date("date").is_null(),
            "dates are written YYYY-MM-DD",
        ),
        *_number_checks(tuple(c for c in PRODUCT_MONEY if c != "international_shipment")),
        (
            "international_shipment",
            _not_a_number("international_shipment"),
            "not a number",
        ),
        *[
            (c, pl.col(c).cast(pl.Float64, strict=False) == 0, "must be more than 0")
            for c in ("transaction_value", "total_cost", "net_cost")
        ],
        (
            "international_shipment",
            pl.col("international_shipment").cast(pl.Float64, strict=False)
            >= pl.col("transaction_value").cast(pl.Float64, strict=False),
            "the shipment adjustment must be less than transaction_value",
        ),
    ]
    perr, _ = _errors(prod, p_name, p_checks, "sku")
    prod = prod.with_columns(pl.col(c).cast(pl.Float64, strict=False).alias(f"__f{c}") for c in PRODUCT_MONEY)
    prod = prod.with_columns(
        *[m.alias(f"{c}_u") for c, m in zip(PRODUCT_MONEY, micros_of(prod, PRODUCT_MONEY), strict=True)],
        *[pl.col(f"__f{c}").alias(c) for c in PRODUCT_MONEY],
        _parse_date("date").fill_null(on).alias("date"),
    ).drop(f"__f{c}" for c in PRODUCT_MONEY)
    if known_codes is not None:
        unknown = _unknown_code_rows(prod, "hts", known_codes, on)
        if unknown.height:
            perr = pl.concat(
                [
                    perr,
                    unknown.select(
                        pl.col("_row"),
                        pl.lit("hts").alias("field"),
                        pl.col("hts").alias("value"),
                        pl.lit("HTS code not in the schedule on the date").alias("problem"),
                        pl.col("sku"),
                        pl.lit(p_name).alias("file"),
                    ),
                ]
            )
    errors += _to_errors(perr)
    bad_rows = set(perr["_row"].to_list())
    skipped: dict[str, str] = {}
    for r in perr.iter_rows(named=True):
        if r["sku"] is not None and r["sku"] not in skipped:
            skipped[r["sku"]] = f"bad product row: {r['field']} {r['problem']} ({p_name} row {r['_row']})"
    prod_ok = prod.filter(~pl.col("_row").is_in(list(bad_rows)) & pl.col("sku").is_not_null())
    prod_ok = prod_ok.filter(~pl.col("sku").is_in(list(skipped)))
    return prod_ok, errors, skipped


def check_portfolio(
    prod: pl.DataFrame,
    bom: pl.DataFrame,
    decl: pl.DataFrame | None,
    *,
    on: dt.date,
    known_codes: KnownCodes | None = None,
    names: tuple[str, str, str] = ("PRODUCTS", "BOM", "DECLARATIONS"),
) -> Portfolio:
    p_name, b_name, d_name = names
    errors: list[RowError] = []

    # ---- products (checked in a second thread while the bill is read: they need nothing from it; their distinct
    # SKUs too, which the bill's parent ids need only once its numbers are being read)
    pool = ThreadPoolExecutor(2)
    sku_col = prod["sku"]
    distinct = pool.submit(lambda: sku_col.drop_nulls().unique(maintain_order=True))
    products = pool.submit(_check_products, prod, p_name, on, known_codes)
    del prod

    # ---- bill of materials (read unstripped: checked as read, and stripped and normalised only in the
    # columns where some cell needs it; then checked again)
    # numbers read once as floats (``__f<col>``) and the distinct codes taken once: checks and conversions
    # share them
    bom, codes = _bom_read_once(bom, distinct.result)
    p_names = distinct.result()
    p_skus = p_names.implode()
    berr, dirty = _errors(bom, b_name, _bom_checks(bom, p_skus, codes), "parent_sku", dirty=BOM_SPECS)
    if dirty:
        bom, codes = _bom_read_once(bom.with_columns(BOM_SPECS[c][1].alias(c) for c in dirty), distinct.result)
        berr, _ = _errors(bom, b_name, _bom_checks(bom, p_skus, codes), "parent_sku")
    # the bill's distinct material codes: checked once each, and the kernel's code ids (``_mhts``; codes of
    # lines set aside below may stay among them, unused)
    m_codes = codes.filter(codes.str.contains(CODE_RE)).sort()
    if known_codes is not None:
        unknown = _unknown_code_rows(bom, "component_hts", known_codes, on, m_codes)
        if unknown.height:
            berr = pl.concat(
                [
                    berr,
                    unknown.select(
                        pl.col("_row"),
                        pl.lit("component_hts").alias("field"),
                        pl.col("component_hts").alias("value"),
                        pl.lit("HTS code not in the schedule on the date").alias("problem"),
                        pl.col("parent_sku").alias("sku"),
                        pl.lit(b_name).alias("file"),
                    ),
                ]
            )
    prod_ok, p_errors, skipped = products.result()
    pool.shutdown()
    errors += p_errors + _to_errors(berr)
    # (the few failing rows are matched against the products, not a million SKUs turned into a Python set)
    for r in (berr.filter(pl.col("sku").is_in(prod_ok["sku"].implode())) if berr.height else berr).iter_rows(
        named=True
    ):
        s = r["sku"]
        if s not in skipped:
            skipped[s] = f"bad BOM line: {r['field']} {r['problem']} ({b_name} row {r['_row']})"
    bom_ok = _keep(bom, ~pl.col("_row").is_in(berr["_row"].implode()))
    del bom  # only bom_ok is used from here (memory: one full-width copy of the bill at a time)
    prod_ok = prod_ok.filter(~pl.col("sku").is_in(list(skipped)))

    # ---- declarations
    if decl is None:
        decl_ok = pl.DataFrame(schema=DECLARATION_SCHEMA)
    else:
        d_checks: list[Check] = [
            ("supplier", pl.col("supplier").is_null(), "a supplier is required"),
            (
                "originating",
                ~pl.col("originating").str.to_lowercase().is_in([*TRUE_WORDS, *FALSE_WORDS]),
                "write yes or no",
            ),
            ("originating", pl.col("originating").is_null(), "yes or no is required"),
            (
                "valid_from",
                pl.col("valid_from").is_not_null() & _parse_date("valid_from").is_null(),
                "dates are written YYYY-MM-DD",
            ),
            (
                "valid_to",
                pl.col("valid_to").is_not_null() & _parse_date("valid_to").is_null(),
                "dates are written YYYY-MM-DD",
            ),
            (
                "valid_to",
                _parse_date("valid_to") < _parse_date("valid_from"),
                "valid_to is before valid_from",
            ),
        ]
        derr, _ = _errors(decl, d_name, d_checks, None)
        errors += _to_errors(derr)  # a bad declaration is ignored (reported); it skips no SKU by itself
        decl_ok = decl.filter(~pl.col("_row").is_in(derr["_row"].implode())).select(
            "supplier",
            "component_id",
            pl.col("originating").str.to_lowercase().is_in(TRUE_WORDS).alias("originating"),
            _parse_date("valid_from").alias("valid_from"),
            _parse_date("valid_to").alias("valid_to"),
            "certificate_id",
        )

    # The declarations' origin and certificate columns are written in a second thread while the kernel's columns
    # are added (parts of each step use one core). Lines of SKUs set aside get theirs too, and are dropped below.
    with ThreadPoolExecutor(1) as pool:
        lookup = bom_ok.select("parent_sku", "component_id", "supplier", "origin")
        declared = pool.submit(apply_declarations, lookup, prod_ok.select("sku", "date"), decl_ok)
        bom_ok = bom_ok.with_columns(
            # the code as an index into the bill's distinct codes, for the kernel (text stays in component_hts)
            pl.col("component_hts").cast(pl.Enum(m_codes)).alias("_mhts"),
            *[pl.col(f"__f{c}").alias(c) for c in BOM_NUMBERS],
            pl.col("intermediate").is_in(TRUE_WORDS).fill_null(False).alias("intermediate"),
            pl.col("component_id").is_in(prod_ok["sku"].implode()).alias("self_produced"),
        ).drop(*(f"__f{c}" for c in BOM_NUMBERS))
        bom_ok = bom_ok.with_columns(declared.result().select("origin", "declaration"))
    # lines of SKUs set aside (few; every product SKU not kept is among them): dropped by a lookup in that
    # small set, not in the whole product list
    if skipped:
        bom_ok = _without_skus(bom_ok, p_names, list(skipped))
    # A declaration that makes a line originating while the bill names a country outside the territory is a
    # contradiction to settle, not to guess: the SKU is skipped and the row reported. (Lazily: the filter
    # copies the columns reported, not the whole bill.)
    clash = (
        bom_ok.lazy()
        .filter(
            pl.col("declaration").is_not_null()
            & (pl.col("origin") == "originating")
            & pl.col("country").is_not_null()
            & ~_in_territory("country")
        )
        .select("_row", "country", "declaration", "parent_sku")
        .collect()
    )
    for r in clash.iter_rows(named=True):
        errors.append(
            RowError(
                b_name,
                r["_row"],
                "country",
                r["country"],
                f"declared originating ({r['declaration'] or 'no certificate id'}) but produced outside the USMCA "
                "territory",
                r["parent_sku"],
            )
        )
        skipped.setdefault(r["parent_sku"], f"bad BOM line: declaration contradicts country ({b_name} row {r['_row']})")
    if clash.height:
        prod_ok = prod_ok.filter(~pl.col("sku").is_in(clash["parent_sku"].implode()))
        bom_ok = _without_skus(bom_ok, p_names, clash["parent_sku"])
    # A bill whose non-originating materials alone exceed the adjusted transaction value is an input error
    # (values or currency wrong), as for a single case.
    vnm = (  # lazily, so the filter copies two columns, not the whole bill
        bom_ok.lazy()
        .filter(~pl.col("self_produced") & (pl.col("origin") != "originating") & pl.col("_pid").is_not_null())
        .group_by("_pid")  # (integers, not twenty million names, are hashed)
        .agg(pl.col("value_u").sum().alias("vnm"))
        .collect()
    )
    vnm = vnm.with_columns(p_names.gather(vnm["_pid"]).alias("parent_sku"))
    bases = prod_ok.select(
        pl.col("sku").alias("parent_sku"),
        "_row",
        (pl.col("transaction_value_u") - pl.col("international_shipment_u").fill_null(0)).alias("atv"),
        pl.coalesce("net_cost_u", "total_cost_u").alias("nc"),
    )
    over = vnm.join(bases, on="parent_sku").filter((pl.col("vnm") > pl.col("atv")) | (pl.col("vnm") > pl.col("nc")))
    for r in over.iter_rows(named=True):
        what, fld, base = (
            ("adjusted transaction value", "transaction_value", r["atv"])
            if r["atv"] is not None and r["vnm"] > r["atv"]
            else ("net cost", "net_cost or total_cost", r["nc"])
        )
        errors.append(
            RowError(
                p_name,
                r["_row"],
                fld,
                f"{base / 1e6:.2f}",
                f"the non-originating materials alone are worth {r['vnm'] / 1e6:.2f}, more than the {what}; "
                "check the values and the currency",
                r["parent_sku"],
            )
        )
        skipped.setdefault(
            r["parent_sku"],
            f"bad product row: {fld} below the non-originating materials ({p_name} row {r['_row']})",
        )
    if over.height:
        prod_ok = prod_ok.filter(~pl.col("sku").is_in(over["parent_sku"].implode()))
        bom_ok = _without_skus(bom_ok, p_names, over["parent_sku"])
    return Portfolio(
        products=prod_ok.drop("_row"),
        bom=bom_ok,
        declarations=decl_ok,
        errors=errors,
        skipped=skipped,
        sku_names=p_names,
    )


def _bom_read_once(bom: pl.DataFrame, p_names: Callable[[], pl.Series]) -> tuple[pl.DataFrame, pl.Series]:
    """The bill with its numbers read as floats (``__f<col>``), its money and weights as millionths (``value_u``,
    ``weight_u``) and whether each line's parent is among the products' distinct SKUs (``p_names()``, called
    once the numbers are being read)
    (``_pid``: the parent's row there, null when not there; looked up once per run of lines as the kernel's
    SKU ids are); and its distinct codes (no nulls)."""
    # (a second reading, after repairs, replaces the first's columns)
    bom = bom.drop(*(f"__f{c}" for c in BOM_NUMBERS), "value_u", "weight_u", "_pid", strict=False)

    def numbers() -> pl.DataFrame:
        read = bom.select(pl.col(c).cast(pl.Float64, strict=False).alias(f"__f{c}") for c in BOM_NUMBERS)
        value_u, weight_u = micros_of(
            pl.concat([bom.select("value", "weight_kg"), read], how="horizontal"), ("value", "weight_kg")
        )
        return read.with_columns(value_u.alias("value_u"), weight_u.alias("weight_u"))

    # Two threads: the number parsing and the lookups (parents per run, distinct codes) are independent, and
    # parts of each use one core (Polars releases the interpreter while it works).
    with ThreadPoolExecutor(2) as pool:
        nums = pool.submit(numbers)
        codes = pool.submit(lambda: bom["component_hts"].unique().drop_nulls())
        known = pool.submit(lambda: sku_ids(bom, p_names()).cast(pl.UInt32))
        # (columns computed whole are cut as the bill is, ``chunks``, and set beside it directly)
        ref = bom["parent_sku"]
        added = [cut_like(s, ref) for s in nums.result().iter_columns()]
        return bom.hstack([*added, cut_like(known.result(), ref).alias("_pid")]), codes.result()


def _bom_checks(bom: pl.DataFrame, p_skus: pl.Series, codes: pl.Series) -> list[Check]:
    """Row checks of the bill (numbers from ``_bom_read_once``); ``p_skus``: the products' SKUs (imploded);
    ``codes``: the bill's distinct codes, so each malformed code is found once, not by a pattern per line."""
    designated = bool(bom.select(pl.col("intermediate").is_in(TRUE_WORDS).any()).item())
    malformed = codes.filter(~codes.str.contains(CODE_RE))
    return [
        ("parent_sku", pl.col("parent_sku").is_null(), "a parent SKU is required"),
        (
            "parent_sku",
            pl.col("parent_sku").is_not_null() & pl.col("_pid").is_null(),
            "a component without a parent (parent SKU not in PRODUCTS)",
        ),
        ("component_id", pl.col("component_id").is_null(), "a component id is required"),
        ("component_hts", pl.col("component_hts").is_null(), "an HTS code is required"),
        (
            "component_hts",
            pl.col("component_hts").is_in(malformed.implode()) if malformed.len() else pl.lit(False),
            "an HTS code has 6, 8 or 10 digits",
        ),
        ("value", pl.col("value").is_null(), "the material's value is required"),
        ("origin", ~pl.col("origin").is_in(ORIGINS), f"origin must be one of {', '.join(ORIGINS)} or empty"),
        ("country", ~pl.col("country").is_in(TWO_LETTERS), "not an ISO 3166 alpha-2 country code"),
        ("intermediate", ~pl.col("intermediate").is_in([*TRUE_WORDS, *FALSE_WORDS]), "write yes or no"),
        (
            "intermediate",
            # the SKU lookup only where a line is designated (usually none: not 20 million lookups)
            pl.col("intermediate").is_in(TRUE_WORDS) & ~pl.col("component_id").is_in(p_skus)
            if designated
            else pl.lit(False),
            "only a self-produced material (a SKU with its own bill) can be "
            "designated an intermediate material (s.8(6))",
        ),
        (
            "country",
            (pl.col("origin") == "originating") & ~_in_territory("country"),
            "an originating material is produced in the USMCA territory (US, MX, CA)",
        ),
        # (a column empty throughout has no cell to check: on 2*10^7 lines its three checks cost 0.2 s of CPU)
        *_number_checks([c for c in BOM_NUMBERS if bom[c].null_count() < bom.height], floats="__f{}"),
    ]


def _in_territory(col: str) -> pl.Expr:
    """``col`` is in the territory (US, MX, CA): a comparison per country costs half of a set lookup per cell."""
    c = pl.col(col)
    return functools.reduce(operator.or_, (c == t for t in TERRITORY))


def self_produced_lines(bom: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """The bill's self-produced lines (its multi-level edges), columns ``cols``: filtered lazily, so only those
    columns are copied (an eager filter of a many-chunked bill copies every column, seconds at 10^7 lines)."""
    return bom.lazy().filter(pl.col("self_produced")).select(cols).collect()


def _without_skus(bom: pl.DataFrame, p_names: pl.Series, skus: list[str] | pl.Series) -> pl.DataFrame:
    """``bom`` less the lines of the SKUs ``skus``, found by their parents' ids (``_pid``: rows of ``p_names``,
    which every line has once the lines without a known parent are set aside): an integer lookup per line, under
    half the cost of a name lookup (56 against 120-150 ms at 2*10^7 lines)."""
    ids = p_names.is_in(pl.Series(skus, dtype=pl.String).implode()).arg_true().cast(pl.UInt32)
    return _keep(bom, ~pl.col("_pid").is_in(ids.implode()))


def _keep(df: pl.DataFrame, keep: pl.Expr) -> pl.DataFrame:
    """``df.filter(keep)``, without copying the frame when every row is kept (the usual case), nor when the rows
    dropped lie in a few runs (lines of a few SKUs set aside, in a bill written SKU by SKU): the rows kept are
    then joined as slices of the frame, which copies nothing (a filter copies every column of every chunk
    that loses a row: seconds for a bill of 20 million lines)."""
    mask = df.select(keep.fill_null(False)).to_series()
    # the rows dropped (usually none or a few hundred), then their runs: found on those positions alone, not on
    # a pass of the whole mask
    dropped = mask.not_().arg_true()
    if dropped.len() == 0:
        return df
    import numpy as np

    d = dropped.to_numpy().astype(np.int64)
    breaks = np.flatnonzero(np.diff(d) != 1) + 1  # where a run of dropped rows starts (after the first)
    if len(breaks) + 1 > KEEP_SLICES:
        return df.filter(mask)
    gone_from = d[np.concatenate(([0], breaks))]
    gone_to = d[np.concatenate((breaks - 1, [len(d) - 1]))] + 1
    # the kept runs lie between the dropped ones
    starts = np.concatenate(([0], gone_to))
    ends = np.concatenate((gone_from, [df.height]))
    parts = [df.slice(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True) if b > a]
    return pl.concat(parts, rechunk=False) if parts else df.clear()


KEEP_SLICES = 2000  # beyond this many runs kept, a filter's copy costs less than the chunks' bookkeeping


def _unknown_code_rows(
    df: pl.DataFrame, col: str, known_codes: KnownCodes, on: dt.date, distinct: pl.Series | None = None
) -> pl.DataFrame:
    """Rows whose code is well formed but not in the schedule on the date. Each distinct code is asked once
    (portfolios repeat codes heavily); only the rows holding one of the few unknown codes are then looked at
    (none, usually)."""
    if distinct is None:
        distinct = df.select(pl.col(col).unique()).to_series()
    distinct = distinct.filter(distinct.str.contains(CODE_RE).fill_null(False))
    unknown = distinct.filter(~known_codes(distinct, on).fill_null(False))
    if unknown.len() == 0:
        return df.clear()
    return df.filter(pl.col(col).is_in(unknown.implode()))


def _valid_on(day: pl.Expr) -> pl.Expr:
    """A declaration covers ``day``: its window is inclusive at both ends, and an open end is no limit."""
    return (pl.col("valid_from").is_null() | (pl.col("valid_from") <= day)) & (
        pl.col("valid_to").is_null() | (day <= pl.col("valid_to"))
    )


def apply_declarations(bom: pl.DataFrame, dates: pl.DataFrame, decl: pl.DataFrame) -> pl.DataFrame:
    """Fill ``origin`` of lines with an empty origin from the supplier declarations valid on the SKU's date.

    A component-specific declaration wins over a supplier-wide one (empty ``component_id``). Declarations
    that disagree on the same line leave it ``unknown`` and name the conflict in ``declaration``.
    The window is inclusive at both ends (a certificate's blanket period covers its last day).
    """
    # Only lines with an empty origin and a supplier need the SKU's date: joined on those, not on every line.
    if decl.height == 0:
        return bom.with_columns(pl.col("origin").fill_null("unknown"), pl.lit(None, pl.String).alias("declaration"))
    days = dates["date"].unique()
    if days.len() == 1 and days[0] is not None:
        return _declarations_on(bom, days[0], decl)
    base = bom.with_row_index("_line")
    valid = _valid_on(pl.col("_date"))
    need = (
        base.filter(pl.col("origin").is_null() & pl.col("supplier").is_not_null())
        .select("_line", "supplier", "component_id", "parent_sku")
        .join(dates.rename({"sku": "parent_sku", "date": "_date"}), on="parent_sku", how="left")
        .drop("parent_sku")
    )
    specific = (
        need.join(decl.filter(pl.col("component_id").is_not_null()), on=["supplier", "component_id"])
        .filter(valid)
        .with_columns(pl.lit(0).alias("_rank"))
    )
    wide = (
        need.join(decl.filter(pl.col("component_id").is_null()).drop("component_id"), on="supplier")
        .filter(valid)
        .with_columns(pl.lit(1).alias("_rank"))
    )
    cols = ["_line", "originating", "certificate_id", "_rank"]
    hits = pl.concat([specific.select(cols), wide.select(cols)])
    best = hits.filter(pl.col("_rank") == pl.col("_rank").min().over("_line"))
    agg = _resolved(best, ["_line"])
    out = base.join(agg, on="_line", how="left", maintain_order="left").with_columns(
        _declared(keep=pl.col("origin").is_not_null())
    )
    return out.drop("_line", "_n", "_orig")


def _resolved(decl: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Declarations that apply to the same key, combined: how many distinct answers, the answer, the
    certificates (sorted, comma-joined)."""
    return decl.group_by(keys).agg(
        pl.col("originating").n_unique().alias("_n"),
        pl.col("originating").first().alias("_orig"),
        pl.col("certificate_id").drop_nulls().unique().sort().str.join(",").alias("declaration"),
    )


def _declared(keep: pl.Expr) -> list[pl.Expr]:
    """``origin`` and ``declaration`` from the combined declarations (_n, _orig, declaration) of each line;
    lines where ``keep`` holds keep the origin the bill gave and name no declaration."""
    return [
        pl.when(keep)
        .then(pl.col("origin"))
        .when(pl.col("_n") > 1)
        .then(pl.lit("unknown"))
        .when(pl.col("_orig"))
        .then(pl.lit("originating"))
        .when(pl.col("_orig").not_())
        .then(pl.lit("non_originating"))
        .otherwise(pl.lit("unknown"))
        .alias("origin"),
        pl.when(keep)
        .then(pl.lit(None, pl.String))
        .when(pl.col("_n") > 1)
        .then(pl.lit("conflicting declarations: ") + pl.col("declaration"))
        .otherwise(pl.col("declaration"))
        .alias("declaration"),
    ]


def _declarations_on(bom: pl.DataFrame, day: dt.date, decl: pl.DataFrame) -> pl.DataFrame:
    """``apply_declarations`` when every SKU has the same date (the usual run): the declarations valid that
    day are combined per supplier (and per supplier and component) once; only the lines with an empty origin are
    looked up, and their answers are written back in place."""
    valid = decl.filter(_valid_on(pl.lit(day)))
    wide = _resolved(valid.filter(pl.col("component_id").is_null()), ["supplier"])
    spec = _resolved(valid.filter(pl.col("component_id").is_not_null()), ["supplier", "component_id"])
    # every line with an empty origin: one without a supplier matches nothing and becomes unknown, as in the
    # general path (written back in one scatter: filling the whole column first cost seconds)
    lines = bom.select(pl.col("origin").is_null().arg_true()).to_series()
    # (the component ids are gathered only when some declaration names one)
    sub = bom.select("supplier", "component_id" if spec.height else pl.lit(None, pl.String).alias("component_id"))[
        lines
    ]
    got = sub.join(wide, on="supplier", how="left", maintain_order="left")
    if spec.height:
        # a component-specific declaration wins over the supplier-wide one for its lines
        sp = sub.join(spec, on=["supplier", "component_id"], how="left", maintain_order="left")
        has = sp["_n"].is_not_null()
        got = got.with_columns(
            pl.when(has).then(sp[c]).otherwise(pl.col(c)).alias(c) for c in ("_n", "_orig", "declaration")
        )
    answer = got.with_columns(pl.lit(None, pl.String).alias("origin")).with_columns(_declared(keep=pl.lit(False)))
    ref = bom["parent_sku"]  # (the scattered columns cut as the bill is: ``chunks``)

    def origin() -> pl.Series:
        return cut_like(bom["origin"].clone().scatter(lines, answer["origin"]), ref)

    def declaration() -> pl.Series:
        blank = pl.repeat(None, bom.height, dtype=pl.String, eager=True)
        return cut_like(blank.scatter(lines, answer["declaration"]), ref)

    # (the two columns in two threads: a scatter uses one core, and Polars releases the interpreter meanwhile)
    with ThreadPoolExecutor(2) as pool:
        o, d = pool.submit(origin), pool.submit(declaration)
        return bom.with_columns(o.result().alias("origin"), d.result().alias("declaration"))
