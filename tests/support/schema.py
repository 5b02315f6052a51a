"""The archive's database at another schema revision, as an older (or newer) preserver
left it: Alembic run directly on a connection."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

import preserver.db.models

MIGRATIONS = Path(preserver.db.models.__file__).parent / "migrations"
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Take the database on ``connection`` back to ``revision``, as an older preserver left it."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def set_revision(connection: sa.Connection, revision: str) -> None:
    """Claim ``revision`` (one this code may not know) without running anything."""
    connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
