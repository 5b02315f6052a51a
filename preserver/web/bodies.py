"""A request's body as it arrives, with an idle bound: the one reader of request bodies.

``stream_body`` yields the body's chunks and raises ``WebError(408)`` when the next bytes
do not come within ``IDLE_SECONDS`` (nginx's ``client_body_timeout``). Without it a
client that sends its headers and then stalls or trickles its body (a slowloris) holds
its handler, and whatever that handler holds (a file being written), for ever. Every
handler that reads a body reads it through here: the small forms and JSON bodies
(``forms.read_body``) and the uploads (``uploads.receive_upload``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from preserver.web.errors import WebError

if TYPE_CHECKING:
    from starlette.requests import Request

IDLE_SECONDS = 60.0  # the longest wait for the body's next bytes


async def stream_body(request: Request, *, what: str = "request") -> AsyncIterator[bytes]:
    """The body's chunks; ``WebError(408)``, naming ``what`` ("the upload stalled"), when
    none comes for ``IDLE_SECONDS``."""
    idle = IDLE_SECONDS  # read at each call, so a test may shorten it
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise WebError(408, f"the {what} stalled: nothing came for {idle:g} seconds"
                           ) from None
        yield chunk
