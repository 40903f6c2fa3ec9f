"""Run a whole portfolio: read, evaluate level by level with the kernel, fall back to the single-good engine,
price the exposure, summarise.

The kernel (``kernel.evaluate``) decides every SKU it covers; the rest go to ``usmca.origin.determine`` one by
one, and the run counts them by reason. Results keep the interchange section 5 columns first, then extras
(``rvc_margin``, ``engine``, ``fallback_reason``, exposure figures).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from usmca.errors import InputError, UsmcaError
from usmca.portfolio.kernel import RESULT_SCHEMA, VEHICLE_HEADINGS, RuleTables, evaluate
from usmca.portfolio.read import Portfolio, RowError, read_portfolio, self_produced_lines

RESULT_COLUMNS = (
    "sku",
    "status",
    "criterion",
    "rule_id",
    "rvc_transaction_value",
    "rvc_net_cost",
    "blockers",
    "needs",
    "duty_at_stake",
)
Progress = Callable[[str, int, int], None]  # (stage, done, total)
_Case = tuple[str, str, dict[str, Any] | None, str | None]  # sku, fallback reason, origin case or None, problem


@dataclass
class RunResult:
    results: pl.DataFrame
    errors: list[RowError]
    skipped: dict[str, str]
    engine_counts: dict[str, int]
    fallback_reasons: dict[str, int]
    exposure_method: str
    vintage: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        st = self.results.group_by("status").len().sort("status")
        return {
            "skus": self.results.height,
            "by_status": dict(zip(st["status"].to_list(), st["len"].to_list(), strict=True)),
            "engine": self.engine_counts,
            "fallback_reasons": self.fallback_reasons,
            "skipped": len(self.skipped),
            "skipped_reasons": _count_reasons(self.skipped),
            "row_errors": len(self.errors),
            "exposure": self.exposure_method,
            "vintage": self.vintage,
        }


def _count_reasons(skipped: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in skipped.values():
        k = r.split(" (", 1)[0]
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# ------------------------------------------------------------------------------------------ reference data


def load_rule_tables(conn: sqlite3.Connection | None = None, corpus: Any = None) -> tuple[RuleTables, Any]:
    if corpus is None:
        from usmca.rules.corpus import load_corpus

        corpus = load_corpus(conn)
    rules = getattr(corpus, "rules", None)
    if rules is None:
        raise UsmcaError("the rule corpus exposes no `rules` collection; the portfolio kernel cannot flatten it")
    if isinstance(rules, dict):
        rules = list(rules.values())
    return RuleTables.from_rules(rules), corpus


def schedule_checker(conn: sqlite3.Connection | None) -> Callable[[pl.Series, dt.date], pl.Series]:
    """Code existence on a date via the schedule module, once per distinct code."""
    from usmca.nomenclature import schedule as sched

    def known(codes: pl.Series, on: dt.date) -> pl.Series:
        return pl.Series(sched.exists_many(codes.to_list(), on, conn=conn), dtype=pl.Boolean)

    return known


# Per-code answers of the reference modules (Part 6 tables, Schedule 2, the schedule's wording) do not change
# between runs on the same store and the same code: memoised in memory and on disk under $USMCA_HOME/cache,
# keyed by the store's build time and a digest of the package's source, so a portfolio pays for each distinct
# code once per store build, and an upgraded rule module never answers from its predecessor's cache.
_MEMO: dict[str, Any] = {}
_MEMO_STATE: dict[str, Any] = {"loaded": None, "dirty": False}
_MEMO_LOCK = threading.Lock()
_ABSENT = object()


_MEMO_PATHS: dict[tuple[int, str | None], tuple[sqlite3.Connection, Path | None]] = {}


def _memo_file(conn: sqlite3.Connection | None) -> Path | None:
    # Asked once per distinct code in tight loops: resolved once per connection (a connection keeps reading the
    # store file it opened, so its build stamp cannot change under it; the entry holds the connection so its
    # id is not reused).
    if conn is None:
        return None
    key = (id(conn), os.environ.get("USMCA_HOME"))
    hit = _MEMO_PATHS.get(key)
    if hit is not None and hit[0] is conn:
        return hit[1]
    path = _memo_file_uncached(conn)
    _MEMO_PATHS[key] = (conn, path)
    return path


def _memo_file_uncached(conn: sqlite3.Connection) -> Path | None:
    from usmca.config import usmca_home

    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'built_at'").fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    stamp = "".join(ch for ch in str(row[0]) if ch.isalnum())
    return usmca_home() / "cache" / f"portfolio-codes-{stamp}-{code_stamp()}.json"


@functools.cache
def code_stamp() -> str:
    """A digest of the package's source and data (paths and bytes): the answers memoised on disk come from its
    modules and their YAML (the general and automotive provisions, the measures), so a change to any of them (a
    new release, a local edit) starts a new memo."""
    return source_digest(Path(__file__).resolve().parents[1])


SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def source_digest(root: Path) -> str:
    """The first 16 hex digits of a SHA-256 over the files under ``root`` whose suffix is one of
    ``SOURCE_SUFFIXES`` (relative paths and bytes)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(f for f in root.rglob("*") if f.suffix in SOURCE_SUFFIXES and f.is_file()):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _memo(conn: sqlite3.Connection | None, key: str, fn: Callable[[], Any]) -> Any:
    # (asked from two threads at once: the kernel's and the one asking per-code answers ahead; the file is
    # loaded once under a lock, and an answer is returned as computed, never read back)
    path = _memo_file(conn)
    # (``is``, then ``!=``: a path compared by value costs more than the lookup it guards, tens of thousands of
    # times per run; the entry of ``_MEMO_PATHS`` is the same object every time)
    if path is not None and _MEMO_STATE["loaded"] is not path:
        with _MEMO_LOCK:
            if _MEMO_STATE["loaded"] != path:
                import json

                got: Any = {}
                if path.exists():
                    with contextlib.suppress(OSError, ValueError):
                        got = json.loads(path.read_text())
                _MEMO.clear()
                _MEMO.update(got if isinstance(got, dict) else {})  # (a damaged memo only costs time)
            _MEMO_STATE["loaded"] = path
    value = _MEMO.get(key, _ABSENT)
    if value is _ABSENT:
        value = _MEMO[key] = fn()
        _MEMO_STATE["dirty"] = True
    return value


