"""verifiable history (PROTOCOL.md §4.8): the audit log's Merkle tree (its perfect subtrees
and its right edge, built here for the entries already logged: the chain stays as it is) and
the checkpoints the node signs; as a witness, the partners' checkpoints cosigned and the
forks seen; as a log, what each partner has cosigned

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: Leaves read and nodes written per round while an existing log is built into a tree.
BATCH = 10_000


def upgrade() -> None:
    """Apply."""
    op.create_table('audit_tree',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_audit_tree')),
    )
    op.create_table('audit_checkpoints',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=False),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_audit_checkpoints')),
    )
    op.create_table('witnessed',
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=False),
    sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('origin', name=op.f('pk_witnessed')),
    )
    op.create_table('witness_forks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('held_note', sa.LargeBinary(), nullable=False),
    sa.Column('offered_note', sa.LargeBinary(), nullable=False),
    sa.Column('offered_old_size', sa.BigInteger(), nullable=False),
    sa.Column('offered_proof', sa.LargeBinary(), nullable=False),
    sa.Column('why', sa.String(length=200), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_witness_forks')),
    )
    op.create_table('checkpoint_witnesses',
    sa.Column('partner', sa.String(length=48), nullable=False),
    sa.Column('cosigned_size', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('sent_size', sa.BigInteger(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal', sa.String(length=20), nullable=True),
    sa.Column('held_size', sa.BigInteger(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('partner', name=op.f('pk_checkpoint_witnesses')),
    )
    with op.batch_alter_table('audit_head') as batch:
        batch.add_column(sa.Column('tree_edge', sa.LargeBinary(), nullable=True))
    _build_tree()


def _build_tree() -> None:
    """The tree of the entries already in the log, in their order."""
    from gateway.audit.log import entry_bytes  # noqa: PLC0415 - the one canonical form
    from gateway.protocol import tlog  # noqa: PLC0415

    bind = op.get_bind()
    log = sa.table('audit_log', sa.column('seq'), sa.column('at'), sa.column('actor'),
                   sa.column('action'), sa.column('subject'), sa.column('detail'))
    tree = sa.table('audit_tree', sa.column('level'), sa.column('idx'), sa.column('hash'))
    head = sa.table('audit_head', sa.column('id'), sa.column('tree_edge'))
    size, last = 0, 0
    edge: list[bytes] = []
    while True:
        rows = bind.execute(sa.select(log).where(log.c.seq > last).order_by(log.c.seq)
                            .limit(BATCH)).all()
        if not rows:
            break
        leaves = [tlog.leaf_hash(entry_bytes(r.seq, r.at, r.actor, r.action, r.subject,
                                             r.detail)) for r in rows]
        edge, nodes = tlog.grow(size, edge, leaves)
        bind.execute(tree.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes])
        size, last = size + len(rows), rows[-1].seq
    bind.execute(head.update().where(head.c.id == 1).values(tree_edge=b"".join(edge) or None))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('audit_head') as batch:
        batch.drop_column('tree_edge')
    op.drop_table('checkpoint_witnesses')
    op.drop_table('witness_forks')
    op.drop_table('witnessed')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_tree')
