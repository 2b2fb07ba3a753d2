"""Two real nodes (SQLite files, real keys, each pinning the other) witness each other's audit
logs through the system documents of PROTOCOL.md §4.8: the checkpoint one queues is handed
to the other exactly as signed, and so is the answer. The transport is tested elsewhere
(tests/e2e/test_witness.py); here, what each side decides and keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import checkpoints
from gateway.audit.log import append, entry_bytes, entry_hash
from gateway.exchange import witnessing
from gateway.exchange.checkpointing import checkpoint_now, latest_cosigned
from gateway.exchange.outbound import OutboundError, send_message
from gateway.exchange.startup import open_node
from gateway.protocol import tlog
from gateway.protocol.envelope import Envelope, MessageDraft, parse_body, parse_envelope
from gateway.protocol.jose import SigningKey, public_jwk, thumbprint
from gateway.runtime.node import Node
from gateway.settings import load_settings
from gateway.store import messages as repo
from gateway.store.tables import (
    audit_checkpoints,
    audit_head,
    audit_log,
    audit_tree,
    checkpoint_witnesses,
    messages,
    witness_forks,
)
from gateway.trust.keys import KeyStore
from tests.conftest import NOW, World, make_key
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio


@dataclass
class Pair:
    log: Node      # vn.c02: its log is witnessed
    witness: Node  # kh.ahtjp: it witnesses


@pytest.fixture
async def pair(tmp_path: Path, world: World) -> AsyncIterator[Pair]:
    a = load_settings(node_id="vn.c02", data_dir=tmp_path / "vn.c02")
    b = load_settings(node_id="kh.ahtjp", data_dir=tmp_path / "kh.ahtjp")
    key_a = KeyStore(a.key_path, "vn.c02").generate("EdDSA", None, NOW)
    key_b = KeyStore(b.key_path, "kh.ahtjp").generate("EdDSA", None, NOW)
    write_partner(a.partners_path, "kh.ahtjp", key_b)
    write_partner(b.partners_path, "vn.c02", key_a)
    log_node = await open_node(a, clock=world.clock)
    witness_node = await open_node(b, clock=world.clock)
    yield Pair(log_node, witness_node)
    await log_node.close()
    await witness_node.close()


async def last_out(node: Node, doc_type: str) -> Envelope:
    async with node.engine.connect() as conn:
        row = (await conn.execute(sa.select(messages.c.raw).where(
            messages.c.direction == "out", messages.c.doc_type == doc_type)
            .order_by(messages.c.id.desc()).limit(1))).one()
    return parse_envelope(parse_body(node.sealer.open(bytes(row.raw), repo.RAW_COLUMN)))


async def hand_over(sender: Node, receiver: Node, doc_type: str) -> Envelope:
    """The last ``doc_type`` the sender queued, handled by the receiver's hook."""
    envelope = await last_out(sender, doc_type)
    async with receiver.db.transaction() as conn:
        if doc_type == "checkpoint":
            await witnessing.on_checkpoint(conn, receiver, envelope)
        else:
            await witnessing.on_cosignature(conn, receiver, envelope)
    return envelope


async def grow(node: Node, count: int) -> None:
    async with node.db.transaction() as conn:
        for n in range(count):
            await append(conn, node.clock, "tester", "test.append", f"s{n}")


async def round_trip(pair: Pair) -> witnessing.witnessing.Answer:
    await hand_over(pair.log, pair.witness, "checkpoint")
    envelope = await hand_over(pair.witness, pair.log, "cosignature")
    return witnessing.read_cosignature(envelope.document)


async def audit_actions(node: Node) -> list[str]:
    async with node.engine.connect() as conn:
        return list((await conn.execute(sa.select(audit_log.c.action)
                                        .order_by(audit_log.c.seq))).scalars())


async def cosigners_of_latest(pair: Pair) -> list[str]:
    async with pair.log.engine.connect() as conn:
        stored = await checkpoints.latest(conn)
    assert stored is not None
    keys = [tlog.Verifier(kid, tlog.COSIGNATURE_V1, public)
            for kid, public in witnessing.partner_keys(pair.log, "kh.ahtjp")]
    return [kid for kid, _ in checkpoints.cosigners(stored, keys)]


