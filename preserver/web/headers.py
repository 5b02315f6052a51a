"""``Headers``: what every answer of ``preserver web`` carries, whoever made it (a page,
the API, an error, a file):

- ``X-Content-Type-Options: nosniff``: a JSON answer holding a report's or a platform's
  text is never read as HTML;
- ``Cache-Control: no-store`` (not for /static/): neither a shared cache nor the browser
  keeps a page, a JSON answer or a file of the archive for the next person, and Back
  after signing out shows nothing.

An answer that set one of these itself keeps its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = ((b"x-content-type-options", b"nosniff"),)
_NOT_STATIC = ((b"cache-control", b"no-store"),)


class AnswerHeaders:
    """ASGI middleware adding the headers above to each HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        defaults = _ALWAYS if static else _ALWAYS + _NOT_STATIC

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
