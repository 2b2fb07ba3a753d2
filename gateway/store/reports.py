"""Repository of the reports: the facts each indicator counts, read for one window.

The counting is done here, in SQL (grouped, one row per breakdown), so that a report over
100,000 cases reads counts, not rows; what each count means is written in the docstring
beside it and checked against MESSAGES.md in :mod:`gateway.reports.indicators`, which lays
the counts out as tables. Only the waits behind a median come back one per message, as
plain numbers. No personal field, nothing sealed. Takes the caller's connection; reads only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from gateway.store.case_tables import (
    case_conversations,
    case_events,
    cases,
    notifications,
    persons,
    tasks,
    tips,
    users,
)
from gateway.store.tables import UTC_TIME, messages

Rows = Sequence[Any]  # rows of the query; attributes as selected


class day_after(FunctionElement[datetime]):  # noqa: N801 (an SQL function)
    """``at`` plus 24 hours, exactly (to the microsecond, as stored)."""

    type = UTC_TIME
    inherit_cache = True


@compiles(day_after, "sqlite")
def _day_after_sqlite(element: day_after, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': the date and time move a day, the fraction
    # stays, so the text compares exactly with other stored times.
    at = compiler.process(element.clauses, **kw)
    return f"(datetime({at}, '+1 day') || substr({at}, 20))"


@compiles(day_after, "postgresql")
def _day_after_postgresql(element: day_after, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} + interval '24 hours')"


class seconds_between(FunctionElement[float]):  # noqa: N801 (an SQL function)
    """``later - earlier`` in seconds (to the millisecond on SQLite)."""

    type = sa.Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    # julianday() keeps milliseconds; rounding to them undoes the float's error
    return f"(round((julianday({later}) - julianday({earlier})) * 86400000.0) / 1000.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


def _count(condition: sa.ColumnElement[bool] | None = None) -> sa.ColumnElement[int]:
    """How many rows of the group (meet ``condition``)."""
    if condition is None:
        return sa.func.count()
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _counted(table: sa.FromClause = messages) -> sa.ColumnElement[bool]:
    """Messages a report counts: never a conformance probe's test message (PROTOCOL.md
    §3.1)."""
    counted: sa.ColumnElement[bool] = table.c.test == sa.false()
    return counted


def _partner() -> sa.ColumnElement[Any]:
    return sa.case((messages.c.direction == "in", messages.c.sender),
                   else_=messages.c.recipient)


async def tips_received(conn: AsyncConnection, start: datetime, end: datetime,
                        as_of: datetime, months: Sequence[tuple[datetime, str]]) -> Rows:
    """Tips received in the window, by reporting month (``months``: each one's first moment
    and name, in order) and class (None while not classified by ``as_of``): ``received``;
    ``classified_24h``, classified within 24 hours of being received; ``resolved``, closed
    with an outcome by ``as_of`` (resolved, or escalated to a case that was closed)."""
    classified = sa.and_(tips.c.classification.is_not(None), tips.c.classified_at <= as_of)
    case_closed = sa.exists(sa.select(1).where(
        case_events.c.case_id == tips.c.case_id, case_events.c.to_state == "closed",
        case_events.c.at <= as_of))
    resolved = sa.or_(tips.c.resolved_at <= as_of,
                      sa.and_(tips.c.case_id.is_not(None), case_closed))
    whens = [(tips.c.received_at < following, name)
             for (_, name), (following, _) in itertools.pairwise(months)]
    month = (sa.case(*whens, else_=months[-1][1]) if whens
             else sa.literal(months[-1][1], sa.String))
    kind = sa.case((classified, tips.c.classification), else_=None)
    query = (sa.select(month.label("month"), kind.label("classification"),
                       _count().label("received"),
                       _count(sa.and_(classified, tips.c.classified_at
                                      <= day_after(tips.c.received_at)))
                       .label("classified_24h"),
                       _count(resolved).label("resolved"))
             .where(tips.c.received_at >= start, tips.c.received_at < end)
             .group_by(month, kind))
    return (await conn.execute(query)).all()


async def foreign_cases(conn: AsyncConnection, start: datetime, end: datetime,
                        as_of: datetime) -> Rows:
    """Cases opened in the window, by partner (the case's, else its first conversation's;
    None for a case without one): ``cases``, and ``coordinated``, those in which a message
    was exchanged with that conversation's partner by ``as_of``."""
    first_partner = (sa.select(sa.func.min(case_conversations.c.partner))
                     .where(case_conversations.c.case_id == cases.c.id).scalar_subquery())
    exchanged = sa.exists(
        sa.select(1).select_from(case_conversations.join(
            messages, sa.and_(messages.c.conversation == case_conversations.c.conversation,
                              sa.or_(messages.c.sender == case_conversations.c.partner,
                                     messages.c.recipient == case_conversations.c.partner))))
        .where(case_conversations.c.case_id == cases.c.id, messages.c.stored_at <= as_of,
               _counted()))
    each = (sa.select(sa.func.coalesce(cases.c.partner, first_partner).label("partner"),
                      sa.case((exchanged, 1), else_=0).label("exchanged"))
            .where(cases.c.created_at >= start, cases.c.created_at < end).subquery())
    query = (sa.select(each.c.partner, _count().label("cases"),
                       sa.func.sum(each.c.exchanged).label("coordinated"))
             .group_by(each.c.partner))
    return (await conn.execute(query)).all()


