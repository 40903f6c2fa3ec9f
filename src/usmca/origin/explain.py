"""A plain-language memo of a determination, for a compliance analyst's file (``usmca qualify --format
table``)."""

from __future__ import annotations

import textwrap

from usmca.nomenclature.codes import format_code
from usmca.origin.determine import Determination

CRITERIA = {
    "A": "wholly obtained or produced entirely in the USMCA territory (USMCA Art. 4.2(a))",
    "B": "produced in the territory using non-originating materials that satisfy the product-specific rule "
    "(USMCA Art. 4.2(b), Annex 4-B)",
    "C": "produced entirely in the territory exclusively from originating materials (USMCA Art. 4.2(c))",
    "D": "produced in the territory, meeting the regional value content where parts share the good's "
    "classification (USMCA Art. 4.2(d))",
}

_WIDTH = 100


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> str:
    return textwrap.fill(
        text, _WIDTH, initial_indent=first if first is not None else indent, subsequent_indent=indent
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def memo(d: Determination) -> str:
    g = d.good
    hts = format_code(g.get("hts", "")) if g.get("hts") else "?"
    title = f"USMCA ORIGIN DETERMINATION - {g.get('description') or g.get('id') or 'good'} (HTS {hts})"
    out = [title, "=" * min(len(title), _WIDTH)]
    facts = []
    if g.get("id"):
        facts.append(f"item {g['id']}")
    if g.get("country"):
        facts.append(f"produced in {g['country']}")
    if g.get("date"):
        facts.append(f"rules in force on {g['date']}")
    if facts:
        text = ", ".join(facts) + "."
        out.append(text[:1].upper() + text[1:])
    out.append("")
    verdict = {
        "originating": "ORIGINATING",
        "non_originating": "NOT ORIGINATING",
        "unresolved": "UNRESOLVED (facts missing)",
    }[d.status]
    line = f"Conclusion: {verdict}"
    if d.status == "originating" and d.criterion:
        line += f" - origin criterion {d.criterion}: {CRITERIA.get(d.criterion, '')}"
    out.append(_wrap(line + ".", "  ", ""))
    if d.rule:
        out.append(
            _wrap(f'Rule applied: {d.rule["citation"]} ({d.rule["id"]}): "{d.rule["summary"]}"', "  ", "")
        )
    out.append("")
    out.append("Reasoning, in the order the law applies the tests:")
    for i, t in enumerate(d.trace, 1):
        out.append(_wrap(f"{i}. {t['step']}: {t['result']} [{t['citation']}]", "     ", "  "))
    rv = d.rvc
    if (
        rv.get("transaction_value") is not None
        or rv.get("net_cost") is not None
        or any(v is not None for v in rv.get("required", {}).values())
    ):
        req = rv.get("required", {})
        out.append("")
        out.append("Regional value content (rounded to one decimal, as the Regulations print it):")
        out.append(
            f"  transaction value method: {_pct(rv.get('transaction_value'))}"
            f" (required {_pct(req.get('transaction_value'))})"
        )
        out.append(
            f"  net cost method:          {_pct(rv.get('net_cost'))} (required {_pct(req.get('net_cost'))})"
        )
    dm = d.de_minimis
    if dm.get("applied"):
        out.append("")
        out.append(
            _wrap(
                f"De minimis applied: the tolerated non-originating materials are {dm['share'] * 100:.1f}% "
                f"(limit {dm['limit'] * 100:.0f}%).",
                "  ",
                "",
            )
        )
    if d.parts:
        out.append("")
        out.append("Self-produced materials (determined first):")
        for path, sub in d.parts.items():
            crit = f", criterion {sub.criterion}" if sub.criterion else ""
            out.append(
                _wrap(
                    f"- {path} {sub.good.get('description', '')} "
                    f"({format_code(sub.good.get('hts', ''))}): {sub.status}{crit}",
                    "    ",
                    "  ",
                )
            )
    if d.needs:
        out.append("")
        out.append("Open points - facts that would settle or change the answer:")
        for n in d.needs:
            out.append(_wrap(f"- {n}", "    ", "  "))
    out.append("")
    out.append(
        _wrap(
            f"Data: rule corpus {d.vintage.get('rules') or 'unknown'}; tariff schedule "
            f"{d.vintage.get('schedule') or 'not checked'}. Citations refer to HTSUS General Note 11(o) and "
            "the CUSMA Rules of Origin Regulations (SOR/2020-155; same text as the Uniform Regulations, "
            "19 CFR 182 App. A). This memo reflects the facts stated in the case file; the producer is "
            "responsible for their accuracy and for keeping supporting records (USMCA Art. 5.8).",
            "  ",
            "",
        )
    )
    return "\n".join(out)
