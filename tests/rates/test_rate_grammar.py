"""Rate grammar: known texts of the HTSUS columns -> structure; special-column program groups; storage."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from usmca.errors import DataError, InputError
from usmca.rates import (
    AdValorem,
    ChapterRef,
    Compound,
    Free,
    Graduated,
    Limited,
    RateParseError,
    SeeRef,
    Specific,
    coverage,
    normalize_unit,
    normalize_units,
    parse_rate,
    parse_special,
    rate_from_dict,
    usmca_rate,
)

# text -> expected structure (text is not compared: it is the source spelling)
KNOWN = [
    ("Free", Free()),
    ("2.5%", AdValorem(percent=D("2.5"))),
    ("2.5% ", AdValorem(percent=D("2.5"))),
    ("10% <u></u>", AdValorem(percent=D(10))),
    ("37% /", AdValorem(percent=D(37))),
    ("5% 1/", AdValorem(percent=D(5))),  # footnote marker
    ("Free 2/", Free()),
    ("1.1¢/kg", Specific(amount=D("0.011"), unit="kg")),
    ("$1.035/kg", Specific(amount=D("1.035"), unit="kg")),
    ("44¢/doz.", Specific(amount=D("0.44"), unit="doz")),
    ("5¢/liter", Specific(amount=D("0.05"), unit="liter")),
    ("14.27¢/ liter", Specific(amount=D("0.1427"), unit="liter")),
    ("0.9¢ each", Specific(amount=D("0.009"), unit="no")),
    ("68¢/head", Specific(amount=D("0.68"), unit="no")),
    ("$1.34/1000", Specific(amount=D("1.34"), unit="no", per=D(1000))),
    (
        "$2.50/thou- sand + 40%",
        Compound(terms=(Specific(amount=D("2.50"), unit="no", per=D(1000)), AdValorem(percent=D(40)))),
    ),
    ("$1.13/m<sup>3</sup>", Specific(amount=D("1.13"), unit="m3")),
    ("18.7¢/clean kg", Specific(amount=D("0.187"), unit="kg:clean")),
    ("0.5¢/pf.liter", Specific(amount=D("0.005"), unit="pf_liter")),
    ("3.7¢/kg on drained weight", Specific(amount=D("0.037"), unit="kg:drained")),
    ("0.01¢/kg of total sugars", Specific(amount=D("0.0001"), unit="kg:total_sugars")),
    ("0.8¢/kg on lead content", Specific(amount=D("0.008"), unit="kg:Pb")),
    ("$1.32/t, including weight of container", Specific(amount=D("1.32"), unit="t:gross_weight")),
    ("86.1¢/m2of recording surface", Specific(amount=D("0.861"), unit="m2:recording_surface")),
    (
        "0.18¢/line/ gross + 2.5%",
        Compound(terms=(Specific(amount=D("0.0018"), unit="gross_line"), AdValorem(percent=D("2.5")))),
    ),
    ("1.1¢/kg + 2%", Compound(terms=(Specific(amount=D("0.011"), unit="kg"), AdValorem(percent=D(2))))),
    ("42.3¢/kg +8.5%", Compound(terms=(Specific(amount=D("0.423"), unit="kg"), AdValorem(percent=D("8.5"))))),
    ("33 1/3%", AdValorem(percent=D(33) + D(1) / D(3))),
    (
        "1.5 percent of the fair retail value",
        AdValorem(percent=D("1.5"), basis="value:fair_retail_value", basis_label="the fair retail value"),
    ),
    ("6.5% on the entire set", AdValorem(percent=D("6.5"), basis=None, basis_label="the entire set")),
    (
        "$1.16 each + 6% on the case",
        Compound(
            terms=(
                Specific(amount=D("1.16"), unit="no"),
                AdValorem(percent=D(6), basis="value:case", basis_label="the case"),
            )
        ),
    ),
    (
        "43¢ each + 2.8¢/jewel over 7 + 3.7% on the case",
        Compound(
            terms=(
                Specific(amount=D("0.43"), unit="no"),
                Specific(amount=D("0.028"), unit="jewel", over=D(7)),
                AdValorem(percent=D("3.7"), basis="value:case", basis_label="the case"),
            )
        ),
    ),
    (
        "0.7¢/kg on copper content + 0.7¢/kg on lead content",
        Compound(
            terms=(Specific(amount=D("0.007"), unit="kg:Cu"), Specific(amount=D("0.007"), unit="kg:Pb"))
        ),
    ),
    (
        "3.1¢/liter + 22.1¢/pf. liter on ethyl alcohol content",
        Compound(
            terms=(Specific(amount=D("0.031"), unit="liter"), Specific(amount=D("0.221"), unit="pf_liter"))
        ),
    ),
    (
        "Free, under bond, as prescribed in U.S. note 1 to this subchapter",
        Free(condition="under bond, as prescribed in U.S. note 1 to this subchapter"),
    ),
    ("No change", ChapterRef(reference="the applicable subheading")),
    (
        "The duty provided in the applicable subheading + 25%",
        ChapterRef(reference="the applicable subheading", addition=AdValorem(percent=D(25))),
    ),
    (
        "The duty provided inthe applicable subheading+ 25%",
        ChapterRef(reference="the applicable subheading", addition=AdValorem(percent=D(25))),
    ),
    (
        "The duty provided in the applicable subheading + 50%.",
        ChapterRef(reference="the applicable subheading", addition=AdValorem(percent=D(50))),
    ),
    (
        "The duty provided in the applicable subheading + a duty of 50% upon the value of the steel content.",
        ChapterRef(
            reference="the applicable subheading",
            addition=AdValorem(
                percent=D(50), basis="value:steel_content", basis_label="the value of the steel content"
            ),
        ),
    ),
    (
        "The duty provided in subheadings 8716.39.00, 8716.90.30 or 8716.90.50 + 100%",
        ChapterRef(
            reference="subheadings 8716.39.00, 8716.90.30 or 8716.90.50", addition=AdValorem(percent=D(100))
        ),
    ),
    (
        "The duty rate provided in such subheading minus 0.5%",
        ChapterRef(reference="such subheading", addition=AdValorem(percent=D("0.5")), subtract=True),
    ),
    ("See additional U.S. note 1", SeeRef(target="additional U.S. note 1")),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN, ids=[t for t, _ in KNOWN])
def test_known_texts(text: str, expected: object) -> None:
    r = parse_rate(text)
    assert r == expected
    assert r.text == text  # the original spelling is kept


def test_graduated_polarity_scale() -> None:
    t = (
        "1.4606¢/kg less 0.020668¢/kg for each degree under 100 degrees (and fractions of a degree in "
        "proportion) but not less than 0.943854¢/kg"
    )
    r = parse_rate(t)
    assert isinstance(r, Graduated)
    assert (r.base.amount, r.step.amount, r.floor.amount, r.below) == (
        D("0.014606"),
        D("0.00020668"),
        D("0.00943854"),
        D(100),
    )
    assert r.units_needed() == ("kg", "polarity")
    # the column-2 variant without "than" and with a space before "/kg"
    r2 = parse_rate(
        "4.3817¢/kg less 0.0622005¢ /kg for each degree under 100 degrees (and fractions of a degree in "
        "proportion) but not less 2.831562¢ /kg"
    )
    assert isinstance(r2, Graduated) and r2.floor.amount == D("0.02831562")


def test_conditional_cap_of_watch_movements() -> None:
    r = parse_rate(
        "6% + 2.3¢/jewel + 0.2¢ for each other piece or part, but if consisting in part of a plate or a set "
        "of plates the total duty shall not exceed the duty for the complete movement"
    )
    assert isinstance(r, Limited)
    assert r.condition == "if consisting in part of a plate or a set of plates"
    assert isinstance(r.maximum, ChapterRef) and r.maximum.reference == "the complete movement"
    assert r.units_needed() == ("jewel", "no:other_parts")


def test_chapter_98_duty_on_a_partial_value() -> None:
    r = parse_rate("A duty upon the value of the repairs or alterations (see U.S. note 3 of this subchapter)")
    assert isinstance(r, ChapterRef)
    assert r.basis == "the value of the repairs or alterations (see U.S. note 3 of this subchapter)"
    assert r.needs_base_duty


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n", ":", "abc", "5¢", "5%% on", "1.1¢/furlong", "Free lunch", "Free (A+,S)", "5% (JP)"],
)
def test_unreadable_texts_raise_with_reason(text: str) -> None:
    with pytest.raises(RateParseError) as ei:
        parse_rate(text)
    assert ei.value.text == text and ei.value.reason
    assert isinstance(ei.value, DataError)


def test_special_groups() -> None:
    g = parse_special("Free (A+,AU,BH,CA,CL,CO,D,E,IL,JO,KR,MA,OM,P,PA,PE,S,SG)")
    assert len(g) == 1 and g[0].rate == Free()
    assert "S" in g[0].programs and "A+" in g[0].programs and len(g[0].programs) == 18
    g = parse_special("Free (A*,AU,B,BH,CL,CO,D,E,IL,JO,KR,MA,OM,P,PA,PE,S,SG)2.8% (JP)")
    assert [x.rate for x in g] == [Free(), AdValorem(percent=D("2.8"))]
    assert g[1].programs == frozenset({"JP"})
    # stray spaces, a dot and a line break inside program lists
    g = parse_special("Free \n(A+, AU, BH, CL,CO,D, E, IL, JO, KR, MA, OM, P, PA, PE, S, SG)")
    assert "CO" in g[0].programs and "D" in g[0].programs
    g = parse_special("Free (AU,BH,CL,CO,IL,JO,KR,MA,.OM,P,PA,PE,S,SG) ")
    assert "OM" in g[0].programs


def test_special_footnote_markers_and_display() -> None:
    g = parse_special("Free (A,S) 1/ 5% (JP) 2/")
    assert [x.rate for x in g] == [Free(), AdValorem(percent=D(5))]
    assert parse_rate("10% <u></u>").display == "10%"


def test_special_with_see_references_and_usmca() -> None:
    t = (
        "Free (BH,CL,JO,KR,MA,OM,P,PE,SG) 2.4¢/kg + 0.4% (PA) See 9822.04.25 (AU) "
        "See 9823.08.01-9823.08.38 (S+) See 9918.04.60-9918.04.80 (CO)"
    )
    g = parse_special(t)
    assert [sorted(x.programs) for x in g] == [
        ["BH", "CL", "JO", "KR", "MA", "OM", "P", "PE", "SG"],
        ["PA"],
        ["AU"],
        ["S+"],
        ["CO"],
    ]
    assert usmca_rate(t) == SeeRef(target="9823.08.01-9823.08.38")
    # a group whose parenthesis is not a program list stays part of the rate text
    g = parse_special(
        "No change (A) Free (CA,IL, MX) See U.S. note 3 to this sub- chapter (E) See U.S. note 3(e) (CO,PE)"
    )
    assert [x.rate for x in g] == [
        ChapterRef(reference="the applicable subheading"),
        Free(),
        SeeRef(target="U.S. note 3 to this subchapter"),
        SeeRef(target="U.S. note 3(e)"),
    ]


def test_usmca_rate() -> None:
    assert usmca_rate("Free (A+,AU,BH,CA,CL,CO,D,E,IL,JO,KR,MA,OM,P,PA,PE,S,SG)") == Free()
    assert usmca_rate("$1.035/kg + 14.9% (S+)") == Compound(
        terms=(Specific(amount=D("1.035"), unit="kg"), AdValorem(percent=D("14.9")))
    )
    assert usmca_rate("Free (A,AU,BH,CL) 5% (JP)") is None  # no S or S+: no USMCA preference
    assert usmca_rate("") is None
    # Chapter 99: no program list = applies to every program
    assert usmca_rate("The duty provided in the applicable subheading + 25%") == ChapterRef(
        reference="the applicable subheading", addition=AdValorem(percent=D(25))
    )
    assert usmca_rate("The duty provided in the applicable subheading + 10% (CA, MX, S)") is not None
    with pytest.raises(RateParseError):
        usmca_rate("Free (S) 5% (S+)")


@pytest.mark.parametrize(
    "text",
    [
        "Free (A,S) 5% (JP) trailing",
        "(A,S)",
        "Free (A,S) junk words (JP)",
    ],
)
def test_special_unreadable(text: str) -> None:
    with pytest.raises(RateParseError):
        parse_special(text)


@pytest.mark.parametrize(("text", "_"), KNOWN, ids=[t for t, _ in KNOWN])
def test_storage_round_trip(text: str, _: object) -> None:
    r = parse_rate(text)
    back = rate_from_dict(r.to_dict())
    assert back == r and type(back) is type(r) and back.text == r.text


def test_rate_from_dict_rejects_unknown_kind() -> None:
    with pytest.raises(DataError):
        rate_from_dict({"kind": "lottery"})


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("kg", "kg"),
        (" kg", "kg"),
        ("No.", "no"),
        ("No", "no"),
        ("pcs", "no"),
        ("doz.", "doz"),
        ("doz. prs.", "doz_pr"),
        ("prs.", "pr"),
        ("liters", "liter"),
        ("pf.liters", "pf_liter"),
        ("m2", "m2"),
        ("m²", "m2"),
        ("m3", "m3"),
        ("t", "t"),
        ("gross", "gross"),
        ("gr.lines", "gross_line"),
        ("Jwls.", "jewel"),
        ("thousands", "thousand"),
        ("Pb kg", "kg:Pb"),
        ("W kg", "kg:W"),
        ("W", "watt"),
        ("Ag g", "g:Ag"),
        ("kg ttl sug", "kg:total_sugars"),
        ("cy kg", "kg:clean"),
        ("Cr2O3 t", "t:Cr2O3"),
        ("kg:Pb", "kg:Pb"),
        ("value:case", "value:case"),
        ("Dz Pcs", "doz"),
        ("lin. m", "m"),
    ],
)
def test_normalize_unit(spelling: str, key: str) -> None:
    assert normalize_unit(spelling) == key


def test_normalize_unit_rejects_unknown_and_double_units() -> None:
    with pytest.raises(InputError):
        normalize_unit("furlongs")
    with pytest.raises(InputError):
        normalize_unit("No. and kg")
    assert normalize_units("No. and kg") == ("no", "kg")


def test_coverage_lists_failures_with_reasons() -> None:
    rep = coverage(["Free", "2%", "2%", ":", "", "1.1¢/kg + bananas"])
    assert rep.total == 4 and rep.parsed == 2 and rep.blank == 1
    assert dict(rep.failures)[":"]
    assert "bananas" in dict(rep.failures)["1.1¢/kg + bananas"]
    assert rep.by_kind == {"free": 1, "ad_valorem": 1}
