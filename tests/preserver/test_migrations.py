"""The Alembic migrations create exactly the tables the models describe; a database
behind or ahead of them is refused by every open that does not migrate; a read-only
database refuses writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import preserver.db.models  # noqa: F401  (registers the tables)
from preserver.db.engine import Database, SchemaChange, make_engine, migrate
from preserver.errors import RunError
from tests.support.schema import HEAD, downgrade, set_revision


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_read_only_database_refuses_writes(db: Database, db_url: str) -> None:
    reader = await Database.open(db_url, read_only=True)
    try:
        async with reader.session() as session:
            assert (await session.execute(sa.text("SELECT count(*) FROM events"))).scalar() == 0
        with pytest.raises(RunError, match="(?i)read-?only"):
            async with reader.session() as session:
                await session.execute(sa.text("DELETE FROM events"))
    finally:
        await reader.close()


async def test_an_older_schema_is_refused_until_migrated(db: Database, db_url: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade, "0001")
    message = f"at revision 0001, this preserver needs {HEAD}: run `preserver migrate`"
    with pytest.raises(RunError, match=message):
        await Database.open(db_url, read_only=True)
    with pytest.raises(RunError, match=message):
        await Database.open(db_url, migrate_schema=False)
    engine = make_engine(db_url)
    try:
        assert await migrate(engine) == SchemaChange(before="0001", after=HEAD)
        assert await migrate(engine) == SchemaChange(before=HEAD, after=HEAD)
    finally:
        await engine.dispose()
    await (await Database.open(db_url, read_only=True)).close()


async def test_a_database_without_a_schema_is_refused(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        (tmp_path / "preserver.db").write_bytes(b"")
    with pytest.raises(RunError, match=r"at revision \(none\), .*run `preserver migrate`"):
        await Database.open(db_url, read_only=True)


async def test_a_newer_schema_is_refused_by_every_open(db: Database, db_url: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(set_revision, "9999")
    message = (f"at revision 9999, newer than this preserver \\(which knows revisions up to "
               f"{HEAD}\\): upgrade preserver")
    for options in ({}, {"migrate_schema": False}, {"read_only": True}):
        with pytest.raises(RunError, match=message):
            await Database.open(db_url, **options)


def test_known_revisions_are_alembics() -> None:
    """Commands that only check the schema read the revisions without Alembic: the same."""
    from alembic.script import ScriptDirectory

    from preserver.db.revisions import known_revisions
    from tests.support.schema import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    known, head = known_revisions()
    assert head == script.get_current_head()
    assert known == {s.revision for s in script.walk_revisions()}


@pytest.mark.slow
def test_a_read_command_does_not_import_alembic(tmp_path: Path) -> None:
    """``status`` starts without Alembic (about a tenth of a second of imports)."""
    import subprocess
    import sys

    from tests.support.cli import default_config, run_in

    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    assert run_in(tmp_path, "ingest", str(report)).code == 0
    code = ("import sys; sys.argv = ['preserver', '--config', sys.argv[1], 'status']\n"
            "from preserver.cli import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('alembic' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(default_config(tmp_path))],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stdout + proc.stderr
