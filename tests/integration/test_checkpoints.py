"""The node's checkpoints (PROTOCOL.md §4.8) on a real node (SQLite file, real keys): signed
notes of the tree's size and root under the node's kid, made when the log has grown (at most
every minute unless asked), each consistent with the one before; a tree that was tampered
with is never signed; a partner's cosignature is kept with the checkpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import checkpoints
from gateway.audit.log import append
from gateway.audit.tree import consistency, head
from gateway.exchange.checkpointing import checkpoint_now
from gateway.exchange.startup import open_node
from gateway.protocol import tlog
from gateway.runtime.node import Node
from gateway.settings import load_settings
from gateway.store.tables import audit_checkpoints
from gateway.trust.keys import KeyStore
from tests.conftest import NOW, World
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio


@pytest.fixture
async def node(tmp_path: Path, world: World) -> AsyncIterator[Node]:
    settings = load_settings(node_id="vn.c02", data_dir=tmp_path / "vn.c02")
    KeyStore(settings.key_path, "vn.c02").generate("EdDSA", None, NOW)
    write_partner(settings.partners_path, "kh.ahtjp", world.receiver_key)
    opened = await open_node(settings, clock=world.clock)
    yield opened
    await opened.close()


async def grow(node: Node, count: int) -> None:
    async with node.db.transaction() as conn:
        for n in range(count):
            await append(conn, node.clock, "tester", "test.append", f"s{n}")


def own_key(node: Node) -> tlog.Verifier:
    key = node.signing_key
    assert isinstance(key.private_key, Ed25519PrivateKey)
    return tlog.Verifier(key.kid, tlog.ED25519, key.private_key.public_key())


async def test_a_checkpoint_signs_the_tree_as_it_is(node: Node, world: World) -> None:
    await grow(node, 5)
    made = await checkpoint_now(node)
    assert made is not None
    note = tlog.parse_note(made.note)
    assert tlog.verify_note(note, [own_key(node)]) == [own_key(node)]
    async with node.engine.connect() as conn:
        tree = await head(conn)
    assert tlog.parse_checkpoint(note.text) == tlog.Checkpoint("bx/vn.c02/audit", tree.size,
                                                               tree.root)
    assert await checkpoint_now(node) is None  # the log has not grown
    await grow(node, 3)
    assert await checkpoint_now(node) is None  # less than a minute since the last one
    world.now += timedelta(seconds=61)
    later = await checkpoint_now(node)
    assert later is not None
    assert later.size == made.size + 3
    async with node.engine.connect() as conn:
        proof = await consistency(conn, made.size, later.size)
    tlog.verify_consistency(made.size, made.root, later.size, later.root, proof)
    await grow(node, 1)
    forced = await checkpoint_now(node, force=True)  # on demand: at once
    assert forced is not None
    assert forced.size == later.size + 1


async def test_a_tampered_tree_is_never_signed(node: Node) -> None:
    await grow(node, 12)
    first = await checkpoint_now(node, force=True)
    assert first is not None
    assert first.size >= 8
    async with node.db.transaction() as conn:  # the first eight entries' subtree is rewritten
        await conn.exec_driver_sql("UPDATE audit_tree SET hash = zeroblob(32) "
                                   "WHERE level = 3 AND idx = 0")
    await grow(node, 4)
    with pytest.raises(checkpoints.CheckpointError, match="refusing to sign"):
        await checkpoint_now(node, force=True)
    async with node.engine.connect() as conn:
        sizes = (await conn.execute(sa.select(audit_checkpoints.c.size))).scalars().all()
    assert sizes == [first.size]  # nothing half-made


async def test_a_partners_cosignature_is_kept_and_named(node: Node) -> None:
    await grow(node, 3)
    made = await checkpoint_now(node, force=True)
    assert made is not None
    witness = Ed25519PrivateKey.generate()
    signature = tlog.cosign(made.parsed(), "kh.ahtjp#k1", witness, 1_796_000_000)
    async with node.db.transaction() as conn:
        await checkpoints.add_cosignature(conn, made.size, signature)
        stored = await checkpoints.latest(conn)
    assert stored is not None
    keys = checkpoints.cosigner_keys({"kh.ahtjp": {"kh.ahtjp#k1": witness.public_key()}})
    assert checkpoints.cosigners(stored, keys) == [("kh.ahtjp#k1", 1_796_000_000)]
    assert tlog.verify_note(stored.parsed(), [own_key(node)])  # still the node's note
