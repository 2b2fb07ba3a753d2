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
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import checkpoints
from gateway.audit import log as audit
from gateway.audit import witness as witnessing
from gateway.audit.tree import consistency
from gateway.documents.xml import parse_safely
from gateway.exchange.node import Node
from gateway.exchange.outbound import OutboundError, queue_message
from gateway.protocol import tlog
from gateway.protocol.envelope import Envelope, MessageDraft
from gateway.protocol.errors import GatewayError
from gateway.protocol.jose import SigningKey
from gateway.store.tables import checkpoint_witnesses

log = logging.getLogger("gateway.witness")

CHECKPOINT: Final = "checkpoint"
COSIGNATURE: Final = "cosignature"
#: The shortest time between two checkpoints sent to one partner (PROTOCOL.md §4.8).
SEND_EVERY: Final = timedelta(minutes=10)
_NS = {CHECKPOINT: "urn:bx:doc:checkpoint:1", COSIGNATURE: "urn:bx:doc:cosignature:1"}


class WitnessDocumentError(GatewayError):
    """A system document that does not say what it must (both or neither of signed and
    refusal, a hash that is not base64)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").encode(), validate=True)
    except binascii.Error as exc:
        raise WitnessDocumentError("not base64") from exc


def _el(parent: etree._Element, doc_type: str, name: str, text: str | None = None
        ) -> etree._Element:
    element = etree.SubElement(parent, f"{{{_NS[doc_type]}}}{name}")
    if text is not None:
        element.text = text
    return element


def checkpoint_document(stored: checkpoints.Stored, origin: str, old_size: int,
                        proof: list[bytes]) -> bytes:
    """The ``checkpoint`` document of a stored checkpoint for one partner."""
    root = etree.Element(f"{{{_NS[CHECKPOINT]}}}checkpoint", nsmap={None: _NS[CHECKPOINT]})
    _el(root, CHECKPOINT, "origin", origin)
    _el(root, CHECKPOINT, "size", str(stored.size))
    _el(root, CHECKPOINT, "old-size", str(old_size))
    hashes = _el(root, CHECKPOINT, "consistency-proof")
    for value in proof:
        _el(hashes, CHECKPOINT, "hash", _b64(value))
    _el(root, CHECKPOINT, "note", _b64(stored.note))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_checkpoint(sender: str, document: bytes) -> witnessing.Offer:
    """A received (schema-valid) ``checkpoint`` document."""
    root = parse_safely(document).getroot()
    ns = {"c": _NS[CHECKPOINT]}
    return witnessing.Offer(
        sender=sender, origin=str(root.findtext("c:origin", namespaces=ns)),
        size=int(str(root.findtext("c:size", namespaces=ns))),
        old_size=int(str(root.findtext("c:old-size", namespaces=ns))),
        proof=tuple(_unb64(h.text) for h in root.iterfind("c:consistency-proof/c:hash", ns)),
        note=_unb64(root.findtext("c:note", namespaces=ns)))


def cosignature_document(answer: witnessing.Answer) -> bytes:
    """The ``cosignature`` document of a witness's answer."""
    root = etree.Element(f"{{{_NS[COSIGNATURE]}}}cosignature", nsmap={None: _NS[COSIGNATURE]})
    _el(root, COSIGNATURE, "origin", answer.origin)
    _el(root, COSIGNATURE, "size", str(answer.size))
    _el(root, COSIGNATURE, "root", _b64(answer.root))
    if answer.signature is not None:
        signed = _el(root, COSIGNATURE, "signed")
        _el(signed, COSIGNATURE, "key-name", answer.signature.name)
        _el(signed, COSIGNATURE, "signature",
            _b64(answer.signature.id + answer.signature.data))
    else:
        refusal = _el(root, COSIGNATURE, "refusal")
        _el(refusal, COSIGNATURE, "reason", answer.refusal)
        if answer.held_size is not None:
            _el(refusal, COSIGNATURE, "held-size", str(answer.held_size))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_cosignature(document: bytes) -> witnessing.Answer:
    """A received (schema-valid) ``cosignature`` document; exactly one of a signature and
    a refusal."""
    root = parse_safely(document).getroot()
    ns = {"c": _NS[COSIGNATURE]}
    signed, refusal = root.find("c:signed", ns), root.find("c:refusal", ns)
    if (signed is None) == (refusal is None):
        raise WitnessDocumentError("a cosignature holds either a signature or a refusal")
    answer = witnessing.Answer(origin=str(root.findtext("c:origin", namespaces=ns)),
                               size=int(str(root.findtext("c:size", namespaces=ns))),
                               root=_unb64(root.findtext("c:root", namespaces=ns)))
    if signed is not None:
        blob = _unb64(signed.findtext("c:signature", namespaces=ns))
        name = str(signed.findtext("c:key-name", namespaces=ns))
        return witnessing.Answer(answer.origin, answer.size, answer.root,
                                 signature=tlog.Signature(name, blob[:4], blob[4:]))
    held = refusal.findtext("c:held-size", namespaces=ns) if refusal is not None else None
    return witnessing.Answer(answer.origin, answer.size, answer.root,
                             refusal=str(refusal.findtext("c:reason", namespaces=ns))
                             if refusal is not None else None,
                             held_size=int(held) if held is not None else None)


def partner_keys(node: Node, partner: str) -> list[tuple[str, Ed25519PublicKey]]:
    """A partner's pinned, unrevoked Ed25519 keys (kid, key)."""
    found = node.partners.get(partner)
    if found is None:
        return []
    return [(k.kid, key) for k in found.file.keys if not k.revoked
            for key in [k.pinned().public_key] if isinstance(key, Ed25519PublicKey)]


