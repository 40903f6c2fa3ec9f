"""Pages of the joint-review scenarios: the list, what each scenario changes (with its sources), a comparison
on an uploaded portfolio, and the macro view per scenario and date.

The comparison and macro reports are the HTML of ``usmca.scenarios.report`` (the CLI's ``--format html``
without its document shell), kept with the finished job; the pages add the form, the status and a summary.
Forms carry the CSRF token of ``usmca.app.web``; starting work needs an analyst signed in.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from usmca.app.api import ApiError
from usmca.app.db import Database
from usmca.app.web import Web, _Forbidden, _form
from usmca.errors import NotFoundError, UsmcaError


def _page_error(web: Web, request: Request, exc: Exception, name: str, **ctx: Any) -> HTMLResponse:
    if isinstance(exc, _Forbidden):  # 401 nobody signed in, 403 otherwise
        return web.render(request, "error.html", exc.status, message=str(exc))
    if isinstance(exc, NotFoundError):
        return web.render(request, "error.html", 404, message=str(exc))
    return web.render(request, name, 422, error=str(exc), **ctx)


def _analyst(web: Web, request: Request, what: str) -> Any:
    return web.require(request, "analyst", what)


def _money(v: Any, sign: bool = False) -> str:
    """USD as the reports write it (bn, m); unknown stays "unknown", never zero."""
    from usmca.scenarios.report import _money as report_money

    if not isinstance(v, int | float):
        return "unknown"
    return ("+" if sign and v >= 0 else "") + report_money(v)


def _macro_view(m: dict[str, Any]) -> dict[str, Any]:
    """Totals per country, baseline against the scenario, for the cards above the report."""
    out: dict[str, Any] = {}
    for r in m.get("totals") or []:
        side = "baseline" if r.get("scenario") == "baseline" else "scenario"
        out.setdefault(str(r.get("country")), {"baseline": {}, "scenario": {}})[side] = r
    return out


def _headline(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per scenario: SKUs that flip, change in duty owed, remedies found and verified."""
    base = (doc.get("baseline") or {}).get("duty_owed") or 0.0
    out = []
    for sc in doc.get("scenarios") or []:
        flips = [f for f in sc.get("flips") or [] if f.get("flipped")]
        rem = sc.get("remedies") or []
        out.append(
            {
                "name": sc.get("scenario"),
                "title": sc.get("title"),
                "flips": len(flips),
                "total": sc.get("flips_total"),  # set when the list was cut at the result-row limit
                "changed": len(sc.get("flips") or []),
                "duty_owed": sc.get("duty_owed"),
                "duty_change": None if sc.get("duty_owed") is None else sc["duty_owed"] - base,
                "duty_at_stake": sc.get("duty_at_stake"),
                "remedies": len(rem),
                "verified": sum(1 for r in rem if r.get("verified")),
                "by_status": sc.get("by_status") or {},
            }
        )
    return out


