"""Certification of origin built from a determination (USMCA Article 5.2 and Annex 5-A; 19 CFR 182.12).

USMCA Article 5.2 lets the importer, exporter or producer certify origin in any format that contains the
minimum data elements of Annex 5-A; CBP restates them for US importers in 19 CFR 182.12. The nine elements:

1. the certifier's role (importer, exporter or producer);
2. the certifier: name, title, address, telephone, email;
3. the exporter: name, address, telephone, email (if not the certifier; a producer certifying may leave it out
   when the exporter is unknown to it);
4. the producer: name, address, telephone, email, or "Various", or "Available upon request by the importing
   authorities";
5. the importer: name, address, telephone, email (if known);
6. a description of the good and its HS classification to at least 6 digits;
7. the origin criterion (A, B, C or D; Article 4.2);
8. the blanket period, if the certification covers multiple shipments of identical goods (at most 12 months);
9. the authorised signature and date, beneath the certification statement.

Here a certificate is only ever made from a recorded determination that found the good originating; any
other determination is refused, naming why. The PDF is a rendering of the same elements.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from usmca.errors import InputError, UsmcaError

CITATION = "USMCA Article 5.2 and Annex 5-A (minimum data elements); 19 CFR 182.12"
STATEMENT = (
    "I certify that the goods described in this document qualify as originating and the information "
    "contained in this document is true and accurate. I assume responsibility for proving such "
    "representations and agree to maintain and present upon request or to make available during a "
    "verification visit, documentation necessary to support this certification."
)
PRODUCER_PLACEHOLDERS = ("Various", "Available upon request by the importing authorities")


class CertificationRefused(UsmcaError):
    """The determination does not support a certification of origin."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Party(_Strict):
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    telephone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=120)  # the certifier's title

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and ("@" not in v or " " in v):
            raise ValueError("an email address has the form name@domain")
        return v


class Signature(_Strict):
    name: str = Field(min_length=1, max_length=200)
    date: dt.date


class CertificationRequest(_Strict):
    """What a person adds to a determination to certify it."""

    determination_id: int = Field(ge=1, le=2**31 - 1)
    certifier_role: Literal["importer", "exporter", "producer"]
    certifier: Party
    exporter: Party | None = None
    producer: Party
    importer: Party | None = None
    blanket_from: dt.date | None = None
    blanket_to: dt.date | None = None
    signature: Signature


def _add_year(d: dt.date) -> dt.date | None:
    """The same day a year later (28 February for 29 February); None past the calendar's last year."""
    if d.year >= dt.MAXYEAR:
        return None
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def check_parties(req: CertificationRequest) -> None:
    c = req.certifier
    for fld, val in (
        ("certifier.title", c.title),
        ("certifier.address", c.address),
        ("certifier.telephone", c.telephone),
        ("certifier.email", c.email),
    ):
        if not val:
            raise InputError(
                fld,
                val,
                "Annex 5-A element 2 requires the certifier's name, title, address, telephone and email",
            )
    if req.exporter is None and req.certifier_role != "producer":
        raise InputError(
            "exporter",
            None,
            "Annex 5-A element 3: the exporter's details are required unless a "
            "producer certifies and does not know the exporter",
        )
    if req.exporter is not None and not req.exporter.address:
        raise InputError("exporter.address", None, "Annex 5-A element 3 requires the exporter's address")
    if req.producer.name not in PRODUCER_PLACEHOLDERS and not req.producer.address:
        raise InputError(
            "producer.address",
            None,
            "Annex 5-A element 4 requires the producer's address, or the "
            f"name {PRODUCER_PLACEHOLDERS[0]!r} or "
            f"{PRODUCER_PLACEHOLDERS[1]!r}",
        )
    if (req.blanket_from is None) != (req.blanket_to is None):
        raise InputError(
            "blanket_to" if req.blanket_to is None else "blanket_from",
            None,
            "a blanket period has both a start and an end date",
        )
    if req.blanket_from is not None and req.blanket_to is not None:
        if req.blanket_to < req.blanket_from:
            raise InputError("blanket_to", str(req.blanket_to), "the blanket period ends before it starts")
        limit = _add_year(req.blanket_from)
        if limit is not None and req.blanket_to >= limit:
            raise InputError(
                "blanket_to",
                str(req.blanket_to),
                "Annex 5-A element 8: a blanket period is at most 12 months",
                f"end it before {limit}",
            )


def refusal(determination: dict[str, Any]) -> str | None:
    """Why this determination cannot be certified (None when it can)."""
    status = determination.get("status")
    if status == "originating":
        if determination.get("criterion") not in ("A", "B", "C", "D"):
            return "the determination names no origin criterion A-D (Annex 5-A element 7)"
        return None
    if status == "unresolved":
        needs = determination.get("needs") or []
        return "the determination is unresolved; it needs: " + (
            "; ".join(map(str, needs)) or "facts not named"
        )
    failed = [
        f"{t.get('kind')}: {t.get('detail')}"
        for t in determination.get("tests") or []
        if t.get("passed") is False
    ]
    return f"the good is {status}" + (f" ({'; '.join(failed)})" if failed else "")


