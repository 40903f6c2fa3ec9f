"""REST endpoints of the joint-review scenarios (docs/scenarios.md, docs/app.md).

Reads are open: the bundled scenarios, a comparison's or a macro view's status and result. Work that takes
time runs as a background job in the jobs table, needs an analyst key and is written to the audit log, like a
portfolio run: a comparison of an uploaded portfolio (products, BOM, declarations) under one or more scenarios,
and the macro view of a scenario on a date (2025 trade flows priced by the duty engine: ~20-30 s, so it is
computed once per scenario, date and measure set, and kept as a finished job that later readers reuse).

A comparison's result is the JSON of ``usmca scenarios compare --format json`` for the same inputs; the job
also keeps the HTML body of the report (``usmca.scenarios.report``) for the web page.
"""

import asyncio
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from usmca.app import records, schemas
from usmca.app.api import (
    _RUNS,
    API,
    DATE_TEXT,
    NOT_FOUND,
    WRITE_RESPONSES,
    ApiError,
    Limits,
    _conn,
    _date,
    _table,
    corpus,
    form_tables,
    requires,
    save_tables,
)
from usmca.app.db import Database, now
from usmca.app.models import Job, User
from usmca.errors import InputError, NotFoundError, UsmcaError
from usmca.scenarios.model import Scenario

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time.

COMPARE_KIND = "scenario-compare"
MACRO_KIND = "scenario-macro"
MAX_SCENARIOS = 10  # scenarios in one comparison (each is a portfolio run or a duty pricing)
MAX_SCENARIO_FILE = 256 * 1024  # bytes of one uploaded scenario document
STALE_SECONDS = 3600  # a macro job queued/running longer than this is taken as lost (server restarted)
NAME_DOC = "a bundled scenario name (GET /api/v1/scenarios)"
DateQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="YYYY-MM-DD; default today",
        json_schema_extra={"format": "date"},
    ),
]
NamePath = Annotated[str, PathParam(max_length=200, description=NAME_DOC)]


# --- response bodies -----------------------------------------------------------------------------------------


class _Open(BaseModel):
    # Engine rows may gain columns; they pass through rather than fail the response.
    model_config = ConfigDict(extra="allow")


class SourceView(BaseModel):
    title: str
    url: str | None = None
    note: str = ""


class ScenarioSummary(BaseModel):
    name: str
    title: str
    description: str
    effective: dt.date | None
    sources: list[SourceView]
    overlays: list[str] = Field(description="what the scenario changes, one plain line per overlay")
    href: str


class ScenarioDetail(Scenario):
    """The scenario document (docs/scenarios.md) with its overlays in plain words."""

    overlays: list[str]


class JobStarted(BaseModel):
    id: str
    status: str
    href: str


class RunSummary(_Open):
    scenario: str
    skus: int
    by_status: dict[str, int]
    duty_owed: float | None
    duty_owed_unknown_skus: int
    duty_at_stake: float | None


class Flip(_Open):
    scenario: str
    sku: str
    hts: str | None
    flipped: bool
    status_before: str | None
    status_after: str | None
    margin_before: float | None
    margin_after: float | None
    duty_before: float | None
    duty_after: float | None
    duty_change: float | None
    reason: str | None
    rule_id: str | None


class Remedy(_Open):
    scenario: str
    sku: str
    components: list[str]
    value_resourced: float | None
    arithmetic: str | None
    verified: bool | None
    result: str | None


class ScenarioResult(RunSummary):
    title: str
    notes: list[str]
    vintage: dict[str, Any]
    flips: list[Flip]
    remedies: list[Remedy]
    assumptions: list[str]
    sources: list[dict[str, Any]]


class ComparisonResult(_Open):
    """As ``usmca scenarios compare --format json``; a scenario with more flips than the result-row limit
    keeps the first ones and says how many there were in ``flips_total``."""

    date: str
    baseline: RunSummary
    scenarios: list[ScenarioResult]
    assumptions: list[str]


class MacroRow(_Open):
    scenario: str
    country: str
    lines: int
    total_value: float | None
    claimed_value: float | None
    lost_value: float | None
    duty: float | None
    duty_at_stake: float | None
    unknown_duty_value: float | None


