"""console work: held uploads, special-data grants, notifications, tasks done

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('due_soon_noted_at', UTC_TIME, nullable=True))
        batch.add_column(sa.Column('done_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('done_note_sealed', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('best_interests_decision', sa.String(length=16),
                                   nullable=True))
    with op.batch_alter_table('tips') as batch:
        batch.add_column(sa.Column('last_seen_at', UTC_TIME, nullable=True))
    op.create_table('held_files',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('data_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', UTC_TIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_files')))
    op.create_index(op.f('ix_held_files_created_at'), 'held_files', ['created_at'])
    op.create_table('special_grants',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('granted_at', UTC_TIME, nullable=False),
    sa.Column('expires_at', UTC_TIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_special_grants')))
    op.create_index('ix_special_grants_session', 'special_grants', ['session_id', 'message_id'])
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('unit', sa.String(length=48), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('tip_id', sa.Integer(), nullable=True),
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('doc_type', sa.String(length=64), nullable=True),
    sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('due_at', UTC_TIME, nullable=True),
    sa.Column('created_at', UTC_TIME, nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_notifications_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')))
    op.create_index('ix_notifications_unit', 'notifications', ['unit', 'created_at'])
    op.create_index('ix_notifications_user', 'notifications', ['username', 'created_at'])
    op.create_table('notification_reads',
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('read_at', UTC_TIME, nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                            name=op.f('fk_notification_reads_notification_id_notifications')),
    sa.PrimaryKeyConstraint('notification_id', 'username', name=op.f('pk_notification_reads')))


def downgrade() -> None:
    """Revert."""
    op.drop_table('notification_reads')
    op.drop_index('ix_notifications_user', table_name='notifications')
    op.drop_index('ix_notifications_unit', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_special_grants_session', table_name='special_grants')
    op.drop_table('special_grants')
    op.drop_index(op.f('ix_held_files_created_at'), table_name='held_files')
    op.drop_table('held_files')
    with op.batch_alter_table('tips') as batch:
        batch.drop_column('last_seen_at')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('best_interests_decision')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('done_note_sealed')
        batch.drop_column('done_by')
        batch.drop_column('due_soon_noted_at')