async def requests_and_answers(conn: AsyncConnection, doc_type: str, answer_type: str | None,
                               start: datetime, end: datetime, as_of: datetime,
                               task_kinds: tuple[str, ...] = (),
                               acting_counts: bool = False) -> Rows:
    """Messages of ``doc_type`` stored in the window, each with the first answer from the
    other side by ``as_of`` (of ``answer_type``, or of any type if None) and the due time
    and completion of its tasks of ``task_kinds``. Two kinds of rows (``part``):

    - ``count``, by direction and partner: ``n`` messages, ``answered`` of them, and
      ``in_time``, answered by the due time of their tasks;
    - ``wait``, by direction: the waits ranked ``rank`` of ``n`` (in seconds, ``value``)
      that the median and the 90th percentile (nearest rank) are made of. A wait runs to the
      answer, or (``acting_counts``) to the answer or the first task done, whichever came
      first.
    """
    answer = messages.alias("answer")
    first_answer = (sa.select(sa.func.min(answer.c.stored_at))
                    .where(answer.c.ref == messages.c.message_id,
                           answer.c.sender == messages.c.recipient,
                           answer.c.recipient == messages.c.sender,
                           answer.c.stored_at <= as_of, _counted(answer)))
    if answer_type is not None:
        first_answer = first_answer.where(answer.c.doc_type == answer_type)
    due = (sa.select(sa.func.min(tasks.c.due_at))
           .where(tasks.c.message_id == messages.c.message_id, tasks.c.kind.in_(task_kinds))
           .scalar_subquery())
    # the first task done, read only where it counts (a lookup fewer per request)
    done = (sa.select(sa.func.min(tasks.c.done_at))
            .where(tasks.c.message_id == messages.c.message_id, tasks.c.kind.in_(task_kinds),
                   tasks.c.done_at <= as_of).scalar_subquery() if acting_counts
            else sa.cast(sa.null(), UTC_TIME))
    # Materialized: each message's lookups run once, though both parts below read them.
    each = (sa.select(messages.c.direction, _partner().label("partner"), messages.c.stored_at,
                      first_answer.scalar_subquery().label("answered_at"),
                      due.label("due_at"), done.label("done_at"))
            .where(messages.c.doc_type == doc_type, messages.c.stored_at >= start,
                   messages.c.stored_at < end, _counted())
            .cte("each").prefix_with("MATERIALIZED"))
    counts = (sa.select(sa.literal("count").label("part"), each.c.direction, each.c.partner,
                        sa.literal(0).label("rank"), _count().label("n"),
                        sa.func.count(each.c.answered_at).label("answered"),
                        _count(each.c.answered_at <= each.c.due_at).label("in_time"),
                        sa.cast(sa.null(), sa.Float).label("value"))
              .group_by(each.c.direction, each.c.partner))
    answered = sa.case((each.c.answered_at.is_not(None), each.c.answered_at))
    if acting_counts:
        answered = sa.case((each.c.answered_at.is_(None), each.c.done_at),
                           (each.c.done_at.is_(None), each.c.answered_at),
                           (each.c.done_at < each.c.answered_at, each.c.done_at),
                           else_=each.c.answered_at)
    waits = (sa.select(each.c.direction, seconds_between(answered, each.c.stored_at)
                       .label("wait"))
             .where(answered.is_not(None)).subquery())
    ranked = (sa.select(waits.c.direction, waits.c.wait,
                        sa.func.row_number().over(partition_by=waits.c.direction,
                                                  order_by=waits.c.wait).label("rank"),
                        sa.func.count().over(partition_by=waits.c.direction).label("n"))
              .subquery())
    quantiles = (sa.select(sa.literal("wait"), ranked.c.direction,
                           sa.cast(sa.null(), sa.String), ranked.c.rank, ranked.c.n,
                           sa.literal(0), sa.literal(0), ranked.c.wait)
                 .where(ranked.c.rank.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2,
                                           (9 * ranked.c.n + 9) // 10])))
    return (await conn.execute(sa.union_all(counts, quantiles))).all()


async def messages_of(conn: AsyncConnection, doc_type: str, start: datetime,
                      end: datetime) -> Rows:
    """Messages of ``doc_type`` stored in the window, by direction and partner: ``count``."""
    partner = _partner()
    query = (sa.select(messages.c.direction, partner.label("partner"),
                       _count().label("count"))
             .where(messages.c.doc_type == doc_type, messages.c.stored_at >= start,
                    messages.c.stored_at < end, _counted())
             .group_by(messages.c.direction, partner))
    return (await conn.execute(query)).all()


async def victims_handed_over(conn: AsyncConnection, start: datetime, end: datetime,
                              as_of: datetime) -> Rows:
    """Victims of cases that reached ``handed-over`` in the window, by the case's partner,
    the person's sex, nationality, whether presumed a child, and whether the case reached
    ``received-and-referred`` by ``as_of``: ``count``."""
    handed = (sa.select(case_events.c.case_id, sa.func.min(case_events.c.at).label("at"))
              .where(case_events.c.to_state == "handed-over")
              .group_by(case_events.c.case_id).subquery())
    referred = sa.case((sa.exists(sa.select(1).where(
        case_events.c.case_id == cases.c.id, case_events.c.to_state == "received-and-referred",
        case_events.c.at <= as_of)), True), else_=False)
    keys = (cases.c.partner, persons.c.sex, persons.c.nationality, persons.c.presumed_child,
            referred)
    query = (sa.select(*keys[:4], referred.label("referred"), _count().label("count"))
             .select_from(handed.join(cases, cases.c.id == handed.c.case_id)
                          .join(persons, persons.c.case_id == cases.c.id))
             .where(handed.c.at >= start, handed.c.at < end, persons.c.role == "victim")
             .group_by(*keys))
    return (await conn.execute(query)).all()


async def deadlines_missed(conn: AsyncConnection, start: datetime, end: datetime,
                           as_of: datetime) -> Rows:
    """Deadlines (tasks) by partner: ``passed``, due in the window (and by ``as_of``) and not
    done by their due time; ``open_at_end``, due before the end of the window (or
    ``as_of``, if sooner) and not done by then."""
    until = min(end, as_of)
    missed = sa.or_(tasks.c.done_at.is_(None), tasks.c.done_at > tasks.c.due_at)
    passed = sa.and_(tasks.c.due_at >= start, tasks.c.due_at < until)
    open_at_end = sa.or_(tasks.c.done_at.is_(None), tasks.c.done_at >= until)
    query = (sa.select(tasks.c.partner, _count(passed).label("passed"),
                       _count(open_at_end).label("open_at_end"))
             .where(tasks.c.due_at < until, missed, sa.or_(passed, open_at_end))
             .group_by(tasks.c.partner))
    return (await conn.execute(query)).all()


async def received_of(conn: AsyncConnection, doc_type: str) -> Rows:
    """Every message of ``doc_type`` received: sender, when stored, the sealed bytes."""
    return await exchanged_of(conn, doc_type, "in")


async def exchanged_of(conn: AsyncConnection, doc_type: str, direction: str) -> Rows:
    """Every message of ``doc_type`` received (``in``) or sent (``out``), oldest first:
    sender, recipient, when stored, the sealed bytes."""
    query = (sa.select(messages.c.sender, messages.c.recipient, messages.c.stored_at,
                       messages.c.raw)
             .where(messages.c.direction == direction, messages.c.doc_type == doc_type,
                    _counted())
             .order_by(messages.c.stored_at))
    return (await conn.execute(query)).all()


async def supervisors_not_reminded(conn: AsyncConnection, kind: str,
                                   due_at: datetime) -> list[str]:
    """The node's supervisors (accounts in use) without a ``kind`` notice for ``due_at``."""
    told = sa.exists(sa.select(1).where(notifications.c.username == users.c.username,
                                        notifications.c.kind == kind,
                                        notifications.c.due_at == due_at))
    query = (sa.select(users.c.username)
             .where(users.c.role == "supervisor", users.c.disabled.is_(False), ~told)
             .order_by(users.c.username))
    return list((await conn.execute(query)).scalars())
