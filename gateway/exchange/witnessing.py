"""Partners witness each other's audit logs over BX/1 (PROTOCOL.md §4.8), with the two system
documents ``checkpoint`` and ``cosignature``, over push, pull or bundles like any message.

As a log, the node sends each partner its latest checkpoint when the log has grown since the
last one that partner cosigned, at most every :data:`SEND_EVERY` (and at once when a proof is
made or a partner answered ``stale`` with a size this node can prove from), with the
consistency proof from the size that partner holds. The partner's ``cosignature`` is checked
against its pinned key and kept with the checkpoint; a refusal is kept and audited, and an
``inconsistent`` or a ``stale`` beyond this node's own log (a rolled-back log) is an alarm.

As a witness, the node answers every ``checkpoint`` with a ``cosignature`` (signed, or a
refusal) in the transaction that checks it (:mod:`gateway.audit.witness`). Both run as an
inbound hook after the receipt's commit, exactly once per message; neither opens a case.

A note or a cosignature is verified against the partner's keys as they stood when the
document was received (PROTOCOL.md §2 and §4.8): pinned, not revoked and inside their
validity window, as for a message; a cosignature kept with a checkpoint counts (in a proof,
in ``gateway audit checkpoint``) only if its key is not revoked and the time it was made is
inside that key's window. Everything the hooks read was read before the receipt
(:func:`gateway.documents.witness.check_readable`); a hook that fails all the same answers
a ``checkpoint`` with a refusal and audits it, and audits a ``cosignature`` it could not
keep: a system document never dies silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import checkpoints
from gateway.audit import log as audit
from gateway.audit import witness as witnessing
from gateway.audit.tree import consistency
from gateway.documents import witness as documents
from gateway.documents.witness import CHECKPOINT, COSIGNATURE, WitnessDocumentError
from gateway.exchange.outbound import OutboundError, queue_message
from gateway.protocol import tlog
from gateway.protocol.envelope import Envelope, MessageDraft
from gateway.protocol.jose import PinnedKey, SigningKey
from gateway.runtime.node import Node
from gateway.store import checkpoint_witnesses as witnesses
from gateway.store import messages as message_store
from gateway.store.transactions import reads, writes

log = logging.getLogger("gateway.witness")

__all__ = ["CHECKPOINT", "COSIGNATURE", "WitnessDocumentError"]

#: The shortest time between two checkpoints sent to one partner (PROTOCOL.md §4.8).
SEND_EVERY: Final = timedelta(minutes=10)


def checkpoint_document(stored: checkpoints.Stored, origin: str, old_size: int,
                        proof: list[bytes]) -> bytes:
    """The ``checkpoint`` document of a stored checkpoint for one partner."""
    return documents.write_checkpoint(documents.CheckpointFields(
        origin, stored.size, old_size, tuple(proof), stored.note))


def read_checkpoint(sender: str, document: bytes) -> witnessing.Offer:
    """A received (schema-valid) ``checkpoint`` document."""
    found = documents.read_checkpoint(document)
    return witnessing.Offer(sender=sender, origin=found.origin, size=found.size,
                            old_size=found.old_size, proof=found.proof, note=found.note)


def cosignature_document(answer: witnessing.Answer) -> bytes:
    """The ``cosignature`` document of a witness's answer."""
    return documents.write_cosignature(documents.CosignatureFields(
        answer.origin, answer.size, answer.root, signature=answer.signature,
        refusal=answer.refusal, held_size=answer.held_size))


def read_cosignature(document: bytes) -> witnessing.Answer:
    """A received (schema-valid) ``cosignature`` document; exactly one of a signature and
    a refusal."""
    found = documents.read_cosignature(document)
    return witnessing.Answer(found.origin, found.size, found.root, signature=found.signature,
                             refusal=found.refusal, held_size=found.held_size)


def _note_keys(node: Node, partner: str) -> list[PinnedKey]:
    """A partner's pinned Ed25519 keys, whatever their state (a key for checkpoints only
    included: notes and cosignatures are what it signs)."""
    found = node.partners.get(partner)
    if found is None:
        return []
    return [pin for k in found.file.keys for pin in [k.pinned()]
            if isinstance(pin.public_key, Ed25519PublicKey)]


