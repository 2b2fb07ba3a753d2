"""messages not yet attached to a case; outbox claims; leases; node-wide rate counts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('attach_pending', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('claimed_until', UTC_TIME, nullable=True))
    op.create_index('ix_messages_attach_pending', 'messages', ['id'],
                    sqlite_where=sa.text('attach_pending'),
                    postgresql_where=sa.text('attach_pending'))
    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('expires_at', UTC_TIME, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases')),
    )
    op.create_table('rate_counts',
    sa.Column('caller', sa.String(length=48), nullable=False),
    sa.Column('window', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('caller', 'window', name=op.f('pk_rate_counts')),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table('rate_counts')
    op.drop_table('leases')
    op.drop_index('ix_messages_attach_pending', table_name='messages')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('claimed_until')
        batch.drop_column('claimed_by')
        batch.drop_column('attach_pending')
