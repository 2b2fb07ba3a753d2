"""conversations scoped to the pair of nodes (PROTOCOL.md §4.2): keyed by (partner, id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('case_conversations', recreate='always') as batch:
        batch.drop_constraint('pk_case_conversations', type_='primary')
        batch.create_primary_key('pk_case_conversations', ['partner', 'conversation'])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('case_conversations', recreate='always') as batch:
        batch.drop_constraint('pk_case_conversations', type_='primary')
        batch.create_primary_key('pk_case_conversations', ['conversation'])
