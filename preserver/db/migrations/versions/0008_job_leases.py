"""job leases: a running job's lease, and (PostgreSQL) a notification when a job is queued

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# preserver.db.notify listens on this channel; the payload is the job's kind
_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION preserver_job_queued() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('preserver_jobs', NEW.kind);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER jobs_queued_notify AFTER INSERT OR UPDATE OF state ON jobs
FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION preserver_job_queued()
"""


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_NOTIFY_FUNCTION)
        op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS jobs_queued_notify ON jobs')
        op.execute('DROP FUNCTION IF EXISTS preserver_job_queued()')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
