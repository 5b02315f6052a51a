"""captures.seen_as: how each capture's content was seen (session, proxy), by label

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Every capture made before this revision was anonymous and direct: preserver had no
sessions or proxies then, so existing rows get the text that says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BEFORE = "anonymous, direct (captured before access was recorded)"


def upgrade() -> None:
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seen_as', sa.String(), nullable=False,
                                      server_default=BEFORE))


def downgrade() -> None:
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_column('seen_as')