def mount(app: FastAPI, db: Database) -> None:
    from usmca.app import scenario_api as sapi

    web: Web = app.state.web
    web.env.filters["money"] = _money

    @app.get("/scenarios", response_class=HTMLResponse, include_in_schema=False)
    def scenarios_page(request: Request) -> Response:
        return web.render(request, "scenarios.html", scenarios=[sapi.summary(s) for s in sapi.bundled().values()])

    # --- comparison (registered before /scenarios/{name}) ---------------------------------------------------
    def compare_ctx(request: Request, chosen: list[str] | None = None) -> dict[str, Any]:
        return {
            "scenarios": [sapi.summary(s) for s in sapi.bundled().values()],
            "chosen": set(chosen or request.query_params.getlist("scenario")),
            "jobs": sapi.recent_comparisons(db),
            "date": request.query_params.get("date", ""),
        }

    @app.get("/scenarios/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(request: Request) -> Response:
        return web.render(request, "scenario_compare.html", **compare_ctx(request))

    @app.post("/scenarios/compare", response_class=HTMLResponse, include_in_schema=False)
    async def compare_start(request: Request) -> Response:
        from starlette.datastructures import UploadFile

        form = await request.form()  # uploads: bounded by the upload limit of the middleware (BodyLimit)
        names = [str(v) for v in form.getlist("scenario") if str(v).strip()]
        try:
            web.check_csrf(request, form)
            user = _analyst(web, request, "comparing scenarios on a portfolio")
            docs: list[tuple[str | None, bytes]] = []
            up = form.get("scenario_file")
            if isinstance(up, UploadFile) and up.filename:
                docs.append((up.filename, await up.read(sapi.MAX_SCENARIO_FILE + 1)))
            scs = sapi.resolve(names, docs)
            uploads: list[tuple[str, str | None, Any]] = []
            for name in ("products", "bom", "declarations"):
                f = form.get(name)
                if isinstance(f, UploadFile) and f.filename:
                    uploads.append((name, f.filename, f.file))
            job_id = sapi.start_compare(
                db, request.app.state.limits, user.username, uploads, scs, str(form.get("date") or "") or None
            )
        except ApiError as exc:  # a scenario document over its size limit (413)
            ctx = compare_ctx(request, names)
            return web.render(request, "scenario_compare.html", exc.status, error=exc.message, **ctx)
        except (UsmcaError, _Forbidden) as exc:
            return _page_error(web, request, exc, "scenario_compare.html", **compare_ctx(request, names))
        return RedirectResponse(f"/scenarios/compare/{job_id}", status_code=303)

    @app.get("/scenarios/compare/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def compare_job(request: Request, job_id: str) -> Response:
        try:
            job, body = sapi.comparison_job(db, job_id)
        except NotFoundError as exc:
            return _page_error(web, request, exc, "error.html")
        doc = job.result.model_dump() if job.result is not None else {}
        return web.render(
            request,
            "scenario_compare_job.html",
            job=job,
            headline=_headline(doc),
            baseline=doc.get("baseline") or {},
            report=Markup(body or ""),  # built by usmca.scenarios.report, every value escaped there
        )

    # --- one scenario ---------------------------------------------------------------------------------------
    @app.get("/scenarios/{name}", response_class=HTMLResponse, include_in_schema=False)
    def scenario_page(request: Request, name: str) -> Response:
        try:
            sc = sapi.get_bundled(name)
        except NotFoundError as exc:
            return _page_error(web, request, exc, "error.html")
        lines = sapi.summary(sc).overlays
        return web.render(
            request,
            "scenario.html",
            sc=sc,
            rule_lines=[ln for ln in lines if ln.startswith("rules/")],
            measure_lines=[ln for ln in lines if ln.startswith("measures/")],
            document=json.dumps(sc.to_dict(), indent=2, ensure_ascii=False, default=str),
            today=dt.date.today().isoformat(),
        )

    def macro_ctx(request: Request, name: str, date: str) -> dict[str, Any]:
        from usmca.app.api import _date

        sc = sapi.get_bundled(name)
        on = _date(date, "date") or dt.date.today()
        ctx: dict[str, Any] = {"sc": sc, "date": on.isoformat(), "job": None, "report": None, "cards": {}}
        found = sapi.macro_job(db, sc, on)
        if found is not None:
            job, body = found
            ctx["job"] = job
            ctx["report"] = Markup(body or "")  # built by usmca.scenarios.report, every value escaped there
            if job.result is not None:
                ctx["cards"] = _macro_view(job.result.model_dump())
        return ctx

    @app.get("/scenarios/{name}/macro", response_class=HTMLResponse, include_in_schema=False)
    def macro_page(request: Request, name: str, date: str = "") -> Response:
        try:
            ctx = macro_ctx(request, name, date)
        except UsmcaError as exc:  # unknown scenario: 404; a bad date: 422 naming the field
            if isinstance(exc, NotFoundError):
                return _page_error(web, request, exc, "error.html")
            return web.render(request, "error.html", 422, message=str(exc))
        return web.render(request, "scenario_macro.html", **ctx)

    @app.post("/scenarios/{name}/macro", response_class=HTMLResponse, include_in_schema=False)
    async def macro_start(request: Request, name: str) -> Response:
        from usmca.app.api import _date

        form = await _form(request)
        date = str(form.get("date") or "")
        try:
            web.check_csrf(request, form)
            user = _analyst(web, request, "computing a macro view")
            sc = sapi.get_bundled(name)
            on = _date(date, "date") or dt.date.today()
            sapi.start_macro(db, user.username, sc, on)
        except (UsmcaError, _Forbidden) as exc:
            if isinstance(exc, _Forbidden | NotFoundError):
                return _page_error(web, request, exc, "error.html")
            return web.render(request, "error.html", 422, message=str(exc))
        return RedirectResponse(f"/scenarios/{sc.name}/macro?date={on.isoformat()}", status_code=303)
