"""citations.page: the page of a paged report (PDF) a citation is on

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Reports ingested before this revision were text, Markdown or HTML, which have no
pages, so existing citations get NULL: no page, as a new citation of such a report.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('citations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('citations', schema=None) as batch_op:
        batch_op.drop_column('page')
