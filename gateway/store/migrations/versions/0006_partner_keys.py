"""keys offered by partners' signed key sets, waiting for an administrator

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table('partner_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner', sa.String(length=48), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('thumbprint', sa.String(length=64), nullable=False),
    sa.Column('jwk', sa.Text(), nullable=False),
    sa.Column('vouched_by', sa.String(length=100), nullable=False),
    sa.Column('offered_at', UTC_TIME, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('decided_at', UTC_TIME, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_keys')),
    sa.UniqueConstraint('partner', 'kid', 'thumbprint', name='uq_partner_keys_offer'))


def downgrade() -> None:
    """Revert."""
    op.drop_table('partner_keys')
