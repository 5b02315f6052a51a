"""The Alembic migrations create exactly the tables the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import preserver.db.models  # noqa: F401  (registers the tables)
from preserver.db.engine import Database


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
