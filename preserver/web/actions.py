"""The archivists' pages (upload a report, start and watch runs) and the evidence
package download for legal teams.

    GET  /upload                        archivist   the upload form
    POST /upload                        archivist   ingest the uploaded report
    GET  /runs                          archivist   runs started here, and the runs table
    POST /runs                          archivist   start a run (optional: report to watch)
    GET  /runs/{id}                     archivist   a run's progress (reloads while running)
    GET  /reports/{sha256}/package.zip  legal       the report's evidence package

Every form that changes anything checks the session's CSRF secret (``auth.check_csrf``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from preserver.accounts.roles import Principal, Role
from preserver.web import runs
from preserver.web.auth import check_csrf, require
from preserver.web.context import web_state
from preserver.web.forms import read_form
from preserver.web.ingesting import FILE_FIELD, upload_report
from preserver.web.packages import package_download
from preserver.web.render import page

router = APIRouter(include_in_schema=False)
Legal = Annotated[Principal, Depends(require(Role.LEGAL))]
Archivist = Annotated[Principal, Depends(require(Role.ARCHIVIST))]


@router.get("/upload")
async def upload_form(request: Request, principal: Archivist) -> Response:
    return page(request, "upload.html", principal=principal, field=FILE_FIELD,
                max_upload=web_state(request).config.web.max_upload, result=None)


@router.post("/upload")
async def upload(request: Request, principal: Archivist) -> Response:
    result = await upload_report(request, principal)
    return page(request, "upload.html", principal=principal, field=FILE_FIELD,
                max_upload=web_state(request).config.web.max_upload, result=result,
                status=200 if result.already_ingested else 201)


@router.get("/runs")
async def runs_page(request: Request, principal: Archivist) -> Response:
    listed = await runs.listing(request)
    return page(request, "runs.html", principal=principal, **listed)


@router.post("/runs")
async def start_run(request: Request, principal: Archivist) -> Response:
    form = await read_form(request)
    check_csrf(principal, form.get("csrf"))
    run = await runs.start(request, principal, form.get("report"))
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/runs/{run_id}")
async def run_page(request: Request, principal: Archivist, run_id: str) -> Response:
    found = await runs.detail(request, run_id)
    return page(request, "run.html", principal=principal, **found)


@router.get("/reports/{sha256}/package.zip")
async def package(request: Request, principal: Legal, sha256: str) -> Response:
    return await package_download(web_state(request).archive, sha256=sha256,
                                  principal=principal)
