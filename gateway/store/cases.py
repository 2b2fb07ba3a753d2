"""Repository of case work: the queries about cases that several services share (a case's
conversations and its messages). Takes the caller's connection; never commits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import case_conversations
from gateway.store.tables import messages


def counterpart() -> sa.ColumnElement[Any]:
    """The partner a stored message is exchanged with: its sender, or its recipient."""
    return sa.case((messages.c.direction == "in", messages.c.sender),
                   else_=messages.c.recipient)


def in_case(case_id: int) -> sa.ColumnElement[bool]:
    """Messages that belong to a case: of one of its conversations, with that
    conversation's partner (PROTOCOL.md §4.2: the same id from another partner is another
    conversation)."""
    return sa.exists().where(case_conversations.c.case_id == case_id,
                             case_conversations.c.conversation == messages.c.conversation,
                             case_conversations.c.partner == counterpart())


async def message_of_case(conn: AsyncConnection, case_id: int, message_id: str) -> Any:
    """The stored message ``message_id`` of the case, or None."""
    return (await conn.execute(sa.select(messages).where(
        messages.c.message_id == message_id, in_case(case_id))
        .order_by(messages.c.id).limit(1))).first()
