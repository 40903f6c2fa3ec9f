"""Rule grammar <-> plain dicts (JSON). Code sets are lists of digit strings, a range as "7003-7008".

The dict form is the corpus' storage and export format; ``from_dict(to_dict(x)) == x`` for every type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from usmca.nomenclature.codes import CodeRange, CodeSet
from usmca.rules.grammar import (
    Alternative,
    CodeMapping,
    Condition,
    Provenance,
    RegionalValueContent,
    Rule,
    TariffShift,
)


def codeset_to(cs: CodeSet) -> list[str]:
    return [r.start if r.start == r.end else f"{r.start}-{r.end}" for r in cs.ranges]


def codeset_from(items: list[str] | None) -> CodeSet:
    out = []
    for it in items or ():
        a, _, b = it.partition("-")
        out.append(CodeRange(a, b or a))
    return CodeSet(tuple(out))


def condition_to(c: Condition | None) -> dict[str, Any] | None:
    if c is None:
        return None
    d: dict[str, Any] = {"kind": c.kind, "name": c.name, "text": c.text, "values": list(c.values)}
    if c.code_groups:
        d["code_groups"] = [codeset_to(g) for g in c.code_groups]
    return d


def condition_from(d: dict[str, Any] | None) -> Condition | None:
    if d is None:
        return None
    return Condition(
        d["kind"],
        d["name"],
        d["text"],
        tuple(d.get("values", ())),
        tuple(codeset_from(g) for g in d.get("code_groups", ())),
    )


def shift_to(s: TariffShift | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "kind": s.kind,
        "level": s.level,
        "group": codeset_to(s.group),
        "from_codes": codeset_to(s.from_codes),
        "also_from_level": s.also_from_level,
        "except_from": codeset_to(s.except_from),
        "text": s.text,
    }


def shift_from(d: dict[str, Any] | None) -> TariffShift | None:
    if d is None:
        return None
    return TariffShift(
        d["kind"],
        d["level"],
        codeset_from(d["group"]),
        codeset_from(d["from_codes"]),
        d["also_from_level"],
        codeset_from(d["except_from"]),
        d["text"],
    )


def rvc_to(r: RegionalValueContent | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"transaction_value": r.transaction_value, "net_cost": r.net_cost, "text": r.text}


def rvc_from(d: dict[str, Any] | None) -> RegionalValueContent | None:
    if d is None:
        return None
    return RegionalValueContent(d["transaction_value"], d["net_cost"], d["text"])


def alternative_to(a: Alternative) -> dict[str, Any]:
    return {
        "label": a.label,
        "shift": shift_to(a.shift),
        "rvc": rvc_to(a.rvc),
        "conditions": [condition_to(c) for c in a.conditions],
        "good_qualifier": condition_to(a.good_qualifier),
        "target": codeset_to(a.target),
        "text": a.text,
        "unparsed_reason": a.unparsed_reason,
    }


def alternative_from(d: dict[str, Any]) -> Alternative:
    conds = tuple(c for c in (condition_from(x) for x in d["conditions"]) if c is not None)
    return Alternative(
        d["label"],
        shift_from(d["shift"]),
        rvc_from(d["rvc"]),
        conds,
        condition_from(d["good_qualifier"]),
        d["text"],
        d["unparsed_reason"],
        codeset_from(d.get("target")),
    )


def provenance_to(p: Provenance) -> dict[str, Any]:
    return {
        "source": p.source,
        "source_file": p.source_file,
        "chapter": p.chapter,
        "rule_number": p.rule_number,
        "number_inferred": p.number_inferred,
        "vintage": p.vintage,
        "nomenclature": p.nomenclature,
        "code_mappings": [
            {
                "original": m.original,
                "mapped": list(m.mapped),
                "relationship": m.relationship,
                "source": m.source,
            }
            for m in p.code_mappings
        ],
        "defects": list(p.defects),
    }


def provenance_from(d: dict[str, Any]) -> Provenance:
    maps = tuple(
        CodeMapping(m["original"], tuple(m["mapped"]), m["relationship"], m["source"])
        for m in d["code_mappings"]
    )
    return Provenance(
        d["source"],
        d["source_file"],
        d["chapter"],
        d["rule_number"],
        d["number_inferred"],
        d["vintage"],
        d["nomenclature"],
        maps,
        tuple(d["defects"]),
    )


def _date(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def rule_to(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "citation": r.citation,
        "status": r.status,
        "scope": codeset_to(r.scope),
        "scope_as_written": codeset_to(r.scope_as_written),
        "scope_ambiguous": codeset_to(r.scope_ambiguous),
        "use": list(r.use),
        "use_text": r.use_text,
        "good": condition_to(r.good),
        "trade": list(r.trade),
        "valid_from": r.valid_from.isoformat() if r.valid_from else None,
        "valid_to": r.valid_to.isoformat() if r.valid_to else None,
        "alternatives": [alternative_to(a) for a in r.alternatives],
        "unparsed_reason": r.unparsed_reason,
        "text": r.text,
        "provenance": provenance_to(r.provenance),
    }


def rule_from(d: dict[str, Any]) -> Rule:
    return Rule(
        id=d["id"],
        citation=d["citation"],
        scope=codeset_from(d["scope"]),
        scope_as_written=codeset_from(d["scope_as_written"]),
        alternatives=tuple(alternative_from(a) for a in d["alternatives"]),
        text=d["text"],
        provenance=provenance_from(d["provenance"]),
        use=tuple(d["use"]),
        use_text=d["use_text"],
        status=d["status"],
        unparsed_reason=d["unparsed_reason"],
        valid_from=_date(d["valid_from"]),
        valid_to=_date(d["valid_to"]),
        good=condition_from(d.get("good")),
        trade=tuple(d.get("trade", ())),
        scope_ambiguous=codeset_from(d.get("scope_ambiguous")),
    )
