"""Outbound: validate, sign, store, and only then queue (PROTOCOL.md §4.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.protocol.envelope import (
    MAX_MESSAGE_BYTES,
    Attachment,
    Envelope,
    MessageDraft,
    compose_message,
    parse_body,
    parse_envelope,
)
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.ids import node_country
from gateway.protocol.inbound import REPORT_COLLECTORS, SYSTEM_TYPES
from gateway.runtime.node import Node, after_commit
from gateway.store import messages as repo
from gateway.store.transactions import writes


class OutboundError(GatewayError):
    """A message this node will not send; the message says why."""

    code = "invalid-request"


class MessageTooLargeError(OutboundError):
    """A message larger than a partner accepts (PROTOCOL.md §3.3)."""


@dataclass(frozen=True)
class Outgoing:
    """A document validated and signed for a partner, not yet stored."""

    envelope: Envelope
    raw: bytes
    pull: bool
    deadline_hours: int
    draft: MessageDraft


def compose_outgoing(node: Node, draft: MessageDraft, document: bytes,
                     attachments: Sequence[Attachment] = (), system: bool = False) -> Outgoing:
    """Validate ``document`` and sign it for ``draft.to`` (no database).

    Raises ``Problem`` (``schema-invalid``, ``unsupported-type``) for a document that a
    partner would refuse, and :class:`OutboundError` for an unknown recipient, or for a
    system document (PROTOCOL.md §4.8) that the node itself (``system``) did not make.
    """
    partner = node.partners.get(draft.to)
    if partner is None:
        raise OutboundError(N_("{to} is not in the partner directory"), to=draft.to)
    if draft.type in SYSTEM_TYPES and not system:
        raise OutboundError(N_("a {type} is made and sent by the node itself"),
                            type=draft.type)
    if draft.type == "periodic-report":
        collector = REPORT_COLLECTORS.get(node_country(node.node_id))
        if draft.to != collector:
            raise OutboundError(N_("a periodic report goes to {collector} only, not to {to}"),
                                collector=collector or "–", to=draft.to)
    node.registry.validate(draft.type, draft.version, document)
    for attachment in attachments:
        if attachment.media_type not in ("image/jpeg", "image/png", "application/pdf"):
            raise OutboundError(N_("attachment {name}: media type {media_type} is not allowed"),
                                name=attachment.name, media_type=attachment.media_type)
    try:
        raw = compose_message(node.signing_key, node.node_id, draft, document, attachments,
                              created=node.clock())
    except ValueError as exc:  # a header value the protocol refuses (a bad ref, say)
        raise OutboundError(str(exc)) from exc
    if len(raw) > MAX_MESSAGE_BYTES:  # a partner refuses it (PROTOCOL.md §3.3): never sign it
        raise MessageTooLargeError(N_("the message would be {size} MiB; a partner accepts {limit} "
                                 "MiB at most: send fewer or smaller files"),
                              size=f"{len(raw) / 2**20:.1f}", limit=MAX_MESSAGE_BYTES // 2**20)
    return Outgoing(parse_envelope(parse_body(raw)), raw, partner.file.delivery == "pull",
                    partner.file.deadline_hours, draft)


async def store_outgoing(conn: AsyncConnection, node: Node, outgoing: Outgoing,
                         actor: str = "operator") -> Envelope:
    """Store a signed message and queue it, in the caller's transaction; the delivery worker
    wakes once that transaction has committed."""
    now = node.clock()
    draft, pull = outgoing.draft, outgoing.pull
    await repo.insert_message(
        conn, outgoing.envelope, node.sealer.seal(outgoing.raw, repo.RAW_COLUMN),
        direction="out", state="waiting" if pull else "queued", now=now,
        deadline=now + timedelta(hours=outgoing.deadline_hours),
        next_attempt=None if pull else now)
    await audit.append(conn, node.clock, actor, "message.queued", outgoing.envelope.header.bx.id,
                       {"type": draft.type, "to": draft.to, "priority": draft.priority,
                        "mode": "pull" if pull else "push"})
    after_commit(node.outbox_signal.set)
    return outgoing.envelope


async def send_message(node: Node, draft: MessageDraft, document: bytes,
                       attachments: Sequence[Attachment] = (), actor: str = "operator") -> str:
    """Sign ``document`` for ``draft.to`` and queue it; returns the message id.

    Validation and signing run off the event loop; storing runs in the next group commit
    (stored before this returns). Raises as :func:`compose_outgoing`.
    """
    outgoing = await asyncio.to_thread(compose_outgoing, node, draft, document, attachments)
    envelope = await node.db.grouped(store_outgoing, node, outgoing, actor)
    return envelope.header.bx.id


async def queue_message(conn: AsyncConnection, node: Node, draft: MessageDraft,
                        document: bytes, attachments: Sequence[Attachment] = (),
                        actor: str = "operator", system: bool = False) -> Envelope:
    """:func:`send_message` inside the caller's transaction (a case's use case); the
    delivery worker wakes once that transaction has committed. ``system``: a system
    document the node makes itself."""
    outgoing = compose_outgoing(node, draft, document, attachments, system)
    return await store_outgoing(conn, node, outgoing, actor)


@writes
async def retry_dead_letter(conn: AsyncConnection, node: Node, message_id: str,
                            actor: str = "operator") -> None:
    """Put a dead-lettered message back in the queue with a fresh deadline."""
    row = await repo.find_outbound(conn, message_id)
    if row is None:
        raise OutboundError(N_("no outbound message {message_id}"), message_id=message_id)
    if row.state != "dead":
        raise OutboundError(N_("message {message_id} is {state}, not dead"),
                            message_id=message_id, state=row.state)
    partner = node.partners.get(row.recipient)
    if partner is None:
        raise OutboundError(N_("{recipient} is no longer in the partner directory"),
                            recipient=row.recipient)
    now = node.clock()
    await repo.requeue(conn, row.id, now,
                       now + timedelta(hours=partner.file.deadline_hours),
                       "waiting" if partner.file.delivery == "pull" else "queued")
    await audit.append(conn, node.clock, actor, "message.requeued", message_id,
                       {"to": row.recipient})
    after_commit(node.outbox_signal.set)

