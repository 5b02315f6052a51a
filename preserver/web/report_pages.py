"""One report's page and the link-rot dashboard, with their JSON twins.

    GET /reports/{sha256}        one report, its citations in report order (viewer)
    GET /api/reports/{sha256}    the same as JSON, every citation
    GET /linkrot[?report=NAME]   the link-rot dashboard (viewer)
    GET /api/linkrot[?report=]   ``preserver linkrot --format json``: the same function

The report page lists ``PER_PAGE`` citations at a time (``?page=N``), so that a report of
any size is one fixed set of queries (``views.report``) and a page of bounded size; the
bench ``bench/web_report_page.py`` measured why (docs/web.md "Reports and link rot").
A SHA-256 that is not 64 hex is refused (400), an unknown one is 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from preserver.accounts.roles import Principal, Role
from preserver.errors import UnknownKey
from preserver.web.auth import require
from preserver.web.context import web_state
from preserver.web.errors import WebError
from preserver.web.i18n import translate
from preserver.web.messages import MESSAGES
from preserver.web.pager import page_links
from preserver.web.render import language, page

if TYPE_CHECKING:
    from preserver.views.linkrot import LinkrotReport
    from preserver.views.report import Window

router = APIRouter()
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
PER_PAGE = 1000  # citations on one page of a report
ROTTEN_SHOWN = 1000  # down or restricted links listed per report on /linkrot
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_KINDS = ("up", "down", "restricted", "unknown")


def _sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise WebError(400, "a report is named by its SHA-256: 64 hexadecimal characters")
    return value.lower()


async def _report(request: Request, sha256: str, window: Window | None) -> dict[str, Any]:
    from preserver.views.report import report_of

    async with web_state(request).archive.db.reader() as reader:
        found = await report_of(reader, _sha256(sha256), window)
    if found is None:
        raise WebError(404, f"no report with SHA-256 {sha256.lower()} in the archive")
    return found


def _names(lang: str, prefix: str, values: set[str]) -> dict[str, str]:
    """Each value's text in ``lang`` (``prefix.value``), the value itself when it has none."""
    return {v: translate(lang, f"{prefix}.{v}") if f"{prefix}.{v}" in MESSAGES else v
            for v in values}


@router.get("/reports/{sha256}", include_in_schema=False)
async def report_page(request: Request, principal: Viewer, sha256: str,
                      page_number: Annotated[int, Query(alias="page", ge=1, le=10**9)] = 1,
                      ) -> Response:
    from preserver.views.report import Window

    window = Window(offset=(page_number - 1) * PER_PAGE, limit=PER_PAGE)
    found = await _report(request, sha256, window)
    pages = max(1, -(-found["citations"] // PER_PAGE))
    if page_number > pages:
        raise WebError(404, f"this report has {pages} page(s) of citations, not {page_number}")
    lang, items = language(request), found["items"]
    for item in items:  # the target page's path: the key is one path segment, all escaped
        item["href"] = "/targets/" + quote(item["key"], safe="")
    return page(
        request, "report.html", principal=principal, report=found, items=items,
        paged=any(item["page"] is not None for item in items),
        state_names=_names(lang, "state", {i["state"] for i in items} | set(found["states"])
                           | {i["copy"]["state"] for i in items if i["copy"]}),
        status_names=_names(lang, "avail", {i["availability"] for i in items}),
        page_number=page_number, pages=pages, pager=page_links(page_number, pages),
        first=found["offset"] + 1,
        last=found["offset"] + len(items))


@router.get("/api/reports/{sha256}", tags=["api"],
            summary="One report with every citation, its link's state and the copy held")
async def report_json(request: Request, principal: Viewer, sha256: str) -> dict[str, Any]:
    return await _report(request, sha256, None)


async def _linkrot(request: Request, report: str | None) -> LinkrotReport:
    from preserver.views.linkrot import linkrot

    if report is not None and not report.strip():
        report = None
    async with web_state(request).archive.db.reader() as reader:
        try:
            return await linkrot(reader, report=report)
        except UnknownKey as exc:
            raise WebError(404, str(exc)) from exc


@router.get("/linkrot", include_in_schema=False)
async def linkrot_page(request: Request, principal: Viewer,
                       report: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    from preserver.views.linkrot.html import chart

    result = await _linkrot(request, report)
    lang = language(request)
    kinds = {k: translate(lang, f"kind.{k}") for k in _KINDS}

    def draw(history: Any) -> Markup:  # chart() escapes every value it is given
        return Markup(chart(history, names=kinds, title=translate(lang, "linkrot.chart"),
                            empty=translate(lang, "linkrot.no_history")))

    statuses = {s for s, _ in result.down_by_reason} | {
        s for r in result.reports for link in r.links for s in (link.status, link.last_status)
        if s is not None}
    sections = [{"report": r, "chart": draw(r.history),
                 "rotten": [link for link in r.links if link.kind in ("down", "restricted")]}
                for r in result.reports]
    return page(request, "linkrot.html", principal=principal, result=result, kinds=kinds,
                chart=draw(result.history), sections=sections, shown=ROTTEN_SHOWN,
                status_names=_names(lang, "avail", statuses), filter=report or "")


@router.get("/api/linkrot", tags=["api"],
            summary="The link-rot report: `preserver linkrot --format json`")
async def linkrot_json(request: Request, principal: Viewer,
                       report: Annotated[str | None, Query(max_length=300)] = None,
                       ) -> dict[str, Any]:
    from preserver.views.linkrot import to_json

    return to_json(await _linkrot(request, report))