def flush_memo(conn: sqlite3.Connection | None) -> None:
    path = _memo_file(conn)
    if path is None or not _MEMO_STATE["dirty"]:
        return
    import json

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_MEMO.copy()))  # (a copy: another thread may still be adding answers)
        os.replace(tmp, path)
        _MEMO_STATE["dirty"] = False
        _prune_memos(path)
    except OSError:
        pass  # a cache that cannot be written only costs time


MEMOS_KEPT = 4  # memos of one store build kept for other code (versions side by side, a change tried and undone)


def _prune_memos(path: Path) -> None:
    """Remove the memos of other store builds (never read again) and, of this build's, all but the
    ``MEMOS_KEPT`` most recently written."""
    build = path.name.rsplit("-", 1)[0]
    same: list[Path] = []
    for other in path.parent.glob("portfolio-codes-*.json"):
        if other.name.rsplit("-", 1)[0] != build:
            other.unlink(missing_ok=True)
        elif other != path:
            same.append(other)
    same.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    for other in same[MEMOS_KEPT - 1 :]:
        other.unlink(missing_ok=True)


def screen(products: pl.DataFrame, on: dt.date, conn: sqlite3.Connection | None, corpus: Any) -> pl.DataFrame:
    """SKUs the single-good engine must take for facts of the good the kernel does not model, by distinct
    (hts, use, date): Part 6 (automotive core, principal and complementary parts: ``automotive.core_part``)
    and codes Schedule 2 cannot be asked about. -> sku, reason. (Chapter rules adding a requirement and
    Schedule 2 goods listed on facts are the kernel's: ``note_needs_hook``, ``deemed_hook``.)
    """
    auto, base = _automotive(corpus)
    gen = _general()
    keys = products.select("hts", "use", "date").unique()
    reasons: list[str | None] = []
    # Every answer below reads six digits of the code (the memo keys say so): asked once per subheading, use
    # and date, not per tariff item (4,875 keys for 15,431 codes on the benchmark catalogue).
    seen: dict[tuple[str, str | None, dt.date | None], str | None] = {}
    for hts, use, when in keys.iter_rows():
        six = (hts[:6], use, when)
        if six in seen:
            reasons.append(seen[six])
            continue
        reason: str | None = None
        if auto is not None:
            day = when or on
            if hts[:4] in VEHICLE_HEADINGS and _has_vehicle_rule(auto, base, hts, use, day, conn):
                # a vehicle is weighed by its s.13 rule, not Part 6's parts tables (``determine._auto``): the
                # kernel's ``part6_open.vehicle`` takes it or hands it to the engine
                reason = None
            else:
                kind, payload = _part6(auto, hts, use, day, conn, base)
                reason = payload if kind == "engine" else None
        if reason is None and gen is not None and hasattr(gen, "deemed_originating"):
            # Schedule 2 cases that turn on facts are the kernel's (``deemed_hook(...).needs``); only a code
            # Schedule 2 cannot be asked about goes to the engine, which reports the error.
            def sched2(h: str = hts) -> str | None:
                try:
                    gen.deemed_originating(h, conn=conn)
                except UsmcaError as exc:
                    return f"Schedule 2 (s.3(7)): {exc}"
                return None

            reason = _memo(conn, f"sched2e|{hts[:6]}", sched2)
        seen[six] = reason
        reasons.append(reason)
    k = keys.with_columns(pl.Series("reason", reasons, pl.String)).filter(pl.col("reason").is_not_null())
    return products.join(k, on=["hts", "use", "date"], how="inner", nulls_equal=True).select("sku", "reason")


def _has_vehicle_rule(
    auto: Any, base: Any, hts: str, use: str | None, day: dt.date, conn: sqlite3.Connection | None
) -> bool:
    def ask() -> bool:
        try:
            return auto.vehicle_requirement(hts, use, day, conn=conn) is not None
        except UsmcaError:
            return False

    return bool(_auto_memo(auto, base, conn, f"hasveh|{hts[:6]}|{use}|{day}", ask))


def note_needs_hook(corpus: Any) -> Callable[[str], list[str]] | None:
    """The facts GN 11(o) chapter rules add for a good, worded as the single-good engine words them for a
    good with no facts stated (``determine._note_requirements``, which this calls)."""
    if corpus is None or not hasattr(corpus, "notes_for"):
        return None
    from types import SimpleNamespace

    from usmca.origin.determine import _note_requirements

    blank = SimpleNamespace(facts={}, path="good")
    cache: dict[str, list[str]] = {}

    def needs(hts: str) -> list[str]:
        if hts not in cache:
            checks = _note_requirements(blank, corpus.notes_for(hts))  # type: ignore[arg-type]
            cache[hts] = [n for ch in checks for n in ch.needs]
        return cache[hts]

    return needs


def rule_lookup_hook(corpus: Any) -> Callable[[str, Any, str | None, str | None], str | tuple[str, ...]] | None:
    """``(good_hts, date, use, country_of_production)`` -> the single-good engine's rule lookup for such a good
    with no facts stated: what it asks when it finds no usable rule (``determine.rule_lookup_need``), else the
    ids of the rules it found. Asked only for codes the kernel's tables cannot place (a few hundred at most)."""
    if corpus is None or not hasattr(corpus, "rules_for"):
        return None
    from types import SimpleNamespace

    from usmca.origin.determine import _rules_for, rule_lookup_need

    cache: dict[tuple[Any, ...], str | tuple[str, ...]] = {}

    def lookup(hts: str, day: Any, use: str | None, country: str | None) -> str | tuple[str, ...]:
        key = (hts, day, use, country)
        if key not in cache:
            gv = SimpleNamespace(hts=hts, use=use, country=country, facts={})
            match = _rules_for(corpus, gv, day)  # type: ignore[arg-type]
            need = rule_lookup_need("good", hts, match)
            cache[key] = need if need is not None else tuple(r.id for r in match.rules)
        return cache[key]

    return lookup


def _automotive(corpus: Any) -> tuple[Any, Any]:
    """(the Part 6 rules the engine applies for this corpus, the module itself): a scenario's corpus carries
    its own (``corpus.automotive``), as ``determine`` takes them."""
    import importlib

    try:
        base: Any = importlib.import_module("usmca.rules.automotive")
    except ModuleNotFoundError:
        base = None
    return (getattr(corpus, "automotive", None) or base), base


# Answers of a scenario's Part 6 rules are kept with that overlay object, never in the store build's file.
_OVERLAY_MEMO: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _auto_memo(auto: Any, base: Any, conn: sqlite3.Connection | None, key: str, fn: Callable[[], Any]) -> Any:
    if auto is base:
        return _memo(conn, key, fn)
    cache = _OVERLAY_MEMO.setdefault(auto, {})
    if key not in cache:
        cache[key] = fn()
    return cache[key]


