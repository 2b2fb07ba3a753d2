"""What the operator and the worker read of the node's messages, each read a door of its own
in a read snapshot (never the write lock): the list of messages in and out, the outbox's
depth per partner, and one message sent, found by its id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads


@dataclass(frozen=True)
class MessageLine:
    """One message in or out, as the message list shows it."""

    id: str
    direction: str
    sender: str
    recipient: str
    doc_type: str
    state: str
    attempts: int
    created: str
    priority: str
    error: str | None
    #: A conformance probe's test message (PROTOCOL.md §3.1), filed apart from casework.
    test: bool = False


@reads
async def list_messages(conn: AsyncConnection, _node: Node, status: str | None = None,
                        partner: str | None = None, test: bool | None = None
                        ) -> list[MessageLine]:
    """Messages in and out with their delivery state, newest first (``test``: only test
    messages, or none of them)."""
    return [MessageLine(r.message_id, r.direction, r.sender, r.recipient, r.doc_type, r.state,
                        r.attempts, r.created, r.priority, r.last_error, bool(r.test))
            for r in await repo.list_messages(conn, status, partner, test=test)]


@reads
async def outbox_stats(conn: AsyncConnection, _node: Node) -> list[Any]:
    """Per partner: how many messages wait for it (``depth``) and since when (``oldest``)."""
    return await repo.outbox_stats(conn)


@reads
async def find_outbound(conn: AsyncConnection, _node: Node, message_id: str) -> Any:
    """The message this node sent with this id (None: none)."""
    return await repo.find_outbound(conn, message_id)
