"""indexes for the reports: messages by type and time and by ref, tips and cases by time,
case events by state, tasks by message

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:20:00
"""

from __future__ import annotations

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


def downgrade() -> None:
    """Revert."""
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