def _part6(
    auto: Any, hts: str, use: str | None, day: dt.date, conn: sqlite3.Connection | None, base: Any
) -> tuple[str, Any]:
    """What Part 6 does to a good (``automotive.core_part``, as ``determine._auto`` asks it), memoised per
    (subheading, use, date): ("none", None) it sets nothing; ("open", needs) it lists the part but the use is
    not stated, so each RVC alternative is undecided on ``needs`` (the kernel takes it); ("engine", reason)
    anything else (a threshold that replaces the rule's, a use given, an error) goes to the engine."""

    def ask() -> list[Any]:
        try:
            cp = auto.core_part(hts, use, day, conn=conn)
        except UsmcaError as exc:
            return ["engine", f"Part 6 (automotive): {exc}"]
        if cp is None:
            return ["none", None]
        status = getattr(cp, "status", "")
        if status == "unresolved":
            if use is None:
                return ["open", list(getattr(cp, "needs", ()) or ()) or ["good.use"]]
        elif status not in ("resolved", "applies") or (cp.rvc is None and not getattr(cp, "rvc_only", False)):
            return ["none", None]  # exempt, or listed without a threshold: the rule applies as written
        return ["engine", "Part 6 (automotive) core, principal or complementary part"]

    # core_part reads the first six digits only
    kind, payload = _auto_memo(auto, base, conn, f"p6|{hts[:6]}|{use}|{day}", ask)
    return str(kind), payload


def part6_hook(
    on: dt.date, conn: sqlite3.Connection | None, corpus: Any = None
) -> Callable[[str, dt.date | None], list[str] | None]:
    """``kernel.evaluate``'s ``part6_open`` for goods with no use stated (see ``_part6``), with the Part 6
    rules of ``corpus`` (a scenario's) where it carries them."""
    auto, base = _automotive(corpus)
    if auto is None:
        return lambda _h, _d: None

    def open_needs(hts: str, day: dt.date | None) -> list[str] | None:
        kind, payload = _part6(auto, hts, None, day or on, conn, base)
        return list(payload) if kind == "open" else None

    def vehicle(
        hts: str, use: str | None, day: dt.date | None
    ) -> tuple[float | None, float | None, bool, tuple[str, ...], bool, tuple[str, ...]] | None:
        got = _auto_memo(
            auto, base, conn, f"veh3|{hts[:6]}|{use}|{day or on}", lambda: _vehicle_rvc(auto, hts, use, day or on, conn)
        )
        return None if got is None else (got[0], got[1], bool(got[2]), tuple(got[3]), bool(got[4]), tuple(got[5]))

    # s.13 for a vehicle (``determine._auto``): the threshold that replaces the RVC of each branch that has
    # one, and the facts the other Part 6 requirements ask once the vehicle passes (core parts, steel and
    # aluminum, labour value content: ``determine._other_requirements``); anything else goes to the engine
    open_needs.vehicle = vehicle  # type: ignore[attr-defined]
    return open_needs


def _vehicle_rvc(
    auto: Any, hts: str, use: str | None, day: dt.date, conn: sqlite3.Connection | None
) -> list[Any] | None:
    """[tv, nc, tv only if the rule allows it, facts] of the s.13 threshold of a vehicle, with the facts its
    other requirements ask of a good that states none (core parts, steel and aluminum, labour value content,
    in the engine's order and words); None when the rule sets no threshold or is unresolved on the date."""
    try:
        vr = auto.vehicle_requirement(hts, use, day, conn=conn)
    except UsmcaError:
        return None
    if vr is not None and vr.status == "unresolved":
        # (the class of vehicle depends on facts not stated: each RVC branch undecided on them, and so is a
        # vehicle that passes otherwise; ``determine._auto``, ``_alternative``, ``_other_requirements``)
        return [None, None, False, list(vr.needs), True, list(vr.needs) or ["good.use"]]
    if vr is None or vr.status not in ("resolved", "applies") or vr.rvc is None:
        return None
    from usmca.origin.determine import vehicle_fact_checks

    checks = vehicle_fact_checks(auto, vr, {})
    if any(c.passed is not None for c in checks):
        return None  # a requirement settled without facts: the engine weighs it
    thr = vr.rvc
    return [
        thr.transaction_value,
        thr.net_cost,
        bool(getattr(thr, "transaction_value_if_rule_allows", False)),
        list(dict.fromkeys(n for c in checks for n in c.needs)),
        False,
        [],
    ]


def deemed_hook(conn: sqlite3.Connection | None) -> Callable[[str], bool] | None:
    """Schedule 2 (s.3(7)): listed, no fact left to state (the screen sends other cases to the engine)."""
    gen = _general()
    if gen is None or not hasattr(gen, "deemed_originating"):
        return None

    def deemed_now(hts: str) -> bool:
        try:
            do = gen.deemed_originating(hts, conn=conn)
        except UsmcaError:
            return False
        return bool(do.status != "not_listed" and do.status != "unresolved" and not do.needs)

    def deemed(hts: str) -> bool:
        return bool(_memo(conn, f"deemed|{hts[:6]}", lambda: deemed_now(hts)))

    def needs_now(hts: str) -> list[str] | None:
        try:
            do = gen.deemed_originating(hts, conn=conn)
        except UsmcaError:
            return None  # ``screen`` sends the good to the engine
        if do.status in ("not_listed", "unresolved") or not do.needs:
            return None  # not listed, or listed on a mapping that is not one-to-one: the engine only notes it
        return [f"good.facts.{k}: true if the good is as Schedule 2 describes it" for k in do.needs]

    def needs(hts: str) -> list[str] | None:
        got = _memo(conn, f"deemedneeds|{hts[:6]}", lambda: needs_now(hts))
        return None if got is None else list(got)

    # The facts a listed good needs before s.3(7) deems it originating (``determine._schedule_2``, none stated
    # in a portfolio row): a good failing (B) and (D) is then unresolved on them, not non-originating.
    deemed.needs = needs  # type: ignore[attr-defined]
    return deemed


