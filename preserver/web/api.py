"""The HTTP JSON API under ``/api/``: the shapes the CLI prints with ``--json``.

Every route declares the role it needs (``auth.require``); a client sends
``Authorization: Bearer <token>`` (``preserver token create``), or a signed-in browser's
session cookie. Errors are ``{"error": message}`` with a 4xx status (``app``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from preserver.accounts.roles import Principal, Role
from preserver.web.auth import require
from preserver.web.context import web_state

router = APIRouter(prefix="/api", tags=["api"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]


@router.get("/me", summary="Who this request acts for")
async def me(principal: Viewer) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "via": principal.via}


@router.get("/reports", summary="Every report, with its links counted by state")
async def reports(request: Request, principal: Viewer) -> list[dict[str, Any]]:
    from preserver.views.reports import reports as all_reports

    async with web_state(request).archive.db.reader() as reader:
        return await all_reports(reader)
