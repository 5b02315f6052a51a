"""Jobs that one process at a time may run, among all machines: ``singleton``.

The checkpoint of the custody ledger and the fixity check are run by ``preserver
serve``; with several machines each running ``serve``, or a ``preserver run`` making
its checkpoint meanwhile, one PostgreSQL session-level advisory lock per job decides
who runs it (``pg_try_advisory_lock``; the others skip this turn, or with ``wait`` wait
for it). The lock lives on a connection held for the job's length: a process that dies
loses the connection, and the lock with it, so no lock outlives its holder.

SQLite is one machine's database, whose write lock already serializes what a
checkpoint writes: there ``singleton`` always holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from preserver.errors import RunError

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable 64-bit advisory lock key for ``name`` (signed, as PostgreSQL's bigint)."""
    digest = hashlib.sha256(f"preserver singleton {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def singleton(engine: AsyncEngine, name: str, *, wait: bool = False
                    ) -> AsyncIterator[bool]:
    """Hold job ``name``'s lock while the block runs: True when held, False when another
    process holds it (never False with ``wait``, which waits for it)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    conn = await _connect(engine, name)
    try:
        take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        got = (await conn.execute(sa.text(f"SELECT {take}(:key)"), {"key": key})).scalar()
        await conn.commit()  # the lock is the session's: no transaction stays open
    except SQLAlchemyError as exc:
        with contextlib.suppress(Exception):
            await conn.close()
        raise RunError(f"database error: cannot take the {name} lock: {exc}") from exc
    held = wait or bool(got)  # pg_advisory_lock returns (void) once it holds the lock
    try:
        yield held
    finally:
        try:
            if held:
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()
        except Exception:  # the connection broke: the server released the lock with it
            log.debug("%s lock: unlock failed", name, exc_info=True)
            with contextlib.suppress(Exception):
                await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()


async def _connect(engine: AsyncEngine, name: str) -> AsyncConnection:
    try:
        return await engine.connect()
    except SQLAlchemyError as exc:
        raise RunError(f"database error: cannot take the {name} lock: {exc}") from exc
