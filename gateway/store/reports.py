"""Repository of the reports: the facts each indicator counts, read for one window.

Each function returns plain rows (no personal field, nothing sealed); what counts as what is
decided in :mod:`gateway.reports.indicators`, where a reader checks it against MESSAGES.md.
Takes the caller's connection; reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import case_conversations, case_events, cases, persons, tasks, tips
from gateway.store.tables import messages

Rows = Sequence[Any]  # rows of the query; attributes as selected


def _partner() -> sa.ColumnElement[Any]:
    return sa.case((messages.c.direction == "in", messages.c.sender),
                   else_=messages.c.recipient).label("partner")


async def tips_received(conn: AsyncConnection, start: datetime, end: datetime,
                        as_of: datetime) -> Rows:
    """Tips received in the window: when, when classified and as what, whether resolved by
    ``as_of`` (directly, or through the closing of the case it was escalated to)."""
    closed = (sa.select(sa.func.min(case_events.c.at))
              .where(case_events.c.case_id == tips.c.case_id,
                     case_events.c.to_state == "closed", case_events.c.at <= as_of)
              .scalar_subquery())
    query = (sa.select(tips.c.received_at, tips.c.classification, tips.c.classified_at,
                       tips.c.resolved_at, closed.label("case_closed_at"))
             .where(tips.c.received_at >= start, tips.c.received_at < end))
    return (await conn.execute(query)).all()


async def foreign_cases(conn: AsyncConnection, start: datetime, end: datetime,
                        as_of: datetime) -> Rows:
    """Cases opened in the window with a partner (the case's, else its first
    conversation's), and whether any message was exchanged in them by ``as_of``."""
    first_partner = (sa.select(sa.func.min(case_conversations.c.partner))
                     .where(case_conversations.c.case_id == cases.c.id).scalar_subquery())
    exchanged = sa.exists(
        sa.select(1).select_from(case_conversations.join(
            messages, sa.and_(messages.c.conversation == case_conversations.c.conversation,
                              sa.or_(messages.c.sender == case_conversations.c.partner,
                                     messages.c.recipient == case_conversations.c.partner))))
        .where(case_conversations.c.case_id == cases.c.id, messages.c.stored_at <= as_of))
    query = (sa.select(cases.c.id, sa.func.coalesce(cases.c.partner, first_partner)
                       .label("partner"), exchanged.label("exchanged"))
             .where(cases.c.created_at >= start, cases.c.created_at < end))
    return (await conn.execute(query)).all()


async def requests_and_answers(conn: AsyncConnection, doc_type: str, answer_type: str | None,
                               start: datetime, end: datetime, as_of: datetime,
                               task_kinds: tuple[str, ...] = ()) -> Rows:
    """Messages of ``doc_type`` stored in the window, each with its partner, direction,
    priority, the first answer from the other side by ``as_of`` (of ``answer_type``, or of
    any type if None) and the due time and completion of its tasks of ``task_kinds``."""
    answer = messages.alias("answer")
    first_answer = (sa.select(sa.func.min(answer.c.stored_at))
                    .where(answer.c.ref == messages.c.message_id,
                           answer.c.sender == messages.c.recipient,
                           answer.c.recipient == messages.c.sender,
                           answer.c.stored_at <= as_of))
    if answer_type is not None:
        first_answer = first_answer.where(answer.c.doc_type == answer_type)
    due = (sa.select(sa.func.min(tasks.c.due_at))
           .where(tasks.c.message_id == messages.c.message_id, tasks.c.kind.in_(task_kinds)))
    done = (sa.select(sa.func.min(tasks.c.done_at))
            .where(tasks.c.message_id == messages.c.message_id, tasks.c.kind.in_(task_kinds),
                   tasks.c.done_at <= as_of))
    query = (sa.select(messages.c.direction, _partner(), messages.c.priority,
                       messages.c.stored_at, first_answer.scalar_subquery().label("answered_at"),
                       due.scalar_subquery().label("due_at"),
                       done.scalar_subquery().label("task_done_at"))
             .where(messages.c.doc_type == doc_type, messages.c.stored_at >= start,
                    messages.c.stored_at < end))
    return (await conn.execute(query)).all()


async def messages_of(conn: AsyncConnection, doc_type: str, start: datetime,
                      end: datetime) -> Rows:
    """Messages of ``doc_type`` stored in the window: direction and partner."""
    query = (sa.select(messages.c.direction, _partner())
             .where(messages.c.doc_type == doc_type, messages.c.stored_at >= start,
                    messages.c.stored_at < end))
    return (await conn.execute(query)).all()


async def victims_handed_over(conn: AsyncConnection, start: datetime, end: datetime,
                              as_of: datetime) -> Rows:
    """Victims of cases that reached ``handed-over`` in the window: the case's partner, the
    person's sex, nationality and whether presumed a child, and whether the case reached
    ``received-and-referred`` by ``as_of``."""
    handed = (sa.select(case_events.c.case_id, sa.func.min(case_events.c.at).label("at"))
              .where(case_events.c.to_state == "handed-over")
              .group_by(case_events.c.case_id).subquery())
    referred = sa.exists(sa.select(1).where(case_events.c.case_id == cases.c.id,
                                            case_events.c.to_state == "received-and-referred",
                                            case_events.c.at <= as_of))
    query = (sa.select(cases.c.partner, persons.c.sex, persons.c.nationality,
                       persons.c.presumed_child, referred.label("referred"))
             .select_from(handed.join(cases, cases.c.id == handed.c.case_id)
                          .join(persons, persons.c.case_id == cases.c.id))
             .where(handed.c.at >= start, handed.c.at < end, persons.c.role == "victim"))
    return (await conn.execute(query)).all()


async def deadlines_passed(conn: AsyncConnection, start: datetime, end: datetime) -> Rows:
    """Tasks whose deadline passed by the end of the window without being done in time:
    due time, when done (if ever), partner."""
    query = (sa.select(tasks.c.due_at, tasks.c.done_at, tasks.c.partner)
             .where(tasks.c.due_at < end,
                    sa.or_(tasks.c.done_at.is_(None), tasks.c.done_at > tasks.c.due_at),
                    sa.or_(tasks.c.due_at >= start, tasks.c.done_at.is_(None),
                           tasks.c.done_at >= end)))
    return (await conn.execute(query)).all()


async def received_of(conn: AsyncConnection, doc_type: str) -> Rows:
    """Every message of ``doc_type`` received: sender, when stored, the sealed bytes."""
    query = (sa.select(messages.c.sender, messages.c.stored_at, messages.c.raw)
             .where(messages.c.direction == "in", messages.c.doc_type == doc_type)
             .order_by(messages.c.stored_at))
    return (await conn.execute(query)).all()