async def test_each_checkpoint_is_cosigned_and_kept_with_its_note(pair: Pair,
                                                                  world: World) -> None:
    await grow(pair.log, 5)
    first = await checkpoint_now(pair.log, force=True)
    assert first is not None
    assert await witnessing.send_checkpoints(pair.log) == ["kh.ahtjp"]
    assert await witnessing.send_checkpoints(pair.log) == []  # sent: not again at once
    answer = await round_trip(pair)
    assert answer.signature is not None
    assert answer.size == first.size
    assert await cosigners_of_latest(pair) == [pair.witness.signing_key.kid]
    assert "checkpoint.cosigned" in await audit_actions(pair.log)
    assert "witness.cosigned" in await audit_actions(pair.witness)
    async with pair.witness.engine.connect() as conn:
        assert (await witnessing.witnessing.held(conn, "bx/vn.c02/audit"))[0] == first.size  # type: ignore[index]

    await grow(pair.log, 9)  # the log grows: the next one goes with a proof from there
    world.now += timedelta(minutes=11)
    second = await checkpoint_now(pair.log)
    assert second is not None
    assert await witnessing.send_checkpoints(pair.log) == ["kh.ahtjp"]
    offer = witnessing.read_checkpoint("vn.c02", (await last_out(pair.log,
                                                                  "checkpoint")).document)
    assert (offer.old_size, offer.size) == (first.size, second.size)
    assert offer.proof
    answer = await round_trip(pair)
    assert answer.signature is not None
    assert await cosigners_of_latest(pair) == [pair.witness.signing_key.kid]
    async with pair.log.engine.connect() as conn:
        status = (await conn.execute(sa.select(checkpoint_witnesses))).one()
    assert (status.partner, status.cosigned_size) == ("kh.ahtjp", second.size)


async def rewrite_history(node: Node, seq: int) -> None:
    """What a node made to rewrite its log does: alter an entry, re-chain, rebuild the tree,
    forget its own checkpoints, and sign the new history with its real key."""
    async with node.db.transaction() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == seq)
                           .values(detail='{"rewritten":true}'))
        rows = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))).all()
        prev, leaves = "0" * 64, []
        for row in rows:
            digest = entry_hash(prev, row.seq, row.at, row.actor, row.action, row.subject,
                                row.detail)
            await conn.execute(audit_log.update().where(audit_log.c.seq == row.seq)
                               .values(prev_hash=prev, hash=digest))
            leaves.append(tlog.leaf_hash(entry_bytes(row.seq, row.at, row.actor, row.action,
                                                     row.subject, row.detail)))
            prev = digest
        edge, nodes = tlog.grow(0, [], leaves)
        await conn.execute(audit_tree.delete())
        await conn.execute(audit_tree.insert(), [{"level": lv, "idx": ix, "hash": h}
                                                 for lv, ix, h in nodes])
        await conn.execute(audit_head.update().values(hash=prev, tree_edge=b"".join(edge)))
        await conn.execute(audit_checkpoints.delete())


async def test_a_rewritten_log_is_refused_as_a_fork_and_both_checkpoints_kept(
        pair: Pair, world: World) -> None:
    await grow(pair.log, 6)
    await checkpoint_now(pair.log, force=True)
    await witnessing.send_checkpoints(pair.log)
    assert (await round_trip(pair)).signature is not None
    await rewrite_history(pair.log, 3)
    await grow(pair.log, 2)
    world.now += timedelta(minutes=11)
    forged = await checkpoint_now(pair.log, force=True)  # it signs: its old notes are gone
    assert forged is not None
    assert await witnessing.send_checkpoints(pair.log) == ["kh.ahtjp"]
    answer = await round_trip(pair)
    assert answer.refusal == "inconsistent"
    async with pair.witness.engine.connect() as conn:
        forks = await witnessing.witnessing.forks(conn)
        evidence = (await conn.execute(sa.select(witness_forks))).one()
    assert len(forks) == 1
    assert forks[0]["origin"] == "bx/vn.c02/audit"
    held = tlog.parse_note(bytes(evidence.held_note))
    offered = tlog.parse_note(bytes(evidence.offered_note))
    vn = tlog.Verifier(pair.log.signing_key.kid, tlog.ED25519,
                       pair.log.signing_key.private_key.public_key())  # type: ignore[arg-type]
    tlog.verify_note(held, [vn])  # both signed by the log's own key: evidence
    tlog.verify_note(offered, [vn])
    assert "witness.fork" in await audit_actions(pair.witness)
    assert "checkpoint.alarm" in await audit_actions(pair.log)
    world.now += timedelta(minutes=11)
    assert await witnessing.send_checkpoints(pair.log) == []  # an alarm stands


