"""A throwaway PostgreSQL database per test when ``PRESERVER_TEST_POSTGRES_URL`` names a
server (``.ci/run`` sets it to the local one); ``BACKENDS`` is what the database tests
run on."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL = os.environ.get("PRESERVER_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def create_database() -> tuple[str, str]:
    """A new, empty database on the server: ``(name, url)``."""
    name = f"preserver_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, PG_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(name: str) -> None:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@asynccontextmanager
async def new_database() -> AsyncIterator[str]:
    """A new, empty database's URL, dropped afterwards."""
    name, url = await create_database()
    try:
        yield url
    finally:
        await drop_database(name)
