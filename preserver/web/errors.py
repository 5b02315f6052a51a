"""Errors a web request ends with: each becomes a 4xx page, or a JSON error under
``/api/``, with a one-line message (``app._error_response``).

    WebError(status, message)      any refusal: 400 bad input, 404, 413 too big, 429 ...
    ├── Unauthenticated            401: no session or token (a page redirects to /login)
    └── Forbidden                  403: the role does not allow it, or a bad CSRF token
"""

from __future__ import annotations


class WebError(Exception):
    """The request is refused; ``status`` is its HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Unauthenticated(WebError):
    """Nobody is signed in: pages send the visitor to /login, the API answers 401."""

    def __init__(self, message: str = "sign in first") -> None:
        super().__init__(401, message)


class Forbidden(WebError):
    """Signed in, but not allowed to do this."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)