def build_elements(
    req: CertificationRequest,
    determination: dict[str, Any],
    case: dict[str, Any],
    *,
    determination_ref: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The nine Annex 5-A elements for the good of ``case`` as ``determination`` found it."""
    why = refusal(determination)
    if why is not None:
        raise CertificationRefused(f"determination {req.determination_id} cannot be certified: {why}")
    check_parties(req)
    good = case.get("good") or {}
    hts = "".join(ch for ch in str(good.get("hts") or "") if ch.isdigit())
    if len(hts) < 6:
        raise InputError(
            "good.hts",
            good.get("hts"),
            "Annex 5-A element 6 needs the HS classification to at least 6 digits",
        )
    if not good.get("description"):
        raise InputError(
            "good.description",
            None,
            "Annex 5-A element 6 needs a description of the good; "
            "qualify the good again with its description",
        )

    def party(p: Party | None) -> dict[str, Any] | None:
        return None if p is None else p.model_dump(exclude_none=True)

    blanket = None
    if req.blanket_from is not None:
        blanket = {"from": req.blanket_from.isoformat(), "to": str(req.blanket_to)}
    return {
        "citation": CITATION,
        "1_certifier_role": req.certifier_role,
        "2_certifier": party(req.certifier),
        "3_exporter": party(req.exporter),
        "4_producer": party(req.producer),
        "5_importer": party(req.importer),
        "6_goods": [
            {
                "description": good["description"],
                "hs": f"{hts[:4]}.{hts[4:6]}",
                "hts": hts,
                "id": good.get("id"),
            }
        ],
        "7_origin_criterion": determination["criterion"],
        "8_blanket_period": blanket,
        "9_signature": {
            "name": req.signature.name,
            "date": req.signature.date.isoformat(),
            "statement": STATEMENT,
        },
        "basis": {
            "determination_id": req.determination_id,
            "rule": determination.get("rule"),
            "vintage": determination.get("vintage"),
            **(determination_ref or {}),
        },
    }


_LABELS = [
    ("1_certifier_role", "1. Certifier"),
    ("2_certifier", "2. Certifier details"),
    ("3_exporter", "3. Exporter"),
    ("4_producer", "4. Producer"),
    ("5_importer", "5. Importer"),
    ("6_goods", "6. Description and HS classification"),
    ("7_origin_criterion", "7. Origin criterion"),
    ("8_blanket_period", "8. Blanket period"),
    ("9_signature", "9. Signature and date"),
]


def _lines(key: str, value: Any) -> list[str]:
    if value is None:
        return ["Not stated" if key != "5_importer" else "Unknown"]
    if key == "6_goods":
        return [f"{g['description']} — HS {g['hs']} (HTS {g['hts']})" for g in value]
    if key == "8_blanket_period":
        return [f"{value['from']} to {value['to']}"]
    if key == "9_signature":
        return [value["statement"], f"Signed: {value['name']}    Date: {value['date']}"]
    if isinstance(value, dict):
        order = ("name", "title", "address", "telephone", "email")
        return [f"{k.capitalize()}: {value[k]}" for k in order if value.get(k)]
    return [str(value).capitalize() if key == "1_certifier_role" else str(value)]


def render_pdf(
    elements: dict[str, Any], *, certificate_id: str, validity: dict[str, Any] | None = None
) -> bytes:
    """A one-document PDF of the nine elements (reportlab); text is real text, so it can be searched."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=LETTER,
        leftMargin=0.8 * inch,
        rightMargin=0.8 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
        title="USMCA Certification of Origin",
        author="usmca",
        subject=certificate_id,
    )
    ss = getSampleStyleSheet()
    story: list[Any] = [
        Paragraph("USMCA Certification of Origin", ss["Title"]),
        Paragraph(escape(f"Certificate {certificate_id}. Minimum data elements: {CITATION}."), ss["Normal"]),
    ]
    if validity is not None and not validity.get("valid", True):
        story.append(Paragraph(escape(f"INVALID: {validity.get('reason')}"), ss["Heading2"]))
    story.append(Spacer(1, 10))
    for key, label in _LABELS:
        story.append(Paragraph(escape(label), ss["Heading4"]))
        for line in _lines(key, elements.get(key)):
            story.append(Paragraph(escape(line), ss["Normal"]))
    basis = elements.get("basis") or {}
    rule = basis.get("rule") or {}
    story += [
        Spacer(1, 12),
        Paragraph("Basis", ss["Heading4"]),
        Paragraph(
            escape(
                f"Determination {basis.get('determination_id')}; rule {rule.get('id')} "
                f"({rule.get('citation')}); vintage {basis.get('vintage')}"
            ),
            ss["Normal"],
        ),
    ]
    doc.build(story)
    return buf.getvalue()
