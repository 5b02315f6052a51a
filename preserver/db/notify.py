"""Waking idle workers at once when a job is queued: PostgreSQL ``LISTEN/NOTIFY``.

Migration 0008 adds a trigger to ``jobs`` that sends ``NOTIFY preserver_jobs, '<kind>'``
whenever a row becomes ``queued`` (an ingest's new jobs, a retry released, a dead run's
job requeued), from whichever process or machine wrote it. ``JobNotices`` listens on one
connection of its own and sets an event; an idle worker waits on it (``wait``) instead
of polling, and a worker with captures running and room for more is woken by it
(``on_notice``). A notification is delivered at commit, so the job is claimable by then.

Notifications are a way to wake sooner, never the only one: a worker still looks at
least every ``[queue] poll`` (a notification lost while the listening connection was
being re-opened, a job that becomes due later), and on SQLite, which has no
``LISTEN``, that is all it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

CHANNEL = "preserver_jobs"  # the trigger's channel (migration 0008)


class JobNotices:
    """A listener on ``CHANNEL`` (PostgreSQL with asyncpg); a no-op elsewhere."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
        self.received = 0  # notifications seen: what a test or a log can show
        self._notice = asyncio.Event()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection
        # also called on each notification: a worker with captures running is woken by it
        self.on_notice: Callable[[], None] | None = None

    @property
    def listening(self) -> bool:
        """A notification would reach us now (the listening connection is open)."""
        return self._driver is not None and not self._driver.is_closed()

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.received += 1
        self._notice.set()
        if self.on_notice is not None:
            self.on_notice()

    async def _listen(self) -> None:
        """(Re)open the listening connection; on failure, log it and rely on polling."""
        await self._drop()
        conn: AsyncConnection | None = None
        try:
            conn = await self.engine.connect()
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(CHANNEL, self._on_notice)
        # any error (asyncpg's own are neither OSErrors nor SQLAlchemy's): a worker that
        # cannot listen still polls, and tries to listen again at its next wait
        except Exception:
            log.warning("not listening for new jobs (polling instead)", exc_info=True)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            return
        self._conn, self._driver = conn, driver
        self._notice.set()  # anything queued while not listening: look once

    async def _drop(self) -> None:
        conn, driver, self._conn, self._driver = self._conn, self._driver, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):  # a broken connection: closing is all we want
            if driver is not None and not driver.is_closed():
                await driver.remove_listener(CHANNEL, self._on_notice)
        with contextlib.suppress(Exception):
            await conn.close()

    async def start(self) -> None:
        if self.enabled:
            await self._listen()

    async def wait(self, timeout: float, stop: asyncio.Event) -> bool:
        """Until a job is queued (True), ``stop`` is set or ``timeout`` passes (False).

        A notification that came since the last wait ends this one at once."""
        if self.enabled and (self._driver is None or self._driver.is_closed()):
            await self._listen()
        notice = asyncio.ensure_future(self._notice.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({notice, stopped}, timeout=max(0.0, timeout),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            notice.cancel()
            stopped.cancel()
        woken = self._notice.is_set()
        self._notice.clear()
        return woken

    async def close(self) -> None:
        await self._drop()
