"""``create_app(config)``: the FastAPI application of ``preserver web``.

It opens the archive once (as ``Access.UPDATE``: an existing archive, its schema brought
up to date) for its lifetime, mounts the pages (``pages``), the JSON API (``api``, with
OpenAPI documentation at ``/api/docs``) and the static files, and turns every
``WebError`` into a 4xx: a page in the visitor's language, or ``{"error": message}``
under ``/api/``; an application error (``PreserverError``) no route translated is a 400
(``InputError``) or 500 with its one line, never a bare traceback page. A page asked for
by nobody signed in redirects to ``/login``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from preserver.errors import InputError, PreserverError
from preserver.version import __version__
from preserver.web import actions, api, api_actions, apidocs, blobs, pages, report_pages, targets
from preserver.web.auth import principal_of
from preserver.web.check import router as check_router
from preserver.web.context import WebState, is_api, sent_path
from preserver.web.errors import Unauthenticated, WebError, server_error
from preserver.web.headers import AnswerHeaders
from preserver.web.render import environment, page
from preserver.web.runs import stop_runs

if TYPE_CHECKING:
    from starlette.requests import Request

    from preserver.config import Config


def create_app(config: Config) -> FastAPI:
    """The web application over the archive ``config`` names."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from preserver.archive import Access, open_archive

        async with open_archive(config, access=Access.UPDATE) as archive:
            app.state.web = WebState(archive=archive, templates=environment())
            try:
                yield
            finally:
                await stop_runs(app)  # the runs it started (web/launcher.py)

    app = FastAPI(title="preserver", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  swagger_ui_oauth2_redirect_url=None,  # no OAuth2: no public page for it
                  description="The archive's HTTP API: the shapes the CLI prints with --json. "
                              "Send `Authorization: Bearer <token>` (`preserver token create`).")
    app.include_router(api.router)
    app.include_router(api_actions.router)
    app.include_router(apidocs.router)  # /api/docs, Swagger UI from this server, with SRI
    app.include_router(pages.router)
    app.include_router(targets.router)
    app.include_router(blobs.router)
    app.include_router(actions.router)
    app.include_router(report_pages.router)  # /reports/{sha256}, /linkrot, their /api twins
    app.include_router(check_router)  # /check: is this the file?
    # before /static, which would answer 404 for these: Swagger UI's files (apidocs.py)
    app.mount(apidocs.ASSETS_URL, StaticFiles(directory=apidocs.ASSETS), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=str(files("preserver.web") / "static")),
              name="static")
    app.add_middleware(AnswerHeaders)
    app.add_exception_handler(WebError, _web_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(PreserverError, _preserver_error)  # type: ignore[arg-type]
    return app


async def _web_error(request: Request, exc: WebError) -> Response:
    if isinstance(exc, Unauthenticated) and not is_api(request):
        target = sent_path(request) + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return await _error_response(request, exc.status, exc.message)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return await _error_response(request, exc.status_code, str(exc.detail))


async def _preserver_error(request: Request, exc: PreserverError) -> Response:
    """An application error no route translated: an ``InputError``'s one line (400), else a
    500 that says no more than the log does not (paths, buckets); never a bare traceback."""
    if isinstance(exc, InputError):
        return await _error_response(request, 400, str(exc))
    return await _error_response(request, 500, server_error(exc, "the request failed").message)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return await _error_response(request, 400, f"{where}: {first.get('msg', 'invalid')}")


async def _error_response(request: Request, status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 408:  # RFC 9110 15.5.9: the connection is closed after it. Kept open, the
        # rest of the stalled body would be read and dropped by uvicorn for as long as the
        # client sent it, each byte stopping its keep-alive timer: held for ever. (Not for
        # 413: a browser still sending its body would see a reset, not the answer.)
        headers["Connection"] = "close"
    if is_api(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    try:
        principal = await principal_of(request)
    except WebError:
        principal = None
    response = page(request, "error.html", principal=principal, status=status,
                    status_code=status, message=message)
    if headers:
        response.headers.update(headers)
    return response
