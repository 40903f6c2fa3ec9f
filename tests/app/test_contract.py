"""The API against its own published OpenAPI document, with every schemathesis check on.

Schemathesis's engine (what ``st run`` does) drives the app in process: explicit examples, the coverage phase
(boundary and missing-field cases), fuzzing and stateful sequences, each with schema-valid and schema-violating
data. Every check is on: no server error; documented status codes, content types, headers and response
bodies; 405 with a true ``Allow`` for undeclared methods; schema-violating requests refused; schema-valid
requests accepted (2xx, or a documented 404/409 that depends on the data: a code or date the reference store
does not hold, a record that does not exist or does not support the request); authentication enforced where
the document declares it; and a response-time ceiling.

The request schemas state every rule JSON Schema can state. The few it cannot (sums and comparisons between
fields, unique ids; each listed in the schema's ``x-rules``) are honoured here by dropping generated bodies that
break one, with the rules written out below independently of the server's code; ``test_rules_are_refused``
checks that the server refuses a body breaking each of them with a 422 naming the field.

``USMCA_CONTRACT_EXAMPLES`` sets the fuzzing examples per operation (default 25: about a minute here);
``USMCA_CONTRACT_RANDOM=1`` draws new cases instead of the same deterministic ones.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = int(os.environ.get("USMCA_CONTRACT_EXAMPLES", "25"))
RESPONSE_SECONDS = 10.0  # generous: the host is shared; a slow answer here is a hang, not jitter
# Unicode White_Space, which the server's string trimming (pydantic-core, Rust) strips; Python's strip() also
# strips \x1c-\x1f. Ids are compared after both, so the filter never keeps a body the server may refuse.
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


# --- the rules no JSON Schema states (each returns the broken rule, or None) ------------------------------------


def _dec(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def _same_ids(a: Any, b: Any) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    return a.strip(RUST_WS) == b.strip(RUST_WS) or a.strip() == b.strip()


def entry_rules(body: dict[str, Any]) -> str | None:
    lines = body.get("lines") or []
    ids = [ln.get("id") for ln in lines]
    if len(set(ids)) != len(ids):
        return "line ids are unique"
    for ln in lines:
        value = _dec(ln.get("entered_value"))
        metals = ln.get("metal_content") or {}
        for part in [ln.get("us_content_value"), *(metals.get(m) for m in ("steel", "aluminum", "copper"))]:
            d = _dec(part)
            if d is not None and value is not None and d > value:
                return "us_content_value and each metal_content value are at most entered_value"
    return None


def _material_rules(materials: list[Any], ancestors: tuple[str, ...]) -> str | None:
    for m in materials:
        ded = m.get("deductions") or {}
        total = sum((_dec(v) or Decimal(0) for v in ded.values()), Decimal(0))
        value = _dec(m.get("value"))
        if ded and value is not None and total > value:
            return "the sum of the deductions is at most the material's value"
        mid = m.get("id")
        if mid is not None and any(_same_ids(mid, a) for a in ancestors):
            return "a material's id does not appear again inside its own sub-bill"
        sub = m.get("materials") or []
        if sub:
            broken = _material_rules(sub, (*ancestors, mid) if isinstance(mid, str) else ancestors)
            if broken:
                return broken
    return None


def case_rules(body: dict[str, Any]) -> str | None:
    good = body.get("good") or {}
    tv = _dec(good.get("transaction_value"))
    shipment = _dec(good.get("international_shipment")) or Decimal(0)
    if tv is not None and shipment >= tv:
        return "international_shipment is less than transaction_value"
    excluded = good.get("excluded_costs") or {}
    total_cost = _dec(good.get("total_cost"))
    excluded_total = sum((_dec(v) or Decimal(0) for v in excluded.values()), Decimal(0))
    if excluded and total_cost is not None and excluded_total >= total_cost:
        return "the sum of the excluded_costs is less than total_cost"
    materials = body.get("materials") or []
    broken = _material_rules(materials, ())
    if broken:
        return broken
    if tv is not None:
        stated = Decimal(0)
        for m in materials:
            value = _dec(m.get("value"))
            kind = m.get("kind", "direct")
            if m.get("origin") in ("non_originating", "unknown") and value is not None and kind in (
                "direct",
                "packaging",
                "accessory",
            ):
                stated += value - sum((_dec(v) or Decimal(0) for v in (m.get("deductions") or {}).values()), Decimal(0))
        if stated > tv - shipment:
            return "non-originating materials add up to at most the adjusted transaction value"
    return None


def certificate_rules(body: dict[str, Any]) -> str | None:
    start, end = body.get("blanket_from"), body.get("blanket_to")
    if not (isinstance(start, str) and isinstance(end, str)):
        return None
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if b < a:
        return "blanket_to is on or after blanket_from"
    if a.year < dt.MAXYEAR:
        try:
            limit = a.replace(year=a.year + 1)
        except ValueError:  # 29 February
            limit = a.replace(year=a.year + 1, day=28)
        if b >= limit:
            return "a blanket period is less than 12 months"
    return None


def _parts(value: Any) -> list[Any]:
    """A multipart field's values: absent, one value, or a list (one part each)."""
    return [] if value is None else value if isinstance(value, list) else [value]


