"""the release queue: a periodic report keeps its submitter's unit and, when sent back, who
did and why; what a supervisor opened of a submitted draft (its preview, each attachment)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('report_releases') as table:
        table.add_column(sa.Column('unit', sa.String(length=48), nullable=True))
        table.add_column(sa.Column('returned_by', sa.String(length=64), nullable=True))
        table.add_column(sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column('return_reason', sa.String(length=500), nullable=True))
    op.create_index('ix_report_releases_state', 'report_releases', ['state', 'unit'])
    op.create_table('draft_views',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('viewer', sa.String(length=64), nullable=False),
    sa.Column('item', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['drafts.id'],
                            name=op.f('fk_draft_views_draft_id_drafts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_views')),
    )
    op.create_index('ix_draft_views_draft', 'draft_views', ['draft_id', 'viewer'])


def downgrade() -> None:
    """Revert."""
    op.drop_index('ix_draft_views_draft', table_name='draft_views')
    op.drop_table('draft_views')
    op.drop_index('ix_report_releases_state', table_name='report_releases')
    with op.batch_alter_table('report_releases') as table:
        table.drop_column('return_reason')
        table.drop_column('returned_at')
        table.drop_column('returned_by')
        table.drop_column('unit')