async def test_a_stale_offer_is_refused_with_the_size_held(pair: Pair, world: World) -> None:
    await grow(pair.log, 4)
    await checkpoint_now(pair.log, force=True)
    await witnessing.send_checkpoints(pair.log)
    held = (await round_trip(pair)).size
    async with pair.log.db.transaction() as conn:  # the log forgets what was cosigned
        await conn.execute(checkpoint_witnesses.delete())
    await grow(pair.log, 3)
    world.now += timedelta(minutes=2)
    await checkpoint_now(pair.log)
    await witnessing.send_checkpoints(pair.log)
    answer = await round_trip(pair)
    assert (answer.refusal, answer.held_size) == ("stale", held)
    # the log can prove from there: it sends again at once, and is cosigned
    assert await witnessing.send_checkpoints(pair.log) == ["kh.ahtjp"]
    assert (await round_trip(pair)).signature is not None


async def test_refusals_from_the_witness_for_a_wrong_origin_or_signature(
        pair: Pair, world: World) -> None:
    await grow(pair.log, 2)
    made = await checkpoint_now(pair.log, force=True)
    assert made is not None
    stranger = Ed25519PrivateKey.generate()
    forged = tlog.sign_note(tlog.Checkpoint("bx/vn.c02/audit", made.size, made.root).text(),
                            pair.log.signing_key.kid, stranger).encode()
    async with pair.witness.db.transaction() as conn:
        bad_signature = await witnessing.witnessing.witness(
            conn, world.now, witnessing.witnessing.Offer("vn.c02", "bx/vn.c02/audit",
                                                         made.size, 0, (), forged),
            [tlog.Verifier(kid, tlog.ED25519, key)
             for kid, key in witnessing.partner_keys(pair.witness, "vn.c02")],
            pair.witness.signing_key.kid,
            pair.witness.signing_key.private_key)  # type: ignore[arg-type]
        other_origin = await witnessing.witnessing.witness(
            conn, world.now, witnessing.witnessing.Offer("vn.c02", "bx/la.atd/audit",
                                                         made.size, 0, (), made.note),
            [], pair.witness.signing_key.kid,
            pair.witness.signing_key.private_key)  # type: ignore[arg-type]
    assert bad_signature.refusal == "bad-signature"
    assert other_origin.refusal == "unknown-origin"


async def test_people_cannot_send_system_documents(pair: Pair) -> None:
    document = (Path(__file__).parents[2] / "schemas" / "checkpoint" / "examples"
                / "vn-c02-grown.xml").read_bytes()
    with pytest.raises(OutboundError, match="node itself"):
        await send_message(pair.log, MessageDraft(type="checkpoint", version="1.0",
                                                  to="kh.ahtjp"), document)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pin_too(node: Node, partner: str, pinned: SigningKey,
             *more: tuple[SigningKey, dict[str, Any]]) -> None:
    """``partner``'s file at ``node`` pinning ``pinned`` and more keys, each with its state."""
    entries = [{"kid": k.kid, "thumbprint": thumbprint(public_jwk(k.public_key())),
                "jwk": public_jwk(k.public_key()), **state}
               for k, state in [(pinned, {}), *more]]
    write_partner(node.settings.partners_path, partner, pinned, keys=entries)
    assert node.reload_partners() == []


async def test_a_checkpoint_signed_by_a_key_outside_its_window_is_refused_and_said(
        pair: Pair, world: World) -> None:
    """The witness checks a note against the sender's keys as they stand at receipt
    (PROTOCOL.md §4.8): a key whose window has closed signs nothing it will cosign; its
    refusal (``bad-signature``, which names no root) reaches the log as a refusal."""
    await grow(pair.log, 3)
    await checkpoint_now(pair.log, force=True)
    await witnessing.send_checkpoints(pair.log)
    _pin_too(pair.witness, "vn.c02", make_key("vn.c02", "other"),
             (pair.log.signing_key, {"not_after": _stamp(world.now - timedelta(hours=1))}))
    answer = await round_trip(pair)
    assert (answer.refusal, answer.signature) == ("bad-signature", None)
    assert "checkpoint.refused-by-partner" in await audit_actions(pair.log)
    assert "witness.answer-refused" not in await audit_actions(pair.log)
    async with pair.log.engine.connect() as conn:
        status = (await conn.execute(sa.select(checkpoint_witnesses))).one()
    assert status.refusal == "bad-signature"