def compare_rules(body: dict[str, Any]) -> str | None:
    docs = [d for d in _parts(body.get("scenario_file")) if isinstance(d, dict)]
    names = [*_parts(body.get("scenario")), *(d.get("name") for d in docs)]
    if len(set(names)) != len(names):
        return "each scenario appears once"
    if len(names) > 10:
        return "at most 10 scenarios in all"
    for d in docs:
        for m in d.get("measures") or []:
            rec = m.get("measure") if m.get("kind") == "add" else None
            if rec and rec.get("valid_to") and rec["valid_to"] < rec["valid_from"]:  # ISO dates sort as text
                return "an added measure: valid_to is on or after valid_from"
    return None


RULES: dict[str, tuple[str, Callable[[dict[str, Any]], str | None]]] = {
    "/api/v1/qualify": ("OriginCase", case_rules),
    "/api/v1/duty": ("Entry", entry_rules),
    "/api/v1/duty/compare": ("CompareEntry", entry_rules),
    "/api/v1/certificates": ("CertificateRequest", certificate_rules),
}
# Multipart bodies: their schema is the operation's own (not a component).
MULTIPART_RULES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "/api/v1/scenarios/compare": compare_rules,
}


# --- the run ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_and_key(tmp_path_factory: pytest.TempPathFactory, conn: sqlite3.Connection) -> Iterator[tuple[Any, str]]:
    import polars as pl

    from usmca.app import records, scenario_api
    from usmca.app.api import create_app
    from usmca.app.db import Database

    trade = pl.DataFrame(
        {
            "hts": ["8703230190", "9401614011", "7326908688"],
            "country": ["MX", "CA", "MX"],
            "total_value": [1_000_000.0, 200_000.0, 50_000.0],
            "claimed_value": [800_000.0, 150_000.0, 10_000.0],
        }
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("USMCA_SECRET", "contract-test")
    # Macro jobs run for real, on three trade lines instead of the 2025 flows (~10 ms a job, not 10-30 s): the
    # run starts one per scenario and date it draws, and their results are read back and checked too.
    mp.setattr(scenario_api, "_trade", lambda: trade)
    tmp: Path = tmp_path_factory.mktemp("contract")
    db = Database(f"sqlite:///{tmp / 'app.sqlite'}")
    with db.session() as s:
        records.create_user(s, "root", "root-password-long", "admin", actor="test")
        key = records.create_api_key(s, "root", "contract", actor="test")
    yield create_app(db), key
    db.dispose()
    mp.undo()


def _rules_hooks(schema: Any) -> collections.Counter[str]:
    """Register the filters (on generated bodies, and on whole cases: the coverage phase builds cases directly);
    returns the count of bodies dropped, by rule."""
    import jsonschema_rs

    doc = schema.raw_schema
    validators = {
        path: (jsonschema_rs.Draft202012Validator(
                {"$ref": f"#/components/schemas/{name}", **doc}, validate_formats=True
            ),
            rule,
        )
        for path, (name, rule) in RULES.items()
    }
    for path, rule in MULTIPART_RULES.items():
        form = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        validators[path] = (jsonschema_rs.Draft202012Validator({**doc, **form}, validate_formats=True), rule)
    dropped: collections.Counter[str] = collections.Counter()

    def keep(path: str, body: Any) -> bool:
        found = validators.get(path)
        # Schema-violating bodies (the negative cases) are kept: the server refuses them whatever the rules.
        if found is None or not isinstance(body, dict) or not found[0].is_valid(body):
            return True
        broken = found[1](body)
        if broken:
            dropped[f"{path}: {broken}"] += 1
        return broken is None

    def filter_body(ctx: Any, body: Any) -> bool:
        return keep(ctx.operation.path, body)

    def filter_case(ctx: Any, case: Any) -> bool:
        return keep(case.operation.path, case.body)

    schema.hook("filter_body")(filter_body)
    schema.hook("filter_case")(filter_case)
    return dropped


def test_api_contract(app_and_key: tuple[Any, str]) -> None:
    from schemathesis import engine
    from schemathesis.config._checks import MaxResponseTimeConfig
    from schemathesis.engine import events

    app, key = app_and_key
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.update(headers={"X-API-Key": key})
    # Deterministic by default (CI sees the same cases every run); USMCA_CONTRACT_RANDOM=1 explores.
    schema.config.generation.update(
        max_examples=MAX_EXAMPLES, deterministic=not os.environ.get("USMCA_CONTRACT_RANDOM")
    )
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    checks = schema.config.checks
    checks.max_response_time = MaxResponseTimeConfig(limit=RESPONSE_SECONDS)
    from schemathesis.config._checks import _BUILTIN_CHECK_NAMES

    off = [n for n in sorted(_BUILTIN_CHECK_NAMES) if not checks.get_by_name(name=n).enabled]
    assert not off, f"checks switched off: {off}"
    dropped = _rules_hooks(schema)

    requests = 0
    statuses: collections.Counter[int] = collections.Counter()
    accepted: collections.Counter[str] = collections.Counter()  # 2xx answers by operation
    failures: dict[tuple[str, str], str] = {}
    errors: list[str] = []
    operations: set[str] = set()
    seconds: collections.Counter[str] = collections.Counter()  # time by operation (or stateful run)
    for ev in engine.from_schema(schema).execute():
        if isinstance(ev, events.ScenarioFinished):
            operations.add(ev.recorder.label)
            seconds[ev.recorder.label] += ev.elapsed_time
            for case_id, inter in ev.recorder.interactions.items():
                requests += 1
                if inter.response is not None:
                    statuses[inter.response.status_code] += 1
                    if inter.response.status_code < 300:
                        accepted[ev.recorder.cases[case_id].value.operation.label] += 1
            for results in ev.recorder.checks.values():
                for c in results:
                    if c.failure_info is not None:
                        f = c.failure_info
                        text = f"{f.failure.title}: {getattr(f.failure, 'message', '')}\n{f.code_sample}"
                        short = text if len(text) <= 1500 else f"{text[:1100]} ... {text[-300:]}"
                        failures.setdefault((ev.recorder.label, c.name), short)
        elif isinstance(ev, events.NonFatalError):
            errors.append(f"{ev.label}: {ev.info.format()}"[:1500])
        elif isinstance(ev, events.FatalError):
            errors.append(f"fatal: {ev.exception!r}")
    print(
        f"\nschemathesis {schemathesis.__version__ if hasattr(schemathesis, '__version__') else ''}: "
        f"{len(operations)} operations, {requests} requests, statuses {dict(sorted(statuses.items()))}, "
        f"{len(failures)} failures, {len(errors)} errors; bodies dropped by the x-rules: "
        f"{sum(dropped.values())} {dict(dropped)}; 2xx by operation: {dict(sorted(accepted.items()))}; "
        f"slowest: {', '.join(f'{op} {t:.1f} s' for op, t in seconds.most_common(5))}"
    )
    assert len(operations) >= 15
    assert requests >= 500, f"too few requests ({requests}): generation is not reaching the API"
    assert not errors, "\n\n".join(errors)
    assert not failures, "\n\n".join(f"{op} [{check}]\n{text}" for (op, check), text in sorted(failures.items()))
    # The engines answer valid bodies (the rules filter does not starve them).
    for path in ("/api/v1/qualify", "/api/v1/duty", "/api/v1/duty/compare"):
        assert accepted[f"POST {path}"] > 0, (path, dict(accepted))
    # The jobs' endpoints are reached past their checks: jobs are started and read back.
    for op in ("POST /api/v1/scenarios/compare", "POST /api/v1/scenarios/{name}/macro"):
        assert accepted[op] > 0, (op, dict(accepted))


# --- each x-rule, broken, is a 422 naming the field --------------------------------------------------------------

CASE = {
    "date": "2026-03-01",
    "good": {"hts": "9401.61.4011", "country_of_production": "MX", "transaction_value": 100, "description": "chair"},
    "materials": [{"id": "m1", "hts": "4407.11", "origin": "non_originating", "value": 30}],
}
LINE = {"id": "L1", "hts": "9401.61.4011", "country_of_origin": "CA", "entered_value": 100}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(base)
    out.update(changes)
    return out


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v1/duty", {"entry_date": "2025-08-15", "lines": [LINE, LINE]}, "lines"),
    (
        "/api/v1/duty",
        {"entry_date": "2025-08-15", "lines": [_with(LINE, us_content_value=101)]},
        "lines[0].us_content_value",
    ),
    (
        "/api/v1/duty/compare",
        {"entry_date": "2025-08-15", "lines": [_with(LINE, metal_content={"steel": 500})]},
        "lines[0].metal_content.steel",
    ),
    (
        "/api/v1/qualify?record=false",
        _with(CASE, good=_with(CASE["good"], international_shipment=100)),
        "good.international_shipment",
    ),
    (
        "/api/v1/qualify?record=false",
        _with(CASE, good=_with(CASE["good"], total_cost=50, excluded_costs={"royalties": 60}, transaction_value=None)),
        "good.excluded_costs",
    ),
    (
        "/api/v1/qualify?record=false",
        _with(CASE, materials=[_with(CASE["materials"][0], deductions={"freight": 40})]),
        "materials[0].deductions",
    ),
    (
        "/api/v1/qualify?record=false",
        _with(CASE, materials=[_with(CASE["materials"][0], value=300)]),
        "good.transaction_value",
    ),
    (
        "/api/v1/qualify?record=false",
        _with(
            CASE,
            materials=[
                {"id": "a", "hts": "9401.99", "materials": [{"id": "a", "hts": "4407.11", "origin": "originating"}]}
            ],
        ),
        "materials[0].materials[0].id",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), BROKEN, ids=[f for _, _, f in BROKEN])
