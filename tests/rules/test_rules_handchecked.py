"""Rules of the corpus checked by hand against the GN 11(o) text (usmca/gn11o/chapter-NN.txt).

Each row was written by reading the rule text, not from the parser's output: the scope (current codes after
mapping), and per branch the shift kind and level, the codes a material may come from, the "whether or not"
level, the exceptions and the RVC thresholds (transaction value, net cost). Codes are digit strings; a
range is
"start-end".
"""

from __future__ import annotations

import pytest

from usmca.rules.corpus import load_corpus
from usmca.rules.serialize import codeset_to

# (label, kind, level, from_codes, also_from_level, except_from, tv, nc)
Alt = tuple[str, str, str, list[str], str | None, list[str], float | None, float | None]
CH, HD, SH, TI = "chapter", "heading", "subheading", "tariff_item"
AO, IG, OG, FC, NC = "any_other", "including_group", "outside_group", "from_codes", "no_change"

TABLE: dict[str, tuple[list[str], list[Alt]]] = {
    "GN11(o)/01/1": (["0101-0106"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/02/1": (["0201-0210"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/03/1": (["0301-0305", "030910"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/04/1": (
        ["0401-0404"],
        [
            (
                "",
                AO,
                CH,
                [],
                None,
                ["19019032", "19019033", "19019034", "19019036", "19019038", "19019042", "19019043"],
                None,
                None,
            )
        ],
    ),
    "GN11(o)/06/1": (["0601-0604"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/07/2": (["071220-071239"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/08/1": (["0801-0814"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/10/1": (["1001-1008"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/15/1": (["1501-1518"], [("", AO, CH, [], None, ["3823"], None, None)]),
    "GN11(o)/15/2": (["1520"], [("", AO, HD, [], None, ["3823"], None, None)]),
    "GN11(o)/17/2": (["1704"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/20/2": (["200811"], [("", AO, HD, [], None, ["1202"], None, None)]),
    "GN11(o)/22/1": (["2201"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/22/2": (["220210"], [("", AO, CH, [], None, [], None, None)]),
    # Ch 24 rule 1 allows shifts FROM the named tariff items (unusual, flagged by the source)
    "GN11(o)/24/1": (
        ["2401-2403", "240411", "240419"],
        [("", FC, CH, ["24011021", "24012014", "24039120"], CH, [], None, None)],
    ),
    "GN11(o)/25/1": (["2501-2530"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/27/6": (["2708-2709"], [("", IG, HD, [], None, [], None, None)]),
    "GN11(o)/27/10": (["271119"], [("", AO, SH, [], None, ["271129"], None, None)]),
    "GN11(o)/27/12": (["271129"], [("", AO, SH, [], None, ["271112-271121"], None, None)]),
    "GN11(o)/29/1": (
        ["290110-294200"],
        [("A", IG, SH, [], None, [], None, None), ("B", NC, HD, [], None, [], 40, 30)],
    ),
    "GN11(o)/30/2": (
        ["3004"],
        [("A", AO, HD, [], None, ["3003"], None, None), ("B", NC, HD, [], None, [], 60, 50)],
    ),
    "GN11(o)/30/6": (
        ["300670"],
        [("A", AO, CH, [], None, ["28-38"], None, None), ("B", NC, HD, [], None, [], 60, 50)],
    ),
    "GN11(o)/33/2": (
        ["330119"],
        [
            ("A", FC, SH, ["330119"], SH, [], None, None),
            ("B", AO, CH, [], None, [], None, None),
            ("C", NC, HD, [], None, [], 60, 50),
        ],
    ),
    "GN11(o)/38/1": (
        ["380110-380700"],
        [("A", IG, SH, [], None, [], None, None), ("B", NC, HD, [], None, [], 40, 30)],
    ),
    "GN11(o)/39/1": (["3901-3915"], [("", IG, HD, [], None, [], None, None)]),
    "GN11(o)/39/2": (["3916-3926"], [("", IG, HD, [], None, [], None, None)]),
    "GN11(o)/41/1": (
        ["4101"],
        [("A", FC, CH, ["4101"], CH, [], None, None), ("B", AO, CH, [], None, [], None, None)],
    ),
    "GN11(o)/44/1": (["4401-4421"], [("", IG, HD, [], None, [], None, None)]),
    "GN11(o)/47/1": (["4701-4707"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/49/1": (["4901-4911"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/52/1": (["5201-5207"], [("", AO, CH, [], None, ["5401-5405", "5501-5507"], None, None)]),
    "GN11(o)/52/2": (
        ["5208-5212"],
        [("", OG, HD, [], None, ["5106-5110", "5205-5206", "5401-5404", "5509-5510"], None, None)],
    ),
    "GN11(o)/55/1": (["5501-5508"], [("", AO, CH, [], None, ["5201-5203", "5401-5405"], None, None)]),
    "GN11(o)/60/1": (
        ["6001-6006"],
        [("", AO, CH, [], None, ["5106-5113", "52", "5310-5311", "54-55"], None, None)],
    ),
    "GN11(o)/63/1": (
        ["6301-6302"],
        [
            (
                "",
                AO,
                CH,
                [],
                None,
                ["5106-5113", "5204-5212", "5310-5311", "54-55", "5801-5802", "6001-6006"],
                None,
                None,
            )
        ],
    ),
    "GN11(o)/69/1": (["6901-6914"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/70/3": (["700220"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/70/6": (["7003-7008"], [("", OG, HD, [], None, ["7009"], None, None)]),
    "GN11(o)/70/7": (["700910-700991"], [("", AO, HD, [], None, ["7003-7008"], None, None)]),
    "GN11(o)/70/8": (["700992"], [("", AO, SH, [], None, [], None, None)]),
    "GN11(o)/70/10": (["7019"], [("", AO, HD, [], None, ["7007-7018", "7020"], None, None)]),
    "GN11(o)/71/1": (["7101-7105"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/72/1": (["7201"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/72/2": (["720211-720260"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/73/10": (["731450"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/73/11": (
        ["731511-731512"],
        [("A", AO, HD, [], None, [], None, None), ("B", FC, HD, ["731519"], HD, [], 60, 50)],
    ),
    "GN11(o)/74/1": (
        ["7401-7403"],
        [("A", IG, HD, [], None, ["7404"], None, None), ("B", FC, HD, ["7404"], HD, [], 60, 50)],
    ),
    "GN11(o)/74/2": (["7404"], [("", FC, HD, ["7404"], HD, [], None, None)]),
    "GN11(o)/76/1": (["7601"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/76/2": (["7602"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/82/1": (["8201"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/84/1": (
        ["840110-840130"],
        [("A", AO, HD, [], None, [], None, None), ("B", FC, HD, ["840140"], HD, [], 60, 50)],
    ),
    "GN11(o)/84/29": (
        ["840991"],
        [("A", AO, HD, [], None, [], None, None), ("B", NC, HD, [], None, [], 60, 50)],
    ),
    "GN11(o)/85/1": (
        ["8501"],
        [
            ("A", AO, HD, [], None, ["85030035", "85030045", "85030065"], None, None),
            ("B", FC, HD, ["85030035", "85030045", "85030065"], HD, [], 60, 50),
        ],
    ),
    "GN11(o)/85/29": (["851110-851180"], [("", IG, SH, [], None, [], None, None)]),
    "GN11(o)/85/92": (["853990"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/86/3": (
        ["86071903"],
        [("A", AO, HD, [], None, [], None, None), ("B", FC, HD, ["86071906"], HD, [], 60, 50)],
    ),
    "GN11(o)/86/4": (
        ["86071912"],
        [("A", AO, HD, [], None, [], None, None), ("B", FC, HD, ["86071906", "86071915"], HD, [], 60, 50)],
    ),
    "GN11(o)/87/1": (["870110"], [("", AO, HD, [], None, [], None, 60)]),
    # 87/6 letters its RVC methods (A)/(B): one branch, not two
    "GN11(o)/87/6": (["870310"], [("", AO, HD, [], None, [], 60, 50)]),
    "GN11(o)/87/7": (
        ["870321-870390"],
        [("A", AO, HD, [], None, [], None, 75), ("B", AO, HD, [], None, [], None, 62.5)],
    ),
    "GN11(o)/87/14": (["8706"], [("A", NC, HD, [], None, [], None, 75)]),
    "GN11(o)/87/16": (["8706"], [("A", NC, HD, [], None, [], None, 60)]),
    "GN11(o)/87/24": (["870829", "870822"], [("A", NC, HD, [], None, [], None, 75)]),
    "GN11(o)/87/25": (
        ["870829", "870822"],
        [("A", AO, HD, [], None, [], None, None), ("B", NC, HD, [], None, [], None, 70)],
    ),
    "GN11(o)/87/58": (["8710"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/87/60": (["8714-8715"], [("", IG, HD, [], None, [], None, None)]),
    "GN11(o)/88/1": (
        ["8801"],
        [("A", FC, HD, ["8801"], HD, [], None, None), ("B", FC, HD, ["8801"], HD, [], None, None)],
    ),
    "GN11(o)/89/1": (
        ["8901-8902"],
        [("A", AO, CH, [], None, [], None, None), ("B", AO, HD, [], None, [], 60, 50)],
    ),
    "GN11(o)/90/2": (["900120-900190"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/90/8": (["900510-900580"], [("", OG, SH, [], None, ["9001-9002", "90059040"], None, None)]),
    "GN11(o)/91/2": (
        ["9107"],
        [("A", AO, CH, [], None, [], None, None), ("B", FC, CH, ["9114"], CH, [], 45, 35)],
    ),
    "GN11(o)/93/1": (
        ["9301-9304"],
        [("A", AO, CH, [], None, [], None, None), ("B", FC, CH, ["9305"], CH, [], 60, 50)],
    ),
    "GN11(o)/93/2": (["9305"], [("", AO, HD, [], None, [], None, None)]),
    # written in HS 2017: 9401.90 -> 9401.91 + 9401.99 (1:n)
    "GN11(o)/94/1": (
        ["940110-940180"],
        [("A", AO, CH, [], None, [], None, None), ("B", FC, CH, ["940191-940199"], CH, [], 60, 50)],
    ),
    "GN11(o)/94/2": (["940191-940199"], [("", AO, HD, [], None, [], None, None)]),
    "GN11(o)/94/7": (
        ["940490", "940440"],
        [
            (
                "",
                AO,
                CH,
                [],
                None,
                ["5007", "5111-5113", "5208-5212", "5310-5311", "5407-5408", "5512-5516"],
                None,
                None,
            )
        ],
    ),
    "GN11(o)/95/2": (["950611-950629"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/96/1": (["9601-9605"], [("", AO, CH, [], None, [], None, None)]),
    "GN11(o)/97/1": (["9701-9706"], [("", AO, CH, [], None, [], None, None)]),
}


def _alt(a: object) -> Alt:
    s = a.shift  # type: ignore[attr-defined]
    r = a.rvc  # type: ignore[attr-defined]
    return (
        a.label,  # type: ignore[attr-defined]
        s.kind,
        s.level,
        codeset_to(s.from_codes),
        s.also_from_level,
        codeset_to(s.except_from),
        r.transaction_value if r else None,
        r.net_cost if r else None,
    )


def test_table_is_broad_enough() -> None:
    assert len(TABLE) >= 60
    assert len({rid.split("/")[1] for rid in TABLE}) >= 30


@pytest.mark.parametrize("rule_id", sorted(TABLE))
def test_rule_structure(conn: object, rule_id: str) -> None:
    corpus = load_corpus(conn)  # type: ignore[arg-type]
    rule = corpus.rule(rule_id)
    scope, alts = TABLE[rule_id]
    assert sorted(codeset_to(rule.scope)) == sorted(scope)
    assert [_alt(a) for a in rule.alternatives] == alts
    assert all(a.unparsed_reason is None for a in rule.alternatives)
    assert rule.citation.startswith("HTSUS General Note 11(o), Chapter ")


def test_7009_92_any_other_subheading(conn: object) -> None:
    r = load_corpus(conn).rule("GN11(o)/70/8")  # type: ignore[arg-type]
    assert r.text == "A change to subheading 7009.92 from any other subheading."
    shift = r.alternatives[0].shift
    assert shift is not None
    assert shift.allows("700991", "700992")  # another subheading of the same heading: allowed
    assert not shift.allows("70099210", "70099200")


def test_7003_7008_outside_group_except_7009(conn: object) -> None:
    shift = load_corpus(conn).rule("GN11(o)/70/6").alternatives[0].shift  # type: ignore[arg-type]
    assert shift is not None
    assert shift.allows("700100", "700510")  # cullet of 7001
    assert not shift.allows("700420", "700510")  # inside the group 7003-7008
    assert not shift.allows("700910", "700510")  # excepted: 7009


def test_8703_passenger_vehicle_vs_other(conn: object) -> None:
    r = load_corpus(conn).rule("GN11(o)/87/7")  # type: ignore[arg-type]
    a, b = r.alternatives
    assert a.good_qualifier is not None and a.good_qualifier.kind == "use"
    assert a.good_qualifier.values == ("passenger_vehicle",)
    assert b.good_qualifier is not None and b.good_qualifier.values == ("*other*",)
    assert (a.rvc and a.rvc.net_cost, b.rvc and b.rvc.net_cost) == (75, 62.5)
    assert a.rvc is not None and a.rvc.transaction_value is None  # net cost only


def test_8708_29_body_stamping(conn: object) -> None:
    c = load_corpus(conn)  # type: ignore[arg-type]
    r = c.rule("GN11(o)/87/24")
    assert r.use == ("passenger_vehicle", "light_truck")
    assert r.good is not None and r.good.values == ("body stamping",)
    other = c.rule("GN11(o)/87/25")
    assert other.use == ("passenger_vehicle", "light_truck", "heavy_truck")
    assert other.good is not None and other.good.values == ("*other*",)
    assert c.rule("GN11(o)/87/26").use == ("*other*",)


def test_8706_uses(conn: object) -> None:
    c = load_corpus(conn)  # type: ignore[arg-type]
    assert c.rule("GN11(o)/87/14").use == ("passenger_vehicle", "light_truck")
    assert c.rule("GN11(o)/87/15").use == ("heavy_truck",)
    assert c.rule("GN11(o)/87/16").use == ("*other*",)


def test_2709_diluent_share_note(conn: object) -> None:
    c = load_corpus(conn)  # type: ignore[arg-type]
    m = c.rules_for("2709.00.10")
    assert [r.id for r in m.rules] == ["GN11(o)/27/6"]
    diluent = [cond for n in m.chapter_notes for cond in n.conditions if cond.name == "diluent_volume_share"]
    assert len(diluent) == 1
    assert diluent[0].kind == "share" and diluent[0].values == ("max_percent=40",)
    # the note is attached to 2709 only
    assert not any(
        cond.name == "diluent_volume_share"
        for n in c.rules_for("2710.12").chapter_notes
        for cond in n.conditions
    )


def test_2711_feedstock_share(conn: object) -> None:
    r = load_corpus(conn).rule("GN11(o)/27/8")  # type: ignore[arg-type]
    (cond,) = r.alternatives[0].conditions
    assert cond.kind == "share" and cond.values == ("max_percent=49",)


def test_9401_99_from_hs2017_9401_90(conn: object) -> None:
    c = load_corpus(conn)  # type: ignore[arg-type]
    r = c.rule("GN11(o)/94/2")
    assert codeset_to(r.scope_as_written) == ["940190"]
    assert r.provenance.nomenclature == "HS2017"
    (mp,) = [m for m in r.provenance.code_mappings if m.original == "940190"]
    assert mp.mapped == ("940191", "940199") and mp.relationship == "1:n"
    assert r.status == "defective"  # the MANIFEST's cross-check found the official text differs
    assert any("MISMATCH" in d for d in r.provenance.defects)
    m = c.rules_for("9401.99.10.85")
    assert m.status == "found" and [x.id for x in m.rules] == ["GN11(o)/94/2"]
    assert "defective" in m.reason


def test_manifest_defects(conn: object) -> None:
    c = load_corpus(conn)  # type: ignore[arg-type]
    r47 = c.rule("GN11(o)/84/47")
    assert r47.status == "defective" and any("truncated" in d for d in r47.provenance.defects)
    assert codeset_to(r47.scope) == ["841459-841480"]  # the scope the MANIFEST says was lost
    for rid in ("GN11(o)/84/196", "GN11(o)/85/113", "GN11(o)/61/1", "GN11(o)/62/10", "GN11(o)/40/10"):
        assert c.rule(rid).status == "defective", rid
    assert c.rule("GN11(o)/61/8").status != "defective"  # literal text, not generated
    template = [r for r in c.rules_in_chapter("73") if "7308" in r.provenance.rule_number]
    assert len(template) == 2 and all(r.status == "defective" for r in template)
    assert c.rule("GN11(o)/72/1").provenance.number_inferred
    assert not c.rule("GN11(o)/87/7").provenance.number_inferred


def test_2901_2942_except_2916_32_is_read_in_hs2022(conn: object) -> None:
    """Branch (B) excepts 2916.32, held as ranges around it: the bound 2916.33 exists in no edition but the
    text never names it, so the rule is not defective and is read in HS 2022."""
    r = load_corpus(conn).rule("GN11(o)/29/1")  # type: ignore[arg-type]
    assert r.status == "structured" and r.unparsed_reason is None
    assert not any("no correlated HS edition" in d for d in r.provenance.defects)
    assert codeset_to(r.scope) == ["290110-294200"]
    b = r.alternatives[1]
    assert b.target.contains("291631") and b.target.contains("291634") and not b.target.contains("291632")
    assert b.rvc is not None