def partner_keys(node: Node, partner: str, when: datetime | None = None
                 ) -> list[tuple[str, Ed25519PublicKey]]:
    """A partner's Ed25519 keys that may sign a note or a cosignature received at ``when``
    (the node's clock now when not given): pinned, not revoked and inside their validity
    window (PROTOCOL.md §2, §4.8). (kid, key)."""
    at = when or node.clock()
    return [(pin.kid, pin.public_key) for pin in _note_keys(node, partner)
            if pin.valid_at(at) and isinstance(pin.public_key, Ed25519PublicKey)]


def _made_at(timestamp: int) -> datetime | None:
    """The time a cosignature says it was made, or None if it is no time."""
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def cosigned_by(node: Node, partners: Iterable[str], stored: checkpoints.Stored
                ) -> list[tuple[str, int]]:
    """Which keys of these partners cosigned a checkpoint of this node, and when (POSIX
    time): a cosignature counts if its key is pinned and not revoked, and the time it was
    made lies inside that key's validity window."""
    pins = {pin.kid: pin for partner in partners for pin in _note_keys(node, partner)
            if not pin.revoked and isinstance(pin.public_key, Ed25519PublicKey)}
    verifiers = [tlog.Verifier(pin.kid, tlog.COSIGNATURE_V1, pin.public_key)
                 for pin in pins.values() if isinstance(pin.public_key, Ed25519PublicKey)]
    found = []
    for kid, timestamp in checkpoints.cosigners(stored, verifiers):
        made = _made_at(timestamp)
        if made is not None and pins[kid].valid_at(made):
            found.append((kid, timestamp))
    return found


def _own_key(node: Node) -> SigningKey | None:
    """The key this node cosigns with (its checkpoint key), or None, said in the log."""
    try:
        return node.checkpoint_key()
    except checkpoints.CheckpointKeyError as exc:
        log.warning("checkpoints of partners are not witnessed: %s", exc)
        return None


# -- as a witness ------------------------------------------------------------------------------

async def _received_at(conn: AsyncConnection, node: Node, envelope: Envelope) -> datetime:
    """When the document was received: the keys are checked as they stood then."""
    bx = envelope.header.bx
    return await message_store.received_at(conn, bx.from_, bx.id) or node.clock()


async def on_checkpoint(conn: AsyncConnection, node: Node, envelope: Envelope) -> None:
    """Check a partner's checkpoint, cosign or refuse, and queue the answer to it."""
    bx = envelope.header.bx
    key = _own_key(node)
    offer = read_checkpoint(bx.from_, envelope.document)
    if key is None or not isinstance(key.private_key, Ed25519PrivateKey):
        # Answered all the same, never left to be sent again and again: a refusal names no
        # root, and needs no key of ours but the one that signs the message.
        why = "no Ed25519 checkpoint key"
        await audit.append(conn, node.clock, "system", "witness.cannot-cosign", bx.id,
                           {"partner": bx.from_, "why": why})
        await _answer(conn, node, envelope, witnessing.Answer(
            offer.origin, offer.size, bytes(32), refusal="bad-signature", why=why))
        return
    received = await _received_at(conn, node, envelope)
    verifiers = [tlog.Verifier(kid, tlog.ED25519, public)
                 for kid, public in partner_keys(node, bx.from_, received)]
    answer = await witnessing.witness(conn, node.clock(), offer, verifiers,
                                      key.kid, key.private_key)
    await _answer(conn, node, envelope, answer)


async def _answer(conn: AsyncConnection, node: Node, envelope: Envelope,
                  answer: witnessing.Answer) -> None:
    """Queue the witness's answer to a checkpoint message, to its sender."""
    bx = envelope.header.bx
    await queue_message(conn, node, MessageDraft(
        type=COSIGNATURE, version="1.0", to=bx.from_, conversation=bx.conversation,
        ref=bx.id, priority="routine", handling="H0", lang="en"),
        cosignature_document(answer), actor="system", system=True)


# -- as a log ----------------------------------------------------------------------------------

