"""Alembic environment: runs on the connection ``preserver.db.engine.migrate`` hands over.

To autogenerate a new revision against a scratch SQLite file:
    alembic -c preserver/db/migrations/alembic.ini revision --autogenerate -m "..."
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import preserver.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # command-line use: a sync URL from alembic.ini
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///scratch.db")
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata,
                              render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
