"""HS 2022 nomenclature and the HS 2017 / HS 2012 correlations (build step "hs")."""

from __future__ import annotations

import pytest

from usmca.errors import InputError
from usmca.nomenclature.correlate import map_to_2022, nomenclature


def test_nomenclature_loaded(conn) -> None:  # type: ignore[no-untyped-def]
    nom = nomenclature(conn)
    assert len(nom.subheadings) == 5612  # 5,613 HS 2022 subheadings less the residual 999999
    assert "940199" in nom.hs2022 and "940190" not in nom.hs2022
    assert nom.exists("940190", "HS2017")


def test_split_is_one_to_many(conn) -> None:  # type: ignore[no-untyped-def]
    c = map_to_2022("940190", "HS2017", conn)
    assert c.hs2022 == ("940191", "940199") and c.relationship == "1:n" and not c.one_to_one


def test_one_to_one_and_identity(conn) -> None:  # type: ignore[no-untyped-def]
    c = map_to_2022("010121", "HS2017", conn)
    assert c.hs2022 == ("010121",) and c.relationship == "1:1" and c.one_to_one
    # a heading whose subheadings stayed inside it keeps its meaning
    assert map_to_2022("0101", "HS2017", conn).relationship == "identity"


def test_merge_and_many_to_many(conn) -> None:  # type: ignore[no-untyped-def]
    # HS 2012 8702.10 and 8702.90 both feed HS 2022 8702.20-8702.40 (hybrid and electric buses)
    c = map_to_2022("870210", "HS2012", conn)
    assert c.relationship == "n:n" and "870220" in c.hs2022 and "870290" in c.shared_with
    # HS 2012 8456.10 (laser machines) was split into 8456.11 and 8456.12 (and its waste went to 8549)
    c = map_to_2022("845610", "HS2012", conn)
    assert {"845611", "845612"} <= set(c.hs2022) and c.relationship == "n:n"


def test_hs2012_heading(conn) -> None:  # type: ignore[no-untyped-def]
    c = map_to_2022("8708", "HS2012", conn)
    assert "870822" in c.hs2022 and "870829" in c.hs2022


def test_unknown_code(conn) -> None:  # type: ignore[no-untyped-def]
    assert map_to_2022("999998", "HS2017", conn).relationship == "none"
    with pytest.raises(InputError, match="code"):
        map_to_2022("94019", "HS2017", conn)
    with pytest.raises(InputError, match="edition"):
        map_to_2022("940190", "HS1996", conn)


def test_edition_from_the_codes_the_text_names(conn) -> None:  # type: ignore[no-untyped-def]
    from usmca.nomenclature.codes import CodeRange
    from usmca.rules.corpus import decide_edition, written_codes

    nom = nomenclature(conn)
    text = (
        "No change in tariff classification to a good of subheadings 2901.10 through 2942.00, "
        "except for a good of subheading 2916.32"
    )
    written = written_codes(text)
    assert written == {"290110", "294200", "291632"}
    held = [CodeRange("290110", "291631"), CodeRange("291633", "294200")]
    assert decide_edition(nom, held) == ("unknown", ["291633"])  # every bound taken as written
    assert decide_edition(nom, held, written) == ("HS2022", [])
    # a code the text does name still decides the edition
    assert decide_edition(nom, [CodeRange("940190", "940190")], written_codes("subheading 9401.90")) == (
        "HS2017",
        ["940190"],
    )
    assert written_codes("heading 8708, tariff item 8708.29.50") == {"8708", "870829"}
