"""A first start that is killed, and first starts that race (issue 9, "firststart").

- Processes started together on a new archive (``ingest``, ``preserve``), with the same
  report or different reports citing the same links, all succeed: each report is
  ingested once, each target exists once, the key's ``key_created`` is recorded once.
- A first start killed at any point, before any SQL statement of its migration and of
  what follows, leaves an archive the next command opens and ``verify`` passes.

Real processes on real SQLite, and on PostgreSQL when ``PRESERVER_TEST_POSTGRES_URL`` is
set. Nothing is mocked: racing commands are processes let go together at a barrier; a
kill is a real SIGKILL of a real process, either after a delay (``start_cli``, a new
interpreter) or from inside the process just before its k-th SQL statement.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.cli import (
    OFFLINE,
    CliResult,
    assert_one_line_error,
    run_cli,
    start_cli,
)
from tests.support.postgres import BACKENDS, database_for, new_database

PROCESSES = 4


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """"" for the archive's own SQLite file, else a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield ""
        return
    async with new_database() as url:
        yield url


def _archive(root: Path, database_url: str) -> Path:
    cfg = root / "config.toml"
    lines = ['data_dir = "archive"', 'operator = "first-start test"']
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    cfg.write_text("\n".join(lines) + "\n" + OFFLINE, encoding="utf-8")
    return cfg


def _report(root: Path, name: str, links: list[str]) -> Path:
    path = root / name
    path.write_text(f"# {name}\n\n" + "".join(f"{i}- item {i}: {url}\n"
                                             for i, url in enumerate(links, 1)), encoding="utf-8")
    return path


def _rows(root: Path, database_url: str, query: str) -> list[tuple[Any, ...]]:
    async def read() -> list[tuple[Any, ...]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(sa.text(query))).all()]
        finally:
            await engine.dispose()

    if database_url:
        return asyncio.run(read())
    with sqlite3.connect(root / "archive" / "preserver.db") as conn:
        return conn.execute(query).fetchall()


def _together(commands: list[tuple[str, ...]], cfg: Path) -> list[CliResult]:
    """Each command in a process of its own, all let go at the same moment (a barrier),
    so that their first starts meet in the migration and the first writes."""
    context = _fork_server()
    barrier = context.Barrier(len(commands))
    results = context.Queue()
    children = [context.Process(target=_run_at_barrier, args=(barrier, results, args, cfg))
                for args in commands]
    for child in children:
        child.start()
    done = [results.get(timeout=300) for _ in children]
    for child in children:
        child.join(timeout=60)
    return [CliResult(code=code, stdout="", stderr=stderr) for code, stderr in done]


def _run_at_barrier(barrier: Any, results: Any, args: tuple[str, ...], cfg: Path) -> None:
    os.chdir(cfg.parent)
    barrier.wait(timeout=120)
    result = run_cli(*args, config=cfg)
    results.put((result.code, result.stderr))


