"""Repository of the messages of a case: which stored messages belong to a case (its
conversations, each with one partner: PROTOCOL.md §4.2), and what the case's pages read of
them. The messages themselves are ``store/messages.py``'s. Takes the caller's connection;
never commits.

``unit`` arguments scope a read to the cases of one unit; ``None`` means every unit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import case_conversations, cases
from gateway.store.cases import of_unit
from gateway.store.inline_sqlite import prepared
from gateway.store.tables import messages, receipts


def counterpart() -> sa.ColumnElement[Any]:
    """The partner a stored message is exchanged with: its sender, or its recipient."""
    return sa.case((messages.c.direction == "in", messages.c.sender),
                   else_=messages.c.recipient)

def casework() -> sa.ColumnElement[bool]:
    """Messages of casework: every one but a conformance probe's test message, filed
    apart (PROTOCOL.md §3.1), even when it names a case's conversation."""
    return messages.c.test == sa.false()


def in_case(case_id: int) -> sa.ColumnElement[bool]:
    """Messages that belong to a case: of one of its conversations, with that
    conversation's partner (PROTOCOL.md §4.2: the same id from another partner is another
    conversation), never a test message."""
    return sa.and_(casework(), sa.exists().where(
        case_conversations.c.case_id == case_id,
        case_conversations.c.conversation == messages.c.conversation,
        case_conversations.c.partner == counterpart()))

async def message_of_case(conn: AsyncConnection, case_id: int, message_id: str) -> Any:
    """The stored message ``message_id`` of the case, or None."""
    return (await conn.execute(sa.select(messages).where(
        messages.c.message_id == message_id, in_case(case_id))
        .order_by(messages.c.id).limit(1))).first()

async def raw_newest_first(conn: AsyncConnection, case_id: int, limit: int) -> list[Any]:
    """The stored bytes of a case's messages (id, message id, raw), newest first, ``limit``
    at most: where a person's photo is looked for."""
    return list(await conn.execute(
        sa.select(messages.c.id, messages.c.message_id, messages.c.raw)
        .where(in_case(case_id)).order_by(messages.c.id.desc()).limit(limit)))

async def received_of_type(conn: AsyncConnection, case_id: int, doc_type: str,
                           direction: str | None = "in") -> list[Any]:
    """The messages of ``doc_type`` the case received (or sent, or either for ``None``),
    with their bytes, newest first."""
    query = sa.select(messages.c.message_id, messages.c.doc_type, messages.c.doc_version,
                      messages.c.raw).where(in_case(case_id), messages.c.doc_type == doc_type)
    if direction is not None:
        query = query.where(messages.c.direction == direction)
    return list(await conn.execute(query.order_by(messages.c.id.desc())))

async def timeline_rows(conn: AsyncConnection, case_id: int) -> list[Any]:
    """The messages of a case's conversations, oldest first, with their receipt's time."""
    return list(await conn.execute(
        sa.select(messages.c.message_id, messages.c.direction, messages.c.sender,
                  messages.c.recipient, messages.c.doc_type, messages.c.state,
                  messages.c.created, messages.c.priority, messages.c.handling,
                  messages.c.ref, messages.c.delivered_at, messages.c.conversation,
                  receipts.c.received.label("receipt_received"))
        .select_from(messages.outerjoin(receipts, receipts.c.message_pk == messages.c.id))
        .where(in_case(case_id))
        .order_by(messages.c.id)))

async def partners_of(conn: AsyncConnection, case_id: int) -> set[str]:
    """The partners a case has conversations with."""
    return {r.partner for r in await conn.execute(
        sa.select(case_conversations.c.partner).distinct()
        .where(case_conversations.c.case_id == case_id))}

async def exchange_counts(conn: AsyncConnection, case_id: int) -> tuple[int, int, Any]:
    """A case's messages sent and received, and when the last one was made."""
    row = (await conn.execute(sa.select(
        sa.func.count().filter(messages.c.direction == "out").label("sent"),
        sa.func.count().filter(messages.c.direction == "in").label("received"),
        sa.func.max(messages.c.created).label("last"))
        .where(in_case(case_id)))).one()
    return int(row.sent), int(row.received), row.last

