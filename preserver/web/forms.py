"""Reading a small HTML form (``application/x-www-form-urlencoded``) with a size bound.

Starlette's own form parsing needs python-multipart, whose ``multipart`` module would
replace the ``multipart`` package the archive's WACZ indexing uses; forms here are read
by the standard library instead (file uploads: ``uploads``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from preserver.web.bodies import stream_body
from preserver.web.errors import WebError

if TYPE_CHECKING:
    from starlette.requests import Request

MAX_FORM_BYTES = 64 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it passes ``limit`` bytes, and with
    408 when its next bytes do not come within ``bodies.IDLE_SECONDS``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise WebError(413, f"request body over {limit} bytes")
    chunks, total = [], 0
    async for chunk in stream_body(request):
        total += len(chunk)
        if total > limit:
            raise WebError(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, *, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The fields of a URL-encoded form; a repeated field keeps its first value."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise WebError(415, "expected a form (application/x-www-form-urlencoded)")
    body = await read_body(request, limit)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=64)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebError(400, f"the form cannot be read: {exc}") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields
