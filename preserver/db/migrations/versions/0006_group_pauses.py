"""group pauses: a run of walls (bot checks, login walls) pauses a politeness group

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_pauses',
    sa.Column('host', sa.String(), nullable=False),
    sa.Column('walls', sa.Integer(), nullable=False),
    sa.Column('bot_checks', sa.Integer(), nullable=False),
    sa.Column('pauses', sa.Integer(), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_message', sa.String(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )


def downgrade() -> None:
    op.drop_table('group_pauses')
