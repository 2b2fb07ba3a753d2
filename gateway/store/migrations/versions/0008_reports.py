"""reports: indexes for their reads (messages by type and time and by ref, tips and cases by
time, case events by state, tasks by message); periodic reports awaiting a second person

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_messages_type_stored', 'messages', ['doc_type', 'stored_at']),
    ('ix_messages_ref', 'messages', ['ref']),
    ('ix_tips_received', 'tips', ['received_at']),
    ('ix_cases_created', 'cases', ['created_at']),
    ('ix_case_events_state', 'case_events', ['to_state', 'at']),
    ('ix_tasks_message', 'tasks', ['message_id']),
)


def upgrade() -> None:
    """Apply."""
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table('report_releases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=48), nullable=False),
    sa.Column('document', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('submitted_by', sa.String(length=64), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=64), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_releases')),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table('report_releases')
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
