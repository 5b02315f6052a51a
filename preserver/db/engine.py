"""The database: async engine, sessions, and schema migrations (Alembic).

SQLite (aiosqlite, WAL) is the default; any SQLAlchemy async URL works
(``postgresql+asyncpg://…``). The schema is created and upgraded only by the
Alembic migrations in ``preserver/db/migrations``; ``Database.open`` runs them,
or, for commands that must not change the archive, checks that the database is
at the newest revision already (``preserver migrate`` brings it there).

A read-only ``Database`` cannot write: SQLite is opened through a ``mode=ro``
URI (a WAL database stays readable, also while a writer has it open; SQLite may
leave its empty ``-wal`` and ``-shm`` beside the file), PostgreSQL transactions
begin ``READ ONLY``. Other databases rely on the read-only commands not writing.

Migrating is all or nothing and one process at a time: the whole upgrade runs in one
transaction that first takes the archive's schema lock (SQLite: ``BEGIN IMMEDIATE``,
the database's write lock; PostgreSQL: a transaction-level advisory lock), so a
first start killed at any point leaves no schema at all, and processes starting
together on a new archive wait for the first to finish, then find its schema.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

import preserver.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

if TYPE_CHECKING:
    from preserver.db.reading import Reader, Row
from preserver.db.revisions import MIGRATIONS, refuse_newer, require_current
from preserver.db.values import sqlite_time
from preserver.errors import RunError

_LOCKED_RETRIES = 4  # waits of 0.5, 1, 2 and 4 s after each busy timeout (10 s)
# The PostgreSQL advisory lock held while the schema changes (pg_advisory_xact_lock takes a
# bigint; any fixed number works, this one spells "presrvr" in ASCII).
_SCHEMA_LOCK = 0x70726573727672


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _check_sqlite_path(url: str, *, read_only: bool) -> sa.engine.URL:
    """A SQLite file can only be created in an existing directory, and only read if it
    exists: say so plainly. Read-only, the URL becomes the file's ``mode=ro`` URI."""
    try:
        parsed = sa.engine.make_url(url)
    except (SQLAlchemyError, ValueError) as exc:
        raise RunError(f"cannot use database {safe_url(url)}: {exc}") from exc
    database = parsed.database
    if not database or database == ":memory:":
        return parsed
    if parsed.query.get("uri"):  # a URI filename already: SQLite reads it
        return parsed.update_query_dict({"mode": "ro"}) if read_only else parsed
    if not Path(database).parent.is_dir():
        raise RunError(f"cannot use database {safe_url(url)}: directory "
                       f"{Path(database).parent} does not exist")
    if not read_only:
        return parsed
    if not Path(database).is_file():
        raise RunError(f"cannot use database {safe_url(url)}: {database} does not exist")
    # https://www.sqlite.org/uri.html: "mode=ro" opens the file read-only, never creates it
    return parsed.set(database=Path(database).resolve().as_uri(),
                      query={**parsed.query, "mode": "ro", "uri": "true"})


def make_engine(url: str, *, read_only: bool = False) -> AsyncEngine:
    """An engine for ``url``; ``read_only`` makes every connection refuse writes."""
    target: str | sa.engine.URL = url
    if url.startswith("sqlite"):
        target = _check_sqlite_path(url, read_only=read_only)
    try:
        engine = create_async_engine(target, pool_pre_ping=not url.startswith("sqlite"))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RunError(f"cannot use database {safe_url(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=10000")  # first: switching to WAL may have to wait
            if not read_only:  # WAL is recorded in the file; synchronous governs writes only
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    elif read_only and engine.dialect.name == "postgresql":
        # every transaction begins READ ONLY (asyncpg, psycopg)
        engine = engine.execution_options(postgresql_readonly=True)
    return engine


def _cause(exc: BaseException) -> str:
    """The database's own words, on one line: the driver's error without SQLAlchemy's
    statement and background link (the CLI prints errors on one line)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparseable URL>"


@dataclass(frozen=True, kw_only=True)
class SchemaChange:
    """What ``migrate`` did: the database's revision before (None: no schema yet) and now."""

    before: str | None
    after: str


def _revision(connection: sa.Connection) -> tuple[str | None, str]:
    """The database's Alembic revision and the newest this code has; refuses a newer database."""
    current = None
    if sa.inspect(connection).has_table("alembic_version"):
        current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return current, refuse_newer(current)