def _exclusion_candidates(gen: Any) -> Callable[[str, str], bool] | None:
    """An exact necessary condition for ``de_minimis_excluded(g, m)`` to name anything, from per-code indexes:
    paragraph (k) (``g`` in chapters 1-27, ``m`` in its subheading), or an exception whose good clause covers an
    HS 2017 counterpart of ``g`` and whose material clause covers one of ``m`` (``general._excluded`` reads the
    codes the same way). Only candidates are asked in full (about a millisecond each)."""
    try:
        p = gen.provisions()
        exceptions = [([c.codes for c in e.good], [c.codes for c in e.material]) for e in p.exceptions]
        k = p.k_scope
        olds_of = gen._hs2017
    except (AttributeError, TypeError):
        return None
    from usmca.store import store

    conn = store()
    index: dict[tuple[str, int], frozenset[int]] = {}

    def hits(code6: str, side: int) -> frozenset[int]:
        key = (code6, side)
        got = index.get(key)
        if got is None:
            olds = olds_of(code6, conn)
            got = index[key] = frozenset(
                i for i, sides in enumerate(exceptions) if any(cs.contains(o) for cs in sides[side] for o in olds)
            )
        return got

    def candidate(g: str, m: str) -> bool:
        if k.contains(g[:2]) and m[:6] == g[:6]:
            return True
        return bool(hits(g[:6], 0) & hits(m[:6], 1))

    return candidate


def _exclusion_frame(gen: Any, conn: sqlite3.Connection) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """``exclusion`` for every pair of a frame at once (columns _g6, _m6), as ``general._excluded`` decides
    it: paragraph (k) (a good of Chapters 1-27 and a material of its subheading) excludes for certain;
    otherwise an exception excludes when it names both codes, for certain when both sides are settled
    without facts (``general.exclusion_sides``). 2 certain, 1 depends on facts (or a code could not be
    read), 0 none. Sides are computed once per distinct code, pairs combined by joins."""
    k_scope = gen.provisions().k_scope
    side_memo: dict[tuple[str, str], tuple[tuple[int, bool], ...] | None] = {}

    def ask(code: str, side: str) -> list[list[Any]] | None:
        try:
            return [[i, cert] for i, cert in gen.exclusion_sides(code, side, conn)]
        except UsmcaError:
            return None  # as the per-pair hook: a code the provisions cannot read -> 1

    def sides(code: str, side: str) -> tuple[tuple[int, bool], ...] | None:
        key = (code, side)
        if key not in side_memo:
            # kept with the other per-code answers of this store build (``_memo``): later runs skip the calls
            got = _memo(conn, f"xs|{side}|{code}", lambda: ask(code, side))
            side_memo[key] = None if got is None else tuple((int(i), bool(c)) for i, c in got)
        return side_memo[key]

    def table(codes: list[str], side: str, col: str) -> tuple[pl.DataFrame, list[str]]:
        rows: list[tuple[str, int, bool]] = []
        bad: list[str] = []
        for c in codes:
            got = sides(c, side)
            if got is None:
                bad.append(c)
            else:
                rows.extend((c, i, cert) for i, cert in got)
        schema = {col: pl.String, "_exc": pl.Int32, f"{col}_cert": pl.Boolean}
        return pl.DataFrame(rows, schema=schema, orient="row"), bad

    def frame(pairs: pl.DataFrame) -> pl.DataFrame:
        goods, materials = pairs["_g6"].unique(), pairs["_m6"].unique()
        gx, g_bad = table(goods.to_list(), "good", "_g6")
        mx, m_bad = table(materials.to_list(), "material", "_m6")
        k_goods = [c for c in goods.to_list() if k_scope.contains(c[:2])]
        # Each row answered in place: the exceptions are joined only on the rows whose two codes some exception
        # names (a join of every pair's two texts, and back, cost twice the time).
        at = pairs.select("_g6", "_m6").with_row_index("_i")
        named = (
            at.filter(pl.col("_g6").is_in(gx["_g6"].implode()) & pl.col("_m6").is_in(mx["_m6"].implode()))
            .join(gx, on="_g6")
            .join(mx, on=["_m6", "_exc"])
            .group_by("_i")
            .agg((pl.col("_g6_cert") & pl.col("_m6_cert")).any().alias("_cert"))
        )
        excl = at.join(named, on="_i", how="left", maintain_order="left").select(
            pl.when(pl.col("_g6").is_in(k_goods) & (pl.col("_g6") == pl.col("_m6")))
            .then(2)
            .when(pl.col("_g6").is_in(g_bad) | pl.col("_m6").is_in(m_bad))
            .then(1)
            .when(pl.col("_cert"))
            .then(2)
            .when(pl.col("_cert").is_not_null())
            .then(1)
            .otherwise(0)
            .cast(pl.Int8)
            .alias("excl")
        )
        return pairs.with_columns(excl["excl"])

    # (the kernel asks the sides of its codes ahead, in a second thread: ``frame`` then finds them here)
    frame.sides = sides  # type: ignore[attr-defined]
    return frame


