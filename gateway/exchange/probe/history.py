"""What this node holds of a partner's verifiable history (PROTOCOL.md §4.8): the checkpoints
the partner sent it (as their documents say, bytes as received), the checkpoint this node
last cosigned for the partner's log as its witness, and the forks it saw. BX/1 serves no
checkpoint over HTTP: a partner's checkpoints reach its witnesses as messages, so this is
where a probe finds them. Read in one snapshot, nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import witness
from gateway.audit.checkpoints import origin_of
from gateway.documents.witness import CHECKPOINT, WitnessDocumentError, read_checkpoint
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.protocol.problems import Problem
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads

#: The partner's latest checkpoints looked at.
LATEST: Final = 20


@dataclass(frozen=True)
class ReceivedCheckpoint:
    """A partner's checkpoint as its document said it, and when it was received."""

    message_id: str
    received: datetime
    origin: str
    size: int
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


@dataclass(frozen=True)
class PartnerHistory:
    """A partner's checkpoints received here (oldest first), what this node holds as its
    witness (size and root, None: it cosigned none), and the forks it saw of its log."""

    partner: str
    checkpoints: tuple[ReceivedCheckpoint, ...]
    held: tuple[int, bytes] | None
    forks: int
    unreadable: tuple[str, ...] = ()


@reads
async def partner_history(conn: AsyncConnection, node: Node, partner: str) -> PartnerHistory:
    """The partner's history as this node holds it (see the module's text)."""
    origin = origin_of(partner)
    found: list[ReceivedCheckpoint] = []
    unreadable: list[str] = []
    for row in await repo.received_from(conn, partner, CHECKPOINT, LATEST):
        try:
            envelope = parse_envelope(parse_body(node.sealer.open(bytes(row.raw),
                                                                  repo.RAW_COLUMN)))
            fields = read_checkpoint(envelope.document)
        except (Problem, WitnessDocumentError, ValueError):
            unreadable.append(str(row.message_id))
            continue
        found.append(ReceivedCheckpoint(str(row.message_id), row.stored_at, fields.origin,
                                        fields.size, fields.old_size, fields.proof,
                                        fields.note))
    held = await witness.held(conn, origin)
    forks = (await witness.fork_counts(conn)).get(origin, 0)
    return PartnerHistory(partner, tuple(found), None if held is None else held[:2], forks,
                          tuple(unreadable))