def _fork_server() -> Any:
    """Processes forked by a single-threaded fork server that has imported preserver once
    (pytest's own process has threads: a fork of it may deadlock)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["preserver.cli", "preserver.ingest.report",
                                    "preserver.db.engine", __name__])
    return context


def _assert_all_ok(results: list[CliResult]) -> None:
    failed = [f"exit {r.code}: {r.stderr.strip()[-400:]}" for r in results if r.code]
    assert not failed, "\n".join(failed)


# -- racing first starts -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("same_report", [True, False], ids=["same-report", "different-reports"])
def test_concurrent_first_starts_all_succeed(tmp_path: Path, database_url: str,
                                             same_report: bool) -> None:
    cfg = _archive(tmp_path, database_url)
    _race_ingests(tmp_path, cfg, database_url, same_report=same_report, before=0)


@pytest.mark.slow
@pytest.mark.parametrize("same_report", [True, False], ids=["same-report", "different-reports"])
def test_concurrent_ingests_all_succeed(tmp_path: Path, database_url: str,
                                        same_report: bool) -> None:
    """The archive exists already: the processes meet in their first writes only."""
    cfg = _archive(tmp_path, database_url)
    run_cli("ingest", str(_report(tmp_path, "first.md", ["https://example.org/first"])),
            config=cfg, check=0)
    _race_ingests(tmp_path, cfg, database_url, same_report=same_report, before=1)


def _race_ingests(root: Path, cfg: Path, database_url: str, *, same_report: bool,
                  before: int) -> None:
    """PROCESSES ``ingest`` at once, of one report or of as many citing the same links;
    ``before``: reports (each citing one link of its own) in the archive already."""
    shared = [f"https://example.org/shared/{i}" for i in range(5)]
    reports = [_report(root, f"r{0 if same_report else n}-{n}.md",
                       [*shared, f"https://example.org/own/{0 if same_report else n}"])
               for n in range(PROCESSES)]
    if same_report:  # same bytes under different names: one report
        for path in reports[1:]:
            path.write_bytes(reports[0].read_bytes())

    _assert_all_ok(_together([("ingest", str(path)) for path in reports], cfg))

    distinct = 1 if same_report else PROCESSES
    assert _rows(root, database_url, "SELECT count(*) FROM reports") == [(before + distinct,)]
    assert _rows(root, database_url, "SELECT count(*), count(DISTINCT key) FROM targets") \
        == [(before + len(shared) + distinct,) * 2]
    assert _rows(root, database_url, "SELECT count(*) FROM citations") \
        == [(before + (len(shared) + 1) * distinct,)]
    assert _rows(root, database_url, "SELECT action, count(*) FROM events GROUP BY action "
                 "ORDER BY action") == [("key_created", 1), ("report_ingested", before + distinct)]
    run_cli("verify", config=cfg, check=0)


@pytest.mark.slow
def test_concurrent_first_preserves_all_succeed(tmp_path: Path, database_url: str) -> None:
    """``preserve`` also captures and checkpoints: its reports cite nothing capturable here
    (a port nothing listens on), so each capture fails fast and is recorded."""
    cfg = _archive(tmp_path, database_url)
    with open(cfg, "a", encoding="utf-8") as fh:
        fh.write("[network]\nallow_private = true\n[capture]\nmax_attempts = 1\ntimeout = 5\n")
    dead = "http://127.0.0.1:9/"
    reports = [_report(tmp_path, f"p{n}.md", [f"{dead}shared", f"{dead}own/{n}"])
               for n in range(PROCESSES)]

    _assert_all_ok(_together([("preserve", str(path)) for path in reports], cfg))

    assert _rows(tmp_path, database_url, "SELECT count(*) FROM reports") == [(PROCESSES,)]
    assert _rows(tmp_path, database_url, "SELECT count(*) FROM targets") == [(PROCESSES + 1,)]
    assert _rows(tmp_path, database_url,
                 "SELECT count(*) FROM events WHERE action = 'key_created'") == [(1,)]
    run_cli("verify", config=cfg, check=0)


# -- killed first starts -------------------------------------------------------------------


def _assert_opens_and_verifies(root: Path, cfg: Path, database_url: str, report: Path) -> None:
    """The next command opens the archive; the report is in it once; ``verify`` passes."""
    run_cli("ingest", str(report), config=cfg, cwd=root, check=0)
    assert _rows(root, database_url, "SELECT count(*) FROM reports") == [(1,)]
    assert _rows(root, database_url,
                 "SELECT count(*) FROM events WHERE action = 'key_created'") == [(1,)]
    run_cli("verify", config=cfg, cwd=root, check=0)


def _first_start_killed_at(statement: int, cfg: Path, report: Path) -> bool:
    """``preserver ingest REPORT`` on a new archive in a process that SIGKILLs itself just
    before its ``statement``-th SQL statement (from 1). False if it finished first."""
    child = _fork_server().Process(target=_ingest_killing_self, args=(statement, cfg, report))
    child.start()
    child.join(timeout=120)
    assert child.exitcode in (-signal.SIGKILL, 0), child.exitcode
    return child.exitcode == -signal.SIGKILL


def _ingest_killing_self(statement: int, cfg: Path, report: Path) -> None:
    seen = 0

    def count(*_: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == statement:
            os.kill(os.getpid(), signal.SIGKILL)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    os.chdir(cfg.parent)
    code = run_cli("ingest", str(report), config=cfg).code
    os._exit(code)


@pytest.mark.slow
def test_first_start_killed_before_any_statement_opens_and_verifies(
        tmp_path: Path, database_url: str) -> None:
    """Before each SQL statement of the migration (every table, index and revision) and of
    the ``key_created`` and ingest writes after it, on SQLite; every other one on
    PostgreSQL, where each kill needs a database of its own."""
    stride = 1 if not database_url else 2
    statement, killed = 1, True
    while killed:
        root = tmp_path / f"kill-{statement}"
        root.mkdir()
        with database_for("postgresql" if database_url else "sqlite") as url:
            cfg = _archive(root, url)
            report = _report(root, "report.md", ["https://example.org/a", "https://example.org/b"])
            killed = _first_start_killed_at(statement, cfg, report)
            _assert_opens_and_verifies(root, cfg, url, report)
        statement += stride
    assert statement > 40  # a first start runs 50+ statements, and was killed before each




@pytest.mark.slow
def test_first_start_sigkilled_after_a_random_delay_opens_and_verifies(
        tmp_path: Path, database_url: str) -> None:
    """A real ``python -m preserver ingest`` killed 0–150 ms after it made the signing key
    (its migration, key_created event and ingest follow within that time), 24 times."""
    chance = random.Random(9)
    for run in range(24):
        root = tmp_path / f"run-{run}"
        root.mkdir()
        cfg = _archive(root, database_url)
        report = _report(root, "report.md", ["https://example.org/a"])
        proc = start_cli("ingest", str(report), config=cfg)
        key = root / "archive" / "keys" / "signing.key"
        while not key.exists() and proc.poll() is None:
            time.sleep(0.001)
        time.sleep(chance.uniform(0, 0.15))
        proc.kill()
        proc.communicate()
        _assert_opens_and_verifies(root, cfg, database_url, report)
        if database_url:  # the next run starts a new archive: empty the database again
            _drop_all(database_url)


def _drop_all(database_url: str) -> None:
    async def drop() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(drop())


def test_a_half_made_schema_of_an_older_preserver_is_refused_with_the_fix(tmp_path: Path) -> None:
    """What a killed first start of a preserver before this fix left: some tables, an empty
    ``alembic_version``. It cannot hold records; the message says what to do."""
    cfg = _archive(tmp_path, "")
    (tmp_path / "archive").mkdir(mode=0o700)
    with sqlite3.connect(tmp_path / "archive" / "preserver.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, time DATETIME NOT NULL)")
    report = _report(tmp_path, "report.md", ["https://example.org/a"])
    result = run_cli("ingest", str(report), config=cfg)
    assert_one_line_error(result, 1, "holds part of a schema (tables events) but no revision")
    assert "and its -wal and -shm files) away and run the command again" in result.stderr


@pytest.mark.slow
def test_a_first_start_waits_out_a_lock_held_past_the_busy_timeout(tmp_path: Path) -> None:
    """Another process holding the new database (its migration, a switch to WAL) longer
    than SQLite's 10 s busy timeout: the first start waits and migrates, not fails."""
    import asyncio
    import sqlite3
    import threading

    from preserver.db.engine import make_engine, migrate

    db = tmp_path / "preserver.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(11.0, lambda: holder.execute("COMMIT"))
    release.start()

    async def first_start() -> str:
        engine = make_engine(f"sqlite+aiosqlite:///{db}")
        try:
            return (await migrate(engine)).after
        finally:
            await engine.dispose()

    try:
        assert asyncio.run(first_start())
    finally:
        release.join()
        holder.close()