def test_rules_are_refused(app_and_key: tuple[Any, str], path: str, body: dict[str, Any], field: str) -> None:
    """Each rule the schema states in words: a body valid under the schema that breaks it is refused, naming it."""
    from fastapi.testclient import TestClient

    app, _key = app_and_key
    name, rule = RULES[path.split("?")[0]]
    assert rule(body) is not None, "the body must break one of the rules"
    import jsonschema_rs

    doc = app.openapi()
    valid = jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{name}", **doc}, validate_formats=True)
    assert valid.is_valid(body)
    with TestClient(app) as client:
        r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.text


def _doc(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "title": name, "description": "test", "sources": [{"title": "test"}], **extra}


MEASURE = {
    "id": "test_measure",
    "authority": "test",
    "program": "test",
    "instruments": [{"kind": "test", "number": "1"}],
    "headings": ["9903.99.99"],
    "rate": 0.25,
    "products": {"all": True},
    "valid_from": "2026-07-01",
}
COMPARE_BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("bundled-again", {"scenario": ["autos-85"], "scenario_file": [_doc("autos-85")]}, "scenario"),
    ("documents-again", {"scenario_file": [_doc("mine"), _doc("mine")]}, "scenario"),
    ("eleven", {"scenario_file": [_doc(f"s{i}") for i in range(11)]}, "scenario"),
    (
        "measure-ends-before-it-starts",
        {"scenario_file": [_doc("m", measures=[{"kind": "add", "measure": {**MEASURE, "valid_to": "2026-06-30"}}])]},
        "scenario_file[0] (upload): measures[0].measure",
    ),
]


