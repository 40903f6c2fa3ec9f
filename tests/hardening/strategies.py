"""Hypothesis strategies: random and mutated texts, JSON-like documents and tables."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

# Tokens that drive the parsers into their branches; random glue between them finds the edges.
RATE_TOKENS = (
    "Free",
    "%",
    "¢",
    "$",
    "/kg",
    "/doz.",
    "/m2",
    "/liter",
    "+",
    "plus",
    "minus",
    "less",
    "(",
    ")",
    ",",
    " ",
    "1/",
    "A+",
    "CA",
    "MX",
    "S",
    "S+",
    "JP",
    "See ",
    "9903.88.01",
    "the duty provided in",
    "applicable subheading",
    "but if",
    "the total duty shall not exceed",
    "for each degree under",
    "degrees",
    "not less than",
    "0",
    "1.5",
    "1,000",
    "99999999999999999999",
    ".",
    "percent",
    "each",
    "No change",
    "a duty equal to",
    "\u00a0",
    "<i>",
)
RULE_TOKENS = (
    "A change to ",
    "subheading ",
    "heading ",
    "tariff item ",
    "chapter ",
    "from any other ",
    "chapter",
    "heading",
    "subheading",
    "tariff item",
    ", except from ",
    " through ",
    " or ",
    " and ",
    "; or ",
    "provided that ",
    "provided there is a regional value content of not less than",
    " percent under the transaction value method",
    " percent under the net cost method",
    "No change in tariff classification required",
    "(A) ",
    "(B) ",
    "(a) ",
    "0101.21",
    "74.02",
    "8708.29",
    "61.01",
    "51.11",
    "9401.20",
    "8504.40.xx",
    "Effective July 1, 2020",
    " through June 30, 2023: ",
    "within that group",
    ":",
    ".",
    ",",
    "60",
    "50",
    "xx",
    "  ",
    "\n",
    "(",
    ")",
)


def token_text(tokens: tuple[str, ...], max_size: int = 25) -> st.SearchStrategy[str]:
    part = st.one_of(st.sampled_from(tokens), st.text(max_size=6))
    return st.lists(part, max_size=max_size).map("".join)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[str, ...]) -> str:
    """A seed text with random splices, deletions and duplications."""
    s = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 4))):
        if not s:
            break
        i = draw(st.integers(0, len(s)))
        j = draw(st.integers(i, min(len(s), i + 12)))
        op = draw(st.sampled_from(("delete", "insert", "dup", "swapcase")))
        if op == "delete":
            s = s[:i] + s[j:]
        elif op == "insert":
            s = s[:i] + draw(st.text(max_size=8)) + s[i:]
        elif op == "dup":
            s = s[:j] + s[i:j] + s[j:]
        else:
            s = s[:i] + s[i:j].swapcase() + s[j:]
    return s


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["2026-03-01", "7402.00", "US", "CA", "originating", "non_originating", "-1", "1e309", ""]),
)
json_like: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_doc(draw: st.DrawFn, seed: dict[str, Any]) -> Any:
    """A valid document with a few sub-values replaced, deleted or given an extra key."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        op = draw(st.sampled_from(("replace", "delete", "extra")))
        if op == "replace":
            parent[path[-1]] = draw(json_like)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(json_like)
    return doc


cell = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "US",
            "mx",
            "7402.00",
            "8708.29.50",
            "0101210000",
            "1",
            "-5",
            "1e9",
            "NaN",
            "2026-03-01",
            "31/12/2026",
            "yes",
            "no",
            "originating",
            "unknown",
            "passenger_vehicle",
            "P1",
            "C1",
            "\u00a0",
        ]
    ),
)


@st.composite
def table(draw: st.DrawFn, columns: tuple[str, ...], required: tuple[str, ...]) -> dict[str, list[str | None]]:
    """A random table: usually the required columns (sometimes one dropped), some optional ones, junk ones."""
    cols = list(required)
    if cols and draw(st.integers(0, 9)) == 0:
        cols.remove(draw(st.sampled_from(cols)))
    cols += draw(st.lists(st.sampled_from(columns), max_size=4, unique=True))
    cols += draw(st.lists(st.text(alphabet="abcxyz_ ", min_size=1, max_size=6), max_size=2))
    cols = list(dict.fromkeys(c for c in cols if c.strip()))
    n = draw(st.integers(0, 6))
    return {c: draw(st.lists(cell, min_size=n, max_size=n)) for c in cols}
