"""HTTP status codes and the availability each means: one table for every probe's tests."""

from __future__ import annotations

from workers import Status

HTTP_CASES = [  # (code, status, transient)
    (404, Status.NOT_FOUND, False),
    (410, Status.NOT_FOUND, False),
    (401, Status.LOGIN_REQUIRED, False),
    (403, Status.UNKNOWN, True),
    (429, Status.RATE_LIMITED, True),
    (500, Status.ERROR, True),
    (503, Status.ERROR, True),
    (451, Status.UNKNOWN, False),
]
