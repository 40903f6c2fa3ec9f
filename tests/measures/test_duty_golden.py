"""Golden duty figures computed by hand from the HTSUS (revision in force) and the Federal Register facts.

Each case cites its sources. Figures: ordinary duty = column rate x entered value; Chapter 99 measures =
rate x base (full value, metal content, or non-U.S. content). Uses the reference store (``conn`` fixture).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from usmca.measures.entry import parse_line
from usmca.measures.stack import LineDuty, compare_claim, duty_line

D = dt.date.fromisoformat
# Cotton T-shirts of Canada: HTSUS 6109.10.00.12, column 1 general 16.5%, special "Free (... S ...)";
# on no Section 232 / 301-for-Canada / Annex II / s122-exempt list.
TSHIRT = {"id": "L1", "hts": "6109.10.00.12", "country_of_origin": "CA", "entered_value": 10000}


def _duty(conn: sqlite3.Connection, date: str, **kw: Any) -> LineDuty:
    return duty_line(parse_line({**TSHIRT, **kw}), D(date), conn=conn)


def _amounts(r: LineDuty) -> dict[str, Decimal | None]:
    return {c.measure_id or c.measure: c.amount for c in r.components}


def test_canada_usmca_exemption_2025_03_04_vs_03_07(conn: sqlite3.Connection) -> None:
    # EO 14193 / FR 2025-03664: 25% on products of Canada from 2025-03-04, no exception for USMCA goods.
    # EO 14231 (90 FR 11785): from 2025-03-07 goods entered under GN 11 (USMCA) are excepted (9903.01.14).
    before = _duty(conn, "2025-03-04", usmca_claim=True)
    assert before.status == "complete"
    assert _amounts(before)["column 1 special (USMCA, SPI S/S+)"] == Decimal("0.00")  # Free (S)
    assert _amounts(before)["ieepa_ca_25_pre_usmca"] == Decimal("2500.00")  # 25% x 10,000
    assert before.total_duty == Decimal("2500.00")
    after = _duty(conn, "2025-03-07", usmca_claim=True)
    assert after.total_duty == Decimal("0.00")
    assert any("IEEPA Canada" in n and "USMCA claim" in n for n in after.notes)


def test_canada_35_percent_from_2025_08_01(conn: sqlite3.Connection) -> None:
    # EO 14325 / FR 2025-14999: 9903.01.10 rate 35% from 2025-08-01 (note 2(j)); before, 25%.
    jul = _duty(conn, "2025-07-31")
    assert jul.total_duty == Decimal("4150.00")  # 16.5% x 10,000 = 1,650 + 25% x 10,000 = 2,500
    aug = _duty(conn, "2025-08-01")
    assert aug.total_duty == Decimal("5150.00")  # 1,650 + 35% x 10,000 = 3,500
    assert aug.effective_rate == Decimal("51.50")
    (ieepa,) = [c for c in aug.components if c.authority == "ieepa"]
    assert (
        ieepa.heading == "9903.01.10"
        and ieepa.status == "struck_down"
        and "FR Doc. 2025-14999" in ieepa.citation
    )


def test_ieepa_ends_and_section_122_starts_2026_02_24(conn: sqlite3.Connection) -> None:
    # Learning Resources v. Trump (2026-02-20): IEEPA collection ended for entries from 2026-02-24.
    # Section 122 proclamation (FR 2026-03824): 10% (9903.03.01) from 2026-02-24; USMCA goods excepted
    # (9903.03.07, note 2(aa)(vi)).
    last = _duty(conn, "2026-02-23")
    assert last.total_duty == Decimal("5150.00")  # 1,650 + 35% IEEPA
    first = _duty(conn, "2026-02-24")
    assert not any(c.authority == "ieepa" for c in first.components)
    assert _amounts(first)["s122_10"] == Decimal("1000.00")  # 10% x 10,000
    assert first.total_duty == Decimal("2650.00")
    claimed = _duty(conn, "2026-02-24", usmca_claim=True)
    assert claimed.total_duty == Decimal("0.00")
    assert _duty(conn, "2026-07-24").total_duty == Decimal("1650.00")  # s122 expired after 2026-07-23


def test_china_fentanyl_rate_follows_note_2u_not_the_curation(conn: sqlite3.Connection) -> None:
    # Note 2(u): 9903.01.24 at 10% for entries on or after 2025-11-10 (EO 14357, FR 2025-19825); 20% before
    # (EO 14228, FR 2025-03775). The curation's 2025-11-09 date is not followed.
    line = {"hts": "6109.10.00.12", "country_of_origin": "CN"}
    r9 = _duty(conn, "2025-11-09", **line)
    r10 = _duty(conn, "2025-11-10", **line)
    assert _amounts(r9)["ieepa_cn_fent_20"] == Decimal("2000.00")
    assert _amounts(r10)["ieepa_cn_fent_10_nov25"] == Decimal("1000.00")


def test_content_based_steel_on_a_chapter_73_article(conn: sqlite3.Connection) -> None:
    # 7326.90.86.88 (articles of iron or steel, other): 2.9% general (2025 rev 19); on the steel derivative
    # list (note 16). Proclamation 10947 (FR 2025-10524): 50% on the declared value of the steel content from
    # 2025-06-04. EO 14289 / note 16: such goods are not subject to the Mexico IEEPA duty (9903.01.01).
    mx = {"hts": "7326.90.86.88", "country_of_origin": "MX", "entered_value": 5000}
    r = _duty(conn, "2025-08-15", **mx, metal_content={"steel": 2000})
    assert r.status == "complete"
    a = _amounts(r)
    assert a["column 1 general"] == Decimal("145.00")  # 2.9% x 5,000
    assert a["s232_steel_50"] == Decimal("1000.00")  # 50% x 2,000 steel content
    assert r.total_duty == Decimal("1145.00")
    assert any("IEEPA Mexico" in n and "does not stack" in n for n in r.notes)
    # Without the steel content the line cannot be computed: unresolved, never zero.
    u = _duty(conn, "2025-08-15", **mx)
    assert u.status == "unresolved" and u.total_duty is None
    assert any("metal_content.steel" in n for n in u.needs)
    # China: 232 on the steel content, reciprocal on the rest (note 2(v)(vii)), fentanyl and 301 in full.
    cn = _duty(conn, "2025-08-15", **{**mx, "country_of_origin": "CN"}, metal_content={"steel": 2000})
    a = _amounts(cn)
    assert a["ieepa_recip_phase2"] == Decimal("300.00")  # 10% x (5,000 - 2,000)
    assert a["ieepa_cn_fent_20"] == Decimal("1000.00")  # 20% x 5,000
    assert a["s301_list3"] == Decimal("1250.00")  # 25% x 5,000 (9903.88.03)
    assert cn.total_duty == Decimal("3695.00")


def test_usmca_vehicle_with_us_content(conn: sqlite3.Connection) -> None:
    # Proclamation 10908 (FR 2025-05930), note 33(d): a USMCA vehicle pays 25% on its non-U.S. content
    # (9903.94.03); the U.S. content under 9903.94.02. 8703.23.01.90: 2.5% general, Free (S).
    car = {"hts": "8703.23.01.90", "country_of_origin": "MX", "entered_value": 30000}
    r = _duty(conn, "2025-06-01", **car, usmca_claim=True, us_content_value=12000)
    assert _amounts(r)["s232_autos"] == Decimal("4500.00")  # 25% x (30,000 - 12,000)
    assert r.total_duty == Decimal("4500.00")
    # Without the U.S. content figure, 25% of the full value (9903.94.01), with a note saying why.
    full = _duty(conn, "2025-06-01", **car, usmca_claim=True)
    assert full.total_duty == Decimal("7500.00")
    # No claim: 2.5% x 30,000 = 750 + 25% x 30,000 = 7,500; no Mexico IEEPA (note 33: vehicles not subject).
    nc = _duty(conn, "2025-06-01", **car)
    assert nc.total_duty == Decimal("8250.00")
    assert not any(c.authority == "ieepa" for c in nc.components)
    cmp = compare_claim(parse_line({**TSHIRT, **car, "us_content_value": 12000}), D("2025-06-01"), conn=conn)
    assert cmp["saving"] == Decimal("3750.00")  # 8,250 - 4,500


def test_chinese_article_on_a_section_301_list(conn: sqlite3.Connection) -> None:
    # 8481.80.10.20 (valves): 4% general; list 3 (9903.88.03, 25% since 2019-05-10, 84 FR 20459); also listed
    # under 9903.88.16 (list 4B), which is suspended. IEEPA China 10% (9903.01.20, EO 14195) on 2025-03-01.
    r = duty_line(
        parse_line({"id": "V", "hts": "8481.80.10.20", "country_of_origin": "CN", "entered_value": 1000}),
        D("2025-03-01"),
        conn=conn,
    )
    a = _amounts(r)
    assert a["column 1 general"] == Decimal("40.00")
    assert a["ieepa_cn_fent_10"] == Decimal("100.00")
    assert a["s301_list3"] == Decimal("250.00")
    assert "s301_list4b" not in a
    assert r.total_duty == Decimal("390.00")


def test_specific_rate_line_needs_its_quantity(conn: sqlite3.Connection) -> None:
    # 0102.29.40.24 (live cattle): column 1 general 1¢/kg. Australia, 2025-03-01: no Chapter 99 measure.
    line = {"id": "C", "hts": "0102.29.40.24", "country_of_origin": "AU", "entered_value": 2000}
    r = duty_line(
        parse_line({**line, "quantity": [{"value": 500, "unit": "kg"}]}), D("2025-03-01"), conn=conn
    )
    assert r.total_duty == Decimal("5.00")  # 1¢ x 500 kg
    u = duty_line(parse_line(line), D("2025-03-01"), conn=conn)
    assert u.status == "unresolved" and u.total_duty is None and u.effective_rate is None
    assert any("quantity" in n and "kg" in n for n in u.needs)


def test_compare_claim_savings_and_no_preference_explained(conn: sqlite3.Connection) -> None:
    cmp = compare_claim(parse_line(TSHIRT), D("2025-08-01"), conn=conn)
    assert cmp["without_claim"].total_duty == Decimal("5150.00")
    assert cmp["with_claim"].total_duty == Decimal("0.00")
    assert cmp["saving"] == Decimal("5150.00")


def test_unknown_code_is_unresolved_not_zero(conn: sqlite3.Connection) -> None:
    r = duty_line(parse_line({**TSHIRT, "hts": "9999.99.99.99"}), D("2025-08-01"), conn=conn)
    assert r.status == "unresolved" and r.total_duty is None and r.needs


@pytest.mark.parametrize("date", ["2025-08-15", "2026-03-01"])
def test_single_and_batch_paths_agree(conn: sqlite3.Connection, date: str) -> None:
    from usmca.measures.stack import duty_lines

    lines = [
        parse_line({**TSHIRT, "id": f"L{i}", "entered_value": 1000 + i, "usmca_claim": i % 2 == 0})
        for i in range(6)
    ]
    batch = duty_lines([(ln, D(date)) for ln in lines], conn=conn)
    for ln, b in zip(lines, batch, strict=True):
        single = duty_line(ln, D(date), conn=conn)
        assert single.total_duty == b.total_duty
        assert [c.amount for c in single.components] == [c.amount for c in b.components]


def test_section_122_only_on_the_value_not_under_section_232(conn: sqlite3.Connection) -> None:
    # 2026-03-02, Canada, no claim: 232 steel 50% on the steel content (Proclamation 10947); Section 122 10%
    # (FR 2026-03824) only on the rest: 10% x (5,000 - 2,000).
    r = _duty(conn, "2026-03-02", hts="7326.90.86.88", entered_value=5000, metal_content={"steel": 2000})
    a = _amounts(r)
    assert a["s232_steel_50"] == Decimal("1000.00") and a["s122_10"] == Decimal("300.00")
    assert r.total_duty == Decimal("1445.00")  # + 2.9% x 5,000 = 145


def test_annex_regime_from_2026_04_06(conn: sqlite3.Connection) -> None:
    # Annex IV / new U.S. note 16 (2026-04-06): 7326.90.86.88 is listed in (c)(iv) (Annex I-A, 50% on the full
    # value, 9903.82.02); the headings are mutually exclusive (note 16(a)), so the wider 7326.90 Annex I-B
    # listing does not add. No content basis any more; Section 301 list 3 still applies to China.
    r = _duty(conn, "2026-05-01", hts="7326.90.86.88", country_of_origin="CN", entered_value=5000)
    a = _amounts(r)
    assert a["s232_annex_1a"] == Decimal("2500.00") and "s232_annex_1b" not in a
    assert a["s301_list3"] == Decimal("1250.00")
    assert r.total_duty == Decimal("3895.00")  # 145 + 2,500 + 1,250


def test_column_2_for_russia(conn: sqlite3.Connection) -> None:
    # General note 3(b); Pub. L. 117-110: Russia at column 2 from 2022-04-09. 6109.10.00.12 column 2: 90%.
    # Reciprocal tariff does not apply to column 2 countries (9903.01.29).
    r = _duty(conn, "2025-08-15", country_of_origin="RU", entered_value=1000)
    assert [c.measure for c in r.components] == ["column 2"]
    assert r.total_duty == Decimal("900.00")


def test_upholstered_furniture_no_usmca_exemption_no_reciprocal(conn: sqlite3.Connection) -> None:
    # Proclamation 10976 (FR 2025-19482), note 37(c)-(d): 9903.76.02 +25% from 2025-10-14, no USMCA exception;
    # note 2(v)(xiii): reciprocal does not apply to 9903.76.02 products; note 2(j): nor IEEPA Canada.
    furn = {"hts": "9401.61.40.11", "entered_value": 1000}
    vn = _duty(conn, "2025-11-03", **furn, country_of_origin="VN")
    assert vn.total_duty == Decimal("250.00")
    ca = _duty(conn, "2025-11-03", **furn, usmca_claim=True)
    assert ca.total_duty == Decimal("250.00")
    assert any("no USMCA preference" in n for n in ca.notes)  # special column empty: general Free applies
    # The day before: no 232 wood duty; reciprocal for Vietnam 20% (EO 14326, FR 2025-15010).
    assert _duty(conn, "2025-10-13", **furn, country_of_origin="VN").total_duty == Decimal("200.00")


def test_declared_facts_decide_semiconductors(conn: sqlite3.Connection) -> None:
    # Note 39(b): 9903.79.01 +25% only for articles meeting its technical parameters: a fact to declare.
    sem = {"hts": "8471.50.01.50", "country_of_origin": "TW", "entered_value": 1000}
    u = _duty(conn, "2026-02-01", **sem)
    assert u.status == "unresolved" and any("semiconductor_note39" in n for n in u.needs)
    yes = _duty(conn, "2026-02-01", **sem, facts={"semiconductor_note39": True, "automobile_part": False})
    assert _amounts(yes)["s232_semiconductors"] == Decimal("250.00")
    no = _duty(conn, "2026-02-01", **sem, facts={"semiconductor_note39": False, "automobile_part": False})
    assert no.total_duty == Decimal("0.00")  # Free; 2026-02-01 is before Section 122


def test_aluminum_25_percent_from_2025_03_12_per_proclamation(conn: sqlite3.Connection) -> None:
    # Proclamation 10895 (FR 2025-02832): aluminum 25% for entries from 2025-03-12 (the curation's
    # 2025-03-07 is not followed); 10% before (Proclamation 9704, India not exempt).
    # 7606.12.30.15: 3% general.
    al = {"hts": "7606.12.30.15", "country_of_origin": "IN", "entered_value": 1000}
    assert _duty(conn, "2025-03-11", **al).total_duty == Decimal("130.00")  # 30 + 10% x 1,000
    assert _duty(conn, "2025-03-12", **al).total_duty == Decimal("280.00")  # 30 + 25% x 1,000
    # 2025-06-04 (Proclamation 10947): 50% on the aluminum content; reciprocal only on the rest (zero here).
    r = _duty(conn, "2025-06-04", **al, metal_content={"aluminum": 1000})
    assert r.total_duty == Decimal("530.00")
