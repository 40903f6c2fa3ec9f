"""Small hand-built rules for kernel tests (grammar objects, no corpus needed)."""

from __future__ import annotations

from usmca.nomenclature.codes import CodeSet
from usmca.rules.grammar import Alternative, Provenance, RegionalValueContent, Rule, TariffShift


def rule(rid: str, scope: str, *alts: Alternative, **kw: object) -> Rule:
    ch = scope.replace(".", "")[:2]
    prov = Provenance(
        source="test",
        source_file="test",
        chapter=ch,
        rule_number=rid,
        number_inferred=False,
        vintage="test",
        nomenclature="HS2022",
    )
    cs = CodeSet.of(*scope.split(","))
    return Rule(
        id=f"T/{rid}",
        citation=f"test rule {rid}",
        scope=cs,
        scope_as_written=cs,
        alternatives=alts,
        text="",
        provenance=prov,
        **kw,
    )  # type: ignore[arg-type]


def alt(
    label: str = "", shift: TariffShift | None = None, tv: float | None = None, nc: float | None = None
) -> Alternative:
    rvc = RegionalValueContent(tv, nc) if (tv is not None or nc is not None) else None
    return Alternative(label=label, shift=shift, rvc=rvc)
