"""reports: covering indexes for the lookups a report makes per message (a request's answer,
its deadline tasks, a case's conversation with its partner), so that they read the index and
not the message rows with their bytes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:50:00
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: name, table, columns before, columns after
INDEXES = (
    ('ix_messages_conversation', 'messages', ['conversation'],
     ['conversation', 'sender', 'recipient', 'stored_at']),
    ('ix_messages_ref', 'messages', ['ref'],
     ['ref', 'sender', 'recipient', 'doc_type', 'stored_at']),
    ('ix_tasks_message', 'tasks', ['message_id'], ['message_id', 'kind', 'due_at', 'done_at']),
    ('ix_case_conversations_case_id', 'case_conversations', ['case_id'],
     ['case_id', 'partner', 'conversation']),
)


def upgrade() -> None:
    """Apply."""
    for name, table, _, columns in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Revert."""
    for name, table, columns, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
