"""A throwaway PostgreSQL database per test when ``PRESERVER_TEST_POSTGRES_URL`` names a
server (``.ci/run`` sets it to the local one); ``BACKENDS`` is what the database tests
run on."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL = os.environ.get("PRESERVER_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def admin(server: str, sql: str) -> None:
    """Run ``sql`` (CREATE or DROP DATABASE) on the server ``server`` names, outside a
    transaction."""
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(sql))
    finally:
        await engine.dispose()


def url_of(server: str, name: str) -> str:
    """The URL of database ``name`` on the server ``server`` names."""
    return server.rsplit("/", 1)[0] + "/" + name


async def create_database() -> tuple[str, str]:
    """A new, empty database on the server: ``(name, url)``."""
    name = f"preserver_test_{uuid.uuid4().hex[:12]}"
    await admin(PG_URL, f'CREATE DATABASE "{name}"')
    return name, url_of(PG_URL, name)


async def drop_database(name: str) -> None:
    await admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(server: str, name: str) -> Iterator[str]:
    """A new database ``name`` on ``server``, its URL, dropped on exit (for the benches,
    which run it outside an event loop)."""
    asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield url_of(server, name)
    finally:
        asyncio.run(admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@asynccontextmanager
async def new_database() -> AsyncIterator[str]:
    """A new, empty database's URL, dropped afterwards."""
    name, url = await create_database()
    try:
        yield url
    finally:
        await drop_database(name)


@contextmanager
def database_for(backend: str) -> Iterator[str]:
    """``database_url`` for ``backend``, outside an event loop: "" for "sqlite" (the
    archive's own file), else a new PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        yield ""
        return
    with scratch_database(PG_URL, f"preserver_test_{uuid.uuid4().hex[:12]}") as url:
        yield url
