"""one case on both sides: what the exchanged documents put on a case (the partner's case
reference, the planned return's date and gate, a refusal's reason, the closure's outcome and
reason, the referral after a handover), the words of a task a document left (MESSAGES.md,
"Both sides keep one case"), and room for a relative's person-id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ('partner_reference', sa.String(length=80)),  # a Reference is 80 at most
    ('return_date', sa.Date()),
    ('return_gate', sa.String(length=48)),
    ('refusal_sealed', sa.LargeBinary()),
    ('closure_outcome', sa.String(length=32)),
    ('closure_reason', sa.String(length=32)),
    ('referral_sealed', sa.LargeBinary()),
    ('referred_by', sa.String(length=64)),
    ('referred_at', sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('cases') as batch:
        for name, kind in CASE_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('detail', sa.String(length=2000), nullable=True))
    # a relative's id is the person's (40 at most) with ".relative-N"
    with op.batch_alter_table('persons') as batch:
        batch.alter_column('person_ref', type_=sa.String(length=64),
                           existing_type=sa.String(length=40), existing_nullable=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('persons') as batch:
        batch.alter_column('person_ref', type_=sa.String(length=40),
                           existing_type=sa.String(length=64), existing_nullable=False)
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('detail')
    with op.batch_alter_table('cases') as batch:
        for name, _ in reversed(CASE_COLUMNS):
            batch.drop_column(name)
