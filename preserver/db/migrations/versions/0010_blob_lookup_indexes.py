"""indexes for finding what names a blob: a capture's signature, a report's file

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

``preserver web`` serves a blob (``/files/SHA256``) only when the archive names it: a
file row (indexed since 0001), a capture's manifest (unique) or signature, or a report's
file. Without these two indexes each such request scanned the captures table.
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_captures_signature_sha256', 'captures', ['signature_sha256'])
    op.create_index('ix_reports_blob_sha256', 'reports', ['blob_sha256'])


def downgrade() -> None:
    op.drop_index('ix_reports_blob_sha256', table_name='reports')
    op.drop_index('ix_captures_signature_sha256', table_name='captures')