def general_hooks() -> tuple[Callable[[str, str], int] | None, Callable[[str], str] | None]:
    """The de minimis provisions of ``usmca.rules.general`` in the shape the kernel takes (see
    ``kernel.evaluate``), mirroring ``criteria.de_minimis_value`` and ``determine._de_minimis``."""
    gen = _general()
    if gen is None:
        return None, None

    candidate = _exclusion_candidates(gen)
    seen: dict[tuple[str, str], int] = {}
    from usmca.store import store

    memo_conn = store()

    def exclusion(g: str, m: str) -> int:
        if candidate is not None and not candidate(g, m):
            return 0
        key = (g[:6], m[:6])  # the answer reads six digits of each code (HS 2017 counterparts, paragraph (k))
        if key not in seen:
            seen[key] = int(_memo(memo_conn, f"excl|{key[0]}|{key[1]}", lambda: _exclusion_full(g, m)))
        return seen[key]

    def _exclusion_full(g: str, m: str) -> int:
        try:
            why = gen.de_minimis_excluded(g, m)
        except UsmcaError:
            return 1
        if not why:
            return 0
        if isinstance(why, str) or getattr(why, "certain", True):
            return 2
        # depends on facts of the good, which a portfolio row does not state (none named: no exclusion)
        return 1 if _facts_of(why) else 0

    def _facts_of(why: Any) -> tuple[str, ...]:
        """The facts of the good an exception depends on (none where it is absent or certain)."""
        if not why or isinstance(why, str) or getattr(why, "certain", True):
            return ()
        return tuple(getattr(why, "needs", ()) or ())

    asked: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def facts(g: str, m: str) -> list[tuple[str, str]]:
        """The facts of the good (key, citation) on which a s.5(3) exception to de minimis for a material of
        code ``m`` depends (``criteria.de_minimis_value`` names each as a need); none when it does not."""
        key = (g[:6], m[:6])  # (six digits of each, as for ``exclusion``)
        if key not in asked:
            got = _memo(memo_conn, f"exclfacts|{key[0]}|{key[1]}", lambda: _facts_asked(g, m))
            asked[key] = [(k, c) for k, c in got]
        return asked[key]

    def _facts_asked(g: str, m: str) -> list[tuple[str, str]]:
        try:
            why = gen.de_minimis_excluded(g, m)
        except UsmcaError:
            return []
        return [(k, why.citation) for k in _facts_of(why)]

    exclusion.facts = facts  # type: ignore[attr-defined]
    prov = gen.provisions() if hasattr(gen, "provisions") else None

    modes: dict[str, str] = {}

    def mode(g: str) -> str:
        if g not in modes:  # (asked per distinct code of every evaluation; kept with the store's other answers)
            modes[g] = str(_memo(memo_conn, f"dmmode|{g}", lambda: _mode(g)))
        return modes[g]

    def _mode(g: str) -> str:
        tests = gen.de_minimis_policy(g).tests
        if not tests:
            return "none"
        names = []
        for t in tests:
            if prov is not None and t is getattr(prov, "value_test", None):
                names.append("value")
            elif prov is not None and t is getattr(prov, "apparel_test", None):
                names.append("apparel")
            elif prov is not None and t is getattr(prov, "textile_test", None):
                names.append("textile")
            else:
                names.append("other")
        return "+".join(names)

    # Its answer reads six digits of each code (the candidate index and ``seen`` are keyed so): the kernel may
    # ask once per distinct pair of subheadings, or all pairs at once through ``frame``.
    exclusion.reads_six_digits = True  # type: ignore[attr-defined]
    if hasattr(gen, "exclusion_sides") and hasattr(gen, "provisions"):
        exclusion.frame = _exclusion_frame(gen, memo_conn)  # type: ignore[attr-defined]
    return exclusion, mode


def parts_hook(on: dt.date, conn: sqlite3.Connection | None) -> Callable[[str], bool | None]:
    """Whether the schedule's text for the good's subheading (or heading, not subdivided) names parts
    (s.3(5)(a)): the engine's own reading (``determine.parts_in_nomenclature``); None without a store."""
    from usmca.origin.determine import parts_in_nomenclature

    def parts(hts: str) -> bool | None:
        v: bool | None = _memo(conn, f"parts|{hts}|{on}", lambda: parts_in_nomenclature(hts, on, conn))
        return v

    return parts


def _general() -> Any:
    import importlib

    try:
        return importlib.import_module("usmca.rules.general")
    except ModuleNotFoundError:
        return None


# ----------------------------------------------------------------------------------------------- the run


def run_files(
    products: Path,
    bom: Path,
    declarations: Path | None = None,
    *,
    on: dt.date,
    conn: sqlite3.Connection | None = None,
    backend: str = "embedded",
    progress: Progress | None = None,
    exposure: bool = True,
) -> RunResult:
    if conn is None:
        from usmca.store import store

        conn = store()
    if progress:
        progress("read", 0, 1)
    pf = read_portfolio(products, bom, declarations, on=on, known_codes=schedule_checker(conn))
    if progress:
        progress("read", 1, 1)
    return run_portfolio(pf, on=on, conn=conn, backend=backend, progress=progress, exposure=exposure)


def run_portfolio(
    pf: Portfolio,
    *,
    on: dt.date,
    conn: sqlite3.Connection | None = None,
    corpus: Any = None,
    tables: RuleTables | None = None,
    backend: str = "embedded",
    progress: Progress | None = None,
    exposure: bool = True,
    fallback_limit: int | None = None,
) -> RunResult:
    """Evaluate every SKU of a checked portfolio. ``fallback_limit`` (benchmarks) caps single-good calls:
    SKUs beyond it are reported ``unresolved`` with the reason, never silently dropped."""
    if tables is None:
        tables, corpus = load_rule_tables(conn, corpus)
    dm_exclusion, dm_mode = general_hooks()
    prod, bom = pf.products, pf.bom
    # SKUs whose bill holds a self-produced material (its own sub-bill) go to the single-good engine, which
    # determines the sub-bill as a material of this parent (s.3(8), s.7(5)); the kernel takes the rest.
    multi = self_produced_lines(bom, "parent_sku").select(pl.col("parent_sku").alias("sku")).unique()
    part6 = screen(prod.join(multi, on="sku", how="anti"), on, conn, corpus)
    multi_reason = multi.with_columns(pl.lit("multi-level bill (self-produced material)").alias("reason"))
    multi = pl.concat([multi, part6.select("sku")])
    flat_prod = prod.join(multi, on="sku", how="anti")
    # The whole bill goes to the kernel, which takes only the lines of the SKUs it is given: no copy of the
    # bill without the multi-level and screened SKUs' lines.
    if progress:
        progress("kernel", 0, 1)
    if backend == "spark":
        from usmca.portfolio.spark import evaluate_spark

        kr = evaluate_spark(
            flat_prod,
            bom,
            tables,
            dm_exclusion=dm_exclusion,
            dm_mode=dm_mode,
            parts_in_nomenclature=parts_hook(on, conn),
            deemed_originating=deemed_hook(conn),
            note_needs=note_needs_hook(corpus),
            part6_open=part6_hook(on, conn, corpus),
            rule_lookup=rule_lookup_hook(corpus),
        )
    elif backend == "embedded":
        kr = evaluate(
            flat_prod,
            bom,
            tables,
            dm_exclusion=dm_exclusion,
            dm_mode=dm_mode,
            parts_in_nomenclature=parts_hook(on, conn),
            deemed_originating=deemed_hook(conn),
            note_needs=note_needs_hook(corpus),
            part6_open=part6_hook(on, conn, corpus),
            rule_lookup=rule_lookup_hook(corpus),
            read_names=pf.sku_names,
        )
    else:
        raise InputError("--backend", backend, "unknown backend", "embedded or spark")
    if progress:
        progress("kernel", 1, 1)
    kres = kr.results.with_columns(pl.lit("kernel").alias("engine"), pl.lit(None, pl.String).alias("fallback_reason"))
    fb = pl.concat([kr.fallback, multi_reason, part6])
    skipped = dict(pf.skipped)
    errors = list(pf.errors)
    fres = _fallback(pf, fb, on, conn, corpus, skipped, progress, fallback_limit)
    results = pl.concat([kres, fres], how="vertical_relaxed")
    results = results.join(
        prod.select("sku", "hts", "country_of_production", "country_of_origin", "annual_value", "date"),
        on="sku",
        how="left",
    )
    exposure_method = "not computed"
    if exposure:
        results, exposure_method = add_exposure(results, conn)
    else:
        results = results.with_columns(
            pl.lit(None, pl.Float64).alias("duty_at_stake"),
            pl.lit("exposure not computed").alias("exposure_note"),
        )
    cols = [
        *RESULT_COLUMNS,
        "rvc_margin",
        "de_minimis",
        "engine",
        "fallback_reason",
        "hts",
        "country_of_production",
        "country_of_origin",
        "annual_value",
        "exposure_note",
    ]
    results = results.select(cols).sort("sku")
    ec = results.group_by("engine").len()
    fr = fb.group_by("reason").len().sort("len", descending=True)
    flush_memo(conn)
    vintage = {"rules": getattr(corpus, "version", None), "run_date": on.isoformat()}
    return RunResult(
        results=results,
        errors=errors,
        skipped=skipped,
        engine_counts=dict(zip(ec["engine"].to_list(), ec["len"].to_list(), strict=True)),
        fallback_reasons=dict(zip(fr["reason"].to_list(), fr["len"].to_list(), strict=True)),
        exposure_method=exposure_method,
        vintage=vintage,
    )


