"""``GET /files/<sha256>``: a blob the archive names, streamed from its blob store
(docs/web.md "Targets and files").

- Only a blob that a file row, a capture's manifest or signature, or a report names is
  served (``views.files.named_blob``); anything else is 404, and an address that is not
  64 hex digits is 400 before anything is looked up, so no path is ever built from it.
- ``Range``: one byte range is answered 206 with ``Content-Range``, a range with no byte
  in the blob 416 with ``Content-Range: bytes */SIZE``; what is ignored (whole body, 200)
  is in ``web.ranges``. ``If-Range`` and ``If-None-Match`` compare the strong ETag, the
  quoted SHA-256.
- Memory stays flat: the store is read with ``open_range`` in chunks of ``CHUNK`` bytes,
  each read in a worker thread, and the next chunk is read only once the last was sent.
- Headers: the media type of the file row (``application/octet-stream`` when it is not a
  plain ``type/subtype``), ``Content-Disposition`` with the name (RFC 6266, the UTF-8 name
  as RFC 8187 ``filename*``) — ``inline`` only for media, images, plain text and JSON,
  else ``attachment`` — ``nosniff``, and a Content-Security-Policy ``sandbox`` with
  ``default-src 'none'``, so an archived HTML page opened here runs no script on this site.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from preserver.accounts.roles import Principal, Role
from preserver.web.auth import require
from preserver.web.context import web_state
from preserver.web.errors import WebError
from preserver.web.ranges import NotSatisfiable, Slice, wanted

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read from the store, and sent, at a time
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_INLINE = re.compile(r"(video|audio)/.+|image/(png|jpeg|gif|webp|avif)|text/plain|"
                     r"application/json")
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]")
SANDBOX = ("sandbox; default-src 'none'; img-src 'self'; media-src 'self'; "
           "style-src 'unsafe-inline'; frame-ancestors 'self'")


@router.api_route("/files/{sha256}", methods=["GET", "HEAD"])
async def serve_file(request: Request, sha256: str, principal: Viewer) -> Response:
    from preserver.views.files import named_blob
    from storage import StorageError

    if not _HEX.fullmatch(sha256):
        raise WebError(400, "a file is named by its SHA-256: 64 hexadecimal digits")
    address = sha256.lower()
    archive = web_state(request).archive
    async with archive.db.reader() as reader:
        named = await named_blob(reader, address)
    if named is None:
        raise WebError(404, f"the archive names no file with SHA-256 {address}")
    try:
        size = await to_thread.run_sync(archive.store.size, address)
    except StorageError as exc:
        raise _unreadable(address, named.name, exc) from exc
    etag = f'"{address}"'
    media_type = named.media_type.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = "application/octet-stream"
    headers = {
        "Content-Type": media_type, "Accept-Ranges": "bytes", "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": disposition(named.name,
                                           inline=_INLINE.fullmatch(media_type) is not None),
        "Content-Security-Policy": SANDBOX,  # nosniff: every answer has it (web/headers.py)
        "Cross-Origin-Resource-Policy": "same-origin", "Referrer-Policy": "same-origin",
    }
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")} \
            or request.headers.get("if-none-match", "").strip() == "*":
        return Response(status_code=304, headers=headers)
    try:
        part = wanted(request.headers.get("range"), request.headers.get("if-range"),
                      etag=etag, size=size)
    except NotSatisfiable:
        return Response(status_code=416, headers=headers | {
                            "Content-Range": f"bytes */{size}",
                            "Content-Type": "text/plain; charset=utf-8"},
                        content=f"no byte of this range is in the file ({size} bytes)\n")
    whole = part is None
    part = part or Slice(start=0, length=size)
    headers["Content-Length"] = str(part.length)
    status = 200
    if not whole:
        status = 206
        headers["Content-Range"] = f"bytes {part.start}-{part.last}/{size}"
    if request.method == "HEAD" or part.length == 0:
        return Response(status_code=status, headers=headers)
    try:
        stream = await to_thread.run_sync(archive.store.open_range, address, part.start,
                                          part.length)
    except StorageError as exc:
        raise _unreadable(address, named.name, exc) from exc
    return StreamingResponse(_chunks(stream, part.length, address), status_code=status,
                             headers=headers,
                             background=BackgroundTask(stream.close))


def _unreadable(address: str, name: str, exc: Exception) -> WebError:
    """404 for a blob the store does not hold; else 503, the store's message (a path, a
    bucket, an endpoint) going to the server's log, not to the visitor."""
    from storage import BlobNotFound

    if isinstance(exc, BlobNotFound):
        return WebError(404, f"{name} is not in the blob store: run `preserver verify`")
    log.error("reading blob %s failed: %s", address, exc)
    return WebError(503, "the blob store cannot be read: the server's log says why")


async def _chunks(stream: BinaryIO, length: int, address: str) -> AsyncIterator[bytes]:
    """``length`` bytes of ``stream``, a chunk at a time, each read in a worker thread."""
    from storage import StorageError

    left = length
    try:
        while left > 0:
            chunk = await to_thread.run_sync(stream.read, min(CHUNK, left))
            if not chunk:
                log.error("blob %s ended %d bytes early: run `preserver verify`", address, left)
                return  # the response is cut short; the client sees fewer bytes than promised
            left -= len(chunk)
            yield chunk
    except (StorageError, OSError) as exc:
        log.error("reading blob %s failed: %s", address, exc)
        raise
    finally:
        stream.close()


def disposition(name: str, *, inline: bool) -> str:
    """``inline`` or ``attachment`` with ``name``: an ASCII stand-in in ``filename`` and the
    name itself percent-encoded as UTF-8 in ``filename*`` (RFC 6266, RFC 8187), so no
    character of it can end the header or start another."""
    leaf = name.replace("\\", "/").rsplit("/", 1)[-1][:255] or "file"
    plain = _ASCII_NAME.sub("_", leaf).lstrip(".") or "file"
    return (f"{'inline' if inline else 'attachment'}; filename=\"{plain}\"; "
            f"filename*=UTF-8''{quote(leaf, safe='')}")
