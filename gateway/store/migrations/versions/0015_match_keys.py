"""matching's blind index: each blocking key of an open missing-person report or a case
person, keyed with the node's index key (never a clear name)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('match_keys',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('kind', 'record_id', 'key', name=op.f('pk_match_keys'))
    )
    op.create_index('ix_match_keys_key', 'match_keys', ['key', 'kind', 'record_id', 'case_id'])


def downgrade() -> None:
    """Revert."""
    op.drop_index('ix_match_keys_key', table_name='match_keys')
    op.drop_table('match_keys')
