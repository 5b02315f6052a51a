"""Who a request acts for, and whether that principal may do what it asks.

- An API client sends ``Authorization: Bearer pvt_…`` (``preserver token create``).
- A browser holds the ``preserver_session`` cookie (HttpOnly, SameSite=Lax, Secure when
  the request came over HTTPS) set by signing in.

``require(role)`` is the dependency every route declares: nobody signed in is
``Unauthenticated`` (a page redirects to /login, the API answers 401), a role too low is
``Forbidden`` (403). A browser's state-changing request must carry its session's CSRF
secret (``check_csrf``): in the form's ``csrf`` field, or the ``X-CSRF-Token`` header.
A bearer token needs none, as no browser sends it by itself.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request  # at run time: FastAPI reads the annotations

from preserver.accounts.roles import Principal, Role
from preserver.web.context import web_state
from preserver.web.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant
    from starlette.responses import Response

SESSION_COOKIE = "preserver_session"
CSRF_HEADER = "x-csrf-token"


async def principal_of(request: Request) -> Principal | None:
    """The request's principal, from its bearer token or its session cookie (once per
    request). A bad token is refused rather than passed over for the cookie; another
    scheme (``Basic``, sent by every request once a proxy in front has asked for it) is
    not ours, and passed over."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    from preserver.accounts import session_principal, token_principal

    archive = web_state(request).archive
    header = request.headers.get("authorization", "")
    found = None
    async with archive.db.session() as session:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() == "bearer":
            if not secret.strip():
                raise Unauthenticated("Authorization must be: Bearer <token>")
            found = await token_principal(session, secret.strip())
            if found is None:
                raise Unauthenticated("unknown or revoked token")
        elif cookie := request.cookies.get(SESSION_COOKIE, ""):
            found = await session_principal(session, cookie)
    request.state.principal = found
    return found


class Require:
    """The dependency ``require(role)`` returns: the request's principal, who must hold
    ``role`` or a higher one. ``role`` is public so that the routes' roles can be listed
    (``route_role``; tests/preserver/web/test_roles.py checks every route with it)."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self.__name__ = f"require_{role.value}"

    async def __call__(self, request: Request) -> Principal:
        principal = await principal_of(request)
        if principal is None:
            raise Unauthenticated()
        if not principal.role.allows(self.role):
            raise Forbidden(f"the {principal.role.value} role may not do this "
                            f"({self.role.value} or above may)")
        return principal


def require(role: Role) -> Require:
    """A dependency: the request's principal, who must hold ``role`` or a higher one."""
    return Require(role)


def route_role(dependant: Dependant) -> Role | None:
    """The highest role a route's dependencies (at any depth) ``require``; ``None`` for a
    public route."""
    found = [dependant.call.role] if isinstance(dependant.call, Require) else []
    found += [r for sub in dependant.dependencies if (r := route_role(sub)) is not None]
    return max(found, key=lambda r: r.rank, default=None)


async def offered_csrf(request: Request) -> str | None:
    """The CSRF secret a request offers: its ``X-CSRF-Token`` header (a script's), else
    its form's ``csrf`` field (the form is read, bounded, by ``forms.read_form``)."""
    from preserver.web.forms import read_form

    if (header := request.headers.get(CSRF_HEADER)) is not None:
        return header
    return (await read_form(request)).get("csrf")


def check_csrf(principal: Principal, offered: str | None) -> None:
    """A browser's form or script must echo its session's CSRF secret."""
    if principal.via != "session":
        return
    if not offered or not hmac.compare_digest(offered.encode(), principal.csrf.encode()):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page and try again")


def set_session_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    """HttpOnly and SameSite=Lax always; Secure when the request came over HTTPS (the
    scheme uvicorn gives, from X-Forwarded-Proto of a trusted proxy)."""
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