async def messages_of_type(conn: AsyncConnection, doc_type: str, unit: str | None,
                           limit: int) -> list[Any]:
    """The latest messages of one type on cases (of ``unit``), with their case."""
    return list(await conn.execute(
        sa.select(messages.c.direction, messages.c.sender, messages.c.recipient,
                  messages.c.created, cases.c.id.label("case_id"), cases.c.reference)
        .join(case_conversations, sa.and_(
            case_conversations.c.conversation == messages.c.conversation,
            case_conversations.c.partner == counterpart()))
        .join(cases, cases.c.id == case_conversations.c.case_id)
        .where(messages.c.doc_type == doc_type, of_unit(unit), casework())
        .order_by(messages.c.id.desc()).limit(limit)))

_OF_PAIR = (case_conversations.c.conversation == sa.bindparam("conversation_"),
            case_conversations.c.partner == sa.bindparam("partner_"))
_CASE_OF_CONVERSATION = prepared(sa.select(cases).join(
    case_conversations, case_conversations.c.case_id == cases.c.id).where(*_OF_PAIR))
_LINKED = prepared(sa.select(case_conversations.c.case_id).where(*_OF_PAIR))
_LINK = prepared(sa.insert(case_conversations))


async def case_of_conversation(conn: AsyncConnection, conversation: str, partner: str) -> Any:
    """The case of the conversation with ``partner``, or None (PROTOCOL.md §4.2: keyed by
    the pair)."""
    return (await conn.execute(_CASE_OF_CONVERSATION, {"conversation_": conversation,
                                                       "partner_": partner})).first()

async def link_conversation(conn: AsyncConnection, case_id: int, conversation: str,
                            partner: str, *, new_case: bool = False) -> None:
    """Tie a conversation with ``partner`` to a case (once; a ``new_case`` the caller has
    just opened for a conversation no case holds)."""
    exists = None if new_case else (await conn.execute(_LINKED, {
        "conversation_": conversation, "partner_": partner})).first()
    if exists is None:
        await conn.execute(_LINK, {"conversation": conversation, "case_id": case_id,
                                   "partner": partner})


async def first_conversation(conn: AsyncConnection, case_id: int, partner: str) -> str | None:
    """The case's first conversation with ``partner`` (None before the first message)."""
    found = (await conn.execute(sa.select(case_conversations.c.conversation).where(
        case_conversations.c.case_id == case_id, case_conversations.c.partner == partner)
        .order_by(case_conversations.c.conversation).limit(1))).scalar()
    return str(found) if found else None


async def stored_messages(conn: AsyncConnection, message_id: str, case_id: int | None,
                          sender: str | None) -> list[Any]:
    """The stored messages ``message_id`` (of the case ``case_id``, of ``sender``, where
    given), oldest first: ids are unique per sender only (PROTOCOL.md §3.1), so without a
    sender there may be more than one."""
    query = sa.select(messages).where(messages.c.message_id == message_id)
    if case_id is not None:
        query = query.where(in_case(case_id))
    if sender is not None:
        query = query.where(messages.c.sender == sender)
    return list(await conn.execute(query.order_by(messages.c.id)))


async def receipt_received(conn: AsyncConnection, message_pk: int) -> Any:
    """When the receipt of a stored message says it was received (None without one)."""
    return (await conn.execute(sa.select(receipts.c.received).where(
        receipts.c.message_pk == message_pk))).scalar()


async def received_sources(conn: AsyncConnection, case_id: int, message_id: str
                           ) -> list[Any]:
    """The handling code and sender of each message of the case received with this id
    (ids are unique per sender only: two partners may have used it)."""
    return list(await conn.execute(sa.select(messages.c.handling, messages.c.sender).where(
        messages.c.message_id == message_id, messages.c.direction == "in",
        in_case(case_id))))
