"""Server-rendered pages: Jinja2 templates with autoescaping on, so every text that
comes from a report or a platform is escaped; each page gets its language, direction,
the signed-in principal and its CSRF secret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from preserver.web.context import sent_path, web_state
from preserver.web.i18n import LANG_COOKIE, choose, direction, translate
from preserver.web.messages import MESSAGES

if TYPE_CHECKING:
    from starlette.requests import Request

    from preserver.accounts.roles import Principal


def environment() -> Environment:
    env = Environment(loader=PackageLoader("preserver.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def language(request: Request) -> str:
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def page(request: Request, template: str, *, principal: Principal | None, status: int = 200,
         headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    """Render ``template`` for ``request`` in its language."""
    lang = language(request)

    def t(key: str, **fields: object) -> str:
        return translate(lang, key, **fields)

    html = web_state(request).templates.get_template(template).render(
        lang=lang, dir=direction(lang), t=t, has_text=MESSAGES.__contains__, principal=principal,
        csrf=principal.csrf if principal is not None else "", path=sent_path(request),
        **values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS | (headers or {}))


# no page is framed by another site or runs a script we did not send (nosniff and no-store:
# every answer has them, web/headers.py)
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "Referrer-Policy": "same-origin",
}
