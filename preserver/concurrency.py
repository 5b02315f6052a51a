"""Two asyncio helpers shared by the capture run and the audit.

- ``drain(tasks)``: recordings are tasks of their own, awaited to the end even when
  the caller is cancelled (Ctrl-C, SIGTERM): a result that was obtained is never
  dropped half-written.
- ``sleep_or_stop(stop, s)``: sleep ``s`` seconds, or less if ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

__all__ = ["drain", "sleep_or_stop"]


async def drain(tasks: Collection[asyncio.Task[None]]) -> None:
    """Wait for every task in ``tasks``, through cancellations; re-raise one afterwards."""
    cancelled = False
    while pending := {t for t in tasks if not t.done()}:
        try:
            await asyncio.shield(asyncio.gather(*pending, return_exceptions=True))
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
