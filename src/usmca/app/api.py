"""The REST API (FastAPI; OpenAPI document at ``/openapi.json``).

Thin: every answer comes from an engine (schedule, rule corpus, origin, duty, portfolio); this module
parses, authorises, limits, records and serialises. Bodies follow docs/interchange.md. Reads are open; every
write (recording a determination, issuing a certificate, starting a run, archiving, managing users) needs an
API key in the ``X-API-Key`` header whose user has the role the write asks for, and is written to the audit
log.
"""

import asyncio
import datetime as dt
import io
import json
import math
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict

from usmca.app import records, schemas
from usmca.app.db import Database, now
from usmca.app.models import ROLES, Job, User
from usmca.errors import DataError, InputError, NotFoundError, ReferenceNotFound, StoreMissingError, UsmcaError

# No `from __future__ import annotations` here: FastAPI reads the route signatures at run time, and some
# of them refer to the limits in the enclosing function.
API = "/api/v1"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


MAX_ID = 2**31 - 1  # record ids fit a 32-bit integer on every database
# Codes as the schedule accepts them: with or without dots; 4-10 digits for lines, 6-10 for rules.
HtsPath = Annotated[str, PathParam(pattern=r"^[0-9]{4}(\.?[0-9]{2}){0,3}$", description="HTS code")]
# Dates are ISO strings, parsed by us: pydantic's lax date parsing would take "0" as 1970-01-01.
DateQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="YYYY-MM-DD",
        json_schema_extra={"format": "date"},
    ),
]
RulePath = Annotated[
    str, PathParam(pattern=r"^[0-9]{4}\.?[0-9]{2}(\.?[0-9]{2}){0,2}$", description="HTS code")
]


# Requests that carry portfolio tables get the upload limit: the API's uploads and the pages' upload forms.
UPLOAD_PREFIXES = (f"{API}/portfolio", f"{API}/scenarios/compare")
UPLOAD_FORMS = frozenset({"/portfolio", "/scenarios/compare"})


@dataclass(frozen=True)
class Limits:
    """Request-size and row-count limits; each refusal names the limit and how to stay within it."""

    body_bytes: int = 2 * 1024 * 1024  # JSON bodies
    upload_bytes: int = 64 * 1024 * 1024  # table uploads (multipart): the API and the pages' upload forms
    materials: int = 2_000  # material lines in one origin case, counted through every sub-bill
    entry_lines: int = 1_000  # lines in one entry
    list_rows: int = 500  # rows in one page of a list
    search_rows: int = 200
    portfolio_result_rows: int = 10_000  # result rows kept with a finished run (the rest: use the CLI)


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra


def _error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": kind, "message": message, **_json_safe(jsonable_encoder(extra))}}, status_code=status
    )


def _json_safe(x: Any) -> Any:
    """``x`` with non-finite numbers as text: a bad value echoed back (``"entry_date": Infinity``) must not make
    the error itself unsendable (JSON has no Infinity or NaN)."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


class BodyLimit:
    """Refuse bodies over the limit before they are read into memory (Content-Length or counted stream)."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = (
            self.limits.upload_bytes
            if path.startswith(UPLOAD_PREFIXES) or path in UPLOAD_FORMS
            else self.limits.body_bytes
        )
        length = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                if int(length) > limit:
                    # Built only when refusing: the read-only quote path pays nothing for it.
                    too_big = _error(
                        413,
                        "request_too_large",
                        f"the request body is larger than {limit} bytes",
                        limit=limit,
                        hint="split the document, or use the CLI for large batches",
                    )
                    await too_big(scope, receive, send)
                    return
            except ValueError:
                await _error(400, "bad_request", "Content-Length is not a number")(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise ApiError(
                        413,
                        "request_too_large",
                        f"the request body is larger than {limit} bytes",
                        limit=limit,
                    )
            return msg

        await self.app(scope, counted, send)


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                h = list(msg.get("headers") or [])
                h += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                        b"frame-ancestors 'none'; form-action 'self'",
                    ),
                ]
                msg["headers"] = h
            await send(msg)

        await self.app(scope, receive, with_headers)


# --- bodies that are ours (the interchange documents are passed to the engines' own parsers) ----------------


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERR = {"model": ErrorBody}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "Malformed request"},
    413: {**_ERR, "description": "Request larger than a limit (body size or rows)"},
    422: {**_ERR, "description": "Invalid input: the error names the field and the value"},
    500: {**_ERR, "description": "Server failure (with a reference to quote)"},
    503: {**_ERR, "description": "Reference store missing or unreadable"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_ERR, "description": "No API key, or not a valid one"},
    403: {**_ERR, "description": "The key's user lacks the role this request needs"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_ERR, "description": "No such record or code"}}
