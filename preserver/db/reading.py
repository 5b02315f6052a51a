"""The read path: the archive's database opened read-only, queried in plain SQL, without
SQLAlchemy's ORM (issue 12: a read command answers in at most 0.6 s; the ORM alone
costs about that). See docs/design.md "The read path".

``open_reader(url)`` gives a ``Reader`` for the read commands (``status``, ``links``,
``show``, ``lookup``, ``linkrot``):

- the default SQLite file through the standard library's ``sqlite3``: a ``mode=ro``
  URI, as ``db.engine`` opens it read-only; one transaction, so every query of a
  command sees the same snapshot;
- ``postgresql+asyncpg://`` (a URL without query options) through asyncpg, in one
  ``REPEATABLE READ READ ONLY`` transaction: one snapshot too;
- any other URL through SQLAlchemy (``db.engine.Database`` opened read-only), slower to
  start but the same SQL.

Each checks the schema's revision first and refuses an older or newer one in
``db.revisions``' words. ``db.engine.session_reader(session)`` runs the same queries
inside a writing command's SQLAlchemy session (``preserve`` lists what it captured), so
the views have one code path.

A query is SQL text with ``:name`` parameters (a ``datetime`` is bound as the column
holds it); a row is a ``dict`` of its columns. Time columns come back as SQLite's text
or PostgreSQL's datetime: ``values.as_utc`` reads either. Driver errors become
``RunError``: "cannot open database …" while opening, "database error: …" after.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from preserver.db.revisions import require_current
from preserver.db.values import sqlite_time
from preserver.errors import RunError

if TYPE_CHECKING:
    import sqlite3

    import asyncpg

Row = dict[str, Any]
_SQLITE = re.compile(r"^sqlite(\+aiosqlite)?:///(?P<path>[^?#%]+)$")
_ASYNCPG = re.compile(r"^postgresql\+asyncpg://(?P<rest>[^?#]+)$")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:@/]*):[^/]*@")


class Reader(Protocol):
    """Read-only SQL on the archive's database."""

    dialect: str  # "sqlite", "postgresql", … (SQLAlchemy's dialect names)

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row of ``sql``, each a dict of its columns."""
        ...


async def scalar(reader: Reader, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    """The first column of the first row of ``sql``; None when there is no row."""
    found = await reader.rows(sql, params)
    return next(iter(found[0].values())) if found else None


def in_list(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``(:name_0, :name_1, …)`` and its parameters, for ``IN``; ``(NULL)`` when empty."""
    params = {f"{name}_{i}": v for i, v in enumerate(values)}
    return "(" + (", ".join(f":{p}" for p in params) or "NULL") + ")", params


def safe_url(url: str) -> str:
    """The URL without its password, as ``db.engine.safe_url`` writes it."""
    return _PASSWORD.sub(r"\g<head>:***@", url)


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Sqlite:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, failure: str) -> None:
        self.conn = conn
        self.failure = failure  # what a driver error means: "cannot open database …" at first

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        import sqlite3

        try:
            cur = self.conn.execute(sql, {k: sqlite_time(v) for k, v in (params or {}).items()})
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.Error as exc:
            raise RunError(f"{self.failure}: {_cause(exc)}") from exc


class _Asyncpg:
    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection, failure: str) -> None:
        self.conn = conn
        self.failure = failure  # as _Sqlite's

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        import asyncpg

        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in order:
                order.append(match.group(1))
            return f"${order.index(match.group(1)) + 1}"

        numbered = _PARAM.sub(number, sql)
        values = [(params or {})[name] for name in order]
        try:
            return [dict(r.items()) for r in await self.conn.fetch(numbered, *values)]
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise RunError(f"{self.failure}: {_cause(exc)}") from exc


async def _check(reader: Reader, has_versions: str) -> None:
    """Refuse a schema older or newer than this code (``db.revisions``)."""
    current = None
    if await reader.rows(has_versions):
        found = await reader.rows("SELECT version_num FROM alembic_version")
        current = found[0]["version_num"] if found else None
    require_current(current)


@asynccontextmanager
async def _sqlite(url: str, database: str) -> AsyncIterator[Reader]:
    import sqlite3

    path = Path(database)
    if not path.parent.is_dir():
        raise RunError(f"cannot use database {url}: directory {path.parent} does not exist")
    if not path.is_file():
        raise RunError(f"cannot use database {url}: {database} does not exist")
    try:  # https://www.sqlite.org/uri.html: "mode=ro" opens read-only, never creates
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise RunError(f"cannot open database {url}: {_cause(exc)}") from exc
    try:
        reader = _Sqlite(conn, f"cannot open database {url}")
        await reader.rows("BEGIN")
        await _check(reader, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                             "AND name = 'alembic_version'")
        reader.failure = "database error"
        yield reader
    finally:
        conn.close()  # a read transaction ends with the connection


@asynccontextmanager
async def _postgres(url: str, dsn: str) -> AsyncIterator[Reader]:
    import asyncpg

    where = safe_url(url)
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError,
            asyncpg.InterfaceError) as exc:
        raise RunError(f"cannot open database {where}: {_cause(exc)}") from exc
    try:
        reader = _Asyncpg(conn, f"cannot open database {where}")
        await reader.rows("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await _check(reader, "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL")
        reader.failure = "database error"
        yield reader
    finally:
        await conn.close()  # and with it the transaction


@asynccontextmanager
async def _sqlalchemy(url: str) -> AsyncIterator[Reader]:
    from preserver.db.engine import Database

    db = await Database.open(url, read_only=True)
    try:
        async with db.reader() as reader:
            yield reader
    finally:
        await db.close()


@asynccontextmanager
async def open_reader(url: str) -> AsyncIterator[Reader]:
    """The database at ``url`` (a SQLAlchemy async URL), read-only, its schema current."""
    if (found := _SQLITE.match(url)) is not None and found["path"] != ":memory:":
        opened = _sqlite(url, found["path"])
    elif (found := _ASYNCPG.match(url)) is not None:
        opened = _postgres(url, "postgresql://" + found["rest"])
    else:
        opened = _sqlalchemy(url)
    async with opened as reader:
        yield reader