def _own_key(node: Node) -> SigningKey | None:
    """The key this node cosigns with (its checkpoint key), or None, said in the log."""
    try:
        return node.checkpoint_key()
    except checkpoints.CheckpointKeyError as exc:
        log.warning("checkpoints of partners are not witnessed: %s", exc)
        return None


# -- as a witness ------------------------------------------------------------------------------

async def on_checkpoint(conn: AsyncConnection, node: Node, envelope: Envelope) -> None:
    """Check a partner's checkpoint, cosign or refuse, and queue the answer to it."""
    bx = envelope.header.bx
    key = _own_key(node)
    if key is None or not isinstance(key.private_key, Ed25519PrivateKey):
        return
    offer = read_checkpoint(bx.from_, envelope.document)
    verifiers = [tlog.Verifier(kid, tlog.ED25519, public)
                 for kid, public in partner_keys(node, bx.from_)]
    answer = await witnessing.witness(conn, node.clock(), offer, verifiers,
                                      key.kid, key.private_key)
    await queue_message(conn, node, MessageDraft(
        type=COSIGNATURE, version="1.0", to=bx.from_, conversation=bx.conversation,
        ref=bx.id, priority="routine", handling="H0", lang="en"),
        cosignature_document(answer), actor="system", system=True)


# -- as a log ----------------------------------------------------------------------------------

async def _status(conn: AsyncConnection, partner: str) -> sa.Row[tuple[object, ...]] | None:
    return (await conn.execute(sa.select(checkpoint_witnesses).where(
        checkpoint_witnesses.c.partner == partner).with_for_update())).one_or_none()


async def _set_status(conn: AsyncConnection, partner: str, **values: object) -> None:
    if await _status(conn, partner) is None:
        await conn.execute(checkpoint_witnesses.insert().values(partner=partner, **values))
    else:
        await conn.execute(checkpoint_witnesses.update().where(
            checkpoint_witnesses.c.partner == partner).values(**values))


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
    if (answer.origin != checkpoints.origin_of(node.node_id) or stored is None
            or stored.root != answer.root):
        await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                           {"partner": bx.from_, "why": "not a checkpoint of this node"})
        return
    if answer.signature is not None:
        keys = dict(partner_keys(node, bx.from_))
        public = keys.get(answer.signature.name)
        if public is None:
            await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                               {"partner": bx.from_, "why": "unknown cosigner key"})
            return
        verifier = tlog.Verifier(answer.signature.name, tlog.COSIGNATURE_V1, public)
        cosigned = stored.parsed().with_signature(answer.signature)
        try:
            if tlog.verify_cosignature(cosigned, verifier) is None:
                raise tlog.TlogError("the key id does not match the cosigner's key")
        except tlog.TlogError as exc:
            await audit.append(conn, node.clock, "system", "witness.answer-refused", bx.id,
                               {"partner": bx.from_, "why": str(exc)})
            return
        await checkpoints.add_cosignature(conn, answer.size, answer.signature)
        status = await _status(conn, bx.from_)
        best = max(answer.size, int(status.cosigned_size) if status is not None else 0)
        await _set_status(conn, bx.from_, cosigned_size=best, refusal=None, held_size=None,
                          answered_at=now)
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
    await _set_status(conn, bx.from_, **values)
    await audit.append(conn, node.clock, "system",
                       "checkpoint.alarm" if alarm else "checkpoint.refused-by-partner",
                       str(answer.size), {"partner": bx.from_, "reason": answer.refusal,
                                          "held": answer.held_size})
    if alarm:
        log.error("partner %s refuses our checkpoint of %s entries: %s (it holds %s)",
                  bx.from_, answer.size, answer.refusal, answer.held_size)


async def send_checkpoints(node: Node, now: datetime | None = None,
                           force: bool = False) -> list[str]:
    """Send the latest checkpoint to each partner that has not cosigned it, at most every
    :data:`SEND_EVERY` per partner (``force``: now); returns the partners it went to."""
    sent: list[str] = []
    now = now or node.clock()
    for partner in sorted(p.node_id for p in node.partners.all()):
        async with node.transaction() as conn:
            latest = await checkpoints.latest(conn)
            if latest is None:
                return sent
            status = await _status(conn, partner)
            cosigned = int(status.cosigned_size) if status is not None else 0
            if cosigned >= latest.size:
                continue
            if status is not None and status.refusal == "inconsistent" and not force:
                continue  # an alarm stands: an operator looks first
            if (not force and status is not None and status.sent_at is not None
                    and now - status.sent_at < SEND_EVERY):
                continue
            proof = await consistency(conn, cosigned, latest.size)
            document = checkpoint_document(latest, checkpoints.origin_of(node.node_id),
                                           cosigned, proof)
            try:
                await queue_message(conn, node, MessageDraft(
                    type=CHECKPOINT, version="1.0", to=partner, priority="routine",
                    handling="H0", lang="en"), document, actor="system", system=True)
            except OutboundError as exc:
                log.warning("checkpoint not sent to %s: %s", partner, exc)
                continue
            await _set_status(conn, partner, sent_size=latest.size, sent_at=now,
                              cosigned_size=cosigned)
            sent.append(partner)
    return sent


async def statuses(conn: AsyncConnection) -> dict[str, dict[str, object]]:
    """What each partner has cosigned of this node's checkpoints, and its last refusal."""
    rows = await conn.execute(sa.select(checkpoint_witnesses))
    return {str(r.partner): dict(r._mapping) for r in rows}


def install(node: Node) -> None:
    """Handle the system documents the node receives (its inbound hook)."""

    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        doc_type = envelope.header.bx.type
        if doc_type == CHECKPOINT:
            await on_checkpoint(conn, node, envelope)
        elif doc_type == COSIGNATURE:
            await on_cosignature(conn, node, envelope)

    node.inbound_hooks.append(handle)
