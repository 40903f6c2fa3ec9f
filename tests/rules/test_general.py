"""General provisions as data: de minimis (s. 5) and goods deemed originating (s. 3(7), Schedule 2).

Expected values were read by hand in usmca/cusma-rules-of-origin-regulations.txt; the section is named
beside each. Lookups that map codes between HS editions use the store (``conn``).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from usmca.errors import InputError
from usmca.rules import general as gp

REGS = "usmca/cusma-rules-of-origin-regulations.txt"


def _s5_3(text: str) -> dict[str, str]:
    """The paragraphs (a)-(l) of s. 5(3) as printed."""
    block = text.split("(3) Subsections (1) and (2) do not apply to", 1)[1].split(
        "(4) A good that is subject", 1
    )[0]
    out: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        m = re.match(r"    \(([a-l])\) (.*)", line)  # paragraphs; their subparagraphs are indented deeper
        if m:
            key = m.group(1)
            out[key] = m.group(2)
        elif key:
            out[key] += " " + line.strip()
    return out


def _printed(code: str) -> list[str]:
    """How the Regulations print a code: 04.01, 2009.11, Chapter 9."""
    if len(code) == 2:
        n = int(code)
        return [f"Chapter {n}", f"Chapters {n}", f"Chapter 8 or {n}", f"through {n}"]
    if len(code) == 4:
        return [f"{code[:2]}.{code[2:]}"]
    return [f"{code[:4]}.{code[4:]}"]


def test_every_s5_3_code_is_in_the_printed_paragraph(shared_data: Path) -> None:
    paras = _s5_3((shared_data / REGS).read_text(encoding="utf-8"))
    assert set(paras) == set("abcdefghijkl")
    for e in gp.provisions().exceptions:
        text = paras[e.paragraph]
        for clause in (*e.material, *e.good):
            for r in clause.codes.ranges:
                if (r.start, r.end) == ("01", "97"):
                    continue  # (l): "a non-originating material" of any chapter
                for end in {r.start, r.end}:
                    assert any(p in text for p in _printed(end)), (e.paragraph, end)


# ---------------------------------------------------------------- de minimis policy


def test_value_de_minimis_for_ordinary_goods() -> None:
    p = gp.de_minimis_policy("8708.29.50")
    assert p.basis == "value" and p.limit == 0.10  # s. 5(1)(a): not more than 10%
    assert p.tests[0].value_bases == ("transaction_value", "total_cost")  # s. 5(1)(a)(i), (ii)
    assert p.citation == "CUSMA ROO Regulations s. 5(1)"
    assert not p.textile_weight_rule and p.elastomeric_cap is None and not p.chapters_1_27
    assert "s. 5(1)(b)" in p.counts_in_rvc  # the materials' value still counts in the RVC
    assert p.rvc_de_minimis.citation == "CUSMA ROO Regulations s. 5(4)"


def test_textile_weight_rule_applies_to_a_chapter_61_good() -> None:
    # s. 5(7): 10% of the weight of the component that determines classification; elastomeric at most 7%
    p = gp.de_minimis_policy("6109.10.00")
    assert [t.basis for t in p.tests] == ["weight_of_component"]
    assert p.limit == 0.10 and p.elastomeric_cap == 0.07 and p.textile_weight_rule
    assert p.citation == "CUSMA ROO Regulations s. 5(7)"
    assert any("s. 5(3)(l)" in n for n in p.notes)  # no value de minimis for Chapters 50-63


def test_fabric_uses_the_weight_of_the_good_and_9619_keeps_both() -> None:
    fabric = gp.de_minimis_policy("5208.11")  # s. 5(6): goods of Chapters 50-60
    assert [t.basis for t in fabric.tests] == ["weight_of_good"] and fabric.elastomeric_cap == 0.07
    pads = gp.de_minimis_policy("9619.00")  # s. 5(6) names heading 96.19, which s. 5(3)(l) does not
    assert [t.basis for t in pads.tests] == ["value", "weight_of_good"]


# ---------------------------------------------------------------- s. 5(3) exceptions


def test_dairy_good_with_dairy_material_is_excluded(conn: sqlite3.Connection) -> None:
    x = gp.de_minimis_excluded("0406.10.05", "0402.10.05", conn=conn)  # s. 5(3)(a)
    assert x is not None and x.paragraph == "a" and x.certain
    assert x.citation == "CUSMA ROO Regulations s. 5(3)(a)"


def test_described_exclusions_ask_for_the_fact(conn: sqlite3.Connection) -> None:
    # s. 5(3)(a): a dairy preparation of 1901.90 counts only if over 10% milk solids by dry weight
    x = gp.de_minimis_excluded("0406.10", "1901.90", conn=conn)
    assert (
        x is not None and not x.certain and x.needs == ("material_dairy_preparation_over_10pct_milk_solids",)
    )
    # s. 5(3)(d): coffee of Chapter 9 in instant coffee, not flavoured, of 2101.11
    c = gp.de_minimis_excluded("2101.11", "0901.21", conn=conn)
    assert c is not None and c.paragraph == "d" and c.needs == ("good_instant_coffee_not_flavoured",)


@pytest.mark.parametrize(
    ("good", "material", "paragraph"),
    [
        ("2009.11", "0805.10", "c"),  # s. 5(3)(c): orange juice from oranges
        ("1507.10", "1201.90", None),  # soya beans are not a material of Chapter 15
        ("1507.90", "1507.10", "e"),  # s. 5(3)(e): Chapter 15 material in a good of 15.07
        ("1701.99", "1701.14", "f"),  # s. 5(3)(f)
        ("1806.10", "1701.99", "g"),  # s. 5(3)(g)
        ("2208.30", "2204.21", "j"),  # s. 5(3)(j)
        ("6203.42", "5209.42", "l"),  # s. 5(3)(l): any material in a good of Chapters 50-63
        ("8471.30", "8473.30", None),
    ],
)
def test_exceptions_by_paragraph(
    conn: sqlite3.Connection, good: str, material: str, paragraph: str | None
) -> None:
    x = gp.de_minimis_excluded(good, material, conn=conn)
    assert (x.paragraph if x else None) == paragraph
    if x is not None:
        assert x.certain and x.citation == f"CUSMA ROO Regulations s. 5(3)({paragraph})"


def test_fruit_exception_depends_on_the_fruit(conn: sqlite3.Connection) -> None:
    # s. 5(3)(h): a pear, peach or apricot of Chapter 8 or 20 used in a good of heading 20.08
    x = gp.de_minimis_excluded("2008.40", "0808.30", conn=conn)
    assert x is not None and x.paragraph == "h" and x.needs == ("material_pear_peach_or_apricot",)


def test_hs2017_codes_of_the_text_are_mapped(conn: sqlite3.Connection) -> None:
    # HS 2022 1602.90 takes goods of HS 2017 2106.90 (among others): whether s. 5(3)(b) names the good
    # depends on its HS 2017 subheading
    x = gp.de_minimis_excluded("1602.90", "2106.90", conn=conn)
    assert x is not None and x.paragraph == "b" and "good_hs2017_subheading" in x.needs and not x.certain


def test_chapters_1_27_limit(conn: sqlite3.Connection) -> None:
    # s. 5(3)(k): for a good of Chapters 1-27 only a material of a different subheading may use de minimis
    reason = gp.chapters_1_27_limit("0406.10.05", "0406.10.10")
    assert reason is not None and "s. 5(3)(k)" in reason
    assert gp.chapters_1_27_limit("0406.10.05", "0406.90.10") is None
    assert gp.de_minimis_policy("0406.10").chapters_1_27 and not gp.de_minimis_policy("2801.10").chapters_1_27
    assert gp.chapters_1_27_limit("8471.30", "8471.30") is None  # Chapter 84: not limited
    with pytest.raises(InputError):
        gp.chapters_1_27_limit("0406.10", "0406")
    x = gp.de_minimis_excluded("2710.19", "2710.19", conn=conn)
    assert x is not None and x.paragraph == "k" and x.certain


# ---------------------------------------------------------------- deemed originating (s. 3(7), Schedule 2)


def test_gn11p_is_declared_not_available() -> None:
    p = gp.provisions()
    assert p.gn11p_status == "not_available" and "MANIFEST" in p.gn11p_reason


def test_deemed_originating(conn: sqlite3.Connection) -> None:
    adp = gp.deemed_originating("8471.30.0100", conn=conn)
    assert adp.status == "deemed_originating" and adp.citation == "CUSMA ROO Regulations s. 3(7), Schedule 2"
    assert adp.condition == "imported from the territory of a CUSMA country"
    assert adp.gn11p_status == "not_available"
    # Schedule 2 "8517.70 parts of LAN equipment" (HS 2017) is HS 2022 8517.71 / 8517.79
    lan = gp.deemed_originating("8517.79.00", conn=conn)
    assert lan.status == "deemed_originating" and lan.needs == ("parts_of_lan_equipment_8517_62",)
    # Schedule 2 names Canadian items 8504.40.30 / .90 for power supplies: no US counterpart in the data
    psu = gp.deemed_originating("8504.40.60", conn=conn)
    assert psu.status == "unresolved" and "GN 11(p)" in psu.reason
    assert gp.deemed_originating("9403.20", conn=conn).status == "not_listed"


def test_every_exception_cites_s5_3() -> None:
    cites = [e.citation for e in gp.provisions().exceptions]
    assert len(cites) == 11 and all(c.startswith("CUSMA ROO Regulations s. 5(3)(") for c in cites)