# Well-formed input naming what the reference store does not hold: the same request succeeds once it does.
NOT_IN_DATA: dict[int | str, dict[str, Any]] = {
    404: {
        **_ERR,
        "description": "A code not in the schedule on the date, or a date before the schedule's coverage "
        "(the error names the field)",
    }
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {**_ERR, "description": "The request conflicts with what is recorded (the error says what)"}
}
# Writes need an API key; FastAPI publishes it as the `ApiKey` security scheme of each operation that needs it.
API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    auto_error=False,
    description="An API key (`usmca users key NAME`); the key's user needs the role the request names.",
)


class JobView(BaseModel):
    id: str
    kind: str
    status: str
    created_at: str
    finished_at: str | None
    error: str | None
    result: Any | None = None


# --- the app ------------------------------------------------------------------------------------------------


def create_app(
    db: Database | None = None, *, db_url: str | None = None, limits: Limits | None = None, web: bool = True
) -> FastAPI:
    """The API (and, with ``web``, the pages) over one application database."""
    from usmca.portfolio.run import limit_fallback_workers

    limit_fallback_workers(1)  # portfolio jobs decide their fallback in-process: the cores serve requests
    database = db or Database(db_url)
    lim = limits or Limits()
    app = FastAPI(
        title="usmca",
        version="1",
        description="USMCA origin, US duty at any date, portfolio exposure; with citations. "
        "Bodies: docs/interchange.md. Writes need an `X-API-Key`.",
        responses=COMMON_RESPONSES,
    )
    app.state.db = database
    app.state.limits = lim
    app.state.jobs_lock = threading.Lock()
    app.add_middleware(BodyLimit, limits=lim)
    app.add_middleware(SecurityHeaders)
    _handlers(app)
    _routes(app, database, lim)
    _publish_schemas(app)
    if web:
        from usmca.app.web import mount

        mount(app, database)
    from usmca.app.scenario_api import mount as mount_scenarios

    mount_scenarios(app, database, lim, web=web)
    return app


def _publish_schemas(app: FastAPI) -> None:
    """The OpenAPI document with the request schemas the API enforces (usmca.app.schemas)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = FastAPI.openapi(app)
            found = doc.setdefault("components", {}).setdefault("schemas", {})
            found.update(schemas.components())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _handlers(app: FastAPI) -> None:
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        resp = _error(exc.status_code, kinds.get(exc.status_code, "http_error"), str(exc.detail))
        resp.headers.update(exc.headers or {})  # e.g. Allow on 405
        if exc.status_code == 405:
            # Starlette names the methods of the first matching route only; a path served by several routes
            # (GET and POST handled apart) allows them all.
            resp.headers["Allow"] = ", ".join(_allowed(request.app, request.scope))
        return resp

    @app.exception_handler(ApiError)
    async def _api(_r: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.kind, exc.message, **exc.extra)

    @app.exception_handler(InputError)
    async def _input(_r: Request, exc: InputError) -> JSONResponse:
        return _error(
            422,
            "input_error",
            str(exc),
            field=exc.field,
            value=_short(exc.value),
            problem=exc.problem,
            hint=exc.hint,
        )

    @app.exception_handler(NotFoundError)
    async def _nf(_r: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(ReferenceNotFound)
    async def _not_in_data(_r: Request, exc: ReferenceNotFound) -> JSONResponse:
        return _error(
            404,
            "not_found",
            str(exc),
            field=exc.field,
            value=_short(exc.value),
            problem=exc.problem,
            hint=exc.hint,
        )

    from usmca.certify import CertificationRefused

    @app.exception_handler(CertificationRefused)
    async def _refused(_r: Request, exc: CertificationRefused) -> JSONResponse:
        # The body is valid; what is recorded about the determination does not support a certificate.
        return _error(409, type(exc).__name__, str(exc))

    @app.exception_handler(StoreMissingError)
    async def _store(_r: Request, exc: StoreMissingError) -> JSONResponse:
        return _error(503, "store_missing", str(exc))

    @app.exception_handler(DataError)
    async def _data(_r: Request, exc: DataError) -> JSONResponse:
        return _error(503, "data_error", str(exc))

    @app.exception_handler(UsmcaError)
    async def _usmca(_r: Request, exc: UsmcaError) -> JSONResponse:
        return _error(422, type(exc).__name__, str(exc))

    from sqlalchemy.exc import OperationalError

    @app.exception_handler(OperationalError)
    async def _db(_r: Request, exc: OperationalError) -> JSONResponse:
        # Disk full, database locked too long, server gone: nothing was written (the transaction rolled back).
        return _error(
            503,
            "database_unavailable",
            f"the application database refused the request: {exc.orig}; nothing was written, try again",
        )

    @app.exception_handler(Exception)
    async def _internal(_r: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log; the client gets a reference to quote, no internals.
        ref = uuid.uuid4().hex[:12]
        import logging

        logging.getLogger("usmca.app").error("internal error %s: %s", ref, type(exc).__name__)
        return _error(
            500, "internal_error", f"the server failed on this request (reference {ref})", reference=ref
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        loc = ".".join(
            str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "form")
        )
        return _error(
            422,
            "input_error",
            f"{loc}: {first.get('msg', 'invalid')}",
            field=loc,
            value=_short(first.get("input")),
            problem=first.get("msg"),
            count=len(errs),
        )


def _allowed(app: Any, scope: Scope) -> list[str]:
    """The methods of every route with the path (template) of the first route the request's path matches."""
    from starlette.routing import Match

    matched = [r for r in app.routes if getattr(r, "methods", None) and r.matches(scope)[0] != Match.NONE]
    if not matched:
        return []
    return sorted({m for r in matched if r.path == matched[0].path for m in r.methods})