def _upgrade(connection: sa.Connection) -> None:
    """Alembic's upgrade to the newest revision, on ``connection`` (in its transaction)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


@asynccontextmanager
async def schema_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in one transaction that holds the archive's schema lock until it ends:
    committed on success, rolled back on error. Processes that ask for it meanwhile wait
    (SQLite: up to the busy timeout)."""
    async with engine.connect() as conn:
        if not is_sqlite(engine):
            async with conn.begin():
                if engine.dialect.name == "postgresql":
                    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": _SCHEMA_LOCK})
                yield conn
            return
        # pysqlite begins a transaction of its own only before INSERT, UPDATE and DELETE, so
        # DDL would commit statement by statement: take over (its autocommit mode), and
        # begin one transaction that holds the write lock from its first statement on.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # SQLite may have rolled back already (it does on SQLITE_FULL): then ROLLBACK
            # fails with "no transaction is active", which must not hide the real error.
            with contextlib.suppress(SQLAlchemyError):
                await conn.exec_driver_sql("ROLLBACK")
            raise
        await conn.exec_driver_sql("COMMIT")


def _refuse_partial_schema(connection: sa.Connection) -> None:
    """A database with some of preserver's tables but no revision was left by a first start
    of a preserver whose migrations were not one transaction, killed half way: no command
    could open it since, so it holds no records. Say how to start it again."""
    found = sorted(set(sa.inspect(connection).get_table_names()) & set(SQLModel.metadata.tables))
    if not found:
        return
    where = connection.engine.url.database or ""
    fix = (f"move {where} (and its -wal and -shm files) away" if connection.dialect.name
           == "sqlite" else f"drop these tables ({', '.join(found)})")
    raise RunError(f"the archive's database {safe_url(str(connection.engine.url))} holds part of "
                   f"a schema (tables {', '.join(found)}) but no revision: an earlier first start was "
                   f"interrupted, and the database holds no records. {fix[0].upper()}{fix[1:]} "
                   "and run the command again")


async def migrate(engine: AsyncEngine) -> SchemaChange:
    """Bring the schema to the newest migration, in one transaction under the schema lock."""

    def upgrade(connection: sa.Connection) -> SchemaChange:
        before, head = _revision(connection)
        if before is None:
            _refuse_partial_schema(connection)
        if before != head:
            _upgrade(connection)
        return SchemaChange(before=before, after=head)

    for attempt in range(_LOCKED_RETRIES + 1):
        try:
            async with schema_lock(engine) as conn:
                return await conn.run_sync(upgrade)
        except OperationalError as exc:
            # SQLite: another first start held the database past the busy timeout (its
            # migration, or the switch to WAL, which needs the file alone): wait, again.
            if not (is_sqlite(engine) and "locked" in _cause(exc)) or attempt == _LOCKED_RETRIES:
                raise RunError(f"cannot prepare database {safe_url(str(engine.url))}: "
                               f"{_cause(exc)}") from exc
            await asyncio.sleep(0.5 * 2**attempt)
        except (SQLAlchemyError, OSError) as exc:
            raise RunError(f"cannot prepare database {safe_url(str(engine.url))}: "
                           f"{_cause(exc)}") from exc
    raise AssertionError("unreachable")  # the loop returns or raises


async def check_schema(engine: AsyncEngine, url: str) -> None:
    """The database at ``url`` must be at the newest migration already; nothing is written."""
    try:
        async with engine.connect() as conn:
            current, _ = await conn.run_sync(_revision)
    except (SQLAlchemyError, OSError) as exc:
        raise RunError(f"cannot open database {safe_url(url)}: {_cause(exc)}") from exc
    require_current(current)


class _SessionReader:
    """``db.reading``'s queries in a session: its transaction, its errors."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        bind = {k: sqlite_time(v) if self.dialect == "sqlite" else v
                for k, v in (params or {}).items()}
        return [dict(r._mapping) for r in await self.session.execute(sa.text(sql), bind)]


def session_reader(session: AsyncSession) -> Reader:
    """A ``db.reading.Reader`` on ``session``, for the views inside a writing command."""
    return _SessionReader(session)


class Database:
    """An engine plus a session factory; one per command or per ``serve``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True,
                   read_only: bool = False) -> Database:
        """Open ``url``, migrating its schema; or, with ``migrate_schema=False`` or
        ``read_only`` (never migrated), fail unless the schema is current already."""
        engine = make_engine(url, read_only=read_only)
        try:
            if migrate_schema and not read_only:
                await migrate(engine)
            else:
                await check_schema(engine, url)
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
                raise RunError(f"database error: {_cause(exc)}") from exc

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        """``session()`` for the read queries of ``db.reading`` (the views)."""
        async with self.session() as session:
            yield session_reader(session)

    @asynccontextmanager
    async def locked_session(self) -> AsyncIterator[AsyncSession]:
        """A session whose one transaction holds the schema lock (``schema_lock``), for a
        check-then-write no other process may interleave, as a first start's."""
        try:
            async with schema_lock(self.engine) as conn, \
                    AsyncSession(bind=conn, expire_on_commit=False) as session:
                yield session
                await session.flush()
        except SQLAlchemyError as exc:
            raise RunError(f"database error: {_cause(exc)}") from exc

    async def close(self) -> None:
        await self.engine.dispose()