async def on_cosignature(conn: AsyncConnection, node: Node, envelope: Envelope) -> None:
    """Keep a partner's cosignature with our checkpoint, or record its refusal (audited; an
    inconsistency or a rolled-back log is an alarm)."""
    bx = envelope.header.bx
    now = node.clock()
    try:
        answer = read_cosignature(envelope.document)
    except WitnessDocumentError as exc:
        await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                           {"partner": bx.from_, "why": str(exc)})
        return
    stored = await checkpoints.at_size(conn, answer.size)
    # a refusal for a note it could not verify names no root (zeros): the size says which
    named_root = answer.signature is not None or answer.root != bytes(len(answer.root))
    if (answer.origin != checkpoints.origin_of(node.node_id) or stored is None
            or (named_root and stored.root != answer.root)):
        await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                           {"partner": bx.from_, "why": "not a checkpoint of this node"})
        return
    if answer.signature is not None:
        received = await _received_at(conn, node, envelope)
        pin = next((pin for pin in _note_keys(node, bx.from_)
                    if pin.kid == answer.signature.name and pin.valid_at(received)), None)
        if pin is None or not isinstance(pin.public_key, Ed25519PublicKey):
            await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                               {"partner": bx.from_,
                                "why": "unknown cosigner key, or one revoked or outside its "
                                       "validity window when the cosignature was received"})
            return
        verifier = tlog.Verifier(pin.kid, tlog.COSIGNATURE_V1, pin.public_key)
        cosigned = stored.parsed().with_signature(answer.signature)
        try:
            timestamp = tlog.verify_cosignature(cosigned, verifier)
            if timestamp is None:
                raise tlog.TlogError("the key id does not match the cosigner's key")
            made = _made_at(timestamp)
            if made is None or not pin.valid_at(made):
                raise tlog.TlogError("the cosignature says it was made outside its key's "
                                     "validity window")
        except tlog.TlogError as exc:
            await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                               {"partner": bx.from_, "why": str(exc)})
            return
        await checkpoints.add_cosignature(conn, answer.size, answer.signature)
        status = await witnesses.status_of(conn, bx.from_)
        best = max(answer.size, int(status.cosigned_size) if status is not None else 0)
        await witnesses.set_status(conn, bx.from_, cosigned_size=best, refusal=None,
                                   held_size=None, answered_at=now)
        await audit.append(conn, node.clock, "system", "checkpoint.cosigned",
                           str(answer.size), {"partner": bx.from_})
        return
    latest = await checkpoints.latest(conn)
    alarm = answer.refusal == "inconsistent" or (
        answer.refusal == "stale" and answer.held_size is not None
        and (latest is None or answer.held_size > latest.size))
    values: dict[str, object] = {"refusal": answer.refusal, "held_size": answer.held_size,
                                 "answered_at": now}
    if answer.refusal == "stale" and not alarm and answer.held_size is not None:
        values.update(cosigned_size=answer.held_size, sent_at=None)  # send again from there
    await witnesses.set_status(conn, bx.from_, **values)
    await audit.append(conn, node.clock, "system",
                       "checkpoint.alarm" if alarm else "checkpoint.refused-by-partner",
                       str(answer.size), {"partner": bx.from_, "reason": answer.refusal,
                                          "held": answer.held_size})
    if alarm:
        log.error("partner %s refuses our checkpoint of %s entries: %s (it holds %s)",
                  bx.from_, answer.size, answer.refusal, answer.held_size)


