"""a notice may point to a missing-person report (its recording unit told that it was
linked to a case)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.add_column('notifications', sa.Column('report_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('report_id')