def _short(v: Any) -> Any:
    s = v if isinstance(v, int | float | bool) or v is None else str(v)
    return s[:200] if isinstance(s, str) else s


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", raw[:80].decode("utf-8", "replace"), f"not valid JSON ({exc})") from None


def _count_materials(items: Any, depth: int = 0) -> int:
    if not isinstance(items, list) or depth > 50:
        return 0
    return len(items) + sum(
        _count_materials(m.get("materials"), depth + 1) for m in items if isinstance(m, dict)
    )


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, text, "dates are written YYYY-MM-DD") from None


# --- auth ---------------------------------------------------------------------------------------------------


def role_at_least(user: User, role: str) -> bool:
    return ROLES.index(user.role) >= ROLES.index(role)


def _auth(db: Database, key: str | None, role: str) -> User:
    if not key:
        raise ApiError(401, "unauthorized", "this request writes a record: send an API key in X-API-Key")
    with db.session() as s:
        u = records.user_for_key(s, key)
        if u is None:
            raise ApiError(401, "unauthorized", "the API key is not valid (unknown or revoked)")
        s.expunge(u)
    if not role_at_least(u, role):
        raise ApiError(403, "forbidden", f"this request needs the role {role}; the key's user is {u.role}")
    return u


def requires(db: Database, role: str) -> Callable[..., User]:
    def dep(x_api_key: Annotated[str | None, Security(API_KEY)] = None) -> User:
        return _auth(db, x_api_key, role)

    return dep


def json_body(name: str) -> Callable[..., Awaitable[Any]]:
    """A dependency: the JSON body, valid under the named published schema (else a 422 naming the field)."""

    async def dep(request: Request) -> Any:
        data = _json_body(await request.body())
        schemas.check(name, data)
        return data

    return dep


def _as_field(exc: ReferenceNotFound, field: str) -> ReferenceNotFound:
    """The schedule names the date it was asked about ``as_of``; the request calls it ``field``."""
    if exc.field != "as_of":
        return exc
    return ReferenceNotFound(field, exc.value, exc.problem, exc.hint)


# --- engine access (per-thread store connections; one corpus per process) -----------------------------------

_corpus_lock = threading.Lock()
_corpus: dict[str, Any] = {}


# Engine calls run on a small dedicated pool: each thread keeps its own store connection, and the engines
# cache their tables per connection, so a few long-lived threads stay warm where a large pool would rebuild.
# One thread by default: the engines' work holds the GIL, so more threads add memory (an engine per
# connection) but no throughput; short duty quotes skip the pool altogether (INLINE_LINES). On 2 cores one
# worker process measured best too (benchmarks/bench_app.py: 2 workers ~2,200-2,500 req/s, 1 worker ~3,000).
ENGINE_THREADS = int(os.environ.get("USMCA_ENGINE_THREADS", "1"))
_pool = ThreadPoolExecutor(max_workers=ENGINE_THREADS, thread_name_prefix="usmca-engine")
# Entries of at most this many lines are quoted on the event loop itself (well under 1 ms of engine time).
INLINE_LINES = 4
INLINE_MATERIALS = 8


