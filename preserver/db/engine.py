"""The database: async engine, sessions, and schema migrations (Alembic).

SQLite (aiosqlite, WAL) is the default; any SQLAlchemy async URL works
(``postgresql+asyncpg://…``). The schema is created and upgraded only by the
Alembic migrations in ``preserver/db/migrations``; ``open_database`` runs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from preserver.errors import RunError

_MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _check_sqlite_path(url: str) -> None:
    """A SQLite file can only be created in an existing directory: say so plainly."""
    try:
        database = sa.engine.make_url(url).database
    except (SQLAlchemyError, ValueError) as exc:
        raise RunError(f"cannot use database {_safe(url)}: {exc}") from exc
    if database and database != ":memory:" and not Path(database).parent.is_dir():
        raise RunError(f"cannot use database {_safe(url)}: directory "
                       f"{Path(database).parent} does not exist")


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        _check_sqlite_path(url)
    try:
        engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RunError(f"cannot use database {_safe(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparseable URL>"


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration."""

    def upgrade(connection: sa.Connection) -> None:
        command.upgrade(_alembic_config(connection), "head")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    except (SQLAlchemyError, OSError) as exc:
        raise RunError(f"cannot prepare database {_safe(str(engine.url))}: {exc}") from exc


class Database:
    """An engine plus a session factory; one per command or per ``serve``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True) -> Database:
        engine = make_engine(url)
        if migrate_schema:
            try:
                await migrate(engine)
            except BaseException:
                await engine.dispose()  # no connection thread may outlive a failed open
                raise
        return cls(engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session:
            try:
                async with session.begin():
                    yield session
            except SQLAlchemyError as exc:
                raise RunError(f"database error: {exc}") from exc

    async def close(self) -> None:
        await self.engine.dispose()
