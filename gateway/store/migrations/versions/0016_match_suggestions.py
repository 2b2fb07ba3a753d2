"""matching by itself: the records queued to be matched after their commit, and the
suggestions (a case person and a report, the pair once only, with its decision)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('match_queue',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'record_id', name=op.f('pk_match_queue'))
    )
    op.create_table('match_suggestions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.String(length=400), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_suggestions')),
    sa.UniqueConstraint('person_id', 'report_id', name='uq_match_suggestions_pair')
    )
    op.create_index('ix_match_suggestions_case', 'match_suggestions', ['case_id', 'state'])
    op.create_index('ix_match_suggestions_report', 'match_suggestions',
                    ['report_id', 'state'])


def downgrade() -> None:
    """Revert."""
    op.drop_index('ix_match_suggestions_report', table_name='match_suggestions')
    op.drop_index('ix_match_suggestions_case', table_name='match_suggestions')
    op.drop_table('match_suggestions')
    op.drop_table('match_queue')
