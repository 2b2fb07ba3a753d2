"""The audit log as a Merkle tree log (PROTOCOL.md §4.8): its root at any size, inclusion and
consistency proofs made from the stored perfect subtrees (one query of O(log n) hashes each),
and the full check that ``gateway audit verify`` runs: every stored hash recomputed from the
entries, level by level.

The tree grows in the transaction of each append (:mod:`gateway.audit.log`); this module only
reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.log import entry_bytes, split_edge
from gateway.protocol import tlog
from gateway.store.tables import audit_head, audit_log, audit_tree


@dataclass(frozen=True)
class TreeHead:
    """The tree as the head row records it."""

    size: int
    root: bytes


async def head(conn: AsyncConnection) -> TreeHead:
    """The current size and root (from the right edge: no walk)."""
    row = (await conn.execute(sa.select(audit_head.c.seq, audit_head.c.tree_edge)
                              .where(audit_head.c.id == 1))).one()
    return TreeHead(int(row.seq), tlog.edge_root(split_edge(row.tree_edge)))


async def _with_nodes(conn: AsyncConnection,
                      make: Callable[[tlog.NodeReader], list[bytes] | bytes]
                      ) -> list[bytes] | bytes:
    """Run a proof over the stored subtrees it needs, fetched in one query."""
    wanted = sorted(set(tlog.needed_nodes(make)))
    found: dict[tuple[int, int], bytes] = {}
    if wanted:
        by_level: dict[int, list[int]] = {}
        for level, index in wanted:
            by_level.setdefault(level, []).append(index)
        # one indexed lookup per level (a row-value IN would scan the table on SQLite)
        rows = await conn.execute(sa.select(audit_tree).where(sa.or_(*(
            sa.and_(audit_tree.c.level == level, audit_tree.c.idx.in_(indexes))
            for level, indexes in by_level.items()))))
        found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}

    def node(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise tlog.TlogError(f"the tree lacks its subtree ({level}, {index})") from None

    return make(node)


async def root_at(conn: AsyncConnection, size: int) -> bytes:
    """The root of the tree when it had ``size`` entries."""
    root = await _with_nodes(conn, lambda node: tlog.root_hash(size, node))
    assert isinstance(root, bytes)
    return root


async def inclusion(conn: AsyncConnection, index: int, size: int) -> list[bytes]:
    """The inclusion proof of entry ``index`` (0-based: seq - 1) in the tree of ``size``."""
    proof = await _with_nodes(conn, lambda node: tlog.inclusion_proof(index, size, node))
    assert isinstance(proof, list)
    return proof


async def consistency(conn: AsyncConnection, old: int, size: int) -> list[bytes]:
    """The consistency proof from the tree of ``old`` entries to the tree of ``size``."""
    proof = await _with_nodes(conn, lambda node: tlog.consistency_proof(old, size, node))
    assert isinstance(proof, list)
    return proof


async def leaf(conn: AsyncConnection, seq: int) -> bytes:
    """The canonical bytes of entry ``seq`` (the leaf at index seq - 1)."""
    row = (await conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq))).one()
    return entry_bytes(row.seq, row.at, row.actor, row.action, row.subject, row.detail)


@dataclass(frozen=True)
class TreeVerdict:
    """The result of recomputing the tree."""

    size: int
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """True if every stored hash and the head's edge agree with the entries."""
        return self.problem is None


async def verify_tree(conn: AsyncConnection) -> TreeVerdict:
    """Recompute every perfect subtree from the entries and compare it with the stored one,
    level by level; then the head's edge and root. Names the first difference."""
    rows = await conn.stream(sa.select(audit_log).order_by(audit_log.c.seq))
    level_hashes = [tlog.leaf_hash(entry_bytes(row.seq, row.at, row.actor, row.action,
                                               row.subject, row.detail)) async for row in rows]
    size = len(level_hashes)
    level = 0
    while level_hashes:
        stored = await conn.stream(sa.select(audit_tree.c.idx, audit_tree.c.hash)
                                   .where(audit_tree.c.level == level)
                                   .order_by(audit_tree.c.idx))
        count = 0
        async for row in stored:
            if row.idx >= len(level_hashes) or row.idx < count:
                return TreeVerdict(size, f"the tree holds an unexpected subtree ({level}, "
                                         f"{row.idx})")
            if row.idx > count:
                return TreeVerdict(size, f"the tree lacks subtree ({level}, {count})")
            if bytes(row.hash) != level_hashes[count]:
                what = f"entry {count + 1}" if level == 0 else f"subtree ({level}, {count})"
                return TreeVerdict(size, f"the tree's hash of {what} does not match the log")
            count += 1
        if count != len(level_hashes):
            return TreeVerdict(size, f"the tree lacks subtree ({level}, {count})")
        level_hashes = [tlog.node_hash(level_hashes[i], level_hashes[i + 1])
                        for i in range(0, len(level_hashes) - 1, 2)]
        level += 1
    extra = (await conn.execute(sa.select(sa.func.count()).select_from(audit_tree)
                                .where(audit_tree.c.level >= level))).scalar_one()
    if extra:
        return TreeVerdict(size, "the tree holds subtrees above its height")
    recorded = await head(conn)
    if recorded.size != size:
        return TreeVerdict(size, f"the head records {recorded.size} entries, the log {size}")
    if recorded.root != await root_at(conn, size):
        return TreeVerdict(size, "the head's edge does not match the tree")
    return TreeVerdict(size)