# ------------------------------------------------------------------------------------ single-good fallback


def _money(u: int | None) -> Decimal | None:
    return None if u is None else Decimal(u) / Decimal(1_000_000)


def case_dict(
    sku: str, prod: dict[str, dict[str, Any]], bom_by_parent: dict[str, list[dict[str, Any]]], on: dt.date
) -> dict[str, Any]:
    """The origin case (interchange section 1) of one SKU, sub-bills of self-produced materials nested."""
    p = prod[sku]
    good: dict[str, Any] = {"id": sku, "hts": p["hts"], "country_of_production": p["country_of_production"]}
    if p.get("description"):
        good["description"] = p["description"]
    if p.get("use"):
        good["use"] = p["use"]
    if p.get("transaction_value_u") is not None:
        good["transaction_value"] = _money(p["transaction_value_u"])
        if p.get("international_shipment_u"):
            good["international_shipment"] = _money(p["international_shipment_u"])
    # net cost given directly wins over total cost (the case takes one or the other)
    if p.get("net_cost_u") is not None:
        good["net_cost"] = _money(p["net_cost_u"])
    elif p.get("total_cost_u") is not None:
        good["total_cost"] = _money(p["total_cost_u"])
    return {
        "date": p.get("date") or on,
        "method": "best",
        "good": good,
        "materials": _materials(sku, bom_by_parent, (sku,)),
    }


def _materials(
    parent: str, bom_by_parent: dict[str, list[dict[str, Any]]], stack: tuple[str, ...]
) -> list[dict[str, Any]]:
    out = []
    for ln in bom_by_parent.get(parent, []):
        m: dict[str, Any] = {
            "id": ln["component_id"],
            "hts": ln["component_hts"],
            "value": _money(ln["value_u"]),
        }
        if ln.get("description"):
            m["description"] = ln["description"]
        if ln.get("country"):
            m["country"] = ln["country"]
        if ln.get("weight_u") is not None:
            m["weight_kg"] = _money(ln["weight_u"])
        if ln["self_produced"]:
            if ln["component_id"] in stack:
                raise InputError(
                    "component_id",
                    ln["component_id"],
                    "cycle in the bill: the SKU is used in its own "
                    f"production ({' > '.join((*stack, ln['component_id']))})",
                )
            m["materials"] = _materials(ln["component_id"], bom_by_parent, (*stack, ln["component_id"]))
            if ln.get("intermediate"):
                m["intermediate"] = True
        else:
            m["origin"] = ln["origin"]
        out.append(m)
    return out


def determination_row(sku: str, d: Any) -> dict[str, Any]:
    rvc = d.rvc or {}
    req = rvc.get("required") or {}
    tv, nc = rvc.get("transaction_value"), rvc.get("net_cost")
    margins = [
        v - r
        for v, r in ((tv, req.get("transaction_value")), (nc, req.get("net_cost")))
        if v is not None and r is not None
    ]
    return {
        "sku": sku,
        "status": d.status,
        "criterion": d.criterion,
        "rule_id": (d.rule or {}).get("id"),
        "rvc_transaction_value": tv,
        "rvc_net_cost": nc,
        "rvc_margin": max(margins) if margins else None,
        "blockers": _blockers(d),
        "needs": list(d.needs),
        "de_minimis": bool((d.de_minimis or {}).get("applied")),
    }


def _blockers(d: Any) -> list[str]:
    """Materials named by the failing tariff-shift test of the reported alternative."""
    if d.status == "originating":
        return []
    out: list[str] = []
    for t in d.tests:
        # (a shift test left undecided by an undecided de minimis still names the materials that fail it)
        undecided_or_failed = t.get("passed") is not True and " do(es) not make" in t.get("detail", "")
        if t.get("kind") == "tariff_shift" and undecided_or_failed:
            head = str(t.get("detail", "")).split(" do(es) not make", 1)[0]
            out.extend(x.split(" (", 1)[0].strip() for x in head.split("), ") if x.strip())
    return out


# the bill's columns ``case_dict`` reads
_CASE_LINE_COLUMNS = (
    "parent_sku",
    "component_id",
    "component_hts",
    "value_u",
    "description",
    "country",
    "weight_u",
    "self_produced",
    "intermediate",
    "origin",
)


