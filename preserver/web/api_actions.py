"""The archivists' API: upload a report, start a run and follow it.

    POST /api/reports      archivist   multipart upload (field ``report``): the ingest summary
    GET  /api/runs         archivist   runs started here, and the ``runs`` table
    POST /api/runs         archivist   start a run; body ``{"report": SHA256}`` or empty
    GET  /api/runs/{id}    archivist   a run and its progress

A bearer token needs no CSRF token; a signed-in browser's script sends its session's
secret as ``X-CSRF-Token`` (or, for an upload, in the form's ``csrf`` field).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from preserver.accounts.roles import Principal, Role
from preserver.web import runs
from preserver.web.auth import check_csrf, require
from preserver.web.errors import WebError
from preserver.web.forms import MAX_FORM_BYTES, read_body
from preserver.web.ingesting import CSRF_HEADER, upload_report

router = APIRouter(prefix="/api", tags=["api"])
Archivist = Annotated[Principal, Depends(require(Role.ARCHIVIST))]


@router.post("/reports", summary="Upload a report (multipart field `report`) and ingest it",
             status_code=201)
async def upload(request: Request, principal: Archivist) -> JSONResponse:
    result = await upload_report(request, principal)
    return JSONResponse(asdict(result), status_code=200 if result.already_ingested else 201)


@router.get("/runs", summary="Runs started from this web server, and the runs table")
async def list_runs(request: Request, principal: Archivist) -> dict[str, Any]:
    return await runs.listing(request)


@router.post("/runs", summary="Start a capture run (`preserver run`) in your name",
             status_code=202)
async def start_run(request: Request, principal: Archivist) -> JSONResponse:
    check_csrf(principal, request.headers.get(CSRF_HEADER))
    body = await read_body(request, MAX_FORM_BYTES)
    report = None
    if body.strip():
        try:
            given = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # "[[[[…" nests past
            raise WebError(400, f"the body is not JSON: {exc}") from exc  # the parser's stack
        if not isinstance(given, dict) or not isinstance(given.get("report", ""), str | None):
            raise WebError(400, 'the body must be {"report": "<SHA-256>"} or empty')
        report = given.get("report")
    run = await runs.start(request, principal, report)
    return JSONResponse({"run": run.as_dict(), "url": f"/api/runs/{run.id}"}, status_code=202,
                        headers={"Location": f"/api/runs/{run.id}"})


@router.get("/runs/{run_id}", summary="A run and the progress of its report (or of all)")
async def run(request: Request, principal: Archivist, run_id: str) -> dict[str, Any]:
    found = await runs.detail(request, run_id)
    found.pop("refresh")
    return found
