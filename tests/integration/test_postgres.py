"""The same store code on a real PostgreSQL (127.0.0.1:5432, database ``test``)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from gateway.audit.log import append, append_many, verify_chain
from gateway.audit.tree import verify_tree
from gateway.exchange.delivery import DeliveryWorker
from gateway.exchange.inbound import accept_message
from gateway.exchange.outbound import send_message
from gateway.exchange.startup import open_node
from gateway.protocol.envelope import MessageDraft
from gateway.protocol.problems import Problem
from gateway.runtime.node import Node
from gateway.settings import load_settings
from gateway.store import messages as repo
from gateway.store.database import create_engine, migrate
from gateway.store.tables import audit_log, messages
from gateway.trust.keys import KeyStore
from tests.conftest import NOW, World, example
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio
SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
async def pg_node(tmp_path: Path, world: World) -> AsyncIterator[Node]:
    name = f"bx_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{SERVER}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = load_settings(node_id="kh.ahtjp", data_dir=tmp_path / "kh",
                                 database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        world.receiver_key = KeyStore(settings.key_path, "kh.ahtjp").generate("EdDSA", None, NOW)
        write_partner(settings.partners_path, "vn.c02", world.sender_key)
        node = await open_node(settings, clock=world.clock)
        try:
            yield node
        finally:
            await node.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_inbound_outbound_and_audit_on_postgresql(pg_node: Node, world: World) -> None:
    raw = world.message()
    first = await accept_message(pg_node, raw, world.bearer())
    again = await accept_message(pg_node, raw, world.bearer())
    assert (first.status, again.status) == (202, 200)
    assert again.receipt == first.receipt
    token = world.bearer()
    await accept_message(pg_node, world.message(), token)
    with pytest.raises(Problem) as caught:
        await accept_message(pg_node, world.message(), token)
    assert caught.value.code == "unauthenticated"
    message_id = await send_message(pg_node, MessageDraft("alert", "1.0", "vn.c02"),
                                    example("alert"))
    async with pg_node.engine.connect() as conn:
        rows = await repo.list_messages(conn)
        due = await repo.claim_due(conn, world.now, ["vn.c02"], 10, "r1",
                                   world.now + timedelta(minutes=1))
        stats = await repo.outbox_stats(conn)
        verdict = await verify_chain(conn)
    assert len(rows) == 3
    assert [r.message_id for r in due] == [message_id]
    assert stats[0].depth == 1
    assert verdict.intact
    assert verdict.entries >= 5


async def test_migrations_are_idempotent_on_postgresql(pg_node: Node) -> None:
    await migrate(pg_node.engine)
    await migrate(pg_node.engine)


async def test_concurrent_appends_from_two_replicas_never_fork_the_log(
        pg_node: Node, world: World) -> None:
    """Two engines (two replicas' connections) appending at once: one chain, no gap."""
    other = create_engine(pg_node.settings.database_url or "")
    try:
        async def appends(engine: Any, actor: str) -> None:
            for index in range(60):
                async with engine.begin() as conn:
                    await append(conn, world.clock, actor, "test.append", str(index))

        await asyncio.gather(appends(pg_node.engine, "replica-1"), appends(other, "replica-2"),
                             pg_node.db.grouped(_append_many, world))
        async with pg_node.engine.connect() as conn:
            verdict = await verify_chain(conn)
            tree = await verify_tree(conn)
            seqs = [row[0] for row in await conn.execute(
                sa.select(audit_log.c.seq).order_by(audit_log.c.seq))]
        assert verdict.intact, verdict.reason
        assert tree.intact, tree.problem  # one tree: no fork, no subtree written twice
        assert tree.size == len(seqs)
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= 130
    finally:
        await other.dispose()


async def _append_many(conn: Any, world: World) -> None:
    await append_many(conn, world.clock, [("writer", "test.append", str(i), {})
                                          for i in range(10)])


async def test_a_restarted_replica_takes_back_its_own_claims_at_once(
        pg_node: Node, world: World) -> None:
    """A replica killed while delivering left claims under its name; started again under the
    same name, it gives them up at once (they need not lapse), and never another's."""
    ours = await send_message(pg_node, MessageDraft("alert", "1.0", "vn.c02"), example("alert"))
    theirs = await send_message(pg_node, MessageDraft("alert", "1.0", "vn.c02"),
                                example("alert"))
    until = world.now + timedelta(minutes=1)
    async with pg_node.engine.begin() as conn:
        claimed = await repo.claim_due(conn, world.now, ["vn.c02"], 1, pg_node.settings.replica,
                                       until)
        other = await repo.claim_due(conn, world.now, ["vn.c02"], 1, "another-replica", until)
    assert [r.message_id for r in claimed + other] == [ours, theirs]
    worker = DeliveryWorker(pg_node, httpx.AsyncClient())
    worker.stop()  # the start alone: what it releases before its first round
    await worker.run()
    async with pg_node.engine.connect() as conn:
        holders = dict((await conn.execute(sa.select(messages.c.message_id, messages.c.claimed_by)
                                           .where(messages.c.direction == "out"))).all())
    assert holders == {ours: None, theirs: "another-replica"}
