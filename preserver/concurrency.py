"""Graceful concurrency shared by the capture run, the audit and ``preserver serve``.

- ``TaskPool``: named tasks tracked until done, and the stop sequence of each of
  them (procrastinate ``worker.py``): ``stop()`` sets an event (nothing new starts),
  then ``close(grace)`` gives the running tasks ``grace`` seconds, cancels the rest
  and awaits them. Results are written by ``record``, in tasks of their own that a
  cancelled caller does not cancel, and that ``close`` awaits to the end: a result
  that was obtained is never dropped half-written.
- ``drain(tasks)``: await tasks through cancellations (Ctrl-C, SIGTERM).
- ``sleep_or_stop(stop, s)``: sleep ``s`` seconds, or less if ``stop`` is set.

Example::

    pool = TaskPool(stop=stop)
    for job in jobs:
        pool.spawn(process(job), name=f"capture-{job.id}")
    ...                       # elsewhere: SIGTERM -> pool.stop()
    await pool.close(grace=30.0)   # -> how many were still running and cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Coroutine
from typing import Any, TypeVar

__all__ = ["TaskPool", "drain", "sleep_or_stop"]

log = logging.getLogger(__name__)

T = TypeVar("T")


async def drain(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Wait for every task in ``tasks``, through cancellations; re-raise one afterwards.

    Tasks' own exceptions are not raised here (their owners see them)."""
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


class TaskPool:
    """Named tasks tracked until done; stop, grace, cancel, await.

    - ``spawn`` starts a task. One that fails is logged at error with its name and
      traceback, so no failure is silent; its exception stays on the task for
      whoever awaits it.
    - ``stop`` sets the event given (shared, e.g. with a SIGTERM handler); the
      owner checks ``stopped`` before starting more.
    - ``record`` runs a write in a task the caller's cancellation does not cancel.
    - ``close(grace)`` leaves the event alone (a service goes on after one run)."""

    def __init__(self, *, stop: asyncio.Event | None = None) -> None:
        self.stopping = stop or asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recordings: set[asyncio.Task[Any]] = set()
        self._woken = asyncio.Event()

    @property
    def running(self) -> int:
        """How many tasks are still running."""
        return len(self._tasks)

    @property
    def stopped(self) -> bool:
        return self.stopping.is_set()

    def stop(self) -> None:
        """Start nothing new: the owner's loops see ``stopped``."""
        self.stopping.set()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %r", task.get_name(), exc, exc_info=exc)

    def wake(self) -> None:
        """End the ``wait`` under way, or the next one, at once: the owner has room for
        more work although no task ended (a task gave back a resource it held)."""
        self._woken.set()

    async def wait(self, timeout: float | None = None) -> set[asyncio.Task[Any]]:
        """Until one task ends, ``wake`` is called (or was, since the last wait), or
        ``timeout``; the tasks that have ended."""
        if not self._tasks:
            return set()
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            done, _ = await asyncio.wait({*self._tasks, woken}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            self._woken.clear()
        return done - {woken}

    async def record(self, coro: Coroutine[Any, Any, T], *, name: str) -> T:
        """Run ``coro`` (a write of a result) to the end even if the caller is cancelled
        meanwhile; ``close`` and ``drain_recordings`` await it."""
        task = asyncio.create_task(coro, name=name)
        self._recordings.add(task)
        task.add_done_callback(self._recordings.discard)
        return await asyncio.shield(task)

    async def drain_recordings(self) -> None:
        """Await every recording under way, through cancellations (re-raised after)."""
        await drain(self._recordings)

    async def close(self, grace: float) -> int:
        """Give the running tasks ``grace`` seconds, cancel those still running, await
        them all, then every recording. Returns how many were cancelled.

        Cancelling the caller cuts the grace short; the tasks are still cancelled and
        awaited, and the recordings drained, before the cancellation goes on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        cancelled = 0
        try:
            while self._tasks and (left := deadline - loop.time()) > 0:
                await asyncio.wait(set(self._tasks), timeout=left)
        finally:
            late = {t for t in self._tasks if not t.done()}
            for task in late:
                if grace > 0:
                    log.warning("%s: still running after the %g s grace: cancelled",
                                task.get_name(), grace)
                task.cancel()
            cancelled = len(late)
            try:
                await drain(late)
            finally:
                await self.drain_recordings()
        return cancelled
