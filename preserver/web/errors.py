"""Errors a web request ends with: each becomes a page with its status (4xx, or 5xx for
the server's own failures), or a JSON error under ``/api/``, with a one-line message
(``app._error_response``).

    WebError(status, message)      any refusal: 400 bad input, 404, 413 too big, 429 ...;
                                   or 500/507 (``server_error``)
    ├── Unauthenticated            401: no session or token (a page redirects to /login)
    └── Forbidden                  403: the role does not allow it, or a bad CSRF token

``server_error(exc, doing)`` is the server's own failure as a ``WebError``: 507 when its
disk is full, else 500; the message says what could not be done, never a traceback nor
where the archive keeps its files (those go to the log).
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


def server_error(exc: BaseException, doing: str) -> WebError:
    """A failure of the server's own (``OSError``, ``RunError``...) while ``doing`` something,
    as a 5xx with a one-line message: 507 when its disk (or quota) is full, else 500. The
    message names no path, bucket or endpoint (the failure's whole text goes to the log)."""
    import errno
    import logging

    logging.getLogger("preserver.web").error("%s: %s", doing, exc, exc_info=exc)
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        return WebError(507, f"{doing}: the server's disk is full; tell the archive's "
                             "administrator")
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else None
    return WebError(500, f"{doing}: {reason or 'the server could not; its log says why'}")