@writes
async def _send_to(conn: AsyncConnection, node: Node, partner: str, now: datetime,
                   force: bool) -> Literal["sent", "skipped", "no-checkpoint"]:
    """Queue the latest checkpoint for one partner if it is due (see
    :func:`send_checkpoints`)."""
    latest = await checkpoints.latest(conn)
    if latest is None:
        return "no-checkpoint"
    status = await witnesses.status_of(conn, partner)
    cosigned = int(status.cosigned_size) if status is not None else 0
    if cosigned >= latest.size:
        return "skipped"
    if status is not None and status.refusal == "inconsistent" and not force:
        return "skipped"  # an alarm stands: an operator looks first
    if (not force and status is not None and status.sent_at is not None
            and now - status.sent_at < SEND_EVERY):
        return "skipped"
    proof = await consistency(conn, cosigned, latest.size)
    document = checkpoint_document(latest, checkpoints.origin_of(node.node_id), cosigned, proof)
    try:
        await queue_message(conn, node, MessageDraft(
            type=CHECKPOINT, version="1.0", to=partner, priority="routine",
            handling="H0", lang="en"), document, actor="system", system=True)
    except OutboundError as exc:
        log.warning("checkpoint not sent to %s: %s", partner, exc)
        return "skipped"
    await witnesses.set_status(conn, partner, sent_size=latest.size, sent_at=now,
                               cosigned_size=cosigned)
    return "sent"


async def send_checkpoints(node: Node, now: datetime | None = None,
                           force: bool = False) -> list[str]:
    """Send the latest checkpoint to each partner that has not cosigned it, at most every
    :data:`SEND_EVERY` per partner (``force``: now); returns the partners it went to. Each
    partner in its own transaction."""
    sent: list[str] = []
    now = now or node.clock()
    for partner in sorted(p.node_id for p in node.partners.all()):
        done = await _send_to(node, partner, now, force)
        if done == "no-checkpoint":
            return sent
        if done == "sent":
            sent.append(partner)
    return sent


async def statuses(conn: AsyncConnection) -> dict[str, dict[str, object]]:
    """What each partner has cosigned of this node's checkpoints, and its last refusal."""
    return await witnesses.all_statuses(conn)


@reads
async def fork_counts(conn: AsyncConnection, _node: Node) -> dict[str, int]:
    """How many forks this node has seen in each partner's log, as a witness (the metrics;
    from the database, so that every replica agrees)."""
    return await witnessing.fork_counts(conn)


async def _failed(conn: AsyncConnection, node: Node, envelope: Envelope,
                  exc: Exception) -> None:
    """A system document whose handling failed all the same (its writes rolled back): a
    ``checkpoint`` is answered with a refusal (``bad-signature``: the witness could not
    verify it), audited as every refusal; a ``cosignature`` is audited as not kept."""
    bx = envelope.header.bx
    why = f"the node could not handle it ({type(exc).__name__})"
    log.error("a %s from %s could not be handled: %s", bx.type, bx.from_,
              type(exc).__name__, exc_info=exc)
    if bx.type != CHECKPOINT:
        await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                           {"partner": bx.from_, "why": why})
        return
    try:
        offer = read_checkpoint(bx.from_, envelope.document)
        origin, size = offer.origin, offer.size
    except Exception:  # noqa: BLE001 - the refusal names what it can
        origin, size = checkpoints.origin_of(bx.from_), 0
    await audit.append(conn, node.clock, "system", "witness.refused", origin,
                       {"partner": bx.from_, "size": size, "reason": "bad-signature",
                        "why": why})
    try:
        async with conn.begin_nested():
            await _answer(conn, node, envelope, witnessing.Answer(
                origin, size, bytes(32), refusal="bad-signature", why=why))
    except Exception as refused:  # noqa: BLE001 - the refusal is audited above
        log.error("the refusal of a checkpoint from %s was not sent: %s",  # noqa: TRY400
                  bx.from_, type(refused).__name__)


def install(node: Node) -> None:
    """Handle the system documents the node receives (its inbound hook): a failure is the
    document's (:func:`_failed`), unless it is the database's (a deadlock, a lost
    connection), which the case work retries."""

    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        doc_type = envelope.header.bx.type
        if doc_type not in (CHECKPOINT, COSIGNATURE):
            return
        try:
            async with conn.begin_nested():
                if doc_type == CHECKPOINT:
                    await on_checkpoint(conn, node, envelope)
                else:
                    await on_cosignature(conn, node, envelope)
        except DBAPIError as exc:
            if not isinstance(exc, IntegrityError | DataError):
                raise
            await _failed(conn, node, envelope, exc)
        except Exception as exc:  # noqa: BLE001 - answered and audited, never dropped
            await _failed(conn, node, envelope, exc)

    node.inbound_hooks.append(handle)
