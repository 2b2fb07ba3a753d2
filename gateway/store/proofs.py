"""The reads a proof bundle is made from (PROTOCOL.md §4.8): a message with its receipt, the
audit entry that records it, and the checkpoints that cover that entry. Takes the caller's
connection (a read snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import audit_checkpoints, audit_log, messages, receipts


async def message_with_receipt(conn: AsyncConnection, message_id: str) -> Any:
    """The message (its first row, in or out) and its receipt's bytes (``receipt_raw``,
    None: none yet); None when the node holds no such message."""
    return (await conn.execute(
        sa.select(messages, receipts.c.raw.label("receipt_raw"))
        .select_from(messages.outerjoin(receipts, receipts.c.message_pk == messages.c.id))
        .where(messages.c.message_id == message_id)
        .order_by(messages.c.id).limit(1))).one_or_none()


async def first_entry(conn: AsyncConnection, subject: str, action: str) -> Any:
    """The first audit entry of ``action`` on ``subject`` (None: none)."""
    return (await conn.execute(sa.select(audit_log).where(
        audit_log.c.subject == subject, audit_log.c.action == action)
        .order_by(audit_log.c.seq).limit(1))).one_or_none()


async def checkpoints_covering(conn: AsyncConnection, size_at_least: int) -> Sequence[Any]:
    """The checkpoints of at least ``size_at_least`` entries, the largest first."""
    rows = await conn.execute(sa.select(audit_checkpoints)
                              .where(audit_checkpoints.c.size >= size_at_least)
                              .order_by(audit_checkpoints.c.size.desc()))
    return list(rows)
