"""verifiable history (PROTOCOL.md §4.8): the audit log's Merkle tree (its perfect subtrees
and its right edge, built here for the entries already logged: the chain stays as it is) and
the checkpoints the node signs

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
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_tree')