@pytest.mark.parametrize(("case", "fields", "field"), COMPARE_BROKEN, ids=[c for c, _, _ in COMPARE_BROKEN])
def test_compare_rules_are_refused(
    app_and_key: tuple[Any, str], case: str, fields: dict[str, Any], field: str
) -> None:
    """The comparison's rules stated in words: a body valid under its schema (each document alone) that breaks one
    is refused with a 422 naming the field."""
    import json

    import jsonschema_rs
    from fastapi.testclient import TestClient

    app, key = app_and_key
    path = "/api/v1/scenarios/compare"
    doc = app.openapi()
    form = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    valid = jsonschema_rs.Draft202012Validator({**doc, **form}, validate_formats=True)
    tables = {"products": "sku,hts,country_of_production\nP1,9401.61.4011,MX\n", "bom": "parent_sku\n"}
    for one in fields["scenario_file"]:  # one document a part: each is valid as the field's value
        assert valid.is_valid({**tables, **fields, "scenario_file": one}), one
    assert compare_rules({**tables, **fields}) is not None, "the body must break one of the rules"
    parts = [(k, (None, v)) for k, v in tables.items()]
    parts += [("scenario", (None, n)) for n in fields.get("scenario", [])]
    parts += [("scenario_file", (None, json.dumps(d), "application/json")) for d in fields["scenario_file"]]
    with TestClient(app) as client:
        r = client.post(path, files=parts, headers={"X-API-Key": key})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.text


