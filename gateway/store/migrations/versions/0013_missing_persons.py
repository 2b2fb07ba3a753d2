"""missing-person reports: the person sealed whole (the local API's PERSON), the columns the
open list shows, the state (open, linked to a case, closed with a reason), and the reporter
kept apart

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('missing_persons',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('reference', sa.String(length=48), nullable=False),
    sa.Column('unit', sa.String(length=48), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('person_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=True),
    sa.Column('presumed_child', sa.Boolean(), nullable=False),
    sa.Column('reporter_relation', sa.String(length=24), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('narrative_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('photo_type', sa.String(length=16), nullable=True),
    sa.Column('photo_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('close_reason', sa.String(length=32), nullable=True),
    sa.Column('close_note_sealed', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_missing_persons_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missing_persons')),
    sa.UniqueConstraint('reference', name=op.f('uq_missing_persons_reference'))
    )
    op.create_index('ix_missing_persons_state', 'missing_persons', ['state', 'created_at'])
    op.create_table('missing_person_reporters',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('identity_sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['missing_persons.id'],
                            name=op.f('fk_missing_person_reporters_report_id_missing_persons')),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_missing_person_reporters'))
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table('missing_person_reporters')
    op.drop_index('ix_missing_persons_state', table_name='missing_persons')
    op.drop_table('missing_persons')
