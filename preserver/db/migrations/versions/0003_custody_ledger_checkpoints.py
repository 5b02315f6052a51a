"""custody ledger checkpoints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('text', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('timestamps_pending', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('size')
    )
    op.create_table('checkpoint_timestamps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('tsa_url', sa.String(), nullable=False),
    sa.Column('token', sa.LargeBinary(), nullable=False),
    sa.Column('chain', sa.LargeBinary(), nullable=False),
    sa.Column('gen_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('checkpoint_id', 'tsa_url', name='uq_timestamp_tsa')
    )
    with op.batch_alter_table('checkpoint_timestamps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoint_timestamps_checkpoint_id'), ['checkpoint_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint('uq_events_seq', ['seq'])



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_events_seq', type_='unique')
        batch_op.drop_column('seq')

    with op.batch_alter_table('checkpoint_timestamps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoint_timestamps_checkpoint_id'))

    op.drop_table('checkpoint_timestamps')
    op.drop_table('checkpoints')
