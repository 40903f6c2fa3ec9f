"""Server-rendered pages (Jinja2; plain HTML forms that work without JavaScript; docs/adr/0006-web-app.md).

Pages: tariff browser with a date picker, duty calculator (every route side by side, with formulas and
citations), origin checker (type or upload a bill; the decision with its trace; record it when signed in as
an analyst), determinations history, sign-in. Sessions are HMAC-signed cookies; every form carries a CSRF
token bound to the browser's CSRF cookie; responses carry the security headers set by the API's middleware.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from usmca.app import records
from usmca.app.api import in_engine
from usmca.app.db import Database
from usmca.app.models import ROLES, User
from usmca.config import usmca_home
from usmca.errors import InputError, NotFoundError, UsmcaError

SESSION_COOKIE = "usmca_session"
CSRF_COOKIE = "usmca_csrf"
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 1024 * 1024
MAX_FAILURES = 5  # failed sign-ins per user name ...
LOCKOUT_SECONDS = 15 * 60  # ... within this window lock the name out for the rest of it

EXAMPLE_CASE = """date: 2026-03-01
method: best
good:
  id: SKU-1001
  description: wooden chair, upholstered
  hts: "9401.61.4011"
  country_of_production: MX
  transaction_value: 100.00
materials:
  - id: m1
    description: sawn lumber
    hts: "4407.11"
    origin: non_originating
    value: 30.00
