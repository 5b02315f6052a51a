"""Database fixtures: real SQLite always; real PostgreSQL too when
PRESERVER_TEST_POSTGRES_URL names a server (``.ci/run`` sets it to the local one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from preserver.db.engine import Database
from tests.support.postgres import BACKENDS, new_database


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'preserver.db'}"
        return
    async with new_database() as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await Database.open(db_url)
    try:
        yield database
    finally:
        await database.close()
