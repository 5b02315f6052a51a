"""The server-rendered pages: signing in and out, the language switch, the reports.

Each page declares the role it needs (``auth.require``); each form that changes
anything checks the session's CSRF secret (``auth.check_csrf``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from preserver.accounts.roles import Principal, Role
from preserver.web.auth import (
    SESSION_COOKIE,
    check_csrf,
    offered_csrf,
    principal_of,
    require,
    set_session_cookie,
)
from preserver.web.context import web_state
from preserver.web.errors import Forbidden
from preserver.web.forms import read_form
from preserver.web.i18n import LANG_COOKIE, LANGUAGES
from preserver.web.render import page

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
LOGIN_CSRF_COOKIE = "preserver_login_csrf"


def _local(target: str | None) -> str:
    """A redirect target on this site only (a path), else the reports page."""
    if not target:
        return "/reports"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/reports"
    return target


@router.get("/")
async def index() -> Response:
    return RedirectResponse("/reports", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str = "/reports") -> Response:
    # The login form has no session yet: its CSRF secret is a cookie the form echoes.
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", principal=await principal_of(request),
                    login_csrf=token, next=_local(next), failed=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/login")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    from preserver.accounts import begin_attempt, end_attempt, login_allowed, sign_in

    form = await read_form(request)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie_token or not secrets.compare_digest(cookie_token.encode(),
                                                      form.get("csrf", "").encode()):
        raise Forbidden("the sign-in form's CSRF token is missing or wrong: reload the page")
    web = web_state(request).config.web
    db = web_state(request).archive.db
    name, password = form.get("name", "").strip(), form.get("password", "")
    address = request.client.host if request.client else "unknown"
    # counted (and committed) first, checked after: attempts sent at once see each other
    async with db.session() as session:
        attempt = await begin_attempt(session, name=name, address=address)
    async with db.session() as session:
        allowed = await login_allowed(session, name=name, address=address,
                                      window=timedelta(seconds=web.login_window),
                                      per_name=web.login_attempts,
                                      per_address=web.login_attempts_per_address)
        if not allowed:
            await end_attempt(session, attempt)
            signed = None
        else:
            signed = await sign_in(session, name=name, password=password, attempt=attempt,
                                   lifetime=timedelta(seconds=web.session_lifetime),
                                   previous=request.cookies.get(SESSION_COOKIE, ""))
    if not allowed:
        minutes = max(1, round(web.login_window / 60))
        return page(request, "login.html", principal=None, status=429,
                    login_csrf=cookie_token, next=_local(form.get("next")),
                    failed=("login.too_many", {"minutes": minutes}),
                    headers={"Retry-After": str(int(web.login_window))})
    if signed is None:
        return page(request, "login.html", principal=None, status=401, login_csrf=cookie_token,
                    next=_local(form.get("next")), failed=("login.failed", {}))
    cookie, _principal = signed
    response = RedirectResponse(_local(form.get("next")), status_code=303)
    set_session_cookie(request, response, cookie, int(web.session_lifetime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, principal: Viewer) -> Response:
    from preserver.accounts import sign_out

    check_csrf(principal, await offered_csrf(request))
    async with web_state(request).archive.db.session() as session:
        await sign_out(session, principal.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
async def switch_language(code: str, next: str = "/reports") -> Response:
    """Set the pages' language (a cookie) and go back to the page it was chosen on."""
    response = RedirectResponse(_local(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/reports")
async def reports_page(request: Request, principal: Viewer) -> Response:
    from preserver.views.reports import reports

    async with web_state(request).archive.db.reader() as reader:
        found = await reports(reader)
    return page(request, "reports.html", principal=principal, reports=found)
