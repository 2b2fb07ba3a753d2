"""The audit log as a Merkle tree (PROTOCOL.md §4.8) on a real SQLite file: appends one by
one and in groups grow the tree in their own transaction; proofs made from the stored
subtrees verify against the root; an altered entry, subtree or edge is named by
``verify_tree``; a database from before the tree comes through its migration intact."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.log import append, append_many, entry_bytes, entry_hash, verify_chain
from gateway.audit.tree import consistency, head, inclusion, leaf, root_at, verify_tree
from gateway.protocol import tlog
from gateway.store.database import create_engine, migrate
from gateway.store.tables import audit_head, audit_log, audit_tree
from tests.integration.test_migrations import upgrade

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def mth(entries: list[bytes]) -> bytes:
    """MTH written from the definition (recursion over the list), not from the store."""
    if not entries:
        return tlog.EMPTY_ROOT
    if len(entries) == 1:
        return tlog.leaf_hash(entries[0])
    k = 1 << ((len(entries) - 1).bit_length() - 1)
    return tlog.node_hash(mth(entries[:k]), mth(entries[k:]))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await migrate(made)
    yield made
    await made.dispose()


async def fill(engine: AsyncEngine, count: int) -> None:
    rng = random.Random(count)
    done = 0
    while done < count:
        async with engine.begin() as conn:
            if rng.random() < 0.5:
                await append(conn, clock, "tester", "test.one", f"s{done}", {"n": done})
                done += 1
            else:
                batch = min(count - done, rng.randint(1, 9))
                await append_many(conn, clock, [("tester", "test.many", f"s{done + i}",
                                                 {"n": done + i}) for i in range(batch)])
                done += batch


async def all_entries(engine: AsyncEngine) -> list[bytes]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))
        return [entry_bytes(r.seq, r.at, r.actor, r.action, r.subject, r.detail) for r in rows]


async def test_the_tree_grows_with_the_log_and_its_proofs_verify(engine: AsyncEngine) -> None:
    await fill(engine, 45)
    entries = await all_entries(engine)
    async with engine.connect() as conn:
        tree = await head(conn)
        assert (tree.size, tree.root) == (45, mth(entries))
        assert (await verify_tree(conn)).intact
        for seq in (1, 2, 17, 32, 33, 45):
            proof = await inclusion(conn, seq - 1, 45)
            assert len(proof) <= 6
            tlog.verify_inclusion(tlog.leaf_hash(await leaf(conn, seq)), seq - 1, 45, proof,
                                  tree.root)
        for old in (1, 8, 20, 44, 45):
            assert await root_at(conn, old) == mth(entries[:old])
            tlog.verify_consistency(old, mth(entries[:old]), 45, tree.root,
                                    await consistency(conn, old, 45))
        reads = tlog.needed_nodes(lambda node: tlog.inclusion_proof(16, 45, node))
        assert len(set(reads)) <= 2 * 45 .bit_length()  # O(log n) stored hashes, one query


@pytest.mark.parametrize(("table", "change", "named"), [
    ("audit_log", "UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 7", "entry 7"),
    ("audit_tree", "UPDATE audit_tree SET hash = zeroblob(32) WHERE level = 2 AND idx = 1",
     "subtree (2, 1)"),
    ("audit_tree", "DELETE FROM audit_tree WHERE level = 0 AND idx = 11", "lacks"),
    ("audit_head", "UPDATE audit_head SET tree_edge = zeroblob(64)", "edge"),
])
async def test_an_altered_entry_or_subtree_is_named(engine: AsyncEngine, table: str,
                                                    change: str, named: str) -> None:
    await fill(engine, 20)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(change)
    async with engine.connect() as conn:
        verdict = await verify_tree(conn)
    assert not verdict.intact
    assert named in (verdict.problem or ""), verdict.problem


async def test_a_log_from_before_the_tree_comes_through_its_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0009")
    sync = sa.create_engine(f"sqlite:///{path}")
    prev = "0" * 64
    with sync.begin() as conn:  # 37 entries chained as the gateway of 0009 wrote them
        for seq in range(1, 38):
            at, detail = f"2026-11-{seq % 28 + 1:02d}T00:00:00Z", f'{{"n":{seq}}}'
            digest = entry_hash(prev, seq, at, "old", "test.old", f"s{seq}", detail)
            conn.execute(audit_log.insert().values(seq=seq, at=at, actor="old",
                                                   action="test.old", subject=f"s{seq}",
                                                   detail=detail, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=37, hash=prev))
    sync.dispose()
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await append(conn, clock, "new", "test.new", "after")
        entries = await all_entries(engine)
        async with engine.connect() as conn:
            assert (await verify_chain(conn)).intact  # the chain as it was, and one more
            verdict = await verify_tree(conn)
            assert verdict.intact, verdict.problem
            assert (await head(conn)).root == mth(entries)
            assert len(entries) == 38
            stored = (await conn.execute(sa.select(sa.func.count())
                                         .select_from(audit_tree))).scalar_one()
            assert stored == 2 * 38 - 38 .bit_count()  # every perfect subtree, once
    finally:
        await engine.dispose()