def _dumps(obj: Any) -> bytes:
    """JSON bytes of an engine's plain dict: orjson (13 us -> 1 us on a one-line quote), json as fallback."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # a type orjson refuses (e.g. non-str keys): the standard encoder's answer
        return json.dumps(obj).encode()


async def in_engine(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.wrap_future(_pool.submit(fn, *args))


_conn_local = threading.local()


def _conn() -> Any:
    """This thread's store connection.

    ``store()`` resolves the store path on every call (a realpath: ~6 % of a duty quote's server time under
    load); here the path is resolved again only when the environment that names it changes, and the
    connection is taken again whenever ``store.reset()`` or a new path replaced the cached one.
    """
    from usmca import store as store_mod

    key = (os.environ.get("USMCA_STORE"), os.environ.get("USMCA_HOME"))
    conn = getattr(_conn_local, "conn", None)
    if conn is None or _conn_local.key != key or getattr(store_mod._local, "conn", None) is not conn:
        conn = store_mod.store()
        _conn_local.conn, _conn_local.key = conn, key
    return conn


def corpus() -> Any:
    with _corpus_lock:
        if "c" not in _corpus:
            from usmca.rules.corpus import load_corpus

            _corpus["c"] = load_corpus(_conn())
        return _corpus["c"]


def _routes(app: FastAPI, db: Database, lim: Limits) -> None:
    analyst = requires(db, "analyst")
    admin = requires(db, "admin")
    viewer = requires(db, "viewer")

    @app.get(f"{API}/health", tags=["meta"])
    def health() -> dict[str, Any]:
        return {"ok": True, "database": db.dialect}

    # HTS ----------------------------------------------------------------------------------------------------
    @app.get(f"{API}/hts/search", tags=["hts"], responses=NOT_IN_DATA)
    async def hts_search(
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern="[A-Za-z0-9]",
                description="words to find (at least one letter or digit)",
            ),
        ],
        as_of: DateQuery = None,
        limit: Annotated[int, Query(ge=1, le=lim.search_rows)] = 20,
    ) -> Any:
        from usmca.nomenclature.schedule import search

        on = _date(as_of, "as_of")
        return await in_engine(lambda: search(q, on, limit, conn=_conn()).to_dict())

    @app.get(f"{API}/hts/{{code}}", tags=["hts"], responses=NOT_IN_DATA)
    async def hts_show(
        code: HtsPath,
        as_of: DateQuery = None,
    ) -> Any:
        from usmca.nomenclature.schedule import lookup

        on = _date(as_of, "as_of")
        return await in_engine(lambda: lookup(code, on, conn=_conn()).to_dict())

    @app.get(f"{API}/hts/{{code}}/history", tags=["hts"], responses=NOT_FOUND)
    async def hts_history(code: HtsPath) -> Any:
        from usmca.nomenclature.schedule import history

        return await in_engine(lambda: history(code, conn=_conn()).to_dict())

    # rules --------------------------------------------------------------------------------------------------
    @app.get(f"{API}/rules/{{code}}", tags=["rules"], responses=NOT_FOUND)
    def rules_show(
        code: RulePath,
        date: DateQuery = None,
        use: str | None = None,
        trade: str | None = None,
    ) -> Any:
        from usmca.rules.corpus import describe, note_to
        from usmca.rules.serialize import rule_to

        c = corpus()
        m = c.rules_for(code, _date(date, "date"), use, trade)
        return {
            "query": {"code": code, "date": date, "use": use, "trade": trade},
            "corpus_version": c.version,
            "status": m.status,
            "reason": m.reason,
            "rules": [{**rule_to(r), "plain": describe(r)} for r in m.rules],
            "chapter_notes": [note_to(n) for n in m.chapter_notes],
        }

    # origin -------------------------------------------------------------------------------------------------
    @app.post(
        f"{API}/qualify",
        tags=["origin"],
        responses={**WRITE_RESPONSES, **NOT_IN_DATA},
        openapi_extra={
            **schemas.request_body("OriginCase", "origin case, docs/interchange.md section 1"),
            # A key is needed only to record (record=true, the default).
            "security": [{"ApiKey": []}, {}],
        },
    )
    async def qualify(
        request: Request, record: bool = True, x_api_key: Annotated[str | None, Security(API_KEY)] = None
    ) -> Any:
        """Determine origin (interchange §2). ``record=true`` (default) keeps it: needs an analyst key."""
        user = _auth(db, x_api_key, "analyst") if record else None
        data = _json_body(await request.body())
        if isinstance(data, dict) and _count_materials(data.get("materials")) > lim.materials:
            raise ApiError(
                413,
                "too_many_rows",
                f"the bill has more than {lim.materials} material lines",
                limit=lim.materials,
                hint="use `usmca portfolio run` for large bills",
            )
        # An unrecorded determination of a short bill costs ~0.2 ms of engine time, less than the hand-off to
        # the engine thread and back: answered on the event loop, as short duty quotes are; recording (a
        # database write) and longer bills go to the pool. Either way the answer is encoded once, by orjson.
        if user is None and _count_materials(data.get("materials") if isinstance(data, dict) else None) <= (
            INLINE_MATERIALS
        ):
            out = _qualify_body(db, data, None)
        else:
            out = await in_engine(_qualify_body, db, data, user)
        return Response(_dumps(out), media_type="application/json")

    @app.get(f"{API}/determinations", tags=["origin"])
    def determinations(
        product: str | None = None,
        limit: Annotated[int, Query(ge=1, le=lim.list_rows)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        archived: bool = False,
    ) -> Any:
        with db.session() as s:
            rows = records.list_determinations(s, product, limit, offset, archived)
            return [
                {k: v for k, v in records.determination_view(s, d).items() if k not in ("case", "result")}
                for d in rows
            ]

    @app.get(f"{API}/determinations/{{det_id}}", tags=["origin"], responses=NOT_FOUND)
    def determination(det_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> Any:
        with db.session() as s:
            return records.determination_view(s, records.get_determination(s, det_id))

    @app.get(f"{API}/products/{{key}}/record", tags=["records"], responses={**NOT_FOUND, **WRITE_RESPONSES})
    def product_record(key: str, _u: Annotated[User, Depends(viewer)]) -> Any:
        """Everything kept about one good (bills, determinations, certificates, audit entries)."""
        with db.session() as s:
            return records.export_record(s, key)

    # duty ---------------------------------------------------------------------------------------------------
    @app.post(
        f"{API}/duty",
        tags=["duty"],
        responses=NOT_IN_DATA,
        openapi_extra=schemas.request_body("Entry", "entry, docs/interchange.md section 3"),
    )
    async def duty(request: Request) -> Any:
        """Duty on each line of an entry (interchange §4)."""
        entry = _entry(_json_body(await request.body()), lim, "Entry")
        from usmca.measures.stack import duty_entry

        def run() -> bytes:
            try:
                return _dumps(duty_entry(entry, conn=_conn()).to_dict())
            except ReferenceNotFound as exc:
                raise _as_field(exc, "entry_date") from None

        # A short entry costs ~0.1 ms of engine time, less than the hand-off to the engine thread and back:
        # answer it on the event loop (its own warm store connection and engine); longer entries go to the pool.
        body = run() if len(entry.lines) <= INLINE_LINES else await in_engine(run)
        return Response(body, media_type="application/json")  # already plain JSON: skip the re-encoding pass

    @app.post(
        f"{API}/duty/compare",
        tags=["duty"],
        responses=NOT_IN_DATA,
        openapi_extra=schemas.request_body("CompareEntry", "entry of goods of Canada or Mexico"),
    )
    async def duty_compare(request: Request) -> Any:
        """Each line with and without the USMCA claim, side by side, and what the claim saves."""
        entry = _entry(_json_body(await request.body()), lim, "CompareEntry")
        from usmca.measures.stack import compare_claim

        def run() -> Any:
            out = []
            for i, ln in enumerate(entry.lines):
                try:
                    c = compare_claim(ln, entry.entry_date, conn=_conn(), prefix=f"lines[{i}]")
                except ReferenceNotFound as exc:
                    raise _as_field(exc, "entry_date") from None
                out.append(
                    {
                        "id": c["id"],
                        "with_claim": c["with_claim"].to_dict(),
                        "without_claim": c["without_claim"].to_dict(),
                        "saving": None if c["saving"] is None else float(c["saving"]),
                    }
                )
            return {"entry_date": entry.entry_date.isoformat(), "lines": out}

        return await in_engine(run)

    # portfolio ----------------------------------------------------------------------------------------------
    @app.post(
        f"{API}/portfolio/runs",
        tags=["portfolio"],
        status_code=202,
        responses=WRITE_RESPONSES,
        openapi_extra={"requestBody": PORTFOLIO_BODY},
    )
    async def portfolio_start(request: Request, user: Annotated[User, Depends(analyst)]) -> Any:
        """Start a portfolio run (interchange §5) as a background job; poll its status. Each table is a file
        part or a text field holding CSV. A file's format comes from its name (.csv, .xlsx, .parquet), else its
        part's content type (text/csv, the XLSX or Parquet media type); plain bytes (application/octet-stream or
        no type) are read by their content (Parquet and XLSX by their signatures, else CSV). Any other file is
        refused (422 naming the field)."""
        async with request.form() as form:  # the spooled uploads are closed once copied
            uploads = form_tables(form)
            date = str(form.get("date") or "")
            if not DATE_TEXT.fullmatch(date):
                raise InputError("date", date, "a portfolio run needs the date of production (YYYY-MM-DD)")
            job_id = await asyncio.to_thread(start_portfolio_run, db, lim, user.username, uploads, date)
        return {"id": job_id, "status": "queued", "href": f"{API}/portfolio/runs/{job_id}"}

    @app.get(
        f"{API}/portfolio/runs/{{job_id}}", tags=["portfolio"], response_model=JobView, responses=NOT_FOUND
    )
    def portfolio_status(job_id: str) -> Any:
        return job_view(db, job_id)

    # certificates -------------------------------------------------------------------------------------------
    @app.post(
        f"{API}/certificates",
        tags=["certificates"],
        status_code=201,
        responses={
            **NOT_FOUND,
            **WRITE_RESPONSES,
            409: {
                **_ERR,
                "description": "The determination does not support a certificate (not originating, superseded "
                "by a later failing determination, or its good lacks a description or a 6-digit code)",
            },
        },
        openapi_extra=schemas.request_body("CertificateRequest"),
    )
    async def certificate_create(request: Request, user: Annotated[User, Depends(analyst)]) -> Any:
        """A certification of origin (USMCA Annex 5-A) from a recorded, originating determination."""
        req = certification_request(_json_body(await request.body()))
        return await asyncio.to_thread(issue_certificate, db, req, user.username)

    @app.get(f"{API}/certificates/{{cert_id}}", tags=["certificates"], responses=NOT_FOUND)
    def certificate_show(cert_id: str) -> Any:
        with db.session() as s:
            return records.certificate_view(s, records.get_certificate(s, cert_id))

    @app.get(
        f"{API}/certificates/{{cert_id}}/pdf",
        tags=["certificates"],
        responses={200: {"content": {"application/pdf": {}}}, **NOT_FOUND},
    )
    def certificate_pdf(cert_id: str) -> Response:
        from usmca.certify import render_pdf

        with db.session() as s:
            c = records.get_certificate(s, cert_id)
            pdf = render_pdf(
                json.loads(c.elements_json), certificate_id=c.id, validity=records.certificate_validity(s, c)
            )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="usmca-certificate-{c.id}.pdf"'},
        )

    # records ------------------------------------------------------------------------------------------------
    @app.post(
        f"{API}/archive",
        tags=["records"],
        status_code=201,
        responses={**NOT_FOUND, **WRITE_RESPONSES},
        openapi_extra=schemas.request_body("ArchiveRequest"),
    )
    def archive(
        user: Annotated[User, Depends(admin)], req: Annotated[dict[str, Any], Depends(json_body("ArchiveRequest"))]
    ) -> Any:
        with db.session() as s:
            a = records.archive(s, req["object_type"], req["object_id"], req["reason"], user.username)
            return {
                "id": a.id,
                "object_type": a.object_type,
                "object_id": a.object_id,
                "created_at": a.created_at,
            }

    @app.get(f"{API}/audit/verify", tags=["records"], responses=WRITE_RESPONSES)
    def audit_verify(_u: Annotated[User, Depends(viewer)]) -> Any:
        with db.session() as s:
            return records.verify(s).to_dict()

    @app.post(
        f"{API}/users",
        tags=["access"],
        status_code=201,
        responses={**WRITE_RESPONSES, **CONFLICT},
        openapi_extra=schemas.request_body("UserRequest"),
    )
    def user_create(
        user: Annotated[User, Depends(admin)], req: Annotated[dict[str, Any], Depends(json_body("UserRequest"))]
    ) -> Any:
        with db.session() as s:
            try:
                records.get_user(s, req["username"])
            except NotFoundError:
                pass
            else:
                raise ApiError(
                    409, "conflict", f"the user {req['username']!r} already exists", field="username"
                )
            u = records.create_user(s, req["username"], req["password"], req["role"], user.username)
            return {"username": u.username, "role": u.role, "created_at": u.created_at}

    @app.post(
        f"{API}/users/{{username}}/keys",
        tags=["access"],
        status_code=201,
        responses={**NOT_FOUND, **WRITE_RESPONSES},
        openapi_extra=schemas.request_body("KeyRequest"),
    )
    def key_create(
        username: str,
        user: Annotated[User, Depends(admin)],
        req: Annotated[dict[str, Any], Depends(json_body("KeyRequest"))],
    ) -> Any:
        """A new API key for the user; shown once, stored hashed."""
        name = req.get("name", "api")
        with db.session() as s:
            return {
                "username": username,
                "name": name,
                "key": records.create_api_key(s, username, name, user.username),
            }


TABLE_TYPES = {
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.apache.parquet": ".parquet",
}
# A table's part: a file is any bytes and a text field is taken as CSV, so any value that makes at least one part
# is valid (multipart carries no JSON types; an empty list would send no part at all).
_TABLE = (
    "a table: a file part (CSV, XLSX or Parquet; see the operation's description for how its format is told) "
    "or a text field holding CSV"
)


def _table(description: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": ["string", "number", "boolean", "null", "object"]},
            {"type": "array", "minItems": 1},
        ],
        "description": f"{description}: {_TABLE}",
    }

PORTFOLIO_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["products", "bom", "date"],
                "properties": {
                    "products": _table("PRODUCTS table (interchange §5)"),
                    "bom": _table("BOM table"),
                    "declarations": _table("supplier declarations table (optional)"),
                    "date": {
                        "type": "string",
                        "format": "date",
                        "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                        "description": "date of production, YYYY-MM-DD",
                    },
                },
            },
        }
    },
}


DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _table_name(field: str, upload: Any) -> str | None:
    """The name that picks the table reader: the upload's own when its extension is .csv, .xlsx or .parquet;
    else by the part's content type (text/csv, the XLSX or Parquet media type); a part sent as plain bytes
    (no content type, or application/octet-stream) by its content: Parquet and XLSX by their signatures,
    anything else read as CSV. Any other file is refused, naming the field."""
    name = upload.filename or ""
    if Path(name).suffix.lower() in TABLE_TYPES.values():
        return name
    ctype = (upload.content_type or "").split(";")[0].strip().lower()
    if ctype in TABLE_TYPES:
        return f"{field}{TABLE_TYPES[ctype]}"
    if ctype not in ("", "application/octet-stream"):
        return name
    head = upload.file.read(4)
    upload.file.seek(0)
    ext = ".parquet" if head == b"PAR1" else ".xlsx" if head == b"PK\x03\x04" else ".csv"
    return f"{field}{ext}"


def form_tables(form: Any) -> list[tuple[str, str | None, Any]]:
    """The table parts of an upload form (products, bom, declarations) as (field, name that picks the reader,
    binary file): a file part as it came (``_table_name``), a text field as CSV."""
    from starlette.datastructures import UploadFile as FormFile

    uploads: list[tuple[str, str | None, Any]] = []
    for name in ("products", "bom", "declarations"):
        part = form.get(name)
        if isinstance(part, FormFile):
            uploads.append((name, _table_name(name, part), part.file))
        elif part is not None:
            uploads.append((name, f"{name}.csv", io.BytesIO(part.encode())))
    return uploads


def save_tables(work: Path, uploads: list[tuple[str, str | None, Any]], what: str) -> dict[str, Path]:
    """Copy the uploaded tables into ``work`` under names of our own: the client's name only picks the reader
    (by extension), never the path. PRODUCTS and BOM are required (``what`` names the request)."""
    files: dict[str, Path] = {}
    for name, filename, fh_in in uploads:
        ext = Path(filename or "").suffix.lower()
        if ext not in TABLE_TYPES.values():
            raise InputError(name, filename, "a portfolio table is a .csv, .xlsx or .parquet file")
        dest = work / f"{name}{ext}"
        with dest.open("wb") as fh:
            while chunk := fh_in.read(1 << 20):
                fh.write(chunk)
        files[name] = dest
    for need in ("products", "bom"):
        if need not in files:
            raise InputError(need, None, f"{what} needs the PRODUCTS and BOM tables")
    return files


def certification_request(data: Any) -> Any:
    """The certificate body: the certification model's own checks first (its messages name the Annex 5-A
    element), then the published schema."""
    from pydantic import ValidationError

    from usmca.certify import CertificationRequest, check_parties

    if not isinstance(data, dict):
        raise InputError("(document)", type(data).__name__, "a certificate request is a JSON object")
    try:
        req = CertificationRequest.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        raise InputError(loc, _short(e.get("input")), e["msg"]) from None
    check_parties(req)
    schemas.check("CertificateRequest", data)
    return req


def start_portfolio_run(
    db: Database, lim: Limits, actor: str, uploads: list[tuple[str, str | None, Any]], date_text: str
) -> str:
    """Save the uploaded tables under names of our own and start the job; returns its id."""
    import shutil

    on = _date(date_text, "date")
    if on is None:
        raise InputError("date", date_text, "a portfolio run needs the date of production (YYYY-MM-DD)")
    job_id = str(uuid.uuid4())
    work = Path(tempfile.mkdtemp(prefix="usmca-run-"))
    try:
        files = save_tables(work, uploads, "a portfolio run")
        with db.session() as s:
            s.add(
                Job(
                    id=job_id,
                    kind="portfolio",
                    status="queued",
                    params_json=records.canonical({"date": str(on), "files": sorted(files)}),
                    created_at=now(),
                    created_by=actor,
                )
            )
            records.audit(s, actor, "portfolio.start", "job", job_id, {"date": str(on)})
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    threading.Thread(target=_run_portfolio, args=(db, job_id, files, on, lim, work), daemon=True).start()
    return job_id


def job_view(db: Database, job_id: str) -> JobView:
    with db.session() as s:
        j = s.get(Job, job_id)
        if j is None or j.kind != "portfolio":  # other kinds (scenario jobs) have their own views
            raise NotFoundError(f"no portfolio run {job_id!r}")
        return JobView(
            id=j.id,
            kind=j.kind,
            status=j.status,
            created_at=j.created_at,
            finished_at=j.finished_at,
            error=j.error,
            result=json.loads(j.result_json) if j.result_json else None,
        )


def issue_certificate(db: Database, req: Any, actor: str) -> dict[str, Any]:
    """Build, store and return a certificate (API and pages share this path)."""
    from usmca.certify import CertificationRefused, build_elements

    with db.session() as s:
        d = records.get_determination(s, req.determination_id)
        superseded = _later_failure(s, d)
        if superseded is not None:
            raise CertificationRefused(f"determination {d.id} cannot be certified: {superseded}")
        try:
            elements = build_elements(
                req,
                json.loads(d.result_json),
                json.loads(d.case_json),
                determination_ref={"inputs_hash": d.inputs_hash, "content_hash": d.content_hash},
            )
        except InputError as exc:
            if not exc.field.startswith("good."):
                raise
            # What the recorded case lacks (a description, a 6-digit code) is a refusal, not bad input here.
            raise CertificationRefused(f"determination {d.id} cannot be certified: {exc}") from None
        c = records.store_certificate(s, d.id, elements, actor)
        return records.certificate_view(s, c)


def _later_failure(s: Any, d: Any) -> str | None:
    """A determination already superseded by a failing one cannot be certified."""
    from sqlalchemy import select

    from usmca.app.models import DeterminationRecord

    later = s.execute(
        select(DeterminationRecord)
        .where(
            DeterminationRecord.product_id == d.product_id,
            DeterminationRecord.id > d.id,
            DeterminationRecord.status != "originating",
        )
        .limit(1)
    ).scalar_one_or_none()
    return None if later is None else f"a later determination ({later.id}) found the good {later.status}"


def _entry(data: Any, lim: Limits, schema: str) -> Any:
    from usmca.measures.entry import parse_entry

    if (
        isinstance(data, dict)
        and isinstance(data.get("lines"), list)
        and len(data["lines"]) > lim.entry_lines
    ):
        raise ApiError(
            413,
            "too_many_rows",
            f"the entry has more than {lim.entry_lines} lines",
            limit=lim.entry_lines,
            hint="split it, or use `usmca duty FILE`",
        )
    entry = parse_entry(data)  # the parser's messages first; then what the published schema refuses besides
    schemas.check(schema, data)
    return entry


def _qualify_body(db: Database, data: Any, user: User | None) -> dict[str, Any]:
    """An API request's case: the parser's messages first; then what the published schema refuses besides."""
    from usmca.origin.case import parse_case

    case = parse_case(data)
    schemas.check("OriginCase", data)
    try:
        return _qualify(db, case, user)
    except ReferenceNotFound as exc:
        raise _as_field(exc, "date") from None


def _qualify(db: Database, data: Any, user: User | None) -> dict[str, Any]:
    from usmca.origin.case import OriginCase, parse_case
    from usmca.origin.determine import determine

    case = data if isinstance(data, OriginCase) else parse_case(data)
    d = determine(case, corpus=corpus(), conn=_conn())
    result = d.to_json_dict()
    out: dict[str, Any] = {"determination": result, "record": None}
    if user is not None:
        with db.session() as s:
            rec = records.record_determination(s, case.model_dump(mode="json"), result, user.username)
            out["record"] = {
                "id": rec.id,
                "inputs_hash": rec.inputs_hash,
                "content_hash": rec.content_hash,
                "href": f"{API}/determinations/{rec.id}",
            }
    return out


def _run_portfolio(
    db: Database, job_id: str, files: dict[str, Path], on: dt.date | None, lim: Limits, work: Path
) -> None:
    """The job body: state is kept in the jobs table so a restart sees what was running (and what failed)."""

    def set_state(**kw: Any) -> None:
        with db.session() as s:
            j = s.get(Job, job_id)
            if j is not None:
                for k, v in kw.items():
                    setattr(j, k, v)

    with _RUNS:  # one portfolio run at a time: the machine has 2 cores and the API must stay responsive
        _run_job(files, on, lim, work, set_state)


_RUNS = threading.Semaphore(1)


def _run_job(
    files: dict[str, Path], on: dt.date | None, lim: Limits, work: Path, set_state: Callable[..., None]
) -> None:
    import shutil

    try:
        set_state(status="running")
        from usmca.portfolio.run import run_files

        if on is None:
            raise InputError("date", None, "a portfolio run needs the date of production")
        res = run_files(files["products"], files["bom"], files.get("declarations"), on=on, conn=_conn())
        rows = res.results.head(lim.portfolio_result_rows).to_dicts()
        result = {
            "summary": res.summary(),
            "rows": rows,
            "rows_total": res.results.height,
            "row_errors": [str(e) for e in res.errors[:200]],
        }
        set_state(status="done", result_json=records.canonical(result), finished_at=now())
    except Exception as exc:  # the job records any failure; the server keeps running
        msg = str(exc) if isinstance(exc, UsmcaError) else f"{type(exc).__name__}: {exc}"
        set_state(status="failed", error=msg[:2000], finished_at=now())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def app_from_env() -> FastAPI:
    """The app factory ``usmca serve`` hands to uvicorn (database from ``USMCA_DB``)."""
    app = create_app()
    app.router.on_startup.append(warm_up)
    return app


WARM_ENTRY = {
    "entry_date": "2025-08-15",
    "lines": [
        {
            "id": "L1",
            "hts": "9401.61.4011",
            "country_of_origin": "CA",
            "entered_value": 1000,
            "transport": "ocean",
        }
    ],
}


async def warm_up() -> None:
    """Build the engines' caches on every engine thread, then freeze the heap.

    The caches are large and long-lived: without ``gc.freeze`` each full collection walks them, stalling a
    request for 100-200 ms now and then (measured: engine p99 0.2 ms, max 170 ms; frozen, max 0.6 ms).
    A missing store is not fatal here: the endpoints answer 503 with the reason.
    """
    import gc
    import logging

    barrier = threading.Barrier(ENGINE_THREADS)

    def warm() -> None:
        barrier.wait(timeout=60)  # one task per thread: every thread gets its own connection warm
        from usmca.measures.entry import parse_entry
        from usmca.measures.stack import duty_entry

        duty_entry(parse_entry(WARM_ENTRY), conn=_conn())
        corpus()

    try:
        await asyncio.gather(*(in_engine(warm) for _ in range(ENGINE_THREADS)))
        from usmca.measures.entry import parse_entry
        from usmca.measures.stack import duty_entry

        duty_entry(parse_entry(WARM_ENTRY), conn=_conn())  # the event loop quotes short entries itself
    except Exception as exc:  # the server still starts; requests report the real problem
        logging.getLogger("usmca.app").warning("warm-up skipped: %s", exc)
    gc.collect()
    gc.freeze()
