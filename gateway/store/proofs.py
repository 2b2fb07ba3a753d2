"""The reads a proof bundle is made from (PROTOCOL.md §4.8): a message with its receipt, the
audit entry that records it, and the checkpoints that cover that entry. Takes the caller's
connection (a read snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import audit_checkpoints, audit_log, messages, receipts


async def senders_of(conn: AsyncConnection, message_id: str) -> list[str]:
    """Who sent the messages this node holds with the id ``message_id`` (ids are unique per
    sender only, PROTOCOL.md §3.1: two partners may use the same one), sorted."""
    return sorted(str(sender) for sender in (await conn.execute(
        sa.select(messages.c.sender).distinct()
        .where(messages.c.message_id == message_id))).scalars())


async def message_with_receipt(conn: AsyncConnection, sender: str, message_id: str) -> Any:
    """The message ``message_id`` of ``sender`` (sent by this node or received from a
    partner) and its receipt's bytes (``receipt_raw``, None: none yet); None when the node
    holds no such message."""
    return (await conn.execute(
        sa.select(messages, receipts.c.raw.label("receipt_raw"))
        .select_from(messages.outerjoin(receipts, receipts.c.message_pk == messages.c.id))
        .where(messages.c.sender == sender, messages.c.message_id == message_id)
        .order_by(messages.c.id).limit(1))).one_or_none()


async def first_entry(conn: AsyncConnection, subject: str, action: str, actor: str) -> Any:
    """The first audit entry of ``action`` on ``subject`` by ``actor`` (None: none): the
    entry of one sender's message, not of another's with the same id."""
    return (await conn.execute(sa.select(audit_log).where(
        audit_log.c.subject == subject, audit_log.c.action == action,
        audit_log.c.actor == actor).order_by(audit_log.c.seq).limit(1))).one_or_none()


async def checkpoints_covering(conn: AsyncConnection, size_at_least: int) -> Sequence[Any]:
    """The checkpoints of at least ``size_at_least`` entries, the largest first."""
    rows = await conn.execute(sa.select(audit_checkpoints)
                              .where(audit_checkpoints.c.size >= size_at_least)
                              .order_by(audit_checkpoints.c.size.desc()))
    return list(rows)
