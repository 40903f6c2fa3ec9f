"""Vectorized evaluation of the bill-level legal tests over a whole portfolio (Polars; docs/adr/0004).

The single-good engine (``usmca.origin.determine``) is the reference: this kernel computes the same answer for
the cases it covers, in columnar form, and hands every other SKU back with the reason (``fallback``):

* rule lookup: distinct good codes are joined to the rules' scope ranges by an interval join on the code
  prefix at each range width (ranges are never expanded into lists), the narrowest scope prevailing as in
  ``Corpus.rules_for``; a code the tables cannot place (none, several, an ambiguous mapping) is put to the
  engine's own rule lookup (``rule_lookup``), and a good whose rule has no branch for its code is unresolved
  as the engine answers it;
* tariff shift: ``TariffShift.allows`` in vectorized form. Range-set membership (exclusions, "from" codes,
  "that group") depends only on (alternative, material code), so it is computed once per distinct pair by
  an interval join; the level comparisons with the good's code run per line;
* de minimis by value (s.5(1), with the s.5(3) exclusions asked per distinct code pair) and by weight for
  apparel (s.5(7)), the s.5(4) RVC waiver, RVC by both methods in exact integer arithmetic, the parts
  fallback (criterion D, s.3(4)-(5)), exclusively originating materials (C), Schedule 2 (s.3(7));
* branches for a described good ("a smoked good of ...") and provisos settled by facts: no portfolio row
  states these, so such a branch is undecided where it asks them (a proviso about certain materials only
  when a non-originating material falls in them), naming the facts as the engine does (``fact_checks``);
* three-valued verdicts (passed / undecided / failed) combined as ``determine`` combines its checks, and the
  alternative it reports (first passing, first undecided, first failing with an RVC, first failing).

What the kernel leaves to the single-good engine (``fallback`` with the reason; ``run.screen`` adds Part 6
parts with a threshold in force, and codes Schedule 2 cannot be asked about): goods whose rule the kernel does
not evaluate (several rules the engine's lookup finds, a class of vehicle or a use a branch asks, a rule that
cannot be weighed or a branch to read by hand with an RVC), vehicles whose s.13 rule cannot be
read on the date, goods for use in a vehicle, material codes too short for the rule's test, no bill, de minimis
of another kind.
Multi-level bills are sent to the engine by ``run`` before the kernel runs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import cast

import polars as pl

from usmca.nomenclature.codes import LEVEL_DIGITS, CodeSet
from usmca.origin.criteria import exclusion_fact_need, parts_statement_need
from usmca.origin.determine import rule_defect, unknown_origin_need
from usmca.portfolio.ahead import Ahead
from usmca.portfolio.chunks import cut_like
from usmca.rules.grammar import Alternative, Rule

TERRITORY = ("US", "MX", "CA")
KINDS = ("any_other", "outside_group", "including_group", "from_codes", "no_change")
PARTS_RVC_TV, PARTS_RVC_NC = 60, 50  # criterion D thresholds (Article 4.2(d); s.4)
PARTS_EXCLUDED_CHAPTERS = ("61", "62", "63")
DM_MODES = ("value", "none", "apparel", "textile", "value+textile")
# Vehicles (s.13 and the other Part 6 vehicle rules, ``determine._auto``): other goods of ch. 87 are parts or
# other goods, which Part 6 treats as any part (``part6_open``; thresholds are the engine's, ``run.screen``).
VEHICLE_HEADINGS = ("8701", "8702", "8703", "8704", "8705", "8706")
VEHICLE_USES = ("passenger_vehicle", "light_truck", "heavy_truck", "other_vehicle")


@dataclass(frozen=True)
class RuleTables:
    """The corpus flattened into columnar tables for the kernel.

    ``scope``: rule_idx, width, lo, hi (integer code prefixes). ``alts``: one row per alternative.
    ``sets``: alt_idx, set (except|from|group), width, lo, hi. ``rules``: rule_idx, rule_id, kernel_ok, why.
    ``facts``: what a branch asks that a portfolio row cannot state (``fact_checks``), one row per check in
    the branch's order: alt_idx, pos, needs (the engine's words), cond (the id of a proviso about certain
    materials, which bites only when a non-originating material falls in its codes; null: always asked).
    ``cond_sets``: cond, width, lo, hi (those materials' code ranges).
    """

    rules: tuple[Rule, ...]
    rule_info: pl.DataFrame
    scope: pl.DataFrame
    alts: pl.DataFrame
    sets: pl.DataFrame
    facts: pl.DataFrame
    cond_sets: pl.DataFrame

    @classmethod
    def from_rules(cls, rules: Iterable[Rule]) -> RuleTables:
        rules = tuple(rules)
        info, scope, alts, sets = [], [], [], []
        facts: list[dict[str, object]] = []
        cond_sets: list[dict[str, object]] = []
        alt_idx = 0
        for i, r in enumerate(rules):
            why = kernel_blocker(r)
            # a rule that applies only on some dates, trade directions or uses (``rules_for`` filters on these)
            filters = bool(
                r.use
                or r.valid_from
                or r.valid_to
                or getattr(r, "trade", ())
                or any(a.good_qualifier is not None and a.good_qualifier.kind == "use" for a in r.alternatives)
            )
            info.append({"rule_idx": i, "rule_id": r.id, "kernel_ok": why is None, "why": why, "filters": filters})
            ch = r.provenance.chapter
            for cr in r.scope.ranges:
                scope.append(
                    {
                        "rule_idx": i,
                        "chapter": ch,
                        "width": cr.width,
                        "lo": int(cr.start),
                        "hi": int(cr.end),
                        "ambiguous": False,
                    }
                )
            # codes reached through a correlation that is not one-to-one: ``rules_for`` says ambiguous
            for cr in getattr(r, "scope_ambiguous", CodeSet()).ranges:
                scope.append(
                    {
                        "rule_idx": i,
                        "chapter": ch,
                        "width": cr.width,
                        "lo": int(cr.start),
                        "hi": int(cr.end),
                        "ambiguous": True,
                    }
                )
            unusable = rule_defect(r) is not None
            for a in r.alternatives:
                # a branch undecided whatever the bill (its rule cannot be weighed, or it is to be read by hand)
                # keeps its target and asks only what ``fact_checks`` names: none of its tests is weighed
                weighed = not (unusable or a.unparsed_reason)
                sh = a.shift if weighed else None
                rvc = a.rvc if weighed else None
                alts.append(
                    {
                        "alt_idx": alt_idx,
                        "rule_idx": i,
                        "label": a.label,
                        "kind": sh.kind if sh else None,
                        "n": LEVEL_DIGITS[sh.level] if sh else None,
                        "also_n": LEVEL_DIGITS[sh.also_from_level] if sh and sh.also_from_level else None,
                        "needs_digits": sh.needs_digits() if sh else 0,
                        "rvc_tv": rvc.transaction_value if rvc else None,
                        "rvc_nc": rvc.net_cost if rvc else None,
                        "has_rvc": rvc is not None,
                    }
                )
                if sh is not None:
                    for name, cs in (
                        ("except", sh.except_from),
                        ("from", sh.from_codes),
                        ("group", sh.group),
                    ):
                        sets.extend(_set_rows(alt_idx, name, cs))
                if why is None:
                    for pos, (needs, groups) in enumerate(fact_checks(r, a)):
                        cond = len(facts) if groups else None
                        facts.append({"alt_idx": alt_idx, "pos": pos, "needs": needs, "cond": cond})
                        for cs in groups:
                            cond_sets.extend(
                                {"cond": cond, "width": x["width"], "lo": x["lo"], "hi": x["hi"]}
                                for x in _set_rows(alt_idx, "cond", cs)
                            )
                # the codes of the scope this branch changes to (empty = all): other goods skip the branch
                sets.extend(_set_rows(alt_idx, "target", getattr(a, "target", CodeSet())))
                alt_idx += 1
        return cls(
            rules=rules,
            rule_info=pl.DataFrame(
                info,
                schema={
                    "rule_idx": pl.Int32,
                    "rule_id": pl.String(),
                    "kernel_ok": pl.Boolean(),
                    "why": pl.String(),
                    "filters": pl.Boolean(),
                },
            ),
            scope=pl.DataFrame(
                scope,
                schema={
                    "rule_idx": pl.Int32,
                    "chapter": pl.String(),
                    "width": pl.Int32,
                    "lo": pl.Int64,
                    "hi": pl.Int64,
                    "ambiguous": pl.Boolean(),
                },
            ),
            alts=pl.DataFrame(
                alts,
                schema={
                    "alt_idx": pl.Int32,
                    "rule_idx": pl.Int32,
                    "label": pl.String(),
                    "kind": pl.String(),
                    "n": pl.Int32,
                    "also_n": pl.Int32,
                    "needs_digits": pl.Int32,
                    "rvc_tv": pl.Float64(),
                    "rvc_nc": pl.Float64(),
                    "has_rvc": pl.Boolean(),
                },
            ),
            sets=pl.DataFrame(
                sets,
                schema={
                    "alt_idx": pl.Int32,
                    "set": pl.String(),
                    "width": pl.Int32,
                    "lo": pl.Int64,
                    "hi": pl.Int64,
                },
            ),
            facts=pl.DataFrame(
                facts, schema={"alt_idx": pl.Int32, "pos": pl.Int32, "needs": pl.String, "cond": pl.Int32}
            ),
            cond_sets=pl.DataFrame(
                cond_sets, schema={"cond": pl.Int32, "width": pl.Int32, "lo": pl.Int64, "hi": pl.Int64}
            ),
        )


def _set_rows(alt_idx: int, name: str, cs: CodeSet) -> list[dict[str, object]]:
    return [
        {"alt_idx": alt_idx, "set": name, "width": r.width, "lo": int(r.start), "hi": int(r.end)} for r in cs.ranges
    ]


def kernel_blocker(rule: Rule) -> str | None:
    """Why the kernel cannot evaluate this rule by itself (None = it can)."""
    # A partial rule (some branches could not be structured) is taken: such a branch is undecided, needing to be
    # read by hand, and the others are weighed as written (``determine._alternative``; ``fact_checks``).
    unusable = rule_defect(rule) is not None
    if not unusable and (
        rule.status not in ("structured", "partial") or (rule.status == "structured" and rule.unparsed_reason)
    ):
        return f"rule {rule.id} is {rule.status}"
    # Provenance notes on a structured rule (e.g. "rule number inferred from record order") do not change
    # what it requires: the single-good engine applies such a rule as written (only status "defective"
    # makes it undecided), and so does the kernel.
    # A rule that applies only on some dates, to some trade directions or uses (``filters``) is taken once the
    # engine's rule lookup has found it for the good (``evaluate`` asks it for every good such a rule may cover):
    # its branches are then weighed as any rule's.
    if getattr(rule, "good", None) is not None:
        return f"rule {rule.id} depends on the good's description"
    if not rule.alternatives:
        return f"rule {rule.id} has no alternatives"
    if unusable:
        # A rule the source marks defective (or that could not be structured) is taken too: each branch the good's
        # code reaches is undecided, asking for the rule to be read in the official text, whatever the bill
        # (``determine._alternative``), as a branch to read by hand is. An RVC branch first asks what Part 6 needs
        # of a part whose use is not stated: such a rule is the engine's.
        if any(a.rvc is not None for a in rule.alternatives):
            return f"rule {rule.id} is {rule.status} and has an RVC branch"
        return None
    for a in rule.alternatives:
        if a.unparsed_reason:
            # a branch to read by hand is undecided whatever else of it was structured (the engine weighs none of
            # it, ``determine._alternative``), unless it has an RVC, which Part 6 may ask about first
            if a.rvc is not None:
                return f"rule {rule.id} has a branch structured in part"
            continue
        # What the good is and provisos settled by facts a portfolio row cannot state are taken
        # (``fact_checks``); those the row's stated use settles (classes of vehicle) are the engine's.
        q = a.good_qualifier
        if (q is not None and q.kind != "good_type") or any(
            c.kind in ("use", "good_type") or c.name in ("use", "good.use") for c in a.conditions
        ):
            return f"rule {rule.id} has conditions on the good's use"
        if any(r.width > 10 for c in a.conditions for g in c.code_groups for r in g.ranges):
            return f"rule {rule.id} has conditions on codes of more than 10 digits"
        if a.shift is not None and a.shift.kind not in KINDS:
            return f"rule {rule.id} has an unknown shift kind"
        if a.shift is None and a.rvc is None:
            return f"rule {rule.id} has an empty alternative"
    return None


def fact_checks(rule: Rule, alt: Alternative) -> list[tuple[str, tuple[CodeSet, ...]]]:
    """The checks of a branch that a portfolio row (no ``good.facts``) leaves undecided, in the engine's order
    (``determine._alternative``): the official text, for a rule that cannot be weighed (``determine.rule_defect``);
    a branch that could not be structured (to be read by hand); or what the good must be, then each proviso.
    Each is (the fact it needs, in the engine's words; the material codes it is about, empty when it is always
    asked): a proviso about certain materials does not bite when no non-originating material falls in them
    (``criteria.condition``).
    """
    from usmca.origin import criteria as K
    from usmca.origin.determine import unparsed_branch_need

    good = K.GoodView("good", "good", "", "", None, None, None, None, None)
    defect = rule_defect(rule)
    if defect:  # a rule that cannot be weighed: each branch undecided, asking for the official text
        return [(f"{good.path}: {defect}", ())]
    if alt.unparsed_reason:  # a branch to read by hand: undecided, whatever the bill
        return [(unparsed_branch_need("good", rule, alt), ())]
    out: list[tuple[str, tuple[CodeSet, ...]]] = []
    q = alt.good_qualifier
    if q is not None:
        sib = [b.good_qualifier for b in rule.alternatives if b is not alt and b.good_qualifier is not None]
        check = K.qualifier(q, good, sib)
        if check.passed is None:
            out += [(n, ()) for n in check.needs]
    for c in alt.conditions:
        check = K.condition(replace(c, code_groups=()), good)
        out += [(n, c.code_groups) for n in check.needs]
    return out


# ------------------------------------------------------------------------------------------ code primitives


def _span(code: pl.Expr, width: pl.Expr | int, pad: str) -> pl.Expr:
    """Integer value of ``code`` cut or padded to ``width`` digits (a shorter code covers its padded span,
    as ``CodeRange.contains`` reads it)."""
    w = width if isinstance(width, pl.Expr) else pl.lit(width)
    return code.str.slice(0, w).str.pad_end(16, pad).str.slice(0, w).cast(pl.Int64)


def match_rules(codes: pl.Series, tables: RuleTables, most_specific: bool = True) -> pl.DataFrame:
    """Distinct good codes -> rule_idxs (rules of the code's chapter whose scope covers it, as
    ``Corpus.rules_for`` selects them) and ``ambiguous`` (the code is in a rule's ambiguous-mapping scope).
    An interval join on the prefix at each range width: ranges are never expanded.

    ``most_specific``: where several rules cover a code and none of them depends on the date, the trade
    direction or the use, only those whose covering range is the widest (a tariff-item rule over the rule of
    its subheading) are kept, as ``rules_for`` keeps them; an ambiguous mapping then counts only for them.
    Rules that filter by date, trade or use are all kept (``rules_for`` filters before it compares widths)."""
    df = pl.DataFrame({"hts": codes}).unique().with_columns(pl.col("hts").str.slice(0, 2).alias("chapter"))
    found = []
    for w in tables.scope["width"].unique().to_list():
        sc = tables.scope.filter(pl.col("width") == w).drop("width").rename({"chapter": "r_chapter"})
        probe = df.with_columns(_span(pl.col("hts"), w, "0").alias("c_lo"), _span(pl.col("hts"), w, "9").alias("c_hi"))
        found.append(
            probe.join_where(sc, pl.col("c_lo") >= pl.col("lo"), pl.col("c_hi") <= pl.col("hi"))
            .filter(pl.col("chapter") == pl.col("r_chapter"))
            .select("hts", "rule_idx", "ambiguous", pl.lit(w, pl.Int32).alias("width"))
        )
    hits = (
        pl.concat(found)
        if found
        else pl.DataFrame(schema={"hts": pl.String, "rule_idx": pl.Int32, "ambiguous": pl.Boolean, "width": pl.Int32})
    ).unique()
    if most_specific and hits.height:
        # the width of each rule's covering range (its ambiguous ranges aside), the widest per code, and
        # whether any rule of the code filters (then none is dropped)
        rw = hits.filter(~pl.col("ambiguous")).group_by("hts", "rule_idx").agg(pl.col("width").max().alias("rw"))
        rw = rw.join(tables.rule_info.select("rule_idx", "filters"), on="rule_idx", how="left").with_columns(
            pl.col("rw").max().over("hts").alias("best"), pl.col("filters").any().over("hts").alias("any_f")
        )
        dropped = rw.filter(~pl.col("any_f") & (pl.col("rw") < pl.col("best"))).select("hts", "rule_idx")
        hits = hits.join(dropped, on=["hts", "rule_idx"], how="anti")
    agg = hits.group_by("hts").agg(
        pl.col("rule_idx").filter(~pl.col("ambiguous")).unique().sort().alias("rule_idxs"),
        pl.col("ambiguous").any().alias("ambiguous"),
    )
    return (
        df.drop("chapter")
        .join(agg, on="hts", how="left")
        .with_columns(
            pl.col("rule_idxs").fill_null(pl.lit([], pl.List(pl.Int32))), pl.col("ambiguous").fill_null(False)
        )
    )


def membership(pairs: pl.DataFrame, tables: RuleTables) -> pl.DataFrame:
    """For distinct (alt_idx, mhts, n): in_except, in_from, in_group (group probed with mhts[:n])."""
    if tables.sets.height == 0 or pairs.height == 0:
        return pairs.with_columns(
            pl.lit(False).alias("in_except"), pl.lit(False).alias("in_from"), pl.lit(False).alias("in_group")
        )
    sets = tables.sets.filter(pl.col("set") != "target")  # branch targets are the good's, not the material's
    widest = pl.concat(
        [
            sets.select(pl.col("width").cast(pl.Int64)),
            pairs.select(pl.col("mhts").str.len_chars().cast(pl.Int64).alias("width")),
        ]
    )["width"].max()
    if isinstance(widest, int) and widest <= 10:
        # Integer form of the same test (no per-row strings): a probe of L digits, padded to 10 digits with 0s
        # (low end) or 9s (high end), cut to the range's width by integer division.
        pow10 = {i: 10**i for i in range(11)}
        length = pl.col("mhts").str.len_chars()
        v0 = pairs.select(pl.col("mhts").str.pad_end(10, "0").cast(pl.Int64).alias("_v0"))["_v0"]
        j = pairs.with_columns(v0, length.alias("_len")).join(sets, on="alt_idx", how="inner")
        plen = (
            pl.when(pl.col("set") != "group")
            .then(pl.col("_len"))
            .when(pl.col("n").is_not_null())
            .then(pl.min_horizontal(pl.col("n"), pl.col("_len")))
        )
        unit = (10 - plen).replace_strict(pow10, return_dtype=pl.Int64)
        cut = (10 - pl.col("width")).replace_strict(pow10, return_dtype=pl.Int64)
        j = j.with_columns(unit.alias("_u"), cut.alias("_c")).with_columns(
            (pl.col("_v0") // pl.col("_u") * pl.col("_u")).alias("_lo10")
        )
        j = j.with_columns(
            (
                (pl.col("_lo10") // pl.col("_c") >= pl.col("lo"))
                & ((pl.col("_lo10") + pl.col("_u") - 1) // pl.col("_c") <= pl.col("hi"))
            ).alias("_in")
        )
    else:
        j = pairs.join(sets, on="alt_idx", how="inner")
        probe = (
            pl.when(pl.col("set") == "group").then(pl.col("mhts").str.slice(0, pl.col("n"))).otherwise(pl.col("mhts"))
        )
        j = j.with_columns(probe.alias("_p")).with_columns(
            (
                (_span(pl.col("_p"), pl.col("width"), "0") >= pl.col("lo"))
                & (_span(pl.col("_p"), pl.col("width"), "9") <= pl.col("hi"))
            ).alias("_in")
        )
    # Only the hits are grouped (most probes fall outside every range), one flag per set kind.
    agg = (
        j.filter(pl.col("_in"))
        .group_by("alt_idx", "mhts")
        .agg(*[(pl.col("set") == s).any().alias(f"in_{s}") for s in ("except", "from", "group")])
    )
    out = pairs.join(agg, on=["alt_idx", "mhts"], how="left")
    return out.with_columns(pl.col(f"in_{s}").fill_null(False) for s in ("except", "from", "group"))


def member_keys(mc: pl.DataFrame, tables: RuleTables) -> dict[str, pl.Series] | None:
    """The same flags as ``membership``, as sets of keys ``alt_idx * 2**32 + mid``: for each set kind
    (except, from, group) the (alternative, material code) pairs whose probe lies in one of the kind's ranges.

    ``mc``: mid, m_int, m_len (``code_ints``) of each distinct material code. Each range is searched in the
    codes sorted by their span (a probe of L digits covers [v, v + 10^(10-L) - 1] padded to 10 digits): the
    work follows the ranges and their hits, not the bill's lines. None when a code or range is wider than 10
    digits (``membership`` takes those)."""
    import numpy as np

    sets = tables.sets.filter(pl.col("set") != "target")
    widths = (sets.select(pl.col("width").max()).item(), mc.select(pl.col("m_len").max()).item())
    if max((w for w in widths if w is not None), default=0) > 10:
        return None
    m_int = mc["m_int"].to_numpy().astype(np.int64)
    m_len = mc["m_len"].to_numpy().astype(np.int64)
    mid = mc["mid"].to_numpy().astype(np.uint64)
    pow10 = np.array([10**i for i in range(11)], dtype=np.int64)
    n_of = dict(zip(tables.alts["alt_idx"].to_list(), tables.alts["n"].to_list(), strict=True))
    out: dict[str, pl.Series] = {}
    for kind in ("except", "from", "group"):
        rows = sets.filter(pl.col("set") == kind)
        keys: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)]
        # a group is probed with the material's code cut to the rule's level (``TariffShift.allows``)
        by_n: dict[int | None, pl.DataFrame] = (
            {
                n: rows.filter(pl.col("alt_idx").replace_strict(n_of, default=None) == n)
                for n in set(n_of.values())
                if n is not None
            }
            if kind == "group"
            else {None: rows}
        )
        for n, rs in by_n.items():
            if rs.height == 0 or mc.height == 0 or (kind == "group" and n is None):
                continue
            plen = m_len if n is None else np.minimum(m_len, n)
            unit = pow10[10 - plen]
            lo10 = m_int // unit * unit
            hi10 = lo10 + unit - 1
            order = np.argsort(lo10, kind="stable")
            slo = lo10[order]
            cut = pow10[10 - rs["width"].to_numpy().astype(np.int64)]
            lo = rs["lo"].to_numpy().astype(np.int64) * cut
            hi = (rs["hi"].to_numpy().astype(np.int64) + 1) * cut - 1
            i = np.searchsorted(slo, lo, side="left")
            j = np.searchsorted(slo, hi, side="right")
            counts = j - i
            total = int(counts.sum())
            if total == 0:
                continue
            start = np.repeat(i - (np.cumsum(counts) - counts), counts)
            cand = order[start + np.arange(total)]
            inside = hi10[cand] <= np.repeat(hi, counts)
            alt = np.repeat(rs["alt_idx"].to_numpy().astype(np.uint64), counts)
            keys.append((alt[inside] << np.uint64(32)) | mid[cand[inside]])
        out[kind] = pl.Series(f"in_{kind}", np.unique(np.concatenate(keys)), dtype=pl.UInt64)
    return out


def _branches_for_good(pa: pl.DataFrame, tables: RuleTables) -> pl.DataFrame:
    """Drop (SKU, alternative) pairs whose branch changes to other codes of the scope (``target``)."""
    tg = tables.sets.filter(pl.col("set") == "target")
    if tg.height == 0:
        return pa
    inside = (_span(pl.col("ghts"), pl.col("width"), "0") >= pl.col("lo")) & (
        _span(pl.col("ghts"), pl.col("width"), "9") <= pl.col("hi")
    )
    # (the alternative and the good's code, a digit code of at most 10 digits, packed in one integer where the
    # alternatives' ids leave room: the code's digits padded to 10 and its length, < 2**38, beside the
    # alternative; a join on two columns, one of them text, hashes each row's encoding)
    if tables.alts.height < 2**25:
        code = pl.col("ghts").str.pad_end(10, "0").cast(pl.Int64) * 16 + pl.col("ghts").str.len_chars().cast(pl.Int64)
        pa, keys = pa.with_columns((pl.col("alt_idx").cast(pl.Int64) * 2**38 + code).alias("_ag")), ["_ag"]
    else:
        keys = ["alt_idx", "ghts"]
    pairs = pa.select(*dict.fromkeys([*keys, "alt_idx", "ghts"])).unique(keys).join(tg, on="alt_idx", how="inner")
    hit = pairs.with_columns(inside.alias("_in")).group_by(keys).agg(pl.col("_in").any())
    out = pa.join(hit, on=keys, how="left")
    return out.filter(pl.col("_in").is_null() | pl.col("_in")).drop("_in", "_ag", strict=False)


_POW10 = {i: 10**i for i in range(11)}
_POW10_SERIES = pl.Series("pow10", [10**i for i in range(11)], dtype=pl.Int64)


def code_ints(col: str, prefix: str) -> list[pl.Expr]:
    """A digit code (at most 10 digits) as ``<prefix>_int`` (padded to 10 digits with 0s) and ``<prefix>_len``:
    prefixes then compare as integers (``_differs``), with no string made per row."""
    return [
        pl.col(col).str.pad_end(10, "0").cast(pl.Int64).alias(f"{prefix}_int"),
        pl.col(col).str.len_chars().cast(pl.Int32).alias(f"{prefix}_len"),
    ]


def _differs(n: pl.Expr) -> pl.Expr:
    """``mhts[:n] != ghts[:n]`` on the integer forms (``code_ints``): a code shorter than ``n`` is its whole
    self, so the two prefixes are equal when they have the same length and the same digits; null when n is."""
    km = pl.min_horizontal(n, pl.col("m_len"))
    kg = pl.min_horizontal(n, pl.col("g_len"))
    # prefixes of different lengths differ; of the same length, one divisor cuts both (a gather, not a hash)
    u = pl.lit(_POW10_SERIES).gather(10 - km)
    same = (km == kg) & (pl.col("m_int") // u == pl.col("g_int") // u)
    return pl.when(n.is_not_null()).then(~same)


def shift_allows(ints: bool = False) -> pl.Expr:
    """``TariffShift.allows`` over columns kind, n, also_n, in_except, in_from, in_group and the codes: mhts and
    ghts as text, or with ``ints`` their integer forms (``code_ints(..., "m")`` and ``code_ints(..., "g")``)."""
    m, g = pl.col("mhts"), pl.col("ghts")
    if ints:
        differs_n, differs_also = _differs(pl.col("n")), _differs(pl.col("also_n"))
    else:
        differs_n = m.str.slice(0, pl.col("n")) != g.str.slice(0, pl.col("n"))
        differs_also = m.str.slice(0, pl.col("also_n")) != g.str.slice(0, pl.col("also_n"))
    kind = pl.col("kind")
    body = (
        pl.when(kind == "no_change")
        .then(True)
        .when(kind.is_in(["any_other", "including_group"]))
        .then(differs_n)
        .when(kind == "outside_group")
        .then(~pl.col("in_group"))
        .when(kind == "from_codes")
        .then(pl.col("in_from") | (pl.col("also_n").is_not_null() & differs_also))
        .otherwise(False)
    )
    return ~pl.col("in_except") & body


# the shift test's kind as a code (``shift_columns``), by the position of ``KINDS``: 0 no change asked, 1 a
# change from outside the good's level (including a group), 2 from outside a group, 3 from named codes
_KIND_CODES = pl.Series("_kc", [1, 2, 1, 3, 0], dtype=pl.UInt8)
_SHIFT_COLUMNS = ("_kc", "_kgn", "_gcn", "_kga", "_gca")


def shift_columns(alts: pl.DataFrame) -> pl.DataFrame:
    """The per-alternative parts of ``shift_allows(ints=True)`` (``alts``: kind as ``pl.Enum(KINDS)``, n, also_n,
    g_int, g_len), computed once per (SKU, alternative) rather than per material line: the kind as a code
    (``_kc``), and for n and also_n the good's prefix length and its digits cut there (``_kg*``, ``_gc*``). A
    test on n without n is ``shift_allows``' null (no verdict: the line is not failing, as when no change is
    asked); also_n is 0 (a prefix every code shares) where the kind does not read it. ``shift_fails`` then
    reads these with the line's m_int, m_len and set flags."""
    p10 = pl.lit(_POW10_SERIES)
    kc = pl.lit(_KIND_CODES).gather(pl.col("kind").to_physical())
    kc = pl.when((kc == 1) & pl.col("n").is_null()).then(pl.lit(0, pl.UInt8)).otherwise(kc)
    n = pl.col("n").fill_null(0)
    also = pl.when(kc == 3).then(pl.col("also_n")).fill_null(0)
    parts = [kc.alias("_kc"), n.alias("n"), also.alias("also_n")]
    for width, name in ((n, "n"), (also, "a")):
        kg = pl.min_horizontal(width, pl.col("g_len"))
        parts += [kg.alias(f"_kg{name}"), (pl.col("g_int") // p10.gather(10 - kg)).alias(f"_gc{name}")]
    return alts.with_columns(parts)


def shift_fails() -> pl.Expr:
    """Whether a material line fails its alternative's shift test: ``~shift_allows(ints=True)`` with a null
    verdict not failing, over ``shift_columns`` and the line's m_int, m_len, in_except, in_from, in_group (a
    third cheaper than the general form, which works the good's side and every kind's branch per line)."""
    p10 = pl.lit(_POW10_SERIES)

    def differs(width: str, name: str) -> pl.Expr:
        km = pl.min_horizontal(pl.col(width), pl.col("m_len"))
        return (km != pl.col(f"_kg{name}")) | (pl.col("m_int") // p10.gather(10 - km) != pl.col(f"_gc{name}"))

    kc = pl.col("_kc")
    allowed = (
        (kc == 0)
        | ((kc == 1) & differs("n", "n"))
        | ((kc == 2) & ~pl.col("in_group"))
        | ((kc == 3) & (pl.col("in_from") | differs("also_n", "a")))
    )
    return pl.col("in_except") | ~allowed


# ------------------------------------------------------------------------------------------------- kernel


@dataclass
class KernelResult:
    results: pl.DataFrame  # one row per SKU the kernel decided
    fallback: pl.DataFrame  # sku, reason: SKUs left to the single-good engine


RESULT_SCHEMA = pl.Schema(
    {
        "sku": pl.String(),
        "status": pl.String(),
        "criterion": pl.String(),
        "rule_id": pl.String(),
        "rvc_transaction_value": pl.Float64(),
        "rvc_net_cost": pl.Float64(),
        "rvc_margin": pl.Float64(),
        "blockers": pl.List(pl.String),
        "needs": pl.List(pl.String),
        "de_minimis": pl.Boolean(),
    }
)
_NEEDS_TYPE = pl.List(pl.String)
EMPTY = pl.lit([], _NEEDS_TYPE)


def _text_lists(name: str, values: list[list[str] | None]) -> pl.Series:
    """A column of lists of text (or nulls) from Python lists, through Arrow: Polars builds the same column
    from Python lists at about 5 microseconds a row (0.07-0.09 s for the 15,400 codes of a portfolio), Arrow
    in a twentieth of that."""
    import pyarrow as pa

    return cast(pl.Series, pl.from_arrow(pa.array(values, type=pa.large_list(pa.large_string())))).alias(name)


# a line of unknown origin (empty, or written unknown): treated as non-originating, weighed by the what-ifs
_UNKNOWN_ORIGIN = pl.col("origin").is_in(("originating", "non_originating")).not_().fill_null(True)
T, U, F = 1, 0, -1  # three-valued verdicts: passed, undecided (needs a fact), failed


def _pct(num: pl.Expr, base: pl.Expr) -> pl.Expr:
    """num/base as a percentage rounded half-up to one decimal (``rvc.round_pct``), from integer micros:
    floor(num * 1000 / base + 1/2) / 10, exact for non-negative figures."""
    return (((num * 2000 + base) // (2 * base)).cast(pl.Float64) / 10).round(1)


def _meets(base: str, thr: pl.Expr, vnm: pl.Expr | None = None) -> pl.Expr:
    """(base - vnm) / base >= thr%, exactly: 1000 (base - vnm) >= (10 thr) base (one-decimal thresholds);
    ``vnm``: another value of the non-originating materials than the good's (the what-ifs')."""
    vnm = pl.col("vnm") if vnm is None else vnm
    return 1000 * (pl.col(base) - vnm) >= (thr * 10).round().cast(pl.Int64) * pl.col(base)


def _within_10(value: pl.Expr) -> pl.Expr:
    """s.5(1)/5(4) value share: within 10% of the adjusted TV or of the total cost (either base is enough)."""
    return (pl.col("tv").is_not_null() & (100 * value <= 10 * pl.col("tv"))) | (
        pl.col("tc").is_not_null() & (100 * value <= 10 * pl.col("tc"))
    )


def _rvc_verdict(req_tv: pl.Expr, req_nc: pl.Expr) -> pl.Expr:
    """``criteria.rvc_test`` with method best: any allowed, computable method passing -> T; else a method
    allowed but not computable -> U; else F. The s.5(4) de minimis (all VNM within 10%) passes first."""
    tv_ok = req_tv.is_not_null() & pl.col("tv").is_not_null() & _meets("tv", req_tv)
    nc_ok = req_nc.is_not_null() & pl.col("nc").is_not_null() & _meets("nc", req_nc)
    missing = (req_tv.is_not_null() & pl.col("tv").is_null()) | (req_nc.is_not_null() & pl.col("nc").is_null())
    return (pl.when(pl.col("s54") | tv_ok | nc_ok).then(T).when(missing).then(U).otherwise(F)).cast(pl.Int8)


def _per_sku(name: str, n_sku: int, value: bool | None, dtype: pl.DataType | type[pl.DataType]) -> pl.Series:
    """A dense column over the SKU ids, every entry ``value`` (to be scattered into): built by Polars, not from
    a Python list of a million items (20-40 ms each time)."""
    return pl.repeat(value, n_sku, dtype=dtype, eager=True).alias(name)


def _sorted_flag(df: pl.DataFrame, col: str = "sku") -> pl.DataFrame:
    """``df`` with ``col`` marked sorted when it is (a bill written SKU by SKU in the products' order, the
    usual export): Polars then groups by slicing runs instead of hashing, a third of the time."""
    return df.with_columns(pl.col(col).set_sorted()) if df[col].is_sorted() else df


def sku_ids(lines: pl.DataFrame, names: pl.Series, read_names: pl.Series | None = None) -> pl.Series:
    """The row of each line's parent in ``names`` (null: not there), in the lines' order. A bill is usually
    written SKU by SKU: each run of equal parents is then looked up once (a join of a million runs, not of
    twenty million lines); a bill in no such order takes a join over its lines.

    A bill from ``read`` carries each line's parent as a row of the SKUs it read (``_pid``, rows of
    ``Portfolio.sku_names``): given those names as ``read_names``, the ids are mapped through a join of the
    names alone. The ids are spot-checked against ``parent_sku`` first; a bill they do not fit is looked up
    as any other."""
    import numpy as np

    dim = pl.DataFrame({"parent_sku": names}).with_row_index("_sid")
    if read_names is not None and _read_ids_fit(lines, read_names):
        remap = (
            pl.DataFrame({"parent_sku": read_names})
            .join(dim, on="parent_sku", how="left", maintain_order="left")["_sid"]
            .cast(pl.UInt32)
        )
        return remap.gather(lines["_pid"])
    runs = lines.select(pl.col("parent_sku").rle()).unnest("parent_sku")
    if runs.height * 4 > lines.height:
        return lines.select("parent_sku").join(dim, on="parent_sku", how="left", maintain_order="left")["_sid"]
    if runs.height == names.len() and bool(runs["value"].eq_missing(names).all()):
        # the bill in the products' order, one run per product: the run's number is the SKU's row
        run_sid = pl.Series("_sid", np.arange(runs.height, dtype=np.uint32))
    else:
        run_sid = runs.select(pl.col("value").alias("parent_sku")).join(
            dim, on="parent_sku", how="left", maintain_order="left"
        )["_sid"]
    at = np.repeat(np.arange(runs.height, dtype=np.uint32), runs["len"].to_numpy())
    return run_sid.gather(pl.Series(at, dtype=pl.UInt32))


def _read_ids_fit(lines: pl.DataFrame, read_names: pl.Series) -> bool:
    """Whether ``lines._pid`` indexes ``read_names`` (in range, and naming ``parent_sku`` at up to 1,024 rows
    spread over the bill): a cheap guard against ids carried from another read."""
    import numpy as np

    if lines.schema.get("_pid") != pl.UInt32 or read_names.has_nulls() or not lines.height:
        return False
    top = lines["_pid"].max()
    if top is not None and int(top) >= read_names.len():  # type: ignore[arg-type]
        return False
    at = pl.Series(np.linspace(0, lines.height - 1, min(lines.height, 1024)).astype(np.uint32))
    probe = lines.select(pl.col("_pid").gather(at), pl.col("parent_sku").gather(at)).drop_nulls("_pid")
    return bool(read_names.gather(probe["_pid"]).eq_missing(probe["parent_sku"]).all())


def evaluate(
    products: pl.DataFrame,
    lines: pl.DataFrame,
    tables: RuleTables,
    dm_exclusion: Callable[[str, str], int] | None = None,
    dm_mode: Callable[[str], str] | None = None,
    parts_in_nomenclature: Callable[[str], bool | None] | None = None,
    deemed_originating: Callable[[str], bool] | None = None,
    note_needs: Callable[[str], list[str]] | None = None,
    part6_open: Callable[[str, dt.date | None], list[str] | None] | None = None,
    rule_lookup: Callable[[str, dt.date | None, str | None, str | None], str | tuple[str, ...]] | None = None,
    read_names: pl.Series | None = None,
    what_if: bool = True,
) -> KernelResult:
    """Evaluate SKUs whose bills are final (``lines.origin`` settled; no self-produced lines left).

    products: sku, hts, country_of_production, use, transaction_value_u, international_shipment_u,
    total_cost_u, net_cost_u. lines: parent_sku, component_id, component_hts, value_u, origin (lines of SKUs
    not among ``products`` are ignored).
    ``dm_exclusion(good_hts, material_hts)``: 0/1/2 = s.5(3) does not exclude / may exclude (facts needed) /
    excludes the material; ``dm_mode(good_hts)``: "value", "none" or "other" (see ``de_minimis_mode``); both
    from ``usmca.rules.general`` (``run.general_hooks``). Without them de minimis is by value, no exclusion.
    ``parts_in_nomenclature(good_hts)``: whether the schedule's text for the good's subheading names parts
    (s.3(5)(a)); None = not read (the parts fallback is then undecided). ``deemed_originating(good_hts)``: the
    good is listed in Schedule 2 (s.3(7)) with nothing left to state; its optional attribute ``needs(good_hts)``
    names the facts a listed good still needs (None: none), which leave a good failing (B) and (D) unresolved.
    ``note_needs(good_hts)``: the facts GN 11(o) chapter rules add for the good ("... only if ..."), which a
    portfolio row does not state: a good that passes (B) is then unresolved naming them
    (``determine._note_requirements``); (D) and Schedule 2 are not affected.
    ``part6_open(good_hts, date)``: for a good whose use is not stated, the facts Part 6 needs when it lists
    the part (a core, principal or complementary part, s.14-15, s.20) and so leaves each RVC alternative
    undecided (``determine._alternative``, the "automotive" check); None when Part 6 sets nothing. Parts for
    which Part 6 sets a threshold are the engine's (``run.screen``). Its optional attribute
    ``vehicle(good_hts, use, date)`` gives a vehicle's s.13 reading on the date: (tv, nc, tv only where the
    rule offers TV, the facts its other Part 6 requirements ask once it passes, unresolved, the facts an
    unresolved rule asks of each RVC branch); None when the engine must read it (the vehicle then goes there).
    ``rule_lookup(good_hts, date, use, country)``: for a code the rule tables cannot place (an ambiguous
    mapping, no rule, several rules), the engine's own rule lookup (``run.rule_lookup_hook``): what it asks
    when it finds no usable rule (the good is then unresolved on it, Schedule 2 after), else the ids of the
    rules it found (one: the kernel applies it; several: the good goes to the engine).
    ``read_names``: ``Portfolio.sku_names`` of the read the bill comes from, whose rows its ``_pid`` column
    holds (see ``sku_ids``).
    ``what_if``: a good that does not originate names each material of unknown origin that would make it
    originate were it originating (``determine._what_if``), found by computing those variants' verdicts as the
    bill's.
    """
    # (the hooks' per-code answers are asked ahead in a second thread: ``ahead``)
    ahead = Ahead()
    try:
        return _evaluate(
            products=products,
            lines=lines,
            tables=tables,
            dm_exclusion=dm_exclusion,
            dm_mode=dm_mode,
            parts_in_nomenclature=parts_in_nomenclature,
            deemed_originating=deemed_originating,
            note_needs=note_needs,
            part6_open=part6_open,
            rule_lookup=rule_lookup,
            read_names=read_names,
            what_if=what_if,
            ahead=ahead,
        )
    finally:
        ahead.close()


def _evaluate(
    *,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    tables: RuleTables,
    dm_exclusion: Callable[[str, str], int] | None,
    dm_mode: Callable[[str], str] | None,
    parts_in_nomenclature: Callable[[str], bool | None] | None,
    deemed_originating: Callable[[str], bool] | None,
    note_needs: Callable[[str], list[str]] | None,
    part6_open: Callable[[str, dt.date | None], list[str] | None] | None,
    rule_lookup: Callable[[str, dt.date | None, str | None, str | None], str | tuple[str, ...]] | None,
    read_names: pl.Series | None,
    what_if: bool,
    ahead: Ahead,
) -> KernelResult:
    # Inside the kernel a SKU is its row number: every join and group-by over the bill's lines then hashes
    # integers, not strings (several seconds at 20 million lines); names come back at the end.
    names = products["sku"]
    p = products.with_row_index("_sid").select(
        pl.col("_sid").alias("sku"),
        pl.col("hts").alias("ghts"),
        pl.col("country_of_production").alias("cop"),
        "use",
        (pl.col("transaction_value_u") - pl.col("international_shipment_u").fill_null(0)).alias("tv"),
        pl.coalesce("net_cost_u", "total_cost_u").alias("nc"),
        # the single-good case gets net_cost when given, else total_cost: only then is total cost a base
        pl.when(pl.col("net_cost_u").is_null()).then(pl.col("total_cost_u")).alias("tc"),
        (pl.col("date") if "date" in products.columns else pl.lit(None, pl.Date)).alias("date"),
    )
    # The hooks' per-code answers, asked in a second thread for every code of the territory's goods (a superset
    # of the codes the steps below ask, in the order they ask them) while the bill's steps run.
    home = p.lazy().filter(pl.col("cop").is_in(TERRITORY))

    @functools.cache  # (listed once, in the second thread, for every hook that asks by code)
    def good_codes() -> list[str]:
        return home.select(pl.col("ghts").unique(maintain_order=True)).collect()["ghts"].to_list()

    def unstated_use() -> list[tuple[str, dt.date | None]]:
        return home.filter(pl.col("use").is_null()).select("ghts", "date").unique(maintain_order=True).collect().rows()

    s2_hook = getattr(deemed_originating, "needs", None)
    ahead.ask("dm_mode", dm_mode, good_codes)
    ahead.ask("part6", part6_open, unstated_use, spread=True)
    ahead.ask("parts", parts_in_nomenclature, good_codes)
    ahead.ask("deemed", deemed_originating, good_codes)
    ahead.ask("s2", s2_hook, good_codes)
    ahead.ask("notes", note_needs, good_codes)
    # Material codes by id: each distinct code once (text, integer form, length); lines carry the id, and a
    # line id ``li`` to fetch the component's name for the few lines that end up blocking. A bill from
    # ``read`` carries the ids already (``_mhts``: its codes as an Enum of the distinct codes).
    coded = lines.schema.get("_mhts")
    if isinstance(coded, pl.Enum):
        mc = pl.DataFrame({"mhts": coded.categories}).with_row_index("mid")
        # (on the Series: the same in an expression costs a second per 10^7 lines of a many-chunked bill)
        mid = lines["_mhts"].rechunk().to_physical().cast(pl.UInt32).alias("mid")
    else:
        mc = lines.select(pl.col("component_hts").unique().drop_nulls().alias("mhts")).with_row_index("mid")
        mid = lines.select("component_hts").join(
            mc.select(pl.col("mhts").alias("component_hts"), "mid"),
            on="component_hts",
            how="left",
            maintain_order="left",
        )["mid"]
    mc = mc.with_columns(*code_ints("mhts", "m"))
    # s.5(3)'s sides of every good's and material's subheading (a superset of those the failing pairs ask),
    # kept by the hook for its pairs (``run._exclusion_frame``)
    sides = getattr(getattr(dm_exclusion, "frame", None), "sides", None)
    if sides is not None:
        m_codes = mc["mhts"]
        ahead.ask("xs_good", functools.partial(sides, side="good"), lambda: [c[:6] for c in good_codes()])
        ahead.ask("xs_material", functools.partial(sides, side="material"), lambda: m_codes.str.slice(0, 6).to_list())
    # SKU ids in the lines' order (``sku_ids``: one lookup per run of lines of the same parent)
    # (the ids cut as the lines are, and so the line numbers below: ``chunks``)
    sid = cut_like(sku_ids(lines, names, read_names), lines["parent_sku"])
    ln = lines.select(
        sid.alias("sku"),
        pl.col("component_id").alias("comp"),
        cut_like(mid, lines["parent_sku"]),
        pl.col("value_u").alias("val"),
        # an empty origin is unknown, never originating (the read fills it; a caller may not have)
        (pl.col("origin") != "originating").fill_null(True).alias("nonorig"),
        (pl.col("weight_u") if "weight_u" in lines.columns else pl.lit(None, pl.Int64)).alias("wt"),
        # of unknown origin (treated as non-originating, and weighed by the what-ifs)
        _UNKNOWN_ORIGIN.alias("unk"),
    )
    ln = ln.filter(pl.col("sku").is_not_null())  # (lines of other SKUs dropped)
    li = pl.int_range(ln.height, dtype=pl.UInt32, eager=True).alias("li")
    ln = _sorted_flag(ln.insert_column(0, cut_like(li, ln["sku"])))
    fallback: list[pl.DataFrame] = []

    def send_back(df: pl.DataFrame, reason: str | pl.Expr) -> None:
        r = pl.lit(reason) if isinstance(reason, str) else reason
        fallback.append(df.select("sku", r.alias("reason")))

    # --- per-SKU bill aggregates (streamed: the in-memory group-by of 2*10^7 lines took twice the time and a
    # gigabyte of fresh memory; the rows come in no set order, and are only joined by SKU)
    agg = (
        ln.lazy()
        .group_by("sku")
        .agg(
            pl.len().alias("n_lines"),
            pl.col("nonorig").sum().alias("n_nonorig"),
            # (a product by the flag and a count of nulls: a sixth less than a filter and an any per group)
            (pl.col("val") * pl.col("nonorig")).sum().alias("vnm"),
            # apparel (s.5(7)): the weight base is every line of the bill (the BOM names no classifying component)
            pl.col("wt").sum().alias("all_wt"),
            pl.col("wt").null_count().alias("all_wt_missing"),
        )
        .collect(engine="streaming")
        .rechunk()
        .with_columns(pl.col("all_wt_missing") > 0)
    )
    wbase = agg.select("sku", "all_wt", "all_wt_missing")
    agg = agg.drop("all_wt", "all_wt_missing")
    p = _with_sku_columns(p, agg, how="left").with_columns(pl.col("n_lines").fill_null(0), pl.col("vnm").fill_null(0))
    out_territory = p.filter(~pl.col("cop").is_in(TERRITORY))
    p = p.filter(pl.col("cop").is_in(TERRITORY))
    send_back(
        p.filter(pl.col("n_lines") == 0),
        "no bill of materials (wholly obtained is a fact the kernel does not take)",
    )
    p = p.filter(pl.col("n_lines") > 0)
    # Vehicles whose s.13 rule sets a threshold (``part6_open.vehicle``) are the kernel's: that threshold
    # replaces the RVC of each branch that has one (``determine._required_rvc``), and a vehicle that passes is
    # unresolved on the facts its other requirements ask; goods for use in a vehicle go to the engine.
    vehicle = getattr(part6_open, "vehicle", None)
    is_vehicle = pl.col("ghts").str.slice(0, 4).is_in(VEHICLE_HEADINGS)
    v_keys = p.filter(is_vehicle).select("ghts", "use", "date").unique()
    v_vals = [vehicle(g, u, d) if vehicle else None for g, u, d in v_keys.iter_rows()]
    # A vehicle whose s.13 rule is unresolved on the date (its class depends on the use, not stated):
    # ``part6_open.vehicle`` gives no threshold but the facts it asks (``v_unres``, ``v_rvc``): each RVC branch
    # is undecided on them, and a vehicle that passes otherwise is unresolved on them (``determine._auto``,
    # ``_other_requirements``).
    v_unres = [bool(v is not None and len(v) > 4 and v[4]) for v in v_vals]
    v_thr = v_keys.with_columns(
        pl.Series("v_tv", [v[0] if v else None for v in v_vals], pl.Float64),
        pl.Series("v_nc", [v[1] if v else None for v in v_vals], pl.Float64),
        pl.Series("v_if", [v[2] if v else None for v in v_vals], pl.Boolean),
        # the facts the vehicle's other Part 6 requirements ask once it passes (empty: none)
        pl.Series("v_needs", [list(v[3]) if v and len(v) > 3 else [] for v in v_vals], pl.List(pl.String)),
        pl.Series("v_rvc", [list(v[5]) if v and len(v) > 5 else None for v in v_vals], pl.List(pl.String)),
        pl.Series("v_unres", v_unres, pl.Boolean),
        pl.Series("veh", [v is not None and not u for v, u in zip(v_vals, v_unres, strict=True)], pl.Boolean),
    )
    p = p.join(v_thr, on=["ghts", "use", "date"], how="left", nulls_equal=True).with_columns(
        pl.col("veh").fill_null(False), pl.col("v_unres").fill_null(False)
    )
    auto = p.filter(
        (is_vehicle & ~pl.col("veh") & ~pl.col("v_unres")) | (~is_vehicle & pl.col("use").is_in(VEHICLE_USES))
    )
    send_back(auto, "automotive good (a vehicle, or a good for use in one)")
    p = p.join(auto.select("sku"), on="sku", how="anti")
    vflags = p.select("sku", "veh", "v_unres", "v_needs")  # (the what-ifs' (C) reads them)

    # --- (C) every material originating (s.3(3)): decided before any rule is looked up
    all_orig = p.filter(pl.col("n_nonorig") == 0)
    p = p.filter(pl.col("n_nonorig") > 0)

    # --- rule lookup (by distinct good code)
    rm = match_rules(p["ghts"], tables).with_columns(pl.col("rule_idxs").list.len().alias("n_rules"))
    p = p.join(rm, left_on="ghts", right_on="hts", how="left")
    # codes the tables cannot place, and those whose one rule applies only on some dates, trade directions or
    # uses: the engine's rule lookup places them (where it finds no usable rule either, the good is unresolved on
    # what it asks, ``determine.rule_lookup_need``)
    filtering = tables.rule_info.filter(pl.col("filters"))["rule_idx"].implode()
    odd = p.filter(
        pl.col("ambiguous")
        | (pl.col("n_rules") != 1)
        | pl.col("rule_idxs").list.eval(pl.element().is_in(filtering)).list.any()
    )
    lookup_failed = pl.DataFrame(schema={"sku": pl.UInt32, "ghts": pl.String, "rule_id": pl.String, "need": pl.String})
    if rule_lookup is not None and odd.height:
        lk = odd.select("ghts", "date", "use", "cop").unique()
        asked = [rule_lookup(g, d, u, c) for g, d, u, c in lk.iter_rows()]
        # the rule the engine found, where it found one the tables hold once (ids are unique in a corpus)
        ids = tables.rule_info.group_by("rule_id").agg(pl.col("rule_idx").first(), pl.len().alias("_k"))
        idx_of = dict(ids.filter(pl.col("_k") == 1).select("rule_id", "rule_idx").iter_rows())
        lk = lk.with_columns(
            pl.Series("need", [a if isinstance(a, str) else None for a in asked], pl.String),
            pl.Series(
                "_found",
                [idx_of.get(a[0]) if isinstance(a, tuple) and len(a) == 1 else None for a in asked],
                pl.Int32,
            ),
        )
        odd = odd.join(lk, on=["ghts", "date", "use", "cop"], how="left", nulls_equal=True)
        lookup_failed = odd.filter(pl.col("need").is_not_null()).select(
            "sku", "ghts", pl.lit(None, pl.String).alias("rule_id"), "need"
        )
        p = p.join(lookup_failed.select("sku"), on="sku", how="anti")
        found = odd.filter(pl.col("_found").is_not_null()).select("sku", "_found")
        if found.height:
            p = (
                p.join(found, on="sku", how="left")
                .with_columns(
                    pl.when(pl.col("_found").is_not_null())
                    .then(pl.concat_list("_found"))
                    .otherwise(pl.col("rule_idxs"))
                    .alias("rule_idxs"),
                    pl.when(pl.col("_found").is_not_null()).then(1).otherwise(pl.col("n_rules")).alias("n_rules"),
                    pl.when(pl.col("_found").is_not_null())
                    .then(False)
                    .otherwise(pl.col("ambiguous"))
                    .alias("ambiguous"),
                )
                .drop("_found")
            )
    send_back(p.filter(pl.col("ambiguous")), "the code's rule is reached through an ambiguous correlation")
    p = p.filter(~pl.col("ambiguous")).drop("ambiguous")
    send_back(p.filter(pl.col("n_rules") == 0), "no rule found for the code")
    send_back(p.filter(pl.col("n_rules") > 1), "several rules match the code")
    p = (
        p.filter(pl.col("n_rules") == 1)
        .with_columns(pl.col("rule_idxs").list.first().alias("rule_idx"))
        .drop("rule_idxs", "n_rules")
    )
    p = p.join(tables.rule_info, on="rule_idx", how="left")
    send_back(p.filter(~pl.col("kernel_ok")), pl.col("why"))
    p = p.filter(pl.col("kernel_ok")).drop("kernel_ok", "why")

    # --- per (SKU, alternative, non-originating line): the tariff shift
    pa = p.select("sku", "ghts", "rule_idx").join(tables.alts, on="rule_idx", how="inner")
    # (in SKU order, and marked so, as the lines are)
    # (sorted on one integer key, ``_PAIR``, unique per row: a sort on two columns encodes each row first)
    pa = _sorted_flag(_branches_for_good(pa, tables).sort(_PAIR))
    # A rule covering the code whose branches are all written for other codes of its scope (a scope extended
    # to a new HS 2022 subheading by correlation): (B) is undecided on the classification, and (D) has no
    # branch to weigh (``determine._psr``, ``_parts``); answered at the end, with Schedule 2. A vehicle among
    # them goes to the engine.
    no_branch = p.join(pa.select("sku").unique(), on="sku", how="anti")
    v_any = pl.col("veh") | pl.col("v_unres")
    send_back(no_branch.filter(v_any), "a vehicle whose rule has no branch for its code")
    no_branch = (
        no_branch.filter(~v_any)
        .select("sku", "ghts", "rule_idx")
        .join(tables.rule_info.select("rule_idx", "rule_id"), on="rule_idx", how="left")
    )
    from usmca.origin.determine import no_branch_reason

    nb_keys = no_branch.select("ghts", "rule_id").unique()
    nb_need = [f"good.hts: {no_branch_reason(rid, g)}" for g, rid in nb_keys.iter_rows()]
    no_branch = no_branch.join(
        nb_keys.with_columns(pl.Series("need", nb_need, pl.String)), on=["ghts", "rule_id"], how="left"
    ).select("sku", "ghts", "rule_id", "need")
    p = p.join(pa.select("sku").unique(), on="sku", how="semi")
    m_of = {c: pl.lit(mc[c]).gather(pl.col("mid")) for c in ("mhts", "m_int", "m_len")}  # by material id
    # per-SKU facts as dense columns indexed by the SKU id: a line looks its SKU's up by position (a gather),
    # not by a join of millions of lines
    n_sku = names.len()
    still = _per_sku("still", n_sku, False, pl.Boolean).scatter(p["sku"], True)
    # (lazily, so the filter copies the five columns kept, not the component names)
    nl = (
        ln.lazy()
        .filter(pl.col("nonorig") & pl.lit(still).gather(pl.col("sku")))
        .select("sku", "li", "mid", "val", "wt")
        .collect()
    )
    need = pa.group_by("sku").agg(pl.col("needs_digits").max().alias("nd"))
    nd = _per_sku("nd", n_sku, None, pl.Int32).scatter(need["sku"], need["nd"])
    short = nl.filter(m_of["m_len"] < pl.lit(nd).gather(pl.col("sku"))).select("sku").unique()
    send_back(short, "a material code is too short for the rule's test")
    if short.height:
        p, pa, nl = (d.join(short, on="sku", how="anti") for d in (p, pa, nl))

    alts = shift_columns(
        pa.select("sku", "alt_idx", pl.col("kind").cast(pl.Enum(KINDS)), "n", "also_n", *code_ints("ghts", "g")).filter(
            pl.col("kind").is_not_null()
        )
    )
    # one integer key per (alternative, material code): set membership is a lookup of that key
    am = pl.col("alt_idx").cast(pl.UInt64) * 2**32 + pl.col("mid").cast(pl.UInt64)
    codes_of_line = [m_of["m_int"].alias("m_int"), m_of["m_len"].alias("m_len")]
    tested = ("kind", "n", "also_n", "in_except", "in_from", "in_group", *_SHIFT_COLUMNS)
    # (each line beside each alternative of its SKU, in line order and the alternatives' order within a line)
    member = member_keys(mc, tables)
    if member is not None:
        # membership by key lookup in the (alternative, code) pairs each range holds. One streaming query
        # joins, tests and keeps the failing pairs: the ~10^7 (line, alternative) pairs are never held whole
        # (held, they cost twice the time and a gigabyte of fresh memory)
        fails = (
            nl.lazy()
            .join(alts.lazy(), on="sku", how="inner", maintain_order="left_right")
            .with_columns(
                *[am.is_in(member[k].implode()).alias(f"in_{k}") for k in ("except", "from", "group")],
                *codes_of_line,
            )
            .filter(shift_fails())
            .drop(*tested)
            .collect(engine="streaming")
            .rechunk()  # (streamed out in some 200 pieces: every later step over them would pay per piece)
        )
    else:
        la = nl.join(alts, on="sku", how="inner", maintain_order="left_right").with_columns(am.alias("_am"))
        pairs_m = (
            la.select("_am")
            .unique()
            .with_columns(
                (pl.col("_am") // 2**32).cast(pl.Int32).alias("alt_idx"),
                (pl.col("_am") % 2**32).cast(pl.UInt32).alias("mid"),
            )
            .join(tables.alts.select("alt_idx", "n"), on="alt_idx", how="left")
            .with_columns(m_of["mhts"].alias("mhts"))
        )
        mem = membership(pairs_m, tables).drop("mhts", "n", "alt_idx", "mid")
        # the flags are looked up for the key column alone and set beside the lines (a join of the whole frame
        # would copy every column of ~10^7 rows while the original is still held: the run's memory peak)
        in_sets = la.select("_am").join(mem, on="_am", how="left", maintain_order="left").drop("_am")
        la = la.hstack(in_sets).drop("_am").with_columns(*codes_of_line)
        fails = la.filter(shift_fails()).drop(*tested)
        del la
    # s.3(4)(a)/(5) "same subheading": mhts[:6] == ghts[:6], or the heading when the good's subheading is not
    # subdivided (ghts[4:6] == "00"), on the integer forms (a shorter code is its whole self)
    g6, m6 = pl.col("g_int") // 10**4, pl.col("m_int") // 10**4
    g6l, m6l = pl.min_horizontal(pl.col("g_len"), pl.lit(6)), pl.min_horizontal(pl.col("m_len"), pl.lit(6))
    g4l, m4l = pl.min_horizontal(pl.col("g_len"), pl.lit(4)), pl.min_horizontal(pl.col("m_len"), pl.lit(4))
    undivided = (pl.col("g_len") >= 6) & (g6 % 100 == 0)
    same_sub = ((g6 == m6) & (g6l == m6l)) | (
        undivided & (pl.col("g_int") // 10**6 == pl.col("m_int") // 10**6) & (g4l == m4l)
    )
    # What the good is and provisos settled by facts (``RuleTables.facts``): undecided where asked, and a
    # proviso about certain materials is asked only when a non-originating material of the SKU falls in them.
    # They read only the alternatives and non-originating lines, final here (SKUs set aside below leave rows no
    # join reads): computed beside the steps up to the verdicts.
    fx_later = ahead.start(_fact_checks, pa.select("sku", "alt_idx"), nl.select("sku", "mid"), mc, tables)
    # De minimis policy per distinct good code (rules.general, ``de_minimis_mode``): "value" (s.5(1)), "none"
    # (no de minimis open), "apparel" (s.5(7): weight of the classifying component), "textile" (s.5(6): weight
    # of the good), "value+textile" (heading 96.19: both open), anything else left to the single-good engine.
    codes = p.select("ghts").unique()
    modes = ahead.answers("dm_mode", dm_mode, codes["ghts"]) if dm_mode else ["value"] * codes.height
    p_dm = p.select("sku", "ghts").join(codes.with_columns(pl.Series("dm_mode", modes, pl.String)), on="ghts")
    other_dm = p_dm.filter(~pl.col("dm_mode").is_in(DM_MODES)).select("sku")
    if other_dm.height:  # (usually none: then no joins of the millions of failing lines)
        other_dm = other_dm.join(fails.select("sku").unique(), on="sku", how="semi")
        send_back(other_dm, "de minimis of a kind the kernel does not take")
        p, pa, fails, p_dm = (d.join(other_dm, on="sku", how="anti") for d in (p, pa, fails, p_dm))
    # s.5(3) exclusions per distinct (good, material): 0 none, 1 depends on facts the bill does not give,
    # 2 certain.
    ghts_of = pl.lit(products["hts"]).gather(pl.col("sku"))  # the good's code by SKU id
    if dm_exclusion is not None and fails.height and getattr(dm_exclusion, "reads_six_digits", False):
        # The hook declares that its answer depends on six digits of each code: asked once per distinct
        # (subheading, subheading) with one representative pair (portfolios have far fewer of these).
        # (the pair as one integer, six digits and the length each side: < 2**20 * 8 per side, so < 2**46;
        # a group-by and a join on one integer key, not four)
        fails = fails.with_columns(((g6 * 8 + g6l) * 2**23 + (m6 * 8 + m6l)).alias("_pk"))
        firsts = fails.group_by("_pk").agg(pl.col("sku").first(), pl.col("mid").first())
        pairs = firsts.select(
            "_pk",
            ghts_of.alias("ghts"),
            m_of["mhts"].alias("mhts"),
            ghts_of.str.slice(0, 6).alias("_g6"),
            m_of["mhts"].str.slice(0, 6).alias("_m6"),
        )
        whole = getattr(dm_exclusion, "frame", None)
        if whole is not None:  # the hook answers every pair at once (``run._exclusion_frame``)
            got = whole(pairs).select("_pk", pl.col("excl").cast(pl.Int8))
        else:
            flags = [dm_exclusion(g, m) for g, m in pairs.select("ghts", "mhts").iter_rows()]
            got = pairs.select("_pk", pl.Series("excl", flags, pl.Int8))
        # (each line's answer looked up in place: a join would copy every column of the failing lines)
        fails = fails.with_columns(
            pl.col("_pk").replace_strict(got["_pk"], got["excl"], default=0, return_dtype=pl.Int8).alias("excl")
        ).drop("_pk")
    elif dm_exclusion is not None and fails.height:
        texts = fails.select(ghts_of.alias("ghts"), m_of["mhts"].alias("mhts"), "sku", "mid")
        pairs = texts.select("ghts", "mhts").unique()
        flags = [dm_exclusion(g, m) for g, m in pairs.iter_rows()]
        excl = texts.join(
            pairs.with_columns(pl.Series("excl", flags, pl.Int8)),
            on=["ghts", "mhts"],
            how="left",
            maintain_order="left",
        )
        fails = fails.with_columns(excl["excl"])
    else:
        fails = fails.with_columns(pl.lit(0, pl.Int8).alias("excl"))
    fails = fails.with_columns(same_sub.alias("same"))  # (kept: the what-ifs read it per line)
    alt_fail = _fail_aggregates(fails, p_dm)

    # Part 6 with the use unstated: per distinct (good, date), the facts it needs (null: Part 6 silent)
    p6_keys = p.filter(pl.col("use").is_null()).select("ghts", "date").unique()
    p6_vals = (
        ahead.answers("part6", part6_open, p6_keys.iter_rows(), spread=True) if part6_open else [None] * p6_keys.height
    )
    p6 = p6_keys.with_columns(_text_lists("p6_needs", p6_vals))
    sku_base = (
        p.select(
            "sku",
            "tv",
            "nc",
            "tc",
            "vnm",
            "ghts",
            "date",
            "use",
            "veh",
            "v_tv",
            "v_nc",
            "v_if",
            "v_needs",
            "v_unres",
            "v_rvc",
        )
        .join(p6, on=["ghts", "date"], how="left", nulls_equal=True)
        # a vehicle's Part 6 is its s.13 rule, not the parts tables
        .with_columns(
            pl.when(pl.col("v_unres"))
            .then(pl.col("v_rvc"))
            .when(pl.col("use").is_null() & ~pl.col("veh"))
            .then(pl.col("p6_needs"))
            .alias("p6_needs")
        )
        .drop("date", "use")
        .with_columns(_within_10(pl.col("vnm")).alias("s54"))
        .pipe(_with_sku_columns, wbase, how="left")
    )
    fx = fx_later.result()
    # (D) s.3(4)(a)/(5): whether the schedule's text for the good's subheading names parts, per code
    ap_codes = p.select("ghts").unique()
    ap_vals = (
        ahead.answers("parts", parts_in_nomenclature, ap_codes["ghts"])
        if parts_in_nomenclature
        else [None] * ap_codes.height
    )
    parts_nom = ap_codes.with_columns(pl.Series("parts_nom", ap_vals, pl.Boolean))
    a = _branch_verdicts(pa.drop("ghts"), alt_fail, sku_base, fx, parts_nom)
    # (the rows come from ``pa``, in (SKU, alternative) order, through joins that keep it; sorted only if not)
    in_order = (pl.col("sku").diff() > 0) | ((pl.col("sku").diff() == 0) & (pl.col("alt_idx").diff() > 0))
    if not a.select(in_order.fill_null(True).all()).item():
        a = a.sort("sku", "alt_idx")
    a = a.with_columns(pl.col("sku").set_sorted())
    # The record the single-good engine reports (``determine._psr``): the first passing alternative, else the
    # first undecided, else the first failing one whose RVC was computed, else the first failing one; for (D)
    # the first alternative that passes.
    a = a.with_columns(
        pl.when(pl.col("b_v") == T)
        .then(0)
        .when(pl.col("b_v") == U)
        .then(1)
        .when(pl.col("has_rvc"))
        .then(2)
        .otherwise(3)
        .alias("_pref")
    )
    # The reported row of each SKU is found in the grouping that decides (D): with the rows in (SKU, alternative)
    # order, the first row of the lowest preference (``arg_min`` takes the first of equals) is the one a sort by
    # (SKU, preference, alternative) puts first; the rows are then gathered, not the whole frame sorted again.
    d = (
        a.select("sku", "_pref", "d_v", "d_tv", "d_nc")
        .with_row_index("_i")
        .group_by("sku", maintain_order=True)
        .agg(
            (pl.col("_i").first() + pl.col("_pref").arg_min()).alias("_rec"),
            (pl.col("d_v") == T).any().alias("d_ok"),
            (pl.col("d_v") == U).any().alias("d_u"),
            pl.col("d_tv").filter(pl.col("d_v") == T).first().alias("d_req_tv"),
            pl.col("d_nc").filter(pl.col("d_v") == T).first().alias("d_req_nc"),
        )
    )
    # (only the columns the verdict below reads are gathered: a has some fifty)
    rec = a.select(_REPORTED)[d["_rec"]]
    r = _with_keyed_columns(
        pl.concat([d.drop("_rec"), rec], how="horizontal"), tables.rule_info.select("rule_idx", "rule_id"), "rule_idx"
    )
    # (The per-code answers of Schedule 2 and the chapter notes join the SKUs in one pass.)
    g_codes = r.select("ghts").unique()["ghts"].to_list()
    n_codes = len(g_codes)
    per_code = pl.DataFrame(
        [
            pl.Series("ghts", g_codes, pl.String),
            pl.Series(
                "deemed",
                [bool(v) for v in ahead.answers("deemed", deemed_originating, g_codes)]
                if deemed_originating
                else [False] * n_codes,
                pl.Boolean,
            ),
            _text_lists("s2_needs", ahead.answers("s2", s2_hook, g_codes) if s2_hook else [None] * n_codes),
            _text_lists(
                "note_needs",
                [list(v) for v in ahead.answers("notes", note_needs, g_codes)] if note_needs else [[]] * n_codes,
            ),
        ]
    )
    r = _with_keyed_columns(r, per_code, "ghts", how="left")
    b_ok, d_win, deemed, s2, noted, v_open, status = _outcome()
    # the failing components of the reported alternative, fetched for the goods they block only (materials de
    # minimis tolerates block nothing: the shift test passes, ``determine._alternative``)
    blocking = ~(b_ok | d_win | deemed | pl.col("dm_ok"))
    blocked = r.lazy().filter(blocking).select("sku", "alt_idx").collect()  # (the two columns copied, not r's)
    r = _with_sku_columns(r, _blockers(fails, blocked, ln["comp"]), how="left")
    # RVC figures appear when the reported path asks for an RVC (also when s.5(4) waives it).
    shown = pl.col("has_rvc") | d_win
    tv_pct = pl.when(pl.col("tv").is_not_null()).then(_pct(pl.col("tv") - pl.col("vnm"), pl.col("tv")))
    nc_pct = pl.when(pl.col("nc").is_not_null()).then(_pct(pl.col("nc") - pl.col("vnm"), pl.col("nc")))
    req_tv = pl.when(d_win).then(pl.col("d_req_tv")).otherwise(pl.col("b_tv"))
    req_nc = pl.when(d_win).then(pl.col("d_req_nc")).otherwise(pl.col("b_nc"))
    res = r.with_columns(
        status.alias("status"),
        pl.when(noted | v_open)
        .then(None)
        .when(b_ok)
        .then(pl.lit("B"))
        .when(d_win)
        .then(pl.lit("D"))
        .alias("criterion"),
        pl.when(shown).then(tv_pct).alias("rvc_transaction_value"),
        pl.when(shown).then(nc_pct).alias("rvc_net_cost"),
        pl.when(shown).then(pl.max_horizontal(tv_pct - req_tv, nc_pct - req_nc)).alias("rvc_margin"),
        pl.col("fail_comps").fill_null(EMPTY).alias("blockers"),
        # as ``determine._record`` reports it, whatever the good's status: the reported alternative's de minimis
        # test, or the s.5(4) waiver of an RVC it (or the parts fallback that decides) asks
        (pl.col("dm_ok") | ((pl.col("has_rvc") | d_win) & pl.col("s54"))).alias("de_minimis"),
        pl.when(noted)
        .then(pl.col("note_needs"))
        .when(v_open)
        .then(pl.col("v_needs"))
        .otherwise(EMPTY)  # (an undecided good's are gathered below; a decided one needs nothing)
        .alias("needs"),
        ((status == "unresolved") & ~noted & ~v_open).alias("_open"),
        s2.alias("_s2"),
    ).select(*RESULT_SCHEMA.names(), "_open", "_s2", "s2_needs")  # (the rest copies these)
    nb = _unresolved_on_rule(pl.concat([lookup_failed, no_branch]), deemed_originating)
    # (C) for a vehicle: its other Part 6 requirements as for (B) and (D)
    c_open = _VEHICLE_OPEN
    c = all_orig.select(
        "sku",
        pl.when(c_open).then(pl.lit("unresolved")).otherwise(pl.lit("originating")).alias("status"),
        pl.when(c_open).then(None).otherwise(pl.lit("C")).alias("criterion"),
        pl.lit(None, pl.String).alias("rule_id"),
        pl.lit(None, pl.Float64).alias("rvc_transaction_value"),
        pl.lit(None, pl.Float64).alias("rvc_net_cost"),
        pl.lit(None, pl.Float64).alias("rvc_margin"),
        EMPTY.alias("blockers"),
        pl.when(c_open).then(pl.col("v_needs")).otherwise(EMPTY).alias("needs"),
        pl.lit(False).alias("de_minimis"),
    )
    o = out_territory.select(
        "sku",
        pl.lit("non_originating").alias("status"),
        pl.lit(None, pl.String).alias("criterion"),
        pl.lit(None, pl.String).alias("rule_id"),
        pl.lit(None, pl.Float64).alias("rvc_transaction_value"),
        pl.lit(None, pl.Float64).alias("rvc_net_cost"),
        pl.lit(None, pl.Float64).alias("rvc_margin"),
        EMPTY.alias("blockers"),
        EMPTY.alias("needs"),
        pl.lit(False).alias("de_minimis"),
    )
    # The what-ifs read the goods' statuses, settled here, and the frames the verdicts came from: computed beside
    # the needs below (``_what_if_needs``).
    wi_later = (
        ahead.start(
            _what_if_needs,
            pl.concat([df.select("sku", "status") for df in (c, nb, res)], how="vertical_relaxed"),
            out_territory,
            a,
            ln,
            n_sku,
            r.filter(pl.col("note_needs").list.len() > 0)["sku"],
            _Verdicts(
                pa=pa,
                fails=fails,
                nl=nl,
                sku_base=sku_base,
                p_dm=p_dm,
                mc=mc,
                tables=tables,
                parts_nom=parts_nom,
                per_code=per_code,
                vehicle=vflags,
                # (by SKU id: the what-ifs look a good's count up by position, not by a join of a million rows)
                n_nonorig=_per_sku("n_nonorig", n_sku, None, agg.schema["n_nonorig"]).scatter(
                    agg["sku"], agg["n_nonorig"]
                ),
            ),
        )
        if what_if
        else None
    )
    # An undecided good names what each undecided branch asks, in the branches' order, those of (B) first and
    # then those of the parts fallback (``determine._psr``: every pending branch's checks in turn; ``_parts``);
    # Schedule 2's last. (List work on those SKUs' rows only: list concatenation over every row cost seconds.)
    undecided = res.filter(pl.col("_open"))
    if undecided.height:
        keep = _per_sku("keep", n_sku, False, pl.Boolean).scatter(undecided["sku"], True)
        b_pend, d_pend = pl.col("b_v") == U, pl.col("d_v") == U
        # (in SKU, alternative order; lazily, so only the columns read below are copied, not a's fifty)
        rows = a.lazy().filter(pl.lit(keep).gather(pl.col("sku")) & (b_pend | d_pend)).select(_NEEDS_READ).collect()
        open_dm = rows.filter(b_pend & (pl.col("shift_v") == U))
        for got in (
            _weight_needs(open_dm, fails, ln, n_sku),
            _exclusion_needs(open_dm, fails, ln, m_of["mhts"], products["hts"], dm_exclusion),
        ):
            # (on one integer key, ``_PAIR``: a join on two columns hashes each row's encoding)
            rows = (
                rows.with_columns(_PAIR.alias("_k"))
                .join(_keyed(got), on="_k", how="left", maintain_order="left")
                .drop("_k")
            )
        branch_needs = _branch_needs(rows)
        undecided = undecided.join(branch_needs, on="sku", how="left", maintain_order="left").with_columns(
            pl.col("_bd").fill_null(EMPTY).alias("needs")
        )
    fixed = pl.concat([undecided.drop("_bd", strict=False), res.filter(~pl.col("_open") & pl.col("_s2"))])
    fixed = fixed.with_columns(
        pl.when(pl.col("_s2")).then(pl.concat_list("needs", "s2_needs")).otherwise(pl.col("needs")).alias("needs")
    )
    fix = pl.col("_open") | pl.col("_s2")
    res = pl.concat([res.filter(~fix), fixed]) if fixed.height else res
    schema = pl.Schema({**RESULT_SCHEMA, "sku": pl.UInt32()})
    results = pl.concat([o, c, nb, res.select(list(RESULT_SCHEMA))], how="vertical_relaxed").cast(schema)
    wi = wi_later.result() if wi_later is not None else None
    if wi is not None and wi.height:
        # The lists are joined on the rows of goods with what-ifs alone (a tenth of them), found by position, and
        # put back among the others by their row numbers: a join and a list operation over every row took twice
        # as long.
        at = _rows_by_sku(results["sku"], n_sku)
        wi = wi.with_columns(pl.lit(at).gather(pl.col("sku")).alias("_r")).drop_nulls("_r")
        joined = pl.DataFrame([wi["_r"], results["needs"].gather(wi["_r"]), wi["_wi"]]).select(
            "_r", pl.concat_list("needs", "_wi").alias("needs")
        )
        kept = results.select("needs").with_row_index("_r").filter(~pl.col("_r").is_in(wi["_r"].implode()))
        results = results.with_columns(pl.concat([kept, joined]).sort("_r")["needs"])
    fb = (
        pl.concat(fallback).unique("sku", keep="first", maintain_order=True)
        if fallback
        else pl.DataFrame(schema={"sku": pl.UInt32, "reason": pl.String})
    )

    def named(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(names.gather(df["sku"]).alias("sku"))

    return KernelResult(results=named(results).cast(RESULT_SCHEMA), fallback=named(fb))


def _branch_needs(rows: pl.DataFrame) -> pl.DataFrame:
    """What each undecided good's pending branches ask (``rows``: its branch verdicts, ``_NEEDS_READ``, with the
    weights' and exclusions' needs ``_wn``, ``_xn``), in the branches' order, those of (B) first and then those
    of the parts fallback, each once: sku, _bd (a good asking nothing has no row)."""
    b_pend, d_pend = pl.col("b_v") == U, pl.col("d_v") == U
    r = rows.with_row_index("_r")

    def asked(when: pl.Expr, phase: int, part: int, needs: pl.Expr) -> pl.LazyFrame:
        return (
            r.lazy()
            .filter(when)
            .select(
                "sku", "_r", pl.lit(phase, pl.UInt8).alias("_ph"), pl.lit(part, pl.UInt8).alias("_q"), needs.alias("_x")
            )
        )

    # Each part's lists on the rows that ask it, one need per row once exploded, put in order (the good, (B)
    # before (D), the branch, the part, the list's own order) and gathered per good: concatenating four list
    # columns row by row cost twice the time.
    parts = [
        asked(b_pend & _P6_OPEN, 0, 0, pl.col("p6_needs")),
        asked(b_pend, 0, 1, pl.col("f_needs")),
        # what de minimis lacks, asked by the shift test: the value base, or weights
        asked(
            b_pend,
            0,
            2,
            pl.when(pl.col("dm_nobase")).then(pl.lit([NEED_DM_BASE], _NEEDS_TYPE)).otherwise(pl.coalesce("_wn", "_xn")),
        ),
        asked(b_pend & pl.col("has_rvc") & (pl.col("rvc_v") == U), 0, 3, _rvc_needs(pl.col("b_tv"), pl.col("b_nc"))),
        asked(
            d_pend & (pl.col("d_ap") == U),
            1,
            0,
            pl.when(pl.col("ghts").str.slice(4, 2) == "00")
            .then(pl.lit([_NEED_PARTS_HEADING], _NEEDS_TYPE))
            .otherwise(pl.lit([_NEED_PARTS_SUB], _NEEDS_TYPE)),
        ),
        asked(
            d_pend & (_rvc_verdict(pl.col("d_tv"), pl.col("d_nc")) == U),
            1,
            1,
            _rvc_needs(pl.col("d_tv"), pl.col("d_nc")),
        ),
    ]
    return (
        pl.concat(parts)
        .explode("_x")
        .drop_nulls("_x")
        .sort("sku", "_ph", "_r", "_q", maintain_order=True)
        .group_by("sku", maintain_order=True)
        .agg(pl.col("_x").unique(maintain_order=True).alias("_bd"))
        .collect()
    )


# the columns of the branch verdicts (``_branch_verdicts``) the undecided goods' needs read
_NEEDS_READ = (
    *("sku", "alt_idx", "ghts", "b_v", "d_v", "shift_v", "rvc_v", "d_ap", "has_rvc", "p6_needs", "f_needs"),
    *("dm_nobase", "dm_kind", "fail_val", "excl", "tv", "tc", "nc", "vnm", "s54", "b_tv", "b_nc", "d_tv", "d_nc"),
)


def _fail_aggregates(fails: pl.DataFrame, p_dm: pl.DataFrame) -> pl.DataFrame:
    """Per (SKU, alternative) with failing lines: their count, value, s.5(3) exclusions, subheadings and weights,
    and the good's de minimis kind (``p_dm``: sku, dm_mode). The same for a bill and for its what-if variants."""
    # (grouped on one integer key, ``_PAIR``, the SKU and alternative read back from it: a group-by on two
    # columns hashes each row's encoding)
    return (
        fails.group_by(_PAIR.alias("_k"))
        .agg(
            pl.len().alias("n_fail"),
            (pl.col("excl") == 2).sum().alias("n_x2"),
            pl.col("same").not_().sum().alias("n_other"),
            pl.col("val").sum().alias("fail_val"),
            pl.col("same").all().alias("fail_same_sub"),
            pl.col("excl").max().alias("excl"),
            pl.col("wt").sum().alias("fail_wt"),
            pl.col("wt").is_null().any().alias("fail_wt_missing"),
        )
        .select(
            (pl.col("_k") // 2**32).cast(fails.schema["sku"]).alias("sku"),
            (pl.col("_k") % 2**32).cast(fails.schema["alt_idx"]).alias("alt_idx"),
            pl.exclude("_k"),
        )
        .pipe(_with_sku_columns, p_dm.select("sku", "dm_mode"), how="left")
        .with_columns((pl.col("dm_mode") == "none").alias("dm_none"), pl.col("dm_mode").alias("dm_kind"))
        .drop("dm_mode")
    )


def _blockers(fails: pl.DataFrame, at: pl.DataFrame, comps: pl.Series) -> pl.DataFrame:
    """The components of the failing lines of each (SKU, alternative) of ``at``, in line order, each once
    (``comps``: the component of each line by ``li``). Columns sku, fail_comps."""
    # (one lazy pass that keeps the lines of those pairs, ``_PAIR``, and copies only their SKU and line)
    lines = fails.lazy().filter(_PAIR.is_in(at.select(_PAIR)["sku"].implode())).select("sku", "li").collect()
    lines = _sorted_flag(lines.with_columns(comps.gather(lines["li"]).alias("comp")))
    # in line order (the failing lines usually are already: then no sort per group)
    comp = pl.col("comp") if lines["li"].is_sorted() else pl.col("comp").sort_by("li")
    return lines.group_by("sku").agg(comp.unique(maintain_order=True).alias("fail_comps"))


# a vehicle whose s.13 rule is unresolved on the date, or whose other Part 6 requirements ask facts
_VEHICLE_OPEN = pl.col("v_unres") | (pl.col("veh") & (pl.col("v_needs").list.len() > 0))
# Part 6 open for the good (its use not stated): the "automotive" check of each RVC alternative is undecided
_P6_OPEN = pl.col("has_rvc") & pl.col("p6_needs").is_not_null()


# one integer key per (SKU, alternative)
_PAIR = pl.col("sku").cast(pl.UInt64) * 2**32 + pl.col("alt_idx").cast(pl.UInt64)


def _keyed(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` keyed by ``_PAIR`` (``_k``) in place of its sku and alt_idx columns."""
    return df.with_columns(_PAIR.alias("_k")).drop("sku", "alt_idx")


def _rows_by_sku(skus: pl.Series, n_sku: int) -> pl.Series:
    """The row of each SKU id in ``skus`` (ids unique, below ``n_sku``), as a dense column over the ids: null for
    an id not there. A SKU's row is then found by position (a gather), not by a join."""
    return _per_sku("_row", n_sku, None, pl.UInt32).scatter(skus, pl.int_range(skus.len(), dtype=pl.UInt32, eager=True))


def _beside(df: pl.DataFrame, table: pl.DataFrame, idx: pl.Series, how: str) -> pl.DataFrame:
    """``df`` with the rows ``idx`` of ``table`` beside its own (null: none; ``how`` "inner" drops such rows of
    ``df``, "left" keeps them with nulls): only the new columns are gathered, where a join copies ``df``'s."""
    if how == "inner" and idx.null_count():
        keep = idx.is_not_null()
        df, idx = df.filter(keep), idx.filter(keep)
    return df.hstack(table.select(pl.all().gather(idx)))


def _with_sku_columns(df: pl.DataFrame, per_sku: pl.DataFrame, how: str = "inner") -> pl.DataFrame:
    """``df`` with the columns of ``per_sku`` (one row per SKU id) beside each row of its SKU: a join on sku
    (``how`` as in ``_beside``), in ``df``'s order, the rows found by position."""
    if not df.height or not per_sku.height:
        return df.join(per_sku, on="sku", how=how, maintain_order="left")  # type: ignore[arg-type]
    top = max(int(df["sku"].max()), int(per_sku["sku"].max())) + 1  # type: ignore[arg-type]
    idx = _rows_by_sku(per_sku["sku"], top).gather(df["sku"])
    return _beside(df, per_sku.drop("sku"), idx, how)


def _with_keyed_columns(df: pl.DataFrame, table: pl.DataFrame, key: str, how: str = "inner") -> pl.DataFrame:
    """``df`` with the columns of ``table`` (one row per ``key``, a few thousand rows: rules, codes) beside each
    row with its key: a join on ``key`` (``how`` as in ``_beside``), in ``df``'s order, each row's place in the
    table looked up."""
    idx = df.select(
        pl.col(key).replace_strict(
            table[key], pl.int_range(table.height, dtype=pl.UInt32, eager=True), default=None, return_dtype=pl.UInt32
        )
    ).to_series()
    return _beside(df, table.drop(key), idx, how)


def _branch_verdicts(
    pa: pl.DataFrame, alt_fail: pl.DataFrame, sku_base: pl.DataFrame, fx: pl.DataFrame, parts_nom: pl.DataFrame
) -> pl.DataFrame:
    """Per (SKU, alternative) of ``pa`` (sku, alt_idx and the alternative's columns), each test's verdict
    (F < U < T): the shift with de minimis (``shift_v``), the RVC (``rvc_v``), the branch (``b_v``), the parts
    fallback (``d_ap``, ``d_v``), with what they read: the failing lines' aggregates (``_fail_aggregates``),
    the good's (``sku_base``), the fact checks that bite (``_fact_checks``) and whether the schedule names
    parts (``parts_nom``: ghts, parts_nom). The same for a bill and for its what-if variants."""
    # (the (SKU, alternative) joins on one integer key: two key columns cost twice the time)
    a = (
        pa.with_columns(_PAIR.alias("_k"))
        .join(_keyed(alt_fail), on="_k", how="left", maintain_order="left")
        .pipe(_with_sku_columns, sku_base)
        .with_columns(
            pl.col("n_fail").fill_null(0),
            pl.col("fail_val").fill_null(0),
            pl.col("excl").fill_null(0),
            pl.col("dm_none").fill_null(False),
            pl.col("dm_kind").fill_null("value"),
            pl.col("fail_same_sub").fill_null(False),
        )
    )
    a = (
        a.join(_keyed(fx), on="_k", how="left", maintain_order="left")
        .drop("_k")
        .with_columns(pl.col("fact_u").fill_null(False))
    )
    # s.5(1) by value (``criteria.de_minimis_value``): the share first (no base: undecided; over 10% of both
    # bases: fails), then the s.5(3) exclusions (certain: fails; depending on facts: undecided).
    value_v = (
        pl.when(pl.col("tv").is_null() & pl.col("tc").is_null())
        .then(U)
        .when(~_within_10(pl.col("fail_val")))
        .then(F)
        .when(pl.col("excl") == 2)
        .then(F)
        .when(pl.col("excl") == 1)
        .then(U)
        .otherwise(T)
    )
    # s.5(7) (``criteria.de_minimis_weight``, apparel): failing weight within 10% of the component's weight,
    # every weight known; s.5(6) (other textiles) weighs against the good's weight, not in PRODUCTS.
    apparel_v = (
        pl.when(pl.col("fail_wt_missing") | pl.col("all_wt_missing") | (pl.col("all_wt").fill_null(0) <= 0))
        .then(U)
        .when(10 * pl.col("fail_wt") <= pl.col("all_wt"))
        .then(T)
        .otherwise(F)
    )
    kind = pl.col("dm_kind")
    dm_v = (
        pl.when(kind == "none")
        .then(F)
        .when(kind == "apparel")
        .then(apparel_v)
        .when(kind == "textile")
        .then(U)
        .when(kind == "value+textile")
        .then(pl.when(value_v == T).then(T).otherwise(U))  # the engine takes a passing test, else an open one
        .otherwise(value_v)
    )
    # the RVC each branch asks under (B): the rule's, or a vehicle's s.13 threshold where the branch has one
    # (``determine._required_rvc``: its TV only where the rule offers TV, when so marked); (D) keeps the rule's
    veh_rvc = pl.col("veh") & pl.col("has_rvc")
    a = a.with_columns(
        pl.when(veh_rvc)
        .then(pl.when(pl.col("v_if") & pl.col("rvc_tv").is_null()).then(None).otherwise(pl.col("v_tv")))
        .otherwise(pl.col("rvc_tv"))
        .alias("b_tv"),
        pl.when(veh_rvc).then(pl.col("v_nc")).otherwise(pl.col("rvc_nc")).alias("b_nc"),
    )
    # (D) s.3(4)(a)/(5) (``criteria.parts_fallback_applies``): every failing material shares the good's
    # subheading (or its heading, not subdivided), and the schedule's text for it names parts; where not
    # (or was not read) the producer's statement is needed, a fact the bill does not give. Never ch. 61-63.
    a = a.join(parts_nom, on="ghts", how="left")
    d_ap = (
        pl.when(
            pl.col("kind").is_null()
            | (pl.col("n_fail") == 0)
            | ~pl.col("fail_same_sub")
            | pl.col("ghts").str.slice(0, 2).is_in(PARTS_EXCLUDED_CHAPTERS)
        )
        .then(F)
        .when(pl.col("parts_nom").fill_null(False))
        .then(T)
        .otherwise(U)
    )
    a = a.with_columns(
        (pl.col("n_fail") > 0).alias("failing"),
        pl.when(pl.col("kind").is_null() | (pl.col("n_fail") == 0))
        .then(T)
        .otherwise(dm_v)
        .cast(pl.Int8)
        .alias("shift_v"),
        pl.when(pl.col("has_rvc"))
        .then(_rvc_verdict(pl.col("b_tv"), pl.col("b_nc")))
        .otherwise(T)
        .cast(pl.Int8)
        .alias("rvc_v"),
        d_ap.cast(pl.Int8).alias("d_ap"),
        pl.max_horizontal(pl.lit(float(PARTS_RVC_TV)), pl.col("rvc_tv").fill_null(0)).alias("d_tv"),
        pl.max_horizontal(pl.lit(float(PARTS_RVC_NC)), pl.col("rvc_nc").fill_null(0)).alias("d_nc"),
    )
    # Part 6 open: its "automotive" check (undecided) comes first in each RVC alternative
    return a.with_columns(
        pl.when(_P6_OPEN | pl.col("fact_u"))
        .then(pl.min_horizontal("shift_v", "rvc_v", pl.lit(U, pl.Int8)))
        .otherwise(pl.min_horizontal("shift_v", "rvc_v"))
        .alias("b_v"),  # three-valued AND (F < U < T)
        pl.when(pl.col("d_ap") == F)
        .then(F)
        .otherwise(pl.min_horizontal(pl.col("d_ap"), _rvc_verdict(pl.col("d_tv"), pl.col("d_nc"))))
        .cast(pl.Int8)
        .alias("d_v"),
        (pl.col("failing") & (pl.col("shift_v") == T)).alias("dm_ok"),
        # de minimis by value undecided for want of a base (no transaction value, no total cost): the engine
        # names the value it needs (``criteria.value_share_check``)
        (
            pl.col("failing")
            & (pl.col("shift_v") == U)
            & pl.col("dm_kind").is_in(("value", "value+textile"))
            & pl.col("tv").is_null()
            & pl.col("tc").is_null()
        ).alias("dm_nobase"),
    )


def _outcome() -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """The good's status and how it comes, over a frame per SKU with the reported alternative's ``b_v``, the
    parts fallback's ``d_ok`` and ``d_u``, its code's Schedule 2 and chapter-note answers (``deemed``,
    ``s2_needs``, ``note_needs``) and its vehicle flags: (b_ok, d_win, deemed, s2, noted, v_open, status).
    The same for a bill and for its what-if variants."""
    b_ok, b_u = pl.col("b_v") == T, pl.col("b_v") == U
    d_win = ~b_ok & pl.col("d_ok")
    # s.3(7) Schedule 2 (``determine._schedule_2``): a listed good failing (B) and (D) is deemed originating,
    # with no certification criterion.
    # s.3(7) on facts a portfolio row does not state (``deemed_originating.needs``): a listed good that does
    # not pass (B) or (D) is unresolved on them, and they follow the needs it already has.
    deemed = ~b_ok & ~d_win & pl.col("deemed")
    s2 = ~b_ok & ~d_win & ~pl.col("deemed") & pl.col("s2_needs").is_not_null()
    noted = b_ok & (pl.col("note_needs").list.len() > 0)
    # a vehicle that passes is unresolved on the facts its other Part 6 requirements ask (core parts, steel and
    # aluminum, labour value content: ``determine._other_requirements``), which no portfolio row states
    v_open = _VEHICLE_OPEN & ((b_ok & ~noted) | d_win)
    status = (
        pl.when(noted | v_open)
        .then(pl.lit("unresolved"))
        .when(b_ok | d_win | deemed)
        .then(pl.lit("originating"))
        .when(b_u | pl.col("d_u") | s2)
        .then(pl.lit("unresolved"))
        .otherwise(pl.lit("non_originating"))
    )
    return b_ok, d_win, deemed, s2, noted, v_open, status


# the columns of the (SKU, alternative) frame that the verdict reads from the reported alternative
_REPORTED = (
    "rule_idx",
    "alt_idx",
    "ghts",
    "tv",
    "nc",
    "vnm",
    "has_rvc",
    "b_v",
    "b_tv",
    "b_nc",
    "dm_ok",
    "s54",
    "fact_u",
    "f_needs",
    "p6_needs",
    "veh",
    "v_needs",
    "v_unres",
)


def _unresolved_on_rule(rows: pl.DataFrame, deemed_originating: Callable[[str], bool] | None) -> pl.DataFrame:
    """Results for goods left undecided by their rule before any branch is weighed (``rows``: sku, ghts,
    rule_id, need): unresolved naming ``need`` (the engine's words), then Schedule 2 as for any good that does
    not pass (B) or (D): deemed originating, or unresolved on its facts too (``determine._schedule_2``)."""
    keys = rows.select("ghts").unique()
    s2_hook = getattr(deemed_originating, "needs", None)
    deemed = [bool(deemed_originating(g)) if deemed_originating else False for g in keys["ghts"].to_list()]
    s2 = [
        [] if d or s2_hook is None else list(s2_hook(g) or [])
        for g, d in zip(keys["ghts"].to_list(), deemed, strict=True)
    ]
    keys = keys.with_columns(pl.Series("_deemed", deemed, pl.Boolean), pl.Series("_s2", s2, pl.List(pl.String)))
    return rows.join(keys, on="ghts", how="left").select(
        "sku",
        pl.when(pl.col("_deemed")).then(pl.lit("originating")).otherwise(pl.lit("unresolved")).alias("status"),
        pl.lit(None, pl.String).alias("criterion"),
        "rule_id",
        pl.lit(None, pl.Float64).alias("rvc_transaction_value"),
        pl.lit(None, pl.Float64).alias("rvc_net_cost"),
        pl.lit(None, pl.Float64).alias("rvc_margin"),
        EMPTY.alias("blockers"),
        pl.when(pl.col("_deemed")).then(EMPTY).otherwise(pl.concat_list("need", "_s2")).alias("needs"),
        pl.lit(False).alias("de_minimis"),
    )


def _fact_checks(pa: pl.DataFrame, nl: pl.DataFrame, mc: pl.DataFrame, tables: RuleTables) -> pl.DataFrame:
    """Per (SKU, alternative) with a fact check that bites (``RuleTables.facts``): sku, alt_idx, fact_u (True),
    f_needs (the facts, in the branch's order). ``pa``: sku, alt_idx; ``nl``: the non-originating lines (sku,
    mid); ``mc``: mid, m_int, m_len of the material codes."""
    out_schema = pl.Schema(
        {"sku": pl.UInt32(), "alt_idx": pl.Int32(), "fact_u": pl.Boolean(), "f_needs": pl.List(pl.String)}
    )
    sa = pa.join(tables.facts, on="alt_idx", how="inner")
    if sa.height == 0:
        return pl.DataFrame(schema=out_schema)
    grouped = sa.filter(pl.col("cond").is_not_null()).select("sku", "cond").unique()
    if grouped.height:
        lines = nl.join(grouped, on="sku", how="inner")
        # a material code is in a proviso's codes as ``CodeSet.contains`` says: its span (the code padded with
        # 0s and with 9s) lies in a range, compared on the integer forms cut to the range's width
        pairs = (
            lines.select("cond", "mid")
            .unique()
            .join(mc.select(pl.col("mid").cast(pl.UInt32), "m_int", "m_len"), on="mid", how="left")
            .join(tables.cond_sets, on="cond", how="inner")
        )
        p10 = pl.lit(_POW10_SERIES)
        cut = p10.gather(10 - pl.col("width"))
        top = pl.col("m_int") + p10.gather(10 - pl.col("m_len")) - 1
        inside = (pl.col("m_int") // cut >= pl.col("lo")) & (top // cut <= pl.col("hi"))
        hits = pairs.filter(inside).select("cond", "mid").unique()
        bites = lines.join(hits, on=["cond", "mid"], how="semi").select("sku", "cond").unique()
        sa = pl.concat(
            [sa.filter(pl.col("cond").is_null()), sa.join(bites, on=["sku", "cond"], how="semi")], how="vertical"
        )
    return (
        sa.sort("sku", "alt_idx", "pos")
        .group_by("sku", "alt_idx", maintain_order=True)
        .agg(pl.col("needs").alias("f_needs"))
        .with_columns(pl.lit(True).alias("fact_u"))
        .select(out_schema.names())
        .cast(out_schema)
    )


NEED_DM_BASE = "good.transaction_value or good.total_cost"  # the engine's words for de minimis without a base
_NEED_TV = "good.transaction_value"
_NEED_NC = "good.total_cost (with excluded_costs) or good.net_cost"
# the parts fallback's question when the schedule's text does not settle it, by the good's code
_NEED_PARTS_HEADING, _NEED_PARTS_SUB = (parts_statement_need("good", undivided) for undivided in (True, False))
# the four possible lists, picked by a two-bit code (building lists row by row cost ~2 s per million SKUs)
_NEED_LISTS = pl.Series([[], [_NEED_TV], [_NEED_NC], [_NEED_TV, _NEED_NC]], dtype=pl.List(pl.String))


def _what_if_candidates(
    statuses: pl.DataFrame,
    out_territory: pl.DataFrame,
    a: pl.DataFrame,
    fails: pl.DataFrame,
    ln: pl.DataFrame,
    n_sku: int,
    fixed_facts: pl.Series,
    noted_skus: pl.Series,
    n_nonorig: pl.Series,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Which variants of the bills of goods not originating might originate: each material of unknown origin
    taken as originating alone (lines: sku, li) and, where a good has several, all of them together (goods:
    sku). A bound that never leaves out a variant that would originate: each test is taken at its most
    favourable (s.5(3) exceptions that depend on facts, and facts about materials, ignored); left out are only
    variants whose every path is shut whatever their materials are: a branch asking facts of the good
    (``fixed_facts``: those alternatives), or Part 6's use, never passes, (B) leaves a good of a chapter rule
    with requirements of its own (``noted_skus``) unresolved, a test whose base is not given is undecided, and
    a failing material that stays makes its certain s.5(3) exception and its other subheading count. Only
    those variants' verdicts are computed (``_what_ifs``). Also returns those goods' lines of unknown origin
    (sku, li, val)."""
    none = (
        pl.DataFrame(schema={"sku": pl.UInt32, "li": pl.UInt32}),
        pl.DataFrame(schema={"sku": pl.UInt32}),
        pl.DataFrame(schema={"sku": pl.UInt32, "li": pl.UInt32, "val": pl.Int64}),
    )
    maybe = statuses.filter(pl.col("status") != "originating").join(out_territory.select("sku"), on="sku", how="anti")
    if not maybe.height:
        return none
    unk = _lines_of(ln, maybe["sku"], n_sku, "sku", "li", "val", where=pl.col("unk"))
    if not unk.height:
        return none
    per_sku = (
        unk.group_by("sku")
        .agg(pl.len().alias("n_unk"), pl.col("val").sum().alias("u_sum"))
        .with_columns(pl.lit(n_nonorig).gather(pl.col("sku")).alias("n_nonorig"))
    )
    unk = unk.join(per_sku, on="sku")
    # (the columns read, then the rows: a semi join of the whole frame copies its fifty columns)
    rows = a.select(
        "sku",
        "alt_idx",
        "n_fail",
        "fail_val",
        "vnm",
        "tv",
        "nc",
        "tc",
        "dm_kind",
        "has_rvc",
        "b_tv",
        "b_nc",
        "d_tv",
        "d_nc",
        "kind",
        "parts_nom",
        pl.col("n_x2").fill_null(0),
        pl.col("n_other").fill_null(0),
        # never originating under (B), whatever the materials: Part 6 asks the use, the branch facts of the
        # good, or the chapter rule requirements of its own
        (
            (pl.col("has_rvc") & pl.col("p6_needs").is_not_null())
            | pl.col("alt_idx").is_in(fixed_facts.implode())
            | pl.col("sku").is_in(noted_skus.implode())
        )
        .fill_null(False)
        .alias("b_shut"),
    ).join(per_sku.select("sku"), on="sku", how="semi")
    unk_fail = fails.select(
        "sku", "alt_idx", "li", "val", (pl.col("excl") == 2).alias("_x2"), pl.col("same").not_().alias("_o")
    ).filter(pl.lit(ln["unk"]).gather(pl.col("li")))

    def could(flip_n: pl.Expr, flip_fail: pl.Expr, flip_vnm: pl.Expr, flip_x2: pl.Expr, flip_other: pl.Expr) -> pl.Expr:
        vnm = pl.col("vnm") - flip_vnm

        def meets(base: str, thr: pl.Expr) -> pl.Expr:
            return thr.is_not_null() & pl.col(base).is_not_null() & _meets(base, thr, vnm)

        def rvc(tv: pl.Expr, nc: pl.Expr) -> pl.Expr:
            return _within_10(vnm) | meets("tv", tv) | meets("nc", nc)

        values = pl.col("dm_kind").is_in(("value", "value+textile"))
        dm_value = values & _within_10(pl.col("fail_val") - flip_fail) & (pl.col("n_x2") - flip_x2 <= 0)
        shift = ((pl.col("n_fail") - flip_n) <= 0) | dm_value | (pl.col("dm_kind") == "apparel")
        b = ~pl.col("b_shut") & shift & (~pl.col("has_rvc") | rvc(pl.col("b_tv"), pl.col("b_nc")))
        parts = pl.col("kind").is_not_null() & pl.col("parts_nom").fill_null(False)
        d = parts & (pl.col("n_other") - flip_other <= 0) & rvc(pl.col("d_tv"), pl.col("d_nc"))
        return (b | d).fill_null(True)

    # all of a good's unknown materials together: ``could`` grows with what is taken as originating, so a single
    # one can only make a good originate where all of them together may (or by (C), as its only one)
    # (pairs and lines of an alternative keyed by one integer each: ``_PAIR``, and the line id beside the
    # alternative, which names the SKU too; a join on two or three columns hashes each row's encoding)
    line_alt = pl.col("li").cast(pl.UInt64) * 2**32 + pl.col("alt_idx").cast(pl.UInt64)
    fu = unk_fail.group_by(_PAIR.alias("_k")).agg(
        pl.len().alias("fu_n"),
        pl.col("val").sum().alias("fu_sum"),
        pl.col("_x2").sum().alias("fu_x2"),
        pl.col("_o").sum().alias("fu_o"),
    )
    joint = (
        rows.join(per_sku, on="sku", how="inner")
        .with_columns(_PAIR.alias("_k"))
        .join(fu, on="_k", how="left")
        .filter(
            could(
                pl.col("fu_n").fill_null(0),
                pl.col("fu_sum").fill_null(0),
                pl.col("u_sum"),
                pl.col("fu_x2").fill_null(0),
                pl.col("fu_o").fill_null(0),
            )
        )
        .select("sku")
        .unique()
    )
    # each unknown material alone: (C) when it is the only non-originating one, else some branch may pass
    one = (
        unk.join(joint, on="sku", how="semi")
        .join(rows, on="sku", how="inner")
        .with_columns(line_alt.alias("_la"))
        .join(unk_fail.select(line_alt.alias("_la"), pl.lit(True).alias("_f"), "_x2", "_o"), on="_la", how="left")
    )
    f = pl.col("_f").fill_null(False)
    one = (
        one.filter(
            could(
                f.cast(pl.Int64),
                pl.when(f).then(pl.col("val")).otherwise(0),
                pl.col("val"),
                pl.col("_x2").fill_null(False).cast(pl.Int64),
                pl.col("_o").fill_null(False).cast(pl.Int64),
            )
        )
        .select("sku", "li")
        .unique()
    )
    alone = unk.filter(pl.col("n_nonorig") == 1).select("sku", "li")
    one = pl.concat([one, alone]).unique().sort("sku", "li")
    # the joint variant where there are several
    several = per_sku.filter(pl.col("n_unk") > 1)
    together = pl.concat(
        [
            joint.join(several, on="sku", how="semi"),
            several.filter(pl.col("n_nonorig") == pl.col("n_unk")).select("sku"),
        ]
    ).unique()
    cands = pl.concat([one.select("sku"), together]).unique()
    return one, together, unk.join(cands, on="sku", how="semi").select("sku", "li", "val")


def _what_if_needs(
    statuses: pl.DataFrame,
    out_territory: pl.DataFrame,
    a: pl.DataFrame,
    ln: pl.DataFrame,
    n_sku: int,
    noted: pl.Series,
    bill: _Verdicts,
) -> pl.DataFrame | None:
    """The what-ifs of the goods not originating (``_what_if_candidates``, ``_what_ifs``; ``statuses``: sku,
    status; ``noted``: the SKUs whose chapter rule adds requirements of its own): sku, _wi; None when no
    variant is a candidate."""
    fixed_facts = bill.tables.facts.filter(pl.col("cond").is_null())["alt_idx"].unique()
    one, together, unknown = _what_if_candidates(
        statuses, out_territory, a, bill.fails, ln, n_sku, fixed_facts, noted, bill.n_nonorig
    )
    if not (one.height or together.height):
        return None
    return _what_ifs(one, together, unknown, ln, n_sku, bill)


def _lines_of(ln: pl.DataFrame, skus: pl.Series, n_sku: int, *cols: str, where: pl.Expr | None = None) -> pl.DataFrame:
    """The lines of ``ln`` of the SKUs ``skus`` (columns ``cols``), in ``ln``'s order; with ``where``, only those
    it holds for. Where the lines are in SKU order (``_sorted_flag``) and the SKUs are few, each SKU's run is
    found by a binary search and gathered; else the lines are kept by a mask over them, filtered lazily (one
    pass that copies only the lines kept: gathering the runs of many SKUs to drop most of their lines cost
    eight times as much)."""
    if ln["sku"].flags["SORTED_ASC"] and (where is None or skus.len() * FEW_SKUS < n_sku):
        ids = skus.unique().sort()
        lo = ln["sku"].search_sorted(ids, side="left")
        hi = ln["sku"].search_sorted(ids, side="right")
        at = pl.select(pl.int_ranges(lo, hi, dtype=pl.UInt32).explode().drop_nulls()).to_series()
        return ln.select(cols)[at] if where is None else ln[at].filter(where).select(cols)
    mine = _per_sku("mine", n_sku, False, pl.Boolean).scatter(skus, True)
    keep = pl.lit(mine).gather(pl.col("sku"))
    return ln.lazy().filter(keep if where is None else keep & where).select(cols).collect()


FEW_SKUS = 64  # SKUs are "few" (their runs gathered) below 1/64 of all


def _places(ln: pl.DataFrame, at: pl.DataFrame, n_sku: int) -> pl.DataFrame:
    """``at`` (lines of ``ln``: sku, li, ...) with ``_i``, each line's place among its SKU's lines (the case's
    ``materials[i]``): where the lines are in SKU order (``_sorted_flag``), its row less its SKU's first row;
    else counted over those SKUs' lines."""
    if not at.height:
        return at.with_columns(pl.lit(None, pl.Int64).alias("_i"))
    if ln["sku"].flags["SORTED_ASC"]:
        first = ln["sku"].search_sorted(at["sku"], side="left")
        return at.with_columns((pl.col("li").cast(pl.Int64) - first.cast(pl.Int64)).alias("_i"))
    places = _lines_of(ln, at["sku"].unique(), n_sku, "sku", "li").select(
        "li", pl.int_range(pl.len(), dtype=pl.Int64).over("sku").alias("_i")
    )
    return at.join(places, on="li", how="left", maintain_order="left")


@dataclass(frozen=True)
class _Verdicts:
    """What a bill's verdict is computed from, held for its what-if variants (``_what_ifs``): the SKUs'
    alternatives (``pa``), failing lines (``fails``), non-originating lines (``nl``), the goods' own columns
    (``sku_base``), de minimis kinds (``p_dm``), material codes (``mc``), per-code answers (``parts_nom``,
    ``per_code``), vehicle flags (``vehicle``: sku, veh, v_unres, v_needs) and non-originating line counts
    (``n_nonorig``: by SKU id, null for a SKU without lines)."""

    pa: pl.DataFrame
    fails: pl.DataFrame
    nl: pl.DataFrame
    sku_base: pl.DataFrame
    p_dm: pl.DataFrame
    mc: pl.DataFrame
    tables: RuleTables
    parts_nom: pl.DataFrame
    per_code: pl.DataFrame
    vehicle: pl.DataFrame
    n_nonorig: pl.Series


def _variants_originating(variants: pl.DataFrame, flipped: pl.DataFrame, bill: _Verdicts) -> pl.Series:
    """Which variants originate (``variants``: _v, sku; ``flipped``: _v, li, val, the lines of unknown origin each
    takes as originating): the bill's own verdict (``_branch_verdicts``, ``_outcome``) on its lines less those,
    computed from the same frames the bill's was; a variant left with no non-originating line is (C)'s. Returns
    the variants' ``_v`` that do."""
    if not variants.height:
        return pl.Series("_v", [], pl.UInt32)
    gone = flipped.group_by("_v").agg(pl.len().alias("_n"), pl.col("val").sum().alias("_val"))
    v = (
        variants.join(gone, on="_v", how="inner")
        # (every variant's good has lines)
        .with_columns(pl.lit(bill.n_nonorig).gather(pl.col("sku")).alias("n_nonorig"))
        .join(bill.vehicle, on="sku", how="inner")
    )
    # (C) s.3(3): every material originating; a vehicle stays open on its other Part 6 requirements
    c = v.filter(pl.col("n_nonorig") == pl.col("_n")).filter(~_VEHICLE_OPEN.fill_null(False))["_v"]
    v = v.filter(pl.col("n_nonorig") > pl.col("_n")).select("_v", "sku", "_val")
    # the rest: the variant's rows as the bill's, keyed by the variant (``sku`` := ``_v``), less its flipped lines
    by_v = v.select("_v", "sku")
    # (a variant's line as one integer key: a join on two columns hashes each row's encoding)
    v_li = pl.col("_v").cast(pl.UInt64) * 2**32 + pl.col("li").cast(pl.UInt64)
    gone_li = flipped.select(v_li.alias("_vl"))["_vl"].implode()

    def of_variants(df: pl.DataFrame, lines: bool = False, only: pl.Series | None = None) -> pl.DataFrame:
        """``df``'s rows of each variant's good, keyed by the variant; ``lines``: less its flipped lines;
        ``only``: of those variants alone."""
        vs = by_v if only is None else by_v.filter(pl.col("_v").is_in(only.implode()))
        # the variants' goods by SKU id: the frame's rows of other goods are dropped by a lookup by position
        # before the join (which would otherwise probe every line of the bill)
        mine = _per_sku("mine", bill.n_nonorig.len(), False, pl.Boolean).scatter(vs["sku"], True)
        out = vs.join(df.filter(pl.lit(mine).gather(pl.col("sku"))), on="sku", how="inner")
        if lines:
            out = out.filter(~v_li.is_in(gone_li))
        return out.drop("sku").rename({"_v": "sku"})

    pa = of_variants(bill.pa)
    if not pa.height:
        return c
    p_dm = of_variants(bill.p_dm)
    alt_fail = _fail_aggregates(of_variants(bill.fails, lines=True), p_dm)
    sku_base = (
        v.join(bill.sku_base.drop("s54"), on="sku", how="inner")
        .with_columns(pl.col("vnm") - pl.col("_val"))
        .drop("sku", "_val")
        .rename({"_v": "sku"})
        .with_columns(_within_10(pl.col("vnm")).alias("s54"))
    )
    # (the fact checks read the lines only of goods with an alternative whose proviso names materials)
    provisos = bill.tables.facts.filter(pl.col("cond").is_not_null())["alt_idx"].unique()
    asks = pa.filter(pl.col("alt_idx").is_in(provisos.implode()))["sku"].unique()
    nl = of_variants(bill.nl.select("sku", "li", "mid"), lines=True, only=asks)
    fx = _fact_checks(pa.select("sku", "alt_idx"), nl.select("sku", "mid"), bill.mc, bill.tables)
    a = _branch_verdicts(pa.drop("ghts"), alt_fail, sku_base, fx, bill.parts_nom)
    # the reported alternative's (B) verdict is the best of them (``_pref``: passing, else undecided, else failed)
    per = (
        a.group_by("sku")
        .agg(
            pl.col("b_v").max(),
            (pl.col("d_v") == T).any().alias("d_ok"),
            (pl.col("d_v") == U).any().alias("d_u"),
            *(pl.col(k).first() for k in ("ghts", "veh", "v_unres", "v_needs")),
        )
        .join(bill.per_code, on="ghts", how="left")
    )
    status = _outcome()[-1]
    return pl.concat([c, per.filter(status == "originating")["sku"].rename("_v")])


def _what_ifs(
    one: pl.DataFrame, together: pl.DataFrame, unknown: pl.DataFrame, ln: pl.DataFrame, n_sku: int, bill: _Verdicts
) -> pl.DataFrame:
    """``determine._what_if`` for the variants ``_what_if_candidates`` bounds: each material of unknown origin
    taken as originating alone (``one``: sku, li), and all of them together (``together``: sku), each variant's
    verdict computed as the bill's (``_variants_originating``); a good that would then originate names those
    materials, one at a time where any does alone, all together only where none does. ``unknown``: the lines
    of unknown origin of those goods (sku, li, val). Returns sku, _wi."""
    # the candidate goods' lines of unknown origin, with their place in the bill (``materials[i]``)
    unknown = _places(ln, unknown, n_sku).with_columns(pl.lit(ln["comp"]).gather(pl.col("li")).alias("comp"))
    variants = pl.concat(
        [
            one.select("sku", pl.col("li").alias("_flip")),
            together.select("sku", pl.lit(None, pl.UInt32).alias("_flip")),  # (all of them)
        ]
    ).with_row_index("_v")
    flipped = pl.concat(
        [
            variants.filter(pl.col("_flip").is_not_null()).select("_v", "sku", pl.col("_flip").alias("li")),
            variants.filter(pl.col("_flip").is_null()).select("_v", "sku").join(unknown.select("sku", "li"), on="sku"),
        ]
    ).join(unknown.select("sku", "li", "val"), on=["sku", "li"], how="left")
    ok = variants.filter(
        pl.col("_v").is_in(_variants_originating(variants.select("_v", "sku"), flipped.drop("sku"), bill).implode())
    )
    singles = ok.filter(pl.col("_flip").is_not_null()).select("sku", pl.col("_flip").alias("li"))
    joint = ok.filter(pl.col("_flip").is_null()).join(singles, on="sku", how="anti").select("sku")
    named = pl.concat(
        [
            singles.with_columns(pl.lit(False).alias("_joint")),
            unknown.join(joint, on="sku", how="semi").select("sku", "li", pl.lit(True).alias("_joint")),
        ],
        how="vertical_relaxed",
    )
    return (
        named.join(unknown, on=["sku", "li"], how="left")
        .sort("sku", "_i")
        .with_columns(
            pl.format(unknown_origin_need("materials[{}]", "{}", joint=False), "_i", "comp").alias("_one"),
            pl.format(unknown_origin_need("materials[{}]", "{}", joint=True), "_i", "comp").alias("_both"),
        )
        .group_by("sku", maintain_order=True)
        .agg(pl.when(pl.col("_joint")).then(pl.col("_both")).otherwise(pl.col("_one")).alias("_wi"))
    )


def _weight_needs(rows: pl.DataFrame, fails: pl.DataFrame, ln: pl.DataFrame, n_sku: int) -> pl.DataFrame:
    """The weights an undecided de minimis by weight asks (``criteria.de_minimis_weight``), per (SKU,
    alternative) of ``rows`` (undecided shift tests): s.5(6) for textiles, the failing materials' weights not
    given and the good's weight (which PRODUCTS does not hold); s.5(7) for apparel, the failing materials' and
    then the classifying component's (every line's) weights not given, else the good's weight. Heading 96.19
    (value and textile tests) asks the textile test's when the value test fails. Columns sku, alt_idx, _wn."""
    value_failed = (pl.col("tv").is_not_null() | pl.col("tc").is_not_null()) & (
        ~_within_10(pl.col("fail_val")) | (pl.col("excl") == 2)
    )
    kind = (
        pl.when((pl.col("dm_kind") == "textile") | ((pl.col("dm_kind") == "value+textile") & value_failed))
        .then(pl.lit("textile"))
        .when(pl.col("dm_kind") == "apparel")
        .then(pl.lit("apparel"))
    )
    w = rows.select("sku", "alt_idx", kind.alias("_wk")).filter(pl.col("_wk").is_not_null())
    out = pl.DataFrame(schema={"sku": pl.UInt32, "alt_idx": pl.Int32, "_wn": _NEEDS_TYPE})
    if not w.height:
        return out.cast({"alt_idx": rows.schema["alt_idx"]})
    # the lines named, with their place in the bill (``materials[i]``, as the case lists them): only those
    # without a weight, the path being written for those alone; the failing ones of every row, and every line
    # of the apparel SKUs alone (a textile asks for no other: most rows are textile, and their bills' lines
    # named one by one cost ten times the failing ones)
    path = pl.format("materials[{}].weight_kg", "_i").alias("_p")
    no_wt = pl.lit(ln["wt"]).gather(pl.col("li")).is_null()
    # (the rows' (SKU, alternative) pairs as one integer, ``_PAIR``: the failing lines kept by a lookup of it)
    w = w.with_columns(_PAIR.alias("_k"))
    fl = (
        fails.lazy()
        .select("sku", "li", _PAIR.alias("_k"), no_wt.alias("_nw"))
        .filter(pl.col("_nw") & pl.col("_k").is_in(w["_k"].implode()))
        .drop("_nw")
        .collect()
    )
    failing = (
        _places(ln, fl, n_sku)
        .select("_k", "li", path)
        .sort("_k", "li")
        .group_by("_k", maintain_order=True)
        .agg(pl.col("_p").alias("_f"))
    )
    apparel = w.filter(pl.col("_wk") == "apparel")["sku"]
    every_at = _lines_of(ln, apparel, n_sku, "sku", "li", where=pl.col("wt").is_null())
    every = (
        _places(ln, every_at, n_sku)
        .select("sku", path)
        .group_by("sku", maintain_order=True)
        .agg(pl.col("_p").alias("_e"))
    )
    good_wt = pl.lit(["good.weight_kg"], _NEEDS_TYPE)
    w = w.join(failing, on="_k", how="left")
    # (each kind's lists on its own rows: a when/then builds both on every row, and the apparel's set union is
    # the costly one; the caller joins the rows by key, in any order)
    textile = w.filter(pl.col("_wk") == "textile").select(
        "sku", "alt_idx", pl.concat_list(pl.col("_f").fill_null(EMPTY), good_wt).alias("_wn")
    )
    both = pl.concat_list(pl.col("_f").fill_null(EMPTY), pl.col("_e").fill_null(EMPTY)).list.unique(maintain_order=True)
    apparel_wn = (
        w.filter(pl.col("_wk") == "apparel")
        .join(every, on="sku", how="left")
        .select("sku", "alt_idx", both.alias("_wn"))
        .with_columns(pl.when(pl.col("_wn").list.len() > 0).then(pl.col("_wn")).otherwise(good_wt).alias("_wn"))
    )
    return pl.concat([textile, apparel_wn])


def _exclusion_needs(
    rows: pl.DataFrame,
    fails: pl.DataFrame,
    ln: pl.DataFrame,
    mhts: pl.Expr,
    ghts: pl.Series,
    dm_exclusion: Callable[[str, str], int] | None,
) -> pl.DataFrame:
    """The facts an undecided de minimis by value asks when its share passes but a s.5(3) exception for a
    failing material depends on facts of the good (``criteria.de_minimis_value``: each failing material's, in
    the bill's order), per (SKU, alternative) of ``rows``; ``dm_exclusion.facts(good, material)`` names them.
    Columns sku, alt_idx, _xn."""
    value = pl.col("dm_kind").is_in(("value", "value+textile"))
    ask = (pl.col("tv").is_not_null() | pl.col("tc").is_not_null()) & _within_10(pl.col("fail_val"))
    w = rows.filter(value & ask & (pl.col("excl") == 1)).select("sku", "alt_idx")
    facts = getattr(dm_exclusion, "facts", None)
    out = pl.DataFrame(schema={"sku": pl.UInt32, "alt_idx": rows.schema["alt_idx"], "_xn": _NEEDS_TYPE})
    if not w.height or facts is None:
        return out
    # (the rows' (SKU, alternative) pairs as one integer, ``_PAIR``: the failing lines kept by a lookup of it, in
    # one lazy pass that copies only the lines kept)
    lines = (
        fails.lazy()
        .filter((pl.col("excl") == 1) & _PAIR.is_in(w.select(_PAIR)["sku"].implode()))
        .select("sku", "alt_idx", "li", pl.lit(ghts).gather(pl.col("sku")).alias("g"), mhts.alias("m"))
        .with_columns(pl.lit(ln["comp"]).gather(pl.col("li")).alias("label"))
        .sort("sku", "alt_idx", "li")
        .collect()
    )
    # (asked once per pair of subheadings, as the hook reads six digits of each code)
    six = [pl.col("g").str.slice(0, 6).alias("g6"), pl.col("m").str.slice(0, 6).alias("m6")]
    lines = lines.with_columns(six)
    pairs = lines.group_by("g6", "m6").agg(pl.col("g").first(), pl.col("m").first())
    asked = pairs.select(
        "g6",
        "m6",
        pl.Series("_k", [facts(g, m) for g, m in pairs.select("g", "m").iter_rows()], pl.List(pl.List(pl.String))),
    )
    return (
        lines.join(asked, on=["g6", "m6"], how="left", maintain_order="left")
        .explode("_k")
        .filter(pl.col("_k").is_not_null())
        .select(
            "sku",
            "alt_idx",
            pl.format(
                exclusion_fact_need("good", "{}", "{}", "{}"),  # (the engine's words, as a template)
                pl.col("_k").list.get(0),
                pl.col("_k").list.get(1),
                "label",
            ).alias("_x"),
        )
        .group_by("sku", "alt_idx", maintain_order=True)
        .agg(pl.col("_x").unique(maintain_order=True).alias("_xn"))
    )


def _rvc_needs(req_tv: pl.Expr, req_nc: pl.Expr) -> pl.Expr:
    """The bases an undecided RVC test lacks, of those it allows (the same field names as the single-good
    engine's)."""
    tv = (pl.col("tv").is_null() & req_tv.is_not_null()).fill_null(False).cast(pl.UInt32)
    nc = (pl.col("nc").is_null() & req_nc.is_not_null()).fill_null(False).cast(pl.UInt32)
    return pl.lit(_NEED_LISTS).gather(tv + 2 * nc)