def _fallback(
    pf: Portfolio,
    fb: pl.DataFrame,
    on: dt.date,
    conn: sqlite3.Connection | None,
    corpus: Any,
    skipped: dict[str, str],
    progress: Progress | None,
    limit: int | None,
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    if fb.height:
        need = set(fb["sku"].to_list())
        # the bills the cases need: the SKUs themselves and, for multi-level ones, every SKU below them
        below = self_produced_lines(pf.bom, "component_id")["component_id"].unique().to_list()
        wanted = need | set(below)
        prod = {r["sku"]: r for r in pf.products.filter(pl.col("sku").is_in(list(wanted))).iter_rows(named=True)}
        bom_by_parent: dict[str, list[dict[str, Any]]] = {}
        # (lazily, keeping the columns a case reads: an eager filter copies every column of the whole bill)
        sub = (
            pf.bom.lazy()
            .filter(pl.col("parent_sku").is_in(list(wanted)))
            .select(c for c in _CASE_LINE_COLUMNS if c in pf.bom.columns)
            .collect()
        )
        for r in sub.iter_rows(named=True):
            bom_by_parent.setdefault(r["parent_sku"], []).append(r)
        reasons = dict(zip(fb["sku"].to_list(), fb["reason"].to_list(), strict=True))
        total = len(reasons)
        todo: list[_Case] = []
        for i, (sku, reason) in enumerate(reasons.items()):
            if limit is not None and i >= limit:
                rows.append(
                    {
                        "sku": sku,
                        "status": "unresolved",
                        "needs": [f"not evaluated: single-good fallback capped at {limit} SKUs for this run"],
                        "engine": "not_run",
                        "fallback_reason": reason,
                    }
                )
                continue
            try:
                todo.append((sku, reason, case_dict(sku, prod, bom_by_parent, on), None))
            except UsmcaError as exc:  # a cycle in the bill
                todo.append((sku, reason, None, str(exc)))
        workers = fallback_workers(len(todo))
        if workers > 1:
            decided = _decide_in_processes(todo, corpus, conn, workers, progress, total)
        else:
            decided = []
            for i, item in enumerate(todo):
                if progress and i % 200 == 0:
                    progress("single-good engine", i, total)
                decided.append(_decide(item, corpus, conn))
        for sku, row, problem in decided:
            if row is None:
                skipped[sku] = f"single-good engine rejected the case: {problem}"
            else:
                rows.append(row)
        if progress:
            progress("single-good engine", total, total)
    schema = pl.Schema({**RESULT_SCHEMA, "engine": pl.String(), "fallback_reason": pl.String()})
    return pl.DataFrame(rows, schema=schema)


# The single-good engine is pure Python: beyond a few hundred cases the fallback runs in worker processes,
# one per core (each case is independent; the answer does not depend on how they are split).
PARALLEL_FROM = 400
_Decided = tuple[str, dict[str, Any] | None, str | None]  # sku, result row or None, problem


_WORKER_CAP: dict[str, int | None] = {"cap": None}


def limit_fallback_workers(cap: int | None) -> None:
    """Cap the fallback's worker processes for this process (1: decide in the calling process). The web app
    sets 1: its cores serve requests while a job runs, and it does not fork a threaded server."""
    _WORKER_CAP["cap"] = cap


def fallback_workers(n: int) -> int:
    """How many processes decide ``n`` fallback cases (``USMCA_WORKERS`` and ``limit_fallback_workers`` cap
    it; 1 = in this process)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    cap = os.environ.get("USMCA_WORKERS", "")
    if cap.isdigit() and int(cap) > 0:
        cpus = min(cpus, int(cap))
    if _WORKER_CAP["cap"] is not None:
        cpus = min(cpus, max(1, _WORKER_CAP["cap"]))
    return max(1, min(cpus, n // (PARALLEL_FROM // 2))) if n >= PARALLEL_FROM else 1


def _decide(item: _Case, corpus: Any, conn: sqlite3.Connection | None) -> _Decided:
    from usmca.origin.case import parse_case
    from usmca.origin.determine import determine

    sku, reason, case, problem = item
    if case is None:
        return sku, None, problem
    try:
        d = determine(parse_case(case), corpus=corpus, conn=conn)
    except UsmcaError as exc:
        return sku, None, str(exc)
    row = determination_row(sku, d)
    row.update(engine="single_good", fallback_reason=reason)
    return sku, row, None


_WORKER: dict[str, Any] = {}  # what a forked worker inherits: the corpus and the store file to reopen


def _worker_chunk(items: list[_Case]) -> list[_Decided]:
    conn = _WORKER.get("conn")
    if conn is None and _WORKER.get("path"):
        from usmca import store as store_mod

        store_mod.reset()  # never use the parent's connection across fork: open the same file anew
        conn = _WORKER["conn"] = store_mod.open_store(Path(_WORKER["path"]))
    return [_decide(it, _WORKER["corpus"], conn) for it in items]


def _decide_in_processes(
    todo: list[_Case],
    corpus: Any,
    conn: sqlite3.Connection | None,
    workers: int,
    progress: Progress | None,
    total: int,
) -> list[_Decided]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    path = None
    if conn is not None:
        path = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), None)
    # fork: the corpus (possibly a scenario's modified one) is inherited, not pickled; the engine uses no
    # threads, and each worker opens its own store connection
    _WORKER.clear()
    _WORKER.update(corpus=corpus, path=path, conn=None)
    size = max(50, len(todo) // (workers * 8))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    out: list[_Decided] = []
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            for got in ex.map(_worker_chunk, chunks):
                out.extend(got)
                if progress:
                    progress("single-good engine", len(out), total)
    except BrokenProcessPool:
        # a worker died (killed for memory, say): the cases not yet answered are decided here, none is lost
        done = {sku for sku, _row, _problem in out}
        for item in todo:
            if item[0] not in done:
                out.append(_decide(item, corpus, conn))
    finally:
        _WORKER.clear()
    return out


# ---------------------------------------------------------------------------------------------- exposure


def _duty_engine() -> Any:
    import importlib

    try:
        return importlib.import_module("usmca.measures.stack")
    except ModuleNotFoundError as exc:
        if exc.name != "usmca.measures.stack":
            raise
        return None


def _total(res: Any) -> tuple[Decimal | None, str]:
    """(total duty, status) of a duty line result (``LineDuty`` or an interchange section 4 line dict)."""
    if isinstance(res, dict):
        t = res.get("total_duty")
        return (None if t is None else Decimal(str(t))), str(res.get("status", "unresolved"))
    t = getattr(res, "total_duty", None)
    return (None if t is None else Decimal(str(t))), str(getattr(res, "status", "unresolved"))


def add_exposure(results: pl.DataFrame, conn: sqlite3.Connection | None) -> tuple[pl.DataFrame, str]:
    """Duty at stake = duty on the SKU's entry line (hts, country of origin, annual value) without the USMCA
    claim minus with it. Computed with the duty engine's batch path (``duty_lines``) once per distinct
    (hts, country, date) on 10,000 and 20,000 of value: when both routes are proportional the difference is
    a rate scaled by each SKU's annual value; otherwise the SKU's exposure is left unknown with the reason.
    Unknown duty is never zero."""
    stack = _duty_engine()
    if stack is None or not hasattr(stack, "duty_lines"):
        return results.with_columns(
            pl.lit(None, pl.Float64).alias("duty_at_stake"),
            pl.lit("duty engine (usmca.measures.stack) not installed: exposure unknown").alias("exposure_note"),
        ), "unavailable: duty engine not installed"
    from usmca.measures.entry import parse_line

    keys = (
        results.filter(pl.col("country_of_origin").is_in(["CA", "MX"]))
        .select("hts", "country_of_origin", "date")
        .unique()
        .sort("hts", "country_of_origin", "date")
    )
    base, base2 = Decimal(10000), Decimal(20000)

    def price(hts: str, coo: str, when: dt.date) -> tuple[float | None, str | None]:
        """(duty saved by the claim per unit of value, or None with the reason) for one entry line."""
        items = [
            (
                parse_line(
                    {
                        "id": "x",
                        "hts": hts,
                        "country_of_origin": coo,
                        "entered_value": v,
                        "usmca_claim": claim,
                    }
                ),
                when,
            )
            for v in (base, base2)
            for claim in (False, True)
        ]
        try:
            (n1, s1), (c1, s2), (n2, s3), (c2, s4) = (_total(x) for x in stack.duty_lines(items, conn=conn))
        except UsmcaError as exc:  # one line's problem stays that line's
            return None, f"duty engine: {exc}"
        if {s1, s2, s3, s4} != {"complete"} or n1 is None or c1 is None or n2 is None or c2 is None:
            return None, "duty unresolved for this line (see `usmca duty`): exposure unknown"
        if n2 != 2 * n1 or c2 != 2 * c1:
            return None, "duty is not proportional to value (specific or compound rate): quantities needed"
        return float((n1 - c1) / base), None

    rates: list[dict[str, Any]] = []
    for hts, coo, when in keys.iter_rows():
        # (kept with the per-code answers of this store build and code, ``_memo``: a later run of the same
        # catalogue prices no line again)
        rate, note = _memo(conn, f"expo|{hts}|{coo}|{when}", functools.partial(price, hts, coo, when))
        rates.append({"hts": hts, "country_of_origin": coo, "date": when, "rate": rate, "note": note})
    rt = pl.DataFrame(
        rates,
        schema={
            "hts": pl.String,
            "country_of_origin": pl.String,
            "date": pl.Date,
            "rate": pl.Float64,
            "note": pl.String,
        },
    )
    out = results.join(rt, on=["hts", "country_of_origin", "date"], how="left")
    out = out.with_columns(
        pl.when(pl.col("rate").is_not_null() & pl.col("annual_value").is_not_null())
        .then((pl.col("rate") * pl.col("annual_value")).round(2))
        .alias("duty_at_stake"),
        pl.when(~pl.col("country_of_origin").is_in(["CA", "MX"]).fill_null(False))
        .then(pl.lit("no USMCA claim is possible for this country of origin"))
        .when(pl.col("annual_value").is_null())
        .then(pl.lit("annual_value missing: exposure unknown"))
        .otherwise(pl.col("note"))
        .alias("exposure_note"),
    ).drop("rate", "note")
    return out, (
        "duty engine batch path (duty_lines) per distinct (hts, country, date), checked proportional, "
        "scaled by annual value"
    )


# ---------------------------------------------------------------------------------------------- summaries


def summaries(results: pl.DataFrame, bom: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """Counts, value and duty at stake by chapter, by country of production and by supplier."""
    r = results.with_columns(pl.col("hts").str.slice(0, 2).alias("chapter"))

    def by(key: str, df: pl.DataFrame) -> pl.DataFrame:
        return (
            df.group_by(key)
            .agg(
                pl.len().alias("skus"),
                (pl.col("status") == "originating").sum().alias("originating"),
                (pl.col("status") == "non_originating").sum().alias("non_originating"),
                (pl.col("status") == "unresolved").sum().alias("unresolved"),
                pl.col("annual_value").sum().alias("annual_value"),
                pl.col("duty_at_stake").filter(pl.col("status") != "originating").sum().alias("duty_at_stake_failing"),
                pl.col("duty_at_stake").sum().alias("duty_at_stake_all"),
            )
            .sort("skus", descending=True)
        )

    out = {"chapter": by("chapter", r), "country": by("country_of_production", r)}
    if bom is not None and "supplier" in bom.columns:
        sup = bom.select(pl.col("parent_sku").alias("sku"), "supplier", "component_id").drop_nulls("supplier")
        blk = r.select("sku", "status", "annual_value", "duty_at_stake", "blockers").explode("blockers")
        sb = sup.join(r.select("sku", "status", "annual_value", "duty_at_stake"), on="sku").unique(["sku", "supplier"])
        s = by("supplier", sb)
        blocking = (
            sup.join(blk, left_on=["sku", "component_id"], right_on=["sku", "blockers"])
            .group_by("supplier")
            .agg(pl.col("sku").n_unique().alias("skus_blocked"))
        )
        out["supplier"] = (
            s.join(blocking, on="supplier", how="left")
            .with_columns(pl.col("skus_blocked").fill_null(0))
            .sort(["skus_blocked", "skus"], descending=True)
        )
    return out


def write_results(res: RunResult, out: Path) -> dict[str, Path]:
    """Results (Parquet or CSV by suffix) and, beside them, the row error report and the skipped SKUs.

    Each file is written to a temporary name in the same folder and renamed into place (atomic on one file
    system), the results last: a killed run leaves no results file or a complete one, never a partial one.
    """
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError("--out", str(out), "results are written as .parquet or .csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    err = out.with_name(out.stem + ".errors.csv")
    _atomic_write(
        err,
        lambda p: pl.DataFrame(
            [e.as_dict() for e in res.errors],
            schema={
                "file": pl.String,
                "row": pl.Int64,
                "field": pl.String,
                "value": pl.String,
                "problem": pl.String,
                "sku": pl.String,
            },
        ).write_csv(p),
    )
    sk = out.with_name(out.stem + ".skipped.csv")
    _atomic_write(
        sk,
        lambda p: pl.DataFrame(
            {"sku": list(res.skipped), "reason": list(res.skipped.values())},
            schema={"sku": pl.String, "reason": pl.String},
        ).write_csv(p),
    )
    df = res.results
    if out.suffix.lower() == ".csv":
        flat = df.with_columns(pl.col("blockers").list.join("; "), pl.col("needs").list.join("; "))
        _atomic_write(out, lambda p: flat.write_csv(p))
    else:
        _atomic_write(out, lambda p: df.write_parquet(p))
    return {"results": out, "errors": err, "skipped": sk}


def _atomic_write(final: Path, write: Callable[[Path], object]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
