"""Awaiting a browser's stop to its end, through cancellations.

A run's deadline, an export's timeout or a print's can cancel the task that is stopping
Chromium and Playwright's driver; a stop cut short leaves the driver (node) running.
``to_the_end`` lets the stop finish, then lets the cancellation go on; ``close_in_turn``
closes the browser, then stops the driver, that way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["close_in_turn", "to_the_end"]

log = logging.getLogger(__name__)


# Once the caller is cancelled, how long a stop that has not ended may still hold the
# cancellation: a wedged driver (browser.close() or the driver's exit never answered)
# must not swallow a run's deadline for ever. A stop takes a second or two.
STOP_GRACE = 30.0


async def to_the_end(stopping: Awaitable[None]) -> None:
    """Await ``stopping`` (a browser's or its driver's stop) to its end even if the
    caller is cancelled meanwhile, once or more, then let the cancellation go on: two
    deadlines that expire together (a print's and its printer's) cancel twice, and a stop
    cut short by the second left the driver running. Its own failure is logged. Once
    cancelled, the stop has ``STOP_GRACE`` seconds more; a stop still not done then is
    cancelled (logged) and the cancellation goes on."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(stopping)
    deadline: float | None = None  # set by the first cancellation
    while not task.done():
        if deadline is not None and loop.time() >= deadline:
            log.warning("stopping the browser did not end within %g s of a cancellation; "
                        "it is cancelled", STOP_GRACE)
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)  # its own cleanup, briefly
            break
        try:
            await asyncio.wait({task}, timeout=None if deadline is None
                               else max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            if deadline is None:
                deadline = loop.time() + STOP_GRACE
    cancelled = deadline is not None
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.debug("stopping the browser failed", exc_info=task.exception())
    if cancelled:
        raise asyncio.CancelledError


async def close_in_turn(*closers: Callable[[], Awaitable[object]] | None) -> None:
    """Call and await each closer in turn (None: none), all ``to_the_end``; a closer that
    fails (a browser that already died) is logged and the next one still runs."""
    async def closing() -> None:
        for close in closers:
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.debug("closing a dead browser", exc_info=True)

    await to_the_end(closing())
