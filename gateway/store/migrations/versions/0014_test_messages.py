"""test messages: a conformance probe's message (PROTOCOL.md §3.1, ``bx.test``) is kept
marked, so that reports leave it out; the covering indexes of a report's lookups (a
request's answer, a case's conversation with its partner) carry the mark

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

#: name, columns before, columns after
INDEXES = (
    ('ix_messages_conversation', ['conversation', 'sender', 'recipient', 'stored_at'],
     ['conversation', 'sender', 'recipient', 'stored_at', 'test']),
    ('ix_messages_ref', ['ref', 'sender', 'recipient', 'doc_type', 'stored_at'],
     ['ref', 'sender', 'recipient', 'doc_type', 'stored_at', 'test']),
)


def upgrade() -> None:
    """Apply."""
    op.add_column('messages', sa.Column('test', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    for name, _, columns in INDEXES:
        op.drop_index(name, table_name='messages')
        op.create_index(name, 'messages', columns)


def downgrade() -> None:
    """Revert."""
    for name, columns, _ in reversed(INDEXES):
        op.drop_index(name, table_name='messages')
        op.create_index(name, 'messages', columns)
    with op.batch_alter_table('messages') as table:
        table.drop_column('test')