def test_certificate_blanket_rule_refused(app_and_key: tuple[Any, str]) -> None:
    from fastapi.testclient import TestClient

    app, key = app_and_key
    body = {
        "determination_id": 1,
        "certifier_role": "producer",
        "certifier": {"name": "A", "title": "T", "address": "X", "telephone": "1", "email": "a@b"},
        "producer": {"name": "Various"},
        "blanket_from": "2026-03-01",
        "blanket_to": "2027-03-01",
        "signature": {"name": "A", "date": "2026-03-02"},
    }
    assert certificate_rules(body) is not None
    with TestClient(app) as client:
        r = client.post("/api/v1/certificates", json=body, headers={"X-API-Key": key})
    assert r.status_code == 422 and r.json()["error"]["field"] == "blanket_to", r.text


# --- the published schemas follow the engines' own models ---------------------------------------------------------


def test_request_schemas_match_the_engine_models() -> None:
    """Every field an engine model takes is in the published schema, and no other: a field added to a model
    fails here until the document says it (and how it is checked)."""
    from usmca.app.schemas import components
    from usmca.certify import CertificationRequest, Party, Signature
    from usmca.measures import entry
    from usmca.origin import case

    pairs = {
        "OriginCase": case.OriginCase,
        "Good": case.Good,
        "Material": case.Material,
        "Deductions": case.Deductions,
        "ExcludedCosts": case.ExcludedCosts,
        "Entry": entry.Entry,
        "CompareEntry": entry.Entry,
        "EntryLine": entry.EntryLine,
        "CompareLine": entry.EntryLine,
        "Quantity": entry.Quantity,
        "MetalContent": entry.MetalContent,
        "CertificateRequest": CertificationRequest,
        "Party": Party,
        "Certifier": Party,
        "Exporter": Party,
        "Producer": Party,
        "Signature": Signature,
    }
    schemas = components()
    for name, model in pairs.items():
        schema = schemas[name]
        assert schema["additionalProperties"] is False, name
        assert set(schema["properties"]) == set(model.model_fields), name
        required = {f for f, info in model.model_fields.items() if info.is_required()}
        assert required <= set(schema.get("required", [])), (name, required)


def test_a_recorded_case_can_be_sent_back(app_and_key: tuple[Any, str]) -> None:
    """The case kept with a determination (amounts as decimal text, every field spelled out) is a valid body."""
    from fastapi.testclient import TestClient

    app, key = app_and_key
    with TestClient(app) as client:
        r = client.post("/api/v1/qualify", json=CASE, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        stored = client.get(r.json()["record"]["href"]).json()["case"]
        assert isinstance(stored["good"]["transaction_value"], str)
        again = client.post("/api/v1/qualify?record=false", json=stored)
        assert again.status_code == 200, again.text
        assert again.json()["determination"]["status"] == r.json()["determination"]["status"]
