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

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.log import ChainVerdict, entry_bytes, split_edge, verify_chain
from gateway.protocol import tlog
from gateway.store import audit_log as repo
from gateway.store.transactions import HasDatabase, reads


@dataclass(frozen=True)
class TreeHead:
    """The tree as the head row records it."""

    size: int
    root: bytes


async def head(conn: AsyncConnection) -> TreeHead:
    """The current size and root (from the right edge: no walk)."""
    row = await repo.head(conn)
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
        rows = await repo.nodes(conn, by_level)
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
    row = await repo.entry(conn, seq)
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
    rows = await repo.in_order(conn)
    level_hashes = [tlog.leaf_hash(entry_bytes(row.seq, row.at, row.actor, row.action,
                                               row.subject, row.detail)) async for row in rows]
    size = len(level_hashes)
    level = 0
    while level_hashes:
        stored = await repo.level(conn, level)
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
    if await repo.count_from_level(conn, level):
        return TreeVerdict(size, "the tree holds subtrees above its height")
    recorded = await head(conn)
    if recorded.size != size:
        return TreeVerdict(size, f"the head records {recorded.size} entries, the log {size}")
    if recorded.root != await root_at(conn, size):
        return TreeVerdict(size, "the head's edge does not match the tree")
    return TreeVerdict(size)


@reads
async def verify(conn: AsyncConnection, _ctx: HasDatabase) -> tuple[ChainVerdict, TreeVerdict]:
    """The whole log checked in one snapshot: its hash chain, then its Merkle tree
    (``gateway audit verify``)."""
    return await verify_chain(conn), await verify_tree(conn)
