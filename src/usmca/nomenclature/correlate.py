"""HS 2022 nomenclature and the HS 2022 <-> HS 2017 / HS 2012 correlations (build step "hs", and queries).

The UNSD correlation tables list every overlap between an HS 2022 subheading and an older one. We read them
from the older edition's side (the rule texts and the automotive tables are written in HS 2017 / HS 2012 and
goods are classified in HS 2022), so the relationship is computed from the pairs, as seen from the old code:

* ``1:1``  one old code <-> one new code, neither shared;
* ``1:n``  one old code split into several new codes, none of which takes anything else;
* ``n:1``  the old code merged with others into one new code;
* ``n:n``  anything else (the old code's goods are spread over new codes that also take other old codes).

Headings and chapters (2/4 digits) map through every subheading under them. Where the old code is not in the
table but exists in HS 2022 unchanged (a code the UNSD table does not list because nothing moved), the
relationship is ``identity``; a code that is neither gives ``none``.
"""

from __future__ import annotations

import bisect
import csv
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from usmca.errors import DataError, InputError

Edition = Literal["HS2022", "HS2017", "HS2012"]
EDITIONS: tuple[str, ...] = ("HS2022", "HS2017", "HS2012")

HS_FILE = "hs/harmonized-system/harmonized-system.csv"
CORRELATION_FILES: dict[str, str] = {
    "HS2017": "hs/concordance/HS2022toHS2017_correlations.csv",
    "HS2012": "hs/concordance/HS2022toHS2012_correlations.csv",
}
CORRELATION_SOURCE: dict[str, str] = {
    "HS2017": "UNSD HS2022-HS2017 correlation table (hs/concordance/HS2022toHS2017_correlations.csv)",
    "HS2012": "UNSD HS2022-HS2012 correlation table (hs/concordance/HS2022toHS2012_correlations.csv)",
}
RESIDUAL = "999999"  # UNSD's "commodities not specified according to kind": not a real subheading


def _read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(
            f"missing {path}; run `usmca data sync` to fetch the HS nomenclature and correlations"
        )
    with path.open(newline="", encoding=encoding) as fh:
        return list(csv.DictReader(fh))


def build(conn: sqlite3.Connection, sources: Path, log: Any) -> dict[str, Any]:
    """Build step "hs": tables ``hs_nomenclature`` and ``hs_correlation`` (both read-only afterwards)."""
    conn.execute(
        "CREATE TABLE hs_nomenclature (edition TEXT NOT NULL, code TEXT NOT NULL, level INTEGER NOT NULL,"
        " parent TEXT, section TEXT, description TEXT NOT NULL, PRIMARY KEY (edition, code))"
    )
    conn.execute(
        "CREATE TABLE hs_correlation (old_edition TEXT NOT NULL, old_code TEXT NOT NULL, hs2022 TEXT "
        "NOT NULL,"
        " table_relationship TEXT NOT NULL, PRIMARY KEY (old_edition, old_code, hs2022))"
    )
    conn.execute("CREATE INDEX hs_correlation_new ON hs_correlation (old_edition, hs2022)")
    rows = _read_csv(sources / HS_FILE, encoding="utf-8-sig")
    nom = []
    for r in rows:
        code = r["hscode"].strip()
        if not code.isdigit() or (code.startswith("99") and code.strip("9") == ""):
            continue  # the TOTAL row and the residual 99/9999/999999 codes
        nom.append(
            ("HS2022", code, len(code), r["parent"].strip(), r["section"].strip(), r["description"].strip())
        )
    conn.executemany("INSERT INTO hs_nomenclature VALUES (?, ?, ?, ?, ?, ?)", nom)
    figures: dict[str, Any] = {
        "hs2022_codes": len(nom),
        "hs2022_subheadings": sum(1 for n in nom if n[2] == 6),
    }
    for edition, rel in CORRELATION_FILES.items():
        col = edition.lower()
        pairs = []
        for r in _read_csv(sources / rel):
            new, old, relation = r["hs2022"].strip(), r[col].strip(), r["relationship"].strip()
            if RESIDUAL in (new, old):
                continue
            if not (len(new) == 6 and len(old) == 6 and new.isdigit() and old.isdigit()):
                raise DataError(f"{rel}: bad correlation row {r!r}")
            pairs.append((edition, old, new, relation))
        conn.executemany("INSERT OR IGNORE INTO hs_correlation VALUES (?, ?, ?, ?)", pairs)
        figures[f"{col}_links"] = len(pairs)
    log(f"hs: {figures}")
    return figures


@dataclass(frozen=True, slots=True)
class Correlation:
    """How one code of an older edition maps to HS 2022 (see the module docstring for ``relationship``)."""

    edition: str
    code: str
    hs2022: tuple[str, ...]  # 6-digit HS 2022 subheadings (or the code itself for 'identity' at 2/4 digits)
    relationship: str  # "1:1" | "1:n" | "n:1" | "n:n" | "identity" | "none"
    shared_with: tuple[str, ...]  # other old codes that also feed the same HS 2022 codes (n:1 / n:n)
    source: str

    @property
    def one_to_one(self) -> bool:
        return self.relationship in ("1:1", "identity")