class MacroResult(_Open):
    """As ``usmca scenarios macro --format json`` for one scenario (and the baseline)."""

    date: str
    source: str
    assumptions: list[str]
    totals: list[MacroRow]
    unknown_duty: list[dict[str, Any]]
    by_chapter: list[MacroRow]


class _JobBase(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued | running | done | failed")
    created_at: str
    finished_at: str | None
    error: str | None
    params: dict[str, Any]


class ComparisonJob(_JobBase):
    result: ComparisonResult | None = None


class MacroJob(_JobBase):
    result: MacroResult | None = None


# --- scenarios -----------------------------------------------------------------------------------------------


def bundled() -> dict[str, Scenario]:
    from usmca.scenarios.model import bundled as _bundled

    return _bundled()


def get_bundled(name: str) -> Scenario:
    """A bundled scenario by name. Never a path: a name from a request must not open a file."""
    sc = bundled().get(name)
    if sc is None:
        raise NotFoundError(f"no scenario {name[:200]!r}; bundled: {', '.join(sorted(bundled()))}")
    return sc


def summary(sc: Scenario) -> ScenarioSummary:
    from usmca.scenarios.overlay import describe

    return ScenarioSummary(
        name=sc.name,
        title=sc.title,
        description=sc.description.strip(),
        effective=sc.effective,
        sources=[SourceView(**s.model_dump()) for s in sc.sources],
        overlays=describe(sc),
        href=f"{API}/scenarios/{sc.name}",
    )


def detail(sc: Scenario) -> ScenarioDetail:
    from usmca.scenarios.overlay import describe

    return ScenarioDetail.model_validate({**sc.to_dict(), "overlays": describe(sc)})


def _refuse_aliases(text: str, field: str) -> None:
    """YAML anchors and aliases can expand a small document into a huge one: refused in uploads."""
    import yaml

    try:
        for ev in yaml.parse(text):
            if isinstance(ev, yaml.AliasEvent):
                raise InputError(field, ev.anchor, "anchors and aliases are not accepted in an uploaded scenario")
    except yaml.YAMLError as exc:
        raise InputError(field, None, f"not valid YAML ({str(exc)[:200]})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _document(raw: bytes, filename: str | None, field: str) -> Any:
    """An uploaded scenario document as JSON data: JSON text read as JSON (YAML 1.1 would read ``1e-05`` as
    text), anything else as YAML, with its dates as ISO text and its keys as text (what the schema states)."""
    import yaml

    if len(raw) > MAX_SCENARIO_FILE:
        raise ApiError(
            413,
            "request_too_large",
            f"{field}: a scenario document is at most {MAX_SCENARIO_FILE} bytes",
            field=field,
            limit=MAX_SCENARIO_FILE,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(field, filename, "a scenario document is UTF-8 text (YAML or JSON)") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        pass  # not JSON: read as YAML
    except RecursionError:
        raise InputError(field, filename, "the document is nested too deeply to be a scenario") from None
    _refuse_aliases(text, field)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a value YAML types but cannot build (2026-02-30)
        raise InputError(field, filename, f"not valid YAML ({str(exc)[:200]})") from None
    except RecursionError:  # the YAML composer recurses per level of nesting
        raise InputError(field, filename, "the document is nested too deeply to be a scenario") from None
    try:
        return json.loads(json.dumps(data, default=str, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:  # a key JSON cannot hold (a date, a list), NaN
        raise InputError(field, filename, f"the document holds a value JSON cannot ({str(exc)[:200]})") from None


def parse_upload(raw: bytes, filename: str | None, field: str) -> Scenario:
    """A scenario document uploaded with a comparison (YAML or JSON), valid under the scenario model (its
    messages first, as the CLI gives them) and under the published schema (``ScenarioDocument``: what the model
    would let through besides, e.g. "87" written as a number where text is documented). Errors name the field
    as ``scenario_file[i] (file name): rules[0].net_cost``."""
    from usmca.scenarios.model import parse_scenario

    label = f"{field} ({Path(filename or 'upload').name[:80]})"
    data = _document(raw, filename, field)
    if not isinstance(data, dict):
        raise InputError(label, type(data).__name__, "a scenario is a YAML or JSON mapping")
    try:
        sc: Scenario | None = parse_scenario(data, label)
    except (TypeError, AttributeError):  # a model validator handed a shape the schema refuses (below)
        sc = None
    try:
        schemas.check("ScenarioDocument", data)
    except InputError as exc:
        raise InputError(f"{label}: {exc.field}", exc.value, exc.problem, exc.hint) from None
    if sc is None:  # not reached while the schema states every shape the model's validators read
        raise InputError(label, "...", "not a valid scenario document (docs/scenarios.md)")
    return sc


def resolve(names: list[str], docs: list[tuple[str | None, bytes]]) -> list[Scenario]:
    """Bundled names and uploaded documents, in that order; unknown, duplicate or too many refused (422)."""
    out: list[Scenario] = []
    known = bundled()
    for i, n in enumerate(names):
        if n not in known:
            raise InputError(
                f"scenario[{i}]" if len(names) > 1 else "scenario",
                n[:200],
                f"no bundled scenario {n[:200]!r}",
                hint=f"bundled: {', '.join(sorted(known))}; or upload a scenario document as scenario_file",
            )
        out.append(known[n])
    for i, (filename, raw) in enumerate(docs):
        out.append(parse_upload(raw, filename, f"scenario_file[{i}]"))
    if not out:
        raise InputError("scenario", None, "name at least one scenario (or upload one as scenario_file)")
    if len(out) > MAX_SCENARIOS:
        raise InputError("scenario", len(out), f"at most {MAX_SCENARIOS} scenarios in one comparison")
    seen: set[str] = set()
    for sc in out:
        if sc.name in seen or sc.name == "baseline":
            raise InputError("scenario", sc.name, "each scenario name may appear once (and 'baseline' is taken)")
        seen.add(sc.name)
    return out


# --- jobs ----------------------------------------------------------------------------------------------------


def _set_state(db: Database, job_id: str) -> Callable[..., None]:
    def set_state(**kw: Any) -> None:
        with db.session() as s:
            j = s.get(Job, job_id)
            if j is not None:
                for k, v in kw.items():
                    setattr(j, k, v)

    return set_state


def _failure(exc: Exception) -> str:
    msg = str(exc) if isinstance(exc, UsmcaError) else f"{type(exc).__name__}: {exc}"
    return msg[:2000]


def start_compare(
    db: Database,
    lim: Limits,
    actor: str,
    uploads: list[tuple[str, str | None, Any]],
    scenarios: list[Scenario],
    date_text: str | None,
) -> str:
    """Save the uploaded tables under names of our own and start the comparison; returns the job id."""
    on = _date(date_text, "date") or dt.date.today()
    job_id = str(uuid.uuid4())
    work = Path(tempfile.mkdtemp(prefix="usmca-scenarios-"))
    try:
        files = save_tables(work, uploads, "a comparison")
        params = {"date": on.isoformat(), "files": sorted(files), "scenarios": [s.name for s in scenarios]}
        with db.session() as s:
            s.add(
                Job(
                    id=job_id,
                    kind=COMPARE_KIND,
                    status="queued",
                    params_json=records.canonical(params),
                    created_at=now(),
                    created_by=actor,
                )
            )
            records.audit(s, actor, "scenarios.compare", "job", job_id, params)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    threading.Thread(target=_compare_job, args=(db, job_id, files, scenarios, on, lim, work), daemon=True).start()
    return job_id


def comparison_document(cmp: Any, lim: Limits) -> dict[str, Any]:
    """The CLI's JSON (``json.dumps(cmp.to_dict(), default=str)``), flips capped at the result-row limit."""
    doc: dict[str, Any] = json.loads(json.dumps(cmp.to_dict(), default=str, ensure_ascii=False))
    for sc in doc["scenarios"]:
        if len(sc["flips"]) > lim.portfolio_result_rows:
            sc["flips_total"] = len(sc["flips"])
            sc["flips"] = sc["flips"][: lim.portfolio_result_rows]
    return doc


def _compare_job(
    db: Database,
    job_id: str,
    files: dict[str, Path],
    scenarios: list[Scenario],
    on: dt.date,
    lim: Limits,
    work: Path,
) -> None:
    set_state = _set_state(db, job_id)
    with _RUNS:  # one heavy job at a time (shared with portfolio runs): the API must stay responsive
        try:
            set_state(status="running")
            from usmca.portfolio.read import read_portfolio
            from usmca.portfolio.run import schedule_checker
            from usmca.scenarios.compare import compare_portfolio
            from usmca.scenarios.report import comparison_body

            conn = _conn()
            pf = read_portfolio(
                files["products"], files["bom"], files.get("declarations"), on=on, known_codes=schedule_checker(conn)
            )
            cmp = compare_portfolio(pf, scenarios, on=on, conn=conn, corpus=corpus())
            result = {"comparison": comparison_document(cmp, lim), "html": comparison_body(cmp)}
            set_state(status="done", result_json=records.canonical(result), finished_at=now())
        except Exception as exc:  # the job records any failure; the server keeps running
            set_state(status="failed", error=_failure(exc), finished_at=now())
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _job(db: Database, job_id: str, kind: str, what: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    with db.session() as s:
        j = s.get(Job, job_id)
        if j is None or j.kind != kind:
            raise NotFoundError(f"no {what} {job_id[:80]!r}")
        base = {
            "id": j.id,
            "kind": j.kind,
            "status": j.status,
            "created_at": j.created_at,
            "finished_at": j.finished_at,
            "error": j.error,
            "params": json.loads(j.params_json),
        }
        return base, (json.loads(j.result_json) if j.result_json else None)


def comparison_job(db: Database, job_id: str) -> tuple[ComparisonJob, str | None]:
    """The comparison job as the API shows it, and the report's HTML body (for the page) when done."""
    base, result = _job(db, job_id, COMPARE_KIND, "scenario comparison")
    return ComparisonJob(**base, result=(result or {}).get("comparison")), (result or {}).get("html")


def recent_comparisons(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    from sqlalchemy import select

    with db.session() as s:
        rows = s.execute(
            select(Job).where(Job.kind == COMPARE_KIND).order_by(Job.created_at.desc()).limit(limit)
        ).scalars()
        return [
            {
                "id": j.id,
                "status": j.status,
                "created_at": j.created_at,
                "created_by": j.created_by,
                "params": json.loads(j.params_json),
            }
            for j in rows
        ]


# --- the macro view ------------------------------------------------------------------------------------------


def macro_params(sc: Scenario, on: dt.date) -> dict[str, Any]:
    """What a macro view depends on: the scenario document, the date and the measure set (its vintage)."""
    from usmca.measures.records import load_measures

    basis = records.canonical({"scenario": sc.to_dict(), "measures": str(load_measures().vintage)})
    return {"scenario": sc.name, "date": on.isoformat(), "basis": hashlib.sha256(basis.encode()).hexdigest()[:16]}


def _macro_row(db: Database, params: dict[str, Any]) -> Job | None:
    from sqlalchemy import select

    with db.session() as s:
        j = s.execute(
            select(Job)
            .where(Job.kind == MACRO_KIND, Job.params_json == records.canonical(params))
            .order_by(Job.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if j is not None:
            s.expunge(j)
        return j


def _live(j: Job) -> bool:
    """Done, or still queued/running and not so old that its server must have stopped."""
    if j.status == "done":
        return True
    if j.status not in ("queued", "running"):
        return False
    started = dt.datetime.fromisoformat(j.created_at)
    return (dt.datetime.now(dt.UTC) - started).total_seconds() < STALE_SECONDS


def macro_job(db: Database, sc: Scenario, on: dt.date) -> tuple[MacroJob, str | None] | None:
    """The latest macro job for the scenario and date (on the current measure set), with its HTML body."""
    j = _macro_row(db, macro_params(sc, on))
    if j is None:
        return None
    base, result = _job(db, j.id, MACRO_KIND, "macro view")
    return MacroJob(**base, result=(result or {}).get("macro")), (result or {}).get("html")


_macro_lock = threading.Lock()


def start_macro(db: Database, actor: str, sc: Scenario, on: dt.date) -> tuple[str, str]:
    """(job id, status): the finished or running job for this scenario and date, else a new one."""
    params = macro_params(sc, on)
    with _macro_lock:  # two clicks, one job
        j = _macro_row(db, params)
        if j is not None and _live(j):
            return j.id, j.status
        job_id = str(uuid.uuid4())
        with db.session() as s:
            s.add(
                Job(
                    id=job_id,
                    kind=MACRO_KIND,
                    status="queued",
                    params_json=records.canonical(params),
                    created_at=now(),
                    created_by=actor,
                )
            )
            records.audit(s, actor, "scenarios.macro", "job", job_id, params)
    threading.Thread(target=_macro_job, args=(db, job_id, sc, on), daemon=True).start()
    return job_id, "queued"


@lru_cache(maxsize=1)
def _trade() -> Any:
    from usmca.scenarios.macro import trade_2025

    return trade_2025()


def _macro_job(db: Database, job_id: str, sc: Scenario, on: dt.date) -> None:
    set_state = _set_state(db, job_id)
    with _RUNS:
        try:
            set_state(status="running")
            from usmca.scenarios.macro import macro
            from usmca.scenarios.report import macro_body

            m = macro([sc], on=on, conn=_conn(), trade=_trade())
            doc = json.loads(json.dumps(m.to_dict(), default=str, ensure_ascii=False))
            result = {"macro": doc, "html": macro_body(m, [sc])}
            set_state(status="done", result_json=records.canonical(result), finished_at=now())
        except Exception as exc:  # the job records any failure; the server keeps running
            set_state(status="failed", error=_failure(exc), finished_at=now())


# --- routes --------------------------------------------------------------------------------------------------

COMPARE_RULES = [
    "each scenario appears once: the names in scenario and the name of each scenario_file document are distinct",
    f"at most {MAX_SCENARIOS} scenarios in all (scenario and scenario_file together)",
]


def compare_body(names: list[str]) -> dict[str, Any]:
    """The comparison's multipart body as the API reads it (the tables as the portfolio run's)."""
    name = {"enum": names}
    doc = {"$ref": schemas.REF + "ScenarioDocument"}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["products", "bom"],
                    "properties": {
                        "products": _table("PRODUCTS table (interchange §5)"),
                        "bom": _table("BOM table"),
                        "declarations": _table("supplier declarations table (optional)"),
                        "scenario": {
                            "anyOf": [name, {"type": "array", "items": name, "uniqueItems": True}],
                            "description": f"{NAME_DOC}; repeat the field for more",
                        },
                        # One document per part (a JSON list in one part is not a document): repeat the part.
                        "scenario_file": {
                            **doc,
                            "description": "your own scenario document (docs/scenarios.md), JSON or YAML, as a file "
                            f"or a text field of at most {MAX_SCENARIO_FILE} bytes; repeat the part for more",
                        },
                        "date": {
                            "type": "string",
                            "format": "date",
                            "pattern": f"^{DATE_TEXT.pattern}$",
                            "description": "YYYY-MM-DD; default today",
                        },
                    },
                    # An empty list sends no part at all: at least one name or document must be sent.
                    "anyOf": [
                        {
                            "required": ["scenario"],
                            "properties": {"scenario": {"anyOf": [name, {"type": "array", "minItems": 1}]}},
                        },
                        {"required": ["scenario_file"]},
                    ],
                    "description": "The portfolio's tables and at least one scenario. Also: "
                    + "; ".join(COMPARE_RULES)
                    + ".",
                    "x-rules": COMPARE_RULES,
                },
                "encoding": {"scenario_file": {"contentType": "application/json, application/yaml"}},
            }
        },
    }


def _date_text(value: Any) -> str | None:
    """The comparison's date field: absent (today) or a calendar date written YYYY-MM-DD."""
    if value is None:
        return None
    if not isinstance(value, str) or not DATE_TEXT.fullmatch(value):
        raise InputError("date", getattr(value, "filename", value), "dates are written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError("date", value, f"not a calendar date ({exc})") from None
    return value



def mount(app: FastAPI, db: Database, lim: Limits, *, web: bool = True) -> None:
    """The scenario endpoints, and with ``web`` the pages (after ``usmca.app.web.mount``)."""
    analyst = requires(db, "analyst")

    @app.get(f"{API}/scenarios", tags=["scenarios"], response_model=list[ScenarioSummary])
    def scenarios_list() -> Any:
        """The bundled joint-review scenarios: what each changes and the sources it rests on."""
        return [summary(sc) for sc in bundled().values()]

    # Registered before /scenarios/{name}: "compare" is not a scenario name.
    @app.post(
        f"{API}/scenarios/compare",
        tags=["scenarios"],
        status_code=202,
        response_model=JobStarted,
        responses=WRITE_RESPONSES,
        openapi_extra={"requestBody": compare_body(list(bundled()))},
    )
    async def scenarios_compare(request: Request, user: Annotated[User, Depends(analyst)]) -> Any:
        """Baseline and each scenario on an uploaded portfolio (interchange §5 tables) as a background job:
        the SKUs that flip, RVC margins, duty at stake and the cheapest verified remedy. Poll ``href``.

        Scenarios: bundled names (``scenario``, repeated) and your own documents (``scenario_file``, repeated:
        JSON or YAML, as a file or a text field), at least one and at most 10 in all. Each table is a file part
        or a text field holding CSV. A file's format comes from its name (.csv, .xlsx, .parquet), else its part's
        content type (text/csv, the XLSX or Parquet media type); plain bytes (application/octet-stream or no
        type) are read by their content (Parquet and XLSX by their signatures, else CSV). Any other file is
        refused (422 naming the field). The tables' contents are read by the job: a table that cannot be read
        fails the job, with the reason in its ``error``."""
        from starlette.datastructures import UploadFile as FormFile

        async with request.form() as form:  # the spooled uploads are closed once copied
            date = _date_text(form.get("date"))
            names: list[str] = []
            for i, part in enumerate(form.getlist("scenario")):
                if isinstance(part, FormFile):
                    raise InputError(f"scenario[{i}]", part.filename, "a scenario name is a text field")
                names.append(part)
            docs: list[tuple[str | None, bytes]] = []
            for part in form.getlist("scenario_file"):
                if isinstance(part, FormFile):
                    docs.append((part.filename, await part.read(MAX_SCENARIO_FILE + 1)))
                else:
                    docs.append((None, part.encode()))
            scs = await asyncio.to_thread(resolve, names, docs)
            uploads = form_tables(form)
            job_id = await asyncio.to_thread(start_compare, db, lim, user.username, uploads, scs, date)
        return JobStarted(id=job_id, status="queued", href=f"{API}/scenarios/compare/{job_id}")

    @app.get(
        f"{API}/scenarios/compare/{{job_id}}",
        tags=["scenarios"],
        response_model=ComparisonJob,
        responses=NOT_FOUND,
    )
    def scenarios_compare_status(job_id: Annotated[str, PathParam(max_length=80)]) -> Any:
        """A comparison's status; when done, ``result`` is the JSON of ``usmca scenarios compare``."""
        return comparison_job(db, job_id)[0]

    @app.get(
        f"{API}/scenarios/{{name}}",
        tags=["scenarios"],
        response_model=ScenarioDetail,
        response_model_exclude_none=True,
        responses=NOT_FOUND,
    )
    def scenarios_show(name: NamePath) -> Any:
        """One scenario: overlays on rules, Part 6, bills and measures; macro assumptions; sources."""
        return detail(get_bundled(name))

    @app.post(
        f"{API}/scenarios/{{name}}/macro",
        tags=["scenarios"],
        status_code=202,
        response_model=JobStarted,
        responses={**NOT_FOUND, **WRITE_RESPONSES},
    )
    def scenarios_macro_start(name: NamePath, user: Annotated[User, Depends(analyst)], date: DateQuery = None) -> Any:
        """Start (or find) the macro view of the scenario on the date: duty on 2025 imports from Canada and
        Mexico by chapter and country, baseline and scenario. Kept once done; poll ``href``."""
        sc = get_bundled(name)
        on = _date(date, "date") or dt.date.today()
        job_id, status = start_macro(db, user.username, sc, on)
        return JobStarted(id=job_id, status=status, href=f"{API}/scenarios/{name}/macro?date={on.isoformat()}")

    @app.get(
        f"{API}/scenarios/{{name}}/macro",
        tags=["scenarios"],
        response_model=MacroJob,
        responses=NOT_FOUND,
    )
    def scenarios_macro(name: NamePath, date: DateQuery = None) -> Any:
        """The macro view of the scenario on the date, once computed (404 until someone starts it)."""
        sc = get_bundled(name)
        on = _date(date, "date") or dt.date.today()
        found = macro_job(db, sc, on)
        if found is None:
            raise NotFoundError(
                f"no macro view of scenario {name!r} on {on.isoformat()} yet: POST to this address "
                "(analyst key) to compute it"
            )
        return found[0]

    if web:
        from usmca.app.scenario_web import mount as mount_pages

        mount_pages(app, db)
