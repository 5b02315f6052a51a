"""``GET /check``: "is this the file?", for a viewer or above (docs/web.md
"Is this the file?").

Without ``sha256`` the page offers two ways to ask: choose a file, which the browser
hashes itself (``static/check.js``, ``static/sha256-worker.js``: the file is never
uploaded), or paste a SHA-256 into a plain GET form that works without JavaScript.

With ``?sha256=<64 hex digits>`` (capitals accepted and lower-cased, spaces around it
ignored) the page answers, rendered on the server: every archived file with that hash,
with its capture, the date it was captured and the report citations of its target
(``views.targets.lookup``, the ``lookup --json`` shape), or "not in the archive". Any
other value is a 400 page saying what a SHA-256 looks like. The page only reads: nothing
is written, not even a custody event.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from preserver.accounts.roles import Principal, Role
from preserver.web.auth import require
from preserver.web.context import web_state
from preserver.web.render import page

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]

CHUNK_BYTES = 8 << 20  # the browser reads and hashes a file 8 MiB at a time
_SHA256 = re.compile(r"[0-9a-f]{64}")


def parse_sha256(text: str) -> str | None:
    """``text`` as a lower-case SHA-256 in hex, or None when it is not one."""
    candidate = text.strip(" \t\r\n").lower()
    return candidate if _SHA256.fullmatch(candidate) else None


@router.get("/check")
async def check_page(request: Request, principal: Viewer, sha256: str = "") -> Response:
    if not sha256.strip():
        return _page(request, principal)
    wanted = parse_sha256(sha256)
    if wanted is None:
        return _page(request, principal, status=400, bad=len(sha256))
    from preserver.views.targets import lookup

    async with web_state(request).archive.db.reader() as reader:
        matches = await lookup(reader, wanted)
    return _page(request, principal, asked=wanted, matches=matches)


def _page(request: Request, principal: Principal, *, status: int = 200, asked: str = "",
          matches: list[dict[str, Any]] | None = None, bad: int | None = None) -> Response:
    """The page; ``asked``: the hash answered for, ``bad``: the length of a wrong one."""
    return page(request, "check.html", principal=principal, status=status,
                chunk_bytes=CHUNK_BYTES, asked=asked, matches=matches or [], bad=bad)
