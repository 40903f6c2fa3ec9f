"""HTS code and code-range primitives.

Codes are kept as digit strings (leading zeros matter). A range is two codes of the same length and
covers every code whose prefix of that length lies between them: ranges are never expanded into lists.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from usmca.errors import InputError

Level = Literal["chapter", "heading", "subheading", "tariff_item", "statistical"]

LEVEL_DIGITS: dict[str, int] = {
    "chapter": 2,
    "heading": 4,
    "subheading": 6,
    "tariff_item": 8,
    "statistical": 10,
}
DIGITS_LEVEL: dict[int, str] = {v: k for k, v in LEVEL_DIGITS.items()}

_CLEAN = re.compile(r"[\s.\-]")


def normalize_code(text: object, field: str = "hts", lengths: tuple[int, ...] = (2, 4, 6, 8, 10)) -> str:
    """Return the code as digits only (``9401.99.1085`` -> ``9401991085``) or raise naming the field."""
    if text is None:
        raise InputError(field, text, "an HTS code is required")
    if isinstance(text, int) and not isinstance(text, bool):
        raise InputError(field, text, "write HTS codes as text (quoted) so leading zeros are kept")
    if not isinstance(text, str):
        raise InputError(field, text, "an HTS code must be text")
    digits = _CLEAN.sub("", text)
    if not digits.isdigit():
        raise InputError(field, text, "an HTS code has only digits and dots", "e.g. 9401.99.1085")
    if len(digits) not in lengths:
        allowed = ", ".join(str(n) for n in lengths)
        raise InputError(field, text, f"an HTS code has {allowed} digits, this one has {len(digits)}")
    return digits


def format_code(digits: str) -> str:
    """Dotted form as printed in the schedule: 9401, 9401.99, 9401.99.10, 9401.99.10.85."""
    if len(digits) <= 4:
        return digits
    parts = [digits[:4], digits[4:6]]
    if len(digits) > 6:
        parts.append(digits[6:8])
    if len(digits) > 8:
        parts.append(digits[8:10])
    return ".".join(parts)


def level_of(digits: str) -> str:
    try:
        return DIGITS_LEVEL[len(digits)]
    except KeyError:
        raise InputError("hts", digits, "not a chapter, heading, subheading or tariff item code") from None


def prefix(code: str, level: str) -> str:
    return code[: LEVEL_DIGITS[level]]


@dataclass(frozen=True, slots=True)
class CodeRange:
    """Codes ``start`` through ``end`` at one level (both of the same length, ``start <= end``)."""

    start: str
    end: str

    def __post_init__(self) -> None:
        if len(self.start) != len(self.end) or not (self.start.isdigit() and self.end.isdigit()):
            raise ValueError(f"bad code range {self.start!r}-{self.end!r}")
        if self.start > self.end:
            raise ValueError(f"code range runs backwards: {self.start!r}-{self.end!r}")

    @classmethod
    def single(cls, code: str) -> CodeRange:
        return cls(code, code)

    @property
    def width(self) -> int:
        return len(self.start)

    @property
    def level(self) -> str:
        return DIGITS_LEVEL.get(self.width, f"{self.width}-digit")

    def contains(self, code: str) -> bool:
        """True when ``code`` (any length >= the range's) falls in the range."""
        if len(code) < self.width:
            # A shorter code (e.g. a heading asked against a subheading range) is inside only if every
            # code under it is: its padded span must sit in the range.
            lo = code.ljust(self.width, "0")
            hi = code.ljust(self.width, "9")
            return self.start <= lo and hi <= self.end
        p = code[: self.width]
        return self.start <= p <= self.end

    def overlaps(self, other: CodeRange) -> bool:
        w = min(self.width, other.width)
        a0, a1 = self.start[:w], self.end[:w]
        b0, b1 = other.start[:w], other.end[:w]
        return a0 <= b1 and b0 <= a1

    def __str__(self) -> str:
        if self.start == self.end:
            return format_code(self.start)
        return f"{format_code(self.start)}-{format_code(self.end)}"


@dataclass(frozen=True, slots=True)
class CodeSet:
    """A union of code ranges (possibly at different levels)."""

    ranges: tuple[CodeRange, ...] = ()

    @classmethod
    def of(cls, *items: str | CodeRange) -> CodeSet:
        out: list[CodeRange] = []
        for it in items:
            if isinstance(it, CodeRange):
                out.append(it)
            elif "-" in it:
                a, b = it.split("-", 1)
                out.append(CodeRange(_CLEAN.sub("", a), _CLEAN.sub("", b)))
            else:
                out.append(CodeRange.single(_CLEAN.sub("", it)))
        return cls(tuple(out))

    def contains(self, code: str) -> bool:
        return any(r.contains(code) for r in self.ranges)

    def overlaps(self, other: CodeSet) -> bool:
        return any(a.overlaps(b) for a in self.ranges for b in other.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __str__(self) -> str:
        return ", ".join(str(r) for r in self.ranges)


class CodeIndex:
    """Which of several code sets contain a code, without testing every range of every set.

    Each set is filed under the 4-digit headings its ranges span, and only the sets filed under the code's
    heading are tested, exactly as ``CodeSet.contains`` tests them (a code shorter than a heading is tested
    against every set). Answers per distinct code of a portfolio are asked thousands of times on a fresh
    store; a linear scan of a few hundred table entries each time was most of that cost.
    """

    __slots__ = ("_buckets", "sets")

    def __init__(self, sets: Sequence[CodeSet]) -> None:
        self.sets: tuple[CodeSet, ...] = tuple(sets)
        buckets: defaultdict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.sets):
            heads: set[int] = set()
            for r in s.ranges:
                # a code inside the range has its heading between these two (a chapter range spans 00-99)
                lo, hi = r.start[:4].ljust(4, "0"), r.end[:4].ljust(4, "9")
                heads.update(range(int(lo), int(hi) + 1))
            for h in heads:
                buckets[f"{h:04d}"].append(i)
        self._buckets: dict[str, tuple[int, ...]] = {k: tuple(sorted(v)) for k, v in buckets.items()}

    def containing(self, code: str) -> tuple[int, ...]:
        """Indices (in the order given) of the sets that contain ``code``."""
        if len(code) < 4:
            return tuple(i for i, s in enumerate(self.sets) if s.contains(code))
        return tuple(i for i in self._buckets.get(code[:4], ()) if self.sets[i].contains(code))

    def any_contains(self, code: str) -> bool:
        return bool(self.containing(code))