async def test_a_kept_cosignature_counts_only_if_made_inside_its_keys_window(
        pair: Pair, world: World) -> None:
    """A cosignature kept with a checkpoint (by a node before keys' windows were checked, or
    received in its window) counts, for a proof and for ``gateway audit checkpoint``, only
    if its key is not revoked and the time it was made lies inside the key's window."""
    await grow(pair.log, 3)
    made = await checkpoint_now(pair.log, force=True)
    assert made is not None
    former = make_key("kh.ahtjp", "2025-11")
    closed = world.now - timedelta(days=1)
    _pin_too(pair.log, "kh.ahtjp", pair.witness.signing_key,
             (former, {"not_after": _stamp(closed)}))
    late = tlog.cosign(made.parsed(), former.kid, former.private_key,  # type: ignore[arg-type]
                       int(world.now.timestamp()))
    async with pair.log.db.transaction() as conn:
        await checkpoints.add_cosignature(conn, made.size, late)
    _latest, cosigned = await latest_cosigned(pair.log)
    assert cosigned == []
    in_time = int((closed - timedelta(days=1)).timestamp())
    early = tlog.cosign(made.parsed(), former.kid, former.private_key,  # type: ignore[arg-type]
                        in_time)
    async with pair.log.db.transaction() as conn:
        await checkpoints.add_cosignature(conn, made.size, early)
    _latest, cosigned = await latest_cosigned(pair.log)
    assert cosigned == [(former.kid, in_time)]
    _pin_too(pair.log, "kh.ahtjp", pair.witness.signing_key,
             (former, {"not_after": _stamp(closed), "revoked": True}))
    _latest, cosigned = await latest_cosigned(pair.log)
    assert cosigned == []  # a revoked key vouches for nothing, whenever it signed


async def test_a_system_document_whose_handling_fails_is_answered_and_audited(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever fails in the handling of a checkpoint, the partner gets a refusal and the
    log a line (never a traceback and silence); a cosignature that cannot be kept is
    audited as such. A witness without an Ed25519 key says so in its log."""
    await grow(pair.log, 2)
    await checkpoint_now(pair.log, force=True)
    await witnessing.send_checkpoints(pair.log)
    offer = await last_out(pair.log, "checkpoint")
    (hook,) = [h for h in pair.witness.inbound_hooks
               if h.__module__ == "gateway.exchange.witnessing"]

    async def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a fault of the node's own")

    monkeypatch.setattr(witnessing.witnessing, "witness", broken)
    async with pair.witness.db.transaction() as conn:
        await hook(conn, offer)
    refusal = await last_out(pair.witness, "cosignature")
    assert refusal.header.bx.ref == offer.header.bx.id
    answer = witnessing.read_cosignature(refusal.document)
    assert (answer.refusal, answer.origin) == ("bad-signature", "bx/vn.c02/audit")
    assert "witness.refused" in await audit_actions(pair.witness)

    monkeypatch.undo()
    await hand_over(pair.log, pair.witness, "checkpoint")
    cosignature = await last_out(pair.witness, "cosignature")
    (log_hook,) = [h for h in pair.log.inbound_hooks
                   if h.__module__ == "gateway.exchange.witnessing"]
    monkeypatch.setattr(checkpoints, "add_cosignature", broken)
    async with pair.log.db.transaction() as conn:
        await log_hook(conn, cosignature)
    assert (await audit_actions(pair.log))[-1] == "witness.answer-refused"
    assert await cosigners_of_latest(pair) == []

    def no_key() -> None:
        raise checkpoints.CheckpointKeyError("no Ed25519 key")

    monkeypatch.setattr(pair.witness, "checkpoint_key", no_key)
    before = await last_out(pair.witness, "cosignature")
    async with pair.witness.db.transaction() as conn:
        await hook(conn, offer)
    assert "witness.cannot-cosign" in await audit_actions(pair.witness)
    # without a key to cosign with, the witness still answers: a refusal, never silence
    unable = await last_out(pair.witness, "cosignature")
    assert unable.header.bx.id != before.header.bx.id
    assert unable.header.bx.ref == offer.header.bx.id
    assert witnessing.read_cosignature(unable.document).refusal == "bad-signature"