class Nomenclature:
    """HS 2022 codes and the correlations, loaded once per connection from the store."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        try:
            codes = conn.execute("SELECT code FROM hs_nomenclature WHERE edition = 'HS2022'").fetchall()
            links = conn.execute("SELECT old_edition, old_code, hs2022 FROM hs_correlation").fetchall()
        except sqlite3.OperationalError as exc:
            raise DataError(
                f"the store has no HS nomenclature ({exc}); run `usmca data build --only hs`"
            ) from exc
        self.hs2022: frozenset[str] = frozenset(r[0] for r in codes)
        self.subheadings: tuple[str, ...] = tuple(sorted(c for c in self.hs2022 if len(c) == 6))
        self._new_of: dict[str, dict[str, set[str]]] = {e: defaultdict(set) for e in CORRELATION_FILES}
        self._old_of: dict[str, dict[str, set[str]]] = {e: defaultdict(set) for e in CORRELATION_FILES}
        for edition, old, new in links:
            self._new_of[edition][old].add(new)
            self._old_of[edition][new].add(old)
        # plain dicts from here on: a lookup of an absent code must not add it (``_prefixed`` keeps their keys)
        self._new_of = {e: dict(v) for e, v in self._new_of.items()}
        self._old_of = {e: dict(v) for e, v in self._old_of.items()}
        self._sorted: dict[str, list[str]] = {}

    def exists(self, code: str, edition: str = "HS2022") -> bool:
        """True when the 2/4/6-digit code exists in the edition (older editions: as far as the table
        knows)."""
        if edition == "HS2022":
            return code in self.hs2022
        table = self._table(edition)
        if len(code) == 6:
            return code in table
        return bool(self._prefixed(edition, code))

    def _prefixed(self, edition: str, code: str) -> list[str]:
        """The edition's correlated codes under ``code``, in order (a bisection of the sorted codes: asked
        for every distinct code of a portfolio, a scan of the whole table each time was the bulk of it)."""
        table = self._table(edition)
        if len(code) == 6:
            return [code] if code in table else []
        keys = self._sorted.get(edition)
        if keys is None:
            keys = self._sorted[edition] = sorted(table)
        i = bisect.bisect_left(keys, code)
        j = bisect.bisect_left(keys, code + "A")  # digits sort before letters: past every code under it
        return keys[i:j]

    def _table(self, edition: str) -> dict[str, set[str]]:
        if edition not in self._new_of:
            raise InputError(
                "edition", edition, f"not a correlated HS edition; one of {', '.join(CORRELATION_FILES)}"
            )
        return self._new_of[edition]

    def map_to_2022(self, code: str, edition: str, *, list_shared: bool = True) -> Correlation:
        """Map an HS 2017 / HS 2012 chapter, heading or subheading (2/4/6 digits) to HS 2022 subheadings.

        ``list_shared=False`` leaves ``shared_with`` empty (the relationship is the same): some HS 2022
        codes are fed by a thousand old ones (8549, e-waste), and callers that want only the relationship
        need not gather them."""
        if not (code.isdigit() and len(code) in (2, 4, 6)):
            raise InputError("code", code, "an HS code to correlate has 2, 4 or 6 digits")
        if edition == "HS2022":
            return Correlation(edition, code, (code,), "identity", (), "HS 2022 (no mapping needed)")
        table = self._table(edition)
        back = self._old_of[edition]
        olds = self._prefixed(edition, code)
        src = CORRELATION_SOURCE[edition]
        if not olds:
            if code in self.hs2022 or (len(code) < 6 and any(c.startswith(code) for c in self.subheadings)):
                return Correlation(edition, code, (code,), "identity", (), src)
            return Correlation(edition, code, (), "none", (), src)
        news: set[str] = set()
        for o in olds:
            news |= table[o]
        # For a heading/chapter, "shared" means fed by old codes outside it.
        shared: tuple[str, ...] = ()
        if list_shared:
            feeders: set[str] = set().union(*(back[n] for n in news))  # a set union: some feed 1,000+ codes
            if len(code) == 6:
                feeders.discard(code)
            else:
                feeders = {o for o in feeders if not o.startswith(code)}
            shared = tuple(sorted(feeders))
            is_shared = bool(shared)
        else:  # (a 6-digit code feeds each of its news itself: shared when any has another feeder)
            is_shared = any(
                len(back[n]) > 1 if len(code) == 6 else any(not o.startswith(code) for o in back[n]) for n in news
            )
        if len(news) == 1:
            rel = "n:1" if is_shared else "1:1"
        elif is_shared:
            rel = "n:n"
        else:
            rel = "1:n"
        if len(code) < 6 and rel == "1:n" and all(n.startswith(code) for n in news):
            # A heading whose subheadings were only rearranged within it keeps its meaning.
            rel = "identity"
        return Correlation(edition, code, tuple(sorted(news)), rel, shared, src)

    def old_codes_of(self, hs2022: str, edition: str) -> tuple[str, ...]:
        """The older-edition subheadings that feed an HS 2022 subheading."""
        self._table(edition)
        return tuple(sorted(self._old_of[edition].get(hs2022[:6], ())))


@lru_cache(maxsize=4)
def _cached(conn_id: int, conn: sqlite3.Connection) -> Nomenclature:
    return Nomenclature(conn)


def nomenclature(conn: sqlite3.Connection | None = None) -> Nomenclature:
    """The HS nomenclature and correlations of the store (cached per connection)."""
    if conn is None:
        from usmca.store import store

        conn = store()
    return _cached(id(conn), conn)


def map_to_2022(code: str, edition: str, conn: sqlite3.Connection | None = None) -> Correlation:
    """Map an HS 2017 or HS 2012 code (2/4/6 digits) to HS 2022 codes with its relationship."""
    return nomenclature(conn).map_to_2022(code, edition)
