"""The GN 11(o) parser on small texts (no store needed)."""

from __future__ import annotations

import datetime as dt

from usmca.nomenclature.codes import CodeSet
from usmca.rules.parse import parse_code_list, parse_paragraph, read_chapter, split_branches


def test_code_list_levels_and_ranges() -> None:
    cl = parse_code_list(
        "headings 5106 through 5113, chapter 54 or subheading 5509.31 or tariff item 8482.99.05"
    )
    assert [str(r) for r in cl.codes.ranges] == ["5106-5113", "54", "5509.31", "8482.99.05"]


def test_numbers_in_descriptions_are_not_codes() -> None:
    cl = parse_code_list("strips or rolls of a width exceeding 15 cm of heading 4802", 0, allow_words=True)
    assert [str(r) for r in cl.codes.ranges] == ["4802"]
    assert "15" in cl.words


def test_rvc_sub_letters_do_not_split_branches() -> None:
    text = (
        "A change to subheading 8703.10 from any other heading, provided there is a regional value "
        "content of "
        "not less than: (A) 60 percent where the transaction value method is used; or (B) 50 percent "
        "where the "
        "net cost method is used."
    )
    assert len(split_branches(text)) == 1
    (pr,) = parse_paragraph(text)
    (alt,) = pr.alternatives
    assert alt.rvc is not None and (alt.rvc.transaction_value, alt.rvc.net_cost) == (60, 50)


def test_time_lead_in() -> None:
    (pr,) = parse_paragraph(
        "Beginning on July 1, 2020 until July 1, 2025, the following rules of origin shall apply to "
        "subheading "
        "8504.90: (a) A change to subheading 8504.90 from any other heading; or (b) No change in tariff "
        "classification required, provided there is a regional value content of not less than 60 "
        "percent under "
        "the net cost method."
    )
    assert (pr.valid_from, pr.valid_to) == (dt.date(2020, 7, 1), dt.date(2025, 7, 1))
    assert pr.scope == CodeSet.of("850490")
    assert [a.label for a in pr.alternatives] == ["a", "b"]
    assert pr.alternatives[1].shift is not None and pr.alternatives[1].shift.kind == "no_change"


def test_for_any_other_good_is_the_complement_use() -> None:
    (pr,) = parse_paragraph(
        "For any other good of heading 8706: (A) No change in tariff classification to a good "
        "of heading 8706, provided there is a regional value content of not less than 60 percent "
        "under the net cost method;"
    )
    assert pr.use == ("*other*",) and pr.scope == CodeSet.of("8706")


def test_embedded_rule_is_split() -> None:
    prs = parse_paragraph(
        "For a good of subheading 8708.92 for use in a passenger vehicle, light truck or heavy "
        "truck: (A) A change "
        "to subheading 8708.92 from any other heading (D) For any other good of subheading 8708.92: "
        "(E) A change "
        "to subheading 8708.92 from any other heading"
    )
    assert [p.use for p in prs] == [("passenger_vehicle", "light_truck", "heavy_truck"), ("*other*",)]


def test_unreadable_clause_is_kept_with_reason() -> None:
    (pr,) = parse_paragraph(
        "A change to subheading 8415.10 from tariff item 8415.90.40 or assemblies incorporating more "
        "than one "
        "of the following: compressor, condenser, evaporator, connecting tubing."
    )
    (alt,) = pr.alternatives
    assert alt.shift is None and alt.unparsed_reason and "cannot read" in alt.unparsed_reason


def test_excluding_described_material_is_a_condition() -> None:
    (pr,) = parse_paragraph(
        "A change to a battery of subheading 8507.60 from any other subheading, excluding battery "
        "cells of 8507.90."
    )
    (alt,) = pr.alternatives
    assert alt.shift is not None and alt.shift.kind == "any_other" and not alt.shift.except_from
    (cond,) = alt.conditions
    assert cond.name == "excepted_material_description" and "battery cells" in cond.text
    assert [str(g) for g in cond.code_groups] == ["8507.90"]


def test_print_oddity_normalised_and_recorded() -> None:
    (pr,) = parse_paragraph(
        "A change to subheadings 8444.00 through 8447.90 from any other subheading, including "
        "another subheading within thatgroup."
    )
    assert pr.alternatives[0].shift is not None and pr.alternatives[0].shift.kind == "including_group"
    assert any("thatgroup" in n for n in pr.notes)


def test_read_chapter_items() -> None:
    cf = read_chapter(
        "# header\n# rule numbers inferred: 2\n\nNOTE (chapter rule 1): Text.\n\n1. A change to "
        "heading 0101 from\nany other chapter.\n",
        "01",
    )
    assert [(i.kind, i.number) for i in cf.items] == [("note", ""), ("rule", "1")]
    assert cf.items[1].text == "A change to heading 0101 from any other chapter."