"""


def _secret() -> bytes:
    """USMCA_SECRET, else a random secret kept (mode 0600) beside the database in USMCA_HOME."""
    env = os.environ.get("USMCA_SECRET")
    if env:
        return env.encode()
    p = usmca_home() / "app-secret"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return p.read_text().strip().encode()


class Web:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.key = _secret()
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.env = Environment(
            loader=PackageLoader("usmca.app", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["dotted"] = _dotted
        self.env.filters["orblank"] = lambda v: "—" if v is None else v

    # --- sign-in throttle (per user name, per process): slows password guessing ---
    def throttled(self, username: str) -> bool:
        now_ = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(username, []) if now_ - t < LOCKOUT_SECONDS]
            self._failures[username] = recent
            return len(recent) >= MAX_FAILURES

    def failed(self, username: str) -> None:
        with self._lock:
            self._failures.setdefault(username, []).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a spray of names
                self._failures.clear()

    # --- sessions and CSRF ----------------------------------------------------------------------------------
    def _sign(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def session_cookie(self, username: str) -> str:
        payload = f"{username}|{int(time.time()) + SESSION_SECONDS}"
        return f"{payload}|{self._sign(payload)}"

    def user(self, request: Request) -> User | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw or raw.count("|") != 2:
            return None
        username, exp, sig = raw.split("|")
        if (
            not hmac.compare_digest(sig, self._sign(f"{username}|{exp}"))
            or not exp.isdigit()
            or int(exp) < time.time()
        ):
            return None
        with self.db.session() as s:
            try:
                u = records.get_user(s, username)
            except NotFoundError:
                return None
            s.expunge(u)
        return None if u.disabled else u

    def require(self, request: Request, role: str, what: str) -> User:
        """The signed-in user if their role allows ``what``: else 401 (nobody signed in) or 403 (role too low)."""
        from usmca.app.api import role_at_least

        user = self.user(request)
        if user is None:
            raise _SignIn(f"{what} needs a {role} signed in: sign in first")
        if not role_at_least(user, role):
            raise _Forbidden(f"{what} needs the {role} role; you are signed in as {user.role}")
        return user

    def csrf_token(self, request: Request) -> tuple[str, str]:
        nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_hex(16)
        return nonce, self._sign(f"csrf|{nonce}")

    def check_csrf(self, request: Request, form: Any) -> None:
        nonce = request.cookies.get(CSRF_COOKIE)
        sent = str(form.get("csrf") or "")
        if not nonce or not hmac.compare_digest(sent, self._sign(f"csrf|{nonce}")):
            raise _Forbidden(
                "the form's security token is missing or stale: reload the page and submit again"
            )

    # --- rendering ------------------------------------------------------------------------------------------
    def render(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        nonce, token = self.csrf_token(request)
        user = ctx.pop("user", None) or self.user(request)
        html = self.env.get_template(name).render(request=request, user=user, csrf=token, roles=ROLES, **ctx)
        resp = HTMLResponse(html, status_code=status)
        resp.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=_secure(request))
        resp.headers["Cache-Control"] = "no-store"
        return resp


def _dotted(code: str) -> str:
    from usmca.nomenclature.codes import format_code

    parts = str(code).split("-")
    try:
        return "–".join(format_code(p) for p in parts)
    except Exception:  # a display nicety only: show the code as stored
        return str(code)


class _Forbidden(Exception):
    """Refused: 403 (a stale form token, a role too low), or 401 when nobody is signed in."""

    status = 403


class _SignIn(_Forbidden):
    status = 401


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _form(request: Request) -> Any:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise InputError("form", f"{length} bytes", f"a form is at most {MAX_FORM_BYTES} bytes")
    return await request.form()


def _bool(v: Any) -> bool:
    return str(v).lower() in ("1", "true", "on", "yes")


def mount(app: FastAPI, db: Database) -> None:
    web = Web(db)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")

    def page_error(request: Request, exc: Exception, name: str, **ctx: Any) -> HTMLResponse:
        if isinstance(exc, _Forbidden):
            return web.render(request, "error.html", exc.status, message=str(exc))
        if isinstance(exc, NotFoundError):
            return web.render(request, "error.html", 404, message=str(exc))
        return web.render(request, name, 422, error=str(exc), **ctx)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        return web.render(request, "index.html")

    # --- tariff browser -------------------------------------------------------------------------------------
    @app.get("/hts", response_class=HTMLResponse, include_in_schema=False)
    def hts_browse(request: Request, q: str = "", as_of: str = "") -> Response:
        from usmca.app.api import _conn, _date
        from usmca.nomenclature.schedule import search

        ctx: dict[str, Any] = {"q": q, "as_of": as_of}
        try:
            if q.strip():
                if len(q) > 200:
                    raise InputError("q", q[:40] + "...", "a search is at most 200 characters")
                ctx["result"] = search(q, _date(as_of, "as_of"), 50, conn=_conn()).to_dict()
        except UsmcaError as exc:
            return page_error(request, exc, "hts.html", **ctx)
        return web.render(request, "hts.html", **ctx)

    @app.get("/hts/{code}", response_class=HTMLResponse, include_in_schema=False)
    def hts_line(request: Request, code: str, as_of: str = "") -> Response:
        from usmca.app.api import _conn, _date
        from usmca.nomenclature.schedule import children, history, lookup

        ctx: dict[str, Any] = {"code": code, "as_of": as_of, "q": ""}
        try:
            conn = _conn()
            on = _date(as_of, "as_of")
            line = lookup(code, on, conn=conn)
            ctx["line"] = line.to_dict()
            ctx["children"] = [c.to_dict() for c in children(line.code, on, conn=conn)][:200]
            ctx["history"] = history(line.code, conn=conn).to_dict()
        except UsmcaError as exc:
            return page_error(request, exc, "hts.html", **ctx)
        return web.render(request, "hts_line.html", **ctx)

    # --- duty calculator ------------------------------------------------------------------------------------
    duty_defaults = {
        "entry_date": "",
        "hts": "",
        "country_of_origin": "",
        "entered_value": "",
        "quantity": "",
        "unit": "",
        "transport": "ocean",
        "usmca_claim": "",
    }

    @app.get("/duty", response_class=HTMLResponse, include_in_schema=False)
    def duty_form(request: Request) -> Response:
        return web.render(request, "duty.html", form=duty_defaults)

    @app.post("/duty", response_class=HTMLResponse, include_in_schema=False)
    async def duty_submit(request: Request) -> Response:
        form = await _form(request)
        values = {k: str(form.get(k) or "").strip() for k in duty_defaults}
        try:
            web.check_csrf(request, form)
            line: dict[str, Any] = {
                "id": "L1",
                "hts": values["hts"],
                "country_of_origin": values["country_of_origin"],
                "entered_value": values["entered_value"],
                "transport": values["transport"],
                "usmca_claim": _bool(values["usmca_claim"]),
            }
            if values["quantity"]:
                line["quantity"] = [{"value": values["quantity"], "unit": values["unit"] or "kg"}]
            entry = {"entry_date": values["entry_date"], "lines": [line]}
            result = await in_engine(_duty_routes, entry)
        except (UsmcaError, _Forbidden) as exc:
            return page_error(request, exc, "duty.html", form=values)
        return web.render(request, "duty.html", form=values, result=result)

    # --- origin checker -------------------------------------------------------------------------------------
    @app.get("/origin", response_class=HTMLResponse, include_in_schema=False)
    def origin_form(request: Request) -> Response:
        return web.render(request, "origin.html", case_text=EXAMPLE_CASE)

    @app.post("/origin", response_class=HTMLResponse, include_in_schema=False)
    async def origin_submit(request: Request) -> Response:
        form = await _form(request)
        text = str(form.get("case") or "")
        upload = form.get("file")
        if upload is not None and hasattr(upload, "read"):
            raw = await upload.read(MAX_FORM_BYTES + 1)
            if raw:
                text = raw.decode("utf-8", "replace")
        record = _bool(form.get("record"))
        try:
            web.check_csrf(request, form)
            user = web.user(request)
            if record:
                user = web.require(request, "analyst", "recording a determination")
            from usmca.app.api import _qualify
            from usmca.origin.case import loads_case

            case = loads_case(text, json_=text.lstrip().startswith("{"))
            out = await in_engine(_qualify, db, case.model_dump(mode="json"), user if record else None)
        except (UsmcaError, _Forbidden) as exc:
            return page_error(request, exc, "origin.html", case_text=text)
        return web.render(
            request, "origin.html", case_text=text, result=out["determination"], record=out["record"]
        )

    # --- determinations history -----------------------------------------------------------------------------
    @app.get("/determinations", response_class=HTMLResponse, include_in_schema=False)
    def det_list(request: Request, product: str = "", page: int = 0) -> Response:
        with db.session() as s:
            rows = [
                records.determination_view(s, d)
                for d in records.list_determinations(s, product or None, 50, max(page, 0) * 50)
            ]
        return web.render(request, "determinations.html", rows=rows, product=product, page=max(page, 0))

    @app.get("/determinations/{det_id}", response_class=HTMLResponse, include_in_schema=False)
    def det_show(request: Request, det_id: int) -> Response:
        try:
            return _det_page(request, det_id, 200, form={})
        except NotFoundError as exc:
            return page_error(request, exc, "error.html")

    @app.post("/determinations/{det_id}/certificate", response_class=HTMLResponse, include_in_schema=False)
    async def det_certify(request: Request, det_id: int) -> Response:
        """Issue a certification of origin from the determination page (analysts)."""
        from pydantic import ValidationError

        from usmca.app.api import issue_certificate
        from usmca.certify import CertificationRequest

        form = await _form(request)
        try:
            web.check_csrf(request, form)
            user = web.require(request, "analyst", "issuing a certificate")

            def party(prefix: str) -> dict[str, str] | None:
                d = {
                    k: str(form.get(f"{prefix}_{k}") or "").strip()
                    for k in ("name", "title", "address", "telephone", "email")
                }
                d = {k: v for k, v in d.items() if v}
                return d or None

            body = {
                "determination_id": det_id,
                "certifier_role": form.get("certifier_role"),
                "certifier": party("certifier"),
                "exporter": party("exporter"),
                "producer": party("producer"),
                "importer": party("importer"),
                "blanket_from": form.get("blanket_from") or None,
                "blanket_to": form.get("blanket_to") or None,
                "signature": {"name": form.get("signature_name"), "date": form.get("signature_date")},
            }
            try:
                req = CertificationRequest.model_validate(body)
            except ValidationError as exc:
                e = exc.errors()[0]
                loc = ".".join(str(p) for p in e["loc"])
                raise InputError(loc, e.get("input"), e["msg"]) from None
            issue_certificate(db, req, user.username)
        except (UsmcaError, _Forbidden) as exc:
            if isinstance(exc, _Forbidden):
                return page_error(request, exc, "error.html")
            return _det_page(request, det_id, error=str(exc), form=dict(form))
        return RedirectResponse(f"/determinations/{det_id}", status_code=303)

    def _det_page(request: Request, det_id: int, status: int = 422, **ctx: Any) -> Response:
        from sqlalchemy import select

        from usmca.app.models import Certificate

        with db.session() as s:
            d = records.determination_view(s, records.get_determination(s, det_id))
            certs = [
                records.certificate_view(s, c)
                for c in s.execute(
                    select(Certificate).where(Certificate.determination_id == det_id)
                ).scalars()
            ]
        return web.render(
            request,
            "determination.html",
            status,
            d=d,
            certs=certs,
            case_json=json.dumps(d["case"], indent=2, ensure_ascii=False),
            **ctx,
        )

    # --- portfolio -----------------------------------------------------------------------------------------
    @app.get("/portfolio", response_class=HTMLResponse, include_in_schema=False)
    def portfolio_page(request: Request) -> Response:
        from sqlalchemy import select

        from usmca.app.models import Job

        with db.session() as s:
            jobs = [
                {
                    "id": j.id,
                    "status": j.status,
                    "created_at": j.created_at,
                    "created_by": j.created_by,
                    "params": json.loads(j.params_json),
                }
                for j in s.execute(
                    select(Job).where(Job.kind == "portfolio").order_by(Job.created_at.desc()).limit(20)
                ).scalars()
            ]
        return web.render(request, "portfolio.html", jobs=jobs)

    @app.post("/portfolio", response_class=HTMLResponse, include_in_schema=False)
    async def portfolio_start(request: Request) -> Response:
        from usmca.app.api import start_portfolio_run

        form = await request.form()  # uploads: bounded by the upload limit of the middleware (BodyLimit)
        try:
            web.check_csrf(request, form)
            user = web.require(request, "analyst", "starting a portfolio run")
            from starlette.datastructures import UploadFile

            uploads: list[tuple[str, str | None, Any]] = []
            for name in ("products", "bom", "declarations"):
                up = form.get(name)
                if isinstance(up, UploadFile) and up.filename:
                    uploads.append((name, up.filename, up.file))
            job_id = start_portfolio_run(
                db, request.app.state.limits, user.username, uploads, str(form.get("date") or "")
            )
        except (UsmcaError, _Forbidden) as exc:
            return page_error(request, exc, "portfolio.html", jobs=[])
        return RedirectResponse(f"/portfolio/{job_id}", status_code=303)

    @app.get("/portfolio/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def portfolio_job(request: Request, job_id: str) -> Response:
        from usmca.app.api import job_view

        try:
            job = job_view(db, job_id).model_dump()
        except NotFoundError as exc:
            return page_error(request, exc, "error.html")
        view = _portfolio_view(job.get("result") or {})
        return web.render(request, "portfolio_job.html", job=job, **view)

    # --- sign in --------------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> Response:
        return web.render(request, "login.html")

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        try:
            web.check_csrf(request, form)
        except _Forbidden as exc:
            return page_error(request, exc, "login.html")
        username = str(form.get("username") or "")[:80]
        if web.throttled(username):
            return web.render(
                request,
                "login.html",
                429,
                error=f"too many failed sign-ins for this user; try again in {LOCKOUT_SECONDS // 60} minutes",
            )
        with db.session() as s:
            u = records.check_password(s, username, str(form.get("password") or ""))
            if u is not None:
                records.audit(s, username, "session.login", "user", u.id, {})
        if u is None:
            web.failed(username)
            return web.render(request, "login.html", 401, error="unknown user or wrong password")
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(
            SESSION_COOKIE,
            web.session_cookie(username),
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            max_age=SESSION_SECONDS,
        )
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await _form(request)
        try:
            web.check_csrf(request, form)
        except _Forbidden as exc:
            return page_error(request, exc, "error.html")
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp


def _duty_routes(entry: dict[str, Any]) -> dict[str, Any]:
    """Every route for the line: as entered; for goods of Canada or Mexico, with and without the claim."""
    from usmca.app.api import _conn
    from usmca.measures.entry import parse_entry
    from usmca.measures.stack import USMCA_COUNTRIES, compare_claim, duty_entry

    e = parse_entry(entry)
    res = duty_entry(e, conn=_conn()).to_dict()
    ln = e.lines[0]
    routes = []
    if ln.country_of_origin in USMCA_COUNTRIES:
        c = compare_claim(ln, e.entry_date, conn=_conn(), prefix="lines[0]")
        routes = [
            ("Without USMCA claim", c["without_claim"].to_dict()),
            ("With USMCA claim (GN 11, SPI S/S+)", c["with_claim"].to_dict()),
        ]
        saving = None if c["saving"] is None else float(c["saving"])
    else:
        routes = [("As entered", res["lines"][0])]
        saving = None
    return {"entry": res, "routes": routes, "saving": saving}


def _portfolio_view(result: dict[str, Any]) -> dict[str, Any]:
    """Qualification rates and the SKUs most at risk (by duty at stake), from a finished run's rows."""
    rows = result.get("rows") or []
    total = len(rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1
    shares = [(k, v, round(100.0 * v / total, 1) if total else 0.0) for k, v in sorted(counts.items())]

    def stake(r: dict[str, Any]) -> float:
        v = r.get("duty_at_stake")
        return float(v) if isinstance(v, int | float) else -1.0

    at_risk = sorted((r for r in rows if r.get("status") != "originating"), key=stake, reverse=True)[:25]
    return {
        "shares": shares,
        "at_risk": at_risk,
        "total": total,
        "summary": result.get("summary") or {},
        "rows_total": result.get("rows_total", total),
    }
