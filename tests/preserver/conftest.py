"""Database fixtures: real SQLite always; real PostgreSQL too when
PRESERVER_TEST_POSTGRES_URL names a server (``.ci/run`` sets it to the local one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from preserver.db.engine import Database

PG_URL = os.environ.get("PRESERVER_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def _pg_database() -> tuple[str, str]:
    name = f"preserver_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, PG_URL.rsplit("/", 1)[0] + "/" + name


async def _drop_pg(name: str) -> None:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'preserver.db'}"
        return
    name, url = await _pg_database()
    try:
        yield url
    finally:
        await _drop_pg(name)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await Database.open(db_url)
    try:
        yield database
    finally:
        await database.close()
