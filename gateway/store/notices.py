"""Repository of the console's notices (``notifications``) and who has read them
(``notification_reads``). What a notice tells and who may follow it is decided in
``gateway.cases.notices``; this module says how that is stored and queried. Takes the caller's
connection; never commits.

A reader's notices are theirs or their unit's (written since the reader's account was made)
that point to something the reader may open: the targets the reader's role may open arrive as
a :class:`NoticeReader`, and the filter is part of every query, so the header's count, the
list and the home page agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import later
from gateway.store.case_tables import (
    cases,
    drafts,
    notification_reads,
    notifications,
    tips,
    users,
)
from gateway.store.inline_sqlite import prepared

#: What a notice may point to, in the order its link is chosen.
TARGETS: Final = ("draft", "release", "missing", "case", "tip", "report")
#: Drafts their author may still open in their form (``/drafts/{id}``).
_OPEN_DRAFT: Final = ("draft", "returned")


@dataclass(frozen=True)
class NoticeReader:
    """Whose notices are read, and what they may open: ``targets`` (of :data:`TARGETS`) their
    role may open, and whether they see the cases of every unit or of their own."""

    username: str
    unit: str
    all_cases: bool
    targets: frozenset[str]


_INSERT = prepared(sa.insert(notifications))
_INSERT_ID = _INSERT.returning(notifications.c.id)


async def insert_notice(conn: AsyncConnection, **values: Any) -> None:
    """Store a notice (with the round, in a round: :mod:`gateway.store.later`)."""
    await later.insert(conn, _INSERT, values)


async def insert_read_notice(conn: AsyncConnection, reader: str, **values: Any) -> None:
    """Store a notice, read already for ``reader`` (now, whatever the round: after the
    notices the round holds, which came first)."""
    await later.flush(conn)
    found = await conn.execute(_INSERT_ID, values)
    await add_reads(conn, reader, [int(found.scalar_one())], values["created_at"])


async def add_reads(conn: AsyncConnection, username: str, notice_ids: Sequence[int],
                    at: datetime) -> None:
    """Note the notices ``notice_ids`` read by ``username``."""
    if notice_ids:
        await conn.execute(sa.insert(notification_reads), [
            {"notification_id": i, "username": username, "read_at": at} for i in notice_ids])


async def supervisors_of(conn: AsyncConnection, unit: str, besides: str) -> list[str]:
    """The active supervisors of ``unit`` but ``besides``, by name: whom a notice for the
    unit's supervisors goes to."""
    found = await conn.execute(sa.select(users.c.username).where(
        users.c.unit == unit, users.c.role == "supervisor",
        users.c.disabled.is_(False), users.c.username != besides)
        .order_by(users.c.username))
    return [str(name) for name in found.scalars()]


def _mine(reader: NoticeReader) -> sa.ColumnElement[bool]:
    since = sa.select(users.c.created_at).where(users.c.username == reader.username)
    return sa.and_(
        sa.or_(notifications.c.username == reader.username,
               sa.and_(notifications.c.username.is_(None),
                       notifications.c.unit == reader.unit)),
        notifications.c.created_at >= since.scalar_subquery())


def _targets(reader: NoticeReader) -> dict[str, sa.ColumnElement[bool]]:
    """The targets the reader may open, each with the condition under which a notice points
    to it for this reader (the unit's scope, the draft's state)."""
    case_seen = sa.true() if reader.all_cases else cases.c.owner_unit == reader.unit
    conditions = {
        # /drafts/{id}: the author goes on with a draft sent back, while it may still change
        "draft": sa.and_(
            notifications.c.kind == "draft-returned", drafts.c.state.in_(_OPEN_DRAFT),
            drafts.c.author == reader.username, case_seen),
        # /release: a draft of the unit waits for a second person (while it still waits)
        "release": sa.and_(
            notifications.c.kind == "draft-submitted", drafts.c.state == "submitted",
            drafts.c.author_unit == reader.unit, drafts.c.author != reader.username),
        # /missing/{id}: a report of the unit linked to a case (before the case: the unit
        # that recorded the report may not see a case of another unit)
        "missing": sa.and_(notifications.c.kind == "match-confirmed",
                           notifications.c.report_id.is_not(None)),
        # /cases/{id}[/messages/{mid}]
        "case": sa.and_(cases.c.id.is_not(None), case_seen),
        # /hotline/{id}
        "tip": sa.and_(notifications.c.case_id.is_(None), tips.c.unit == reader.unit),
        # /reports: the unit's periodic report, which its supervisors send
        "report": sa.and_(notifications.c.kind == "report-due",
                          notifications.c.case_id.is_(None), notifications.c.tip_id.is_(None)),
    }
    return {name: condition for name, condition in conditions.items()
            if name in reader.targets}


def _shown(reader: NoticeReader, *columns: Any) -> sa.Select[Any]:
    """``columns`` of the reader's notices that point to something they may open."""
    return (sa.select(*columns)
            .select_from(notifications
                         .outerjoin(cases, cases.c.id == notifications.c.case_id)
                         .outerjoin(drafts, drafts.c.id == notifications.c.draft_id)
                         .outerjoin(tips, tips.c.id == notifications.c.tip_id))
            .where(_mine(reader), _still_news(),
                   sa.or_(sa.false(), *_targets(reader).values())))


def _still_news() -> sa.ColumnElement[bool]:
    """A draft waiting for release is news only while it waits: once released or sent back
    (by whomever), its notice leaves the lists and the counts, whichever link it had."""
    return sa.or_(notifications.c.kind != "draft-submitted", drafts.c.state == "submitted")


def _unread() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(notification_reads.c.notification_id == notifications.c.id,
                              notification_reads.c.username == sa.bindparam("reader"))


async def unread_count(conn: AsyncConnection, reader: NoticeReader) -> tuple[int, int]:
    """How many of the reader's notices are unread, and how many of them are urgent."""
    row = (await conn.execute(
        _shown(reader, sa.func.count(), sa.func.coalesce(sa.func.sum(
            sa.case((notifications.c.urgent, 1), else_=0)), 0)).where(_unread()),
        {"reader": reader.username})).one()
    return int(row[0]), int(row[1])


async def listed(conn: AsyncConnection, reader: NoticeReader, *, unread_only: bool,
                 limit: int) -> list[Any]:
    """The reader's notices, urgent and then newest first, each with when the reader read
    it (``read_at``), its case's reference and what it points to (``target``, one of
    :data:`TARGETS`)."""
    read_at = (sa.select(notification_reads.c.read_at)
               .where(notification_reads.c.notification_id == notifications.c.id,
                      notification_reads.c.username == reader.username)
               .scalar_subquery())
    targets = _targets(reader)
    target = sa.case(*((condition, name) for name, condition in targets.items()),
                     else_=None) if targets else sa.null()
    query = _shown(reader, notifications, read_at.label("read_at"),
                   cases.c.reference.label("case_reference"), target.label("target"))
    if unread_only:
        query = query.where(_unread())
    return list(await conn.execute(query.order_by(notifications.c.urgent.desc(),
                                                  notifications.c.id.desc()).limit(limit),
                                   {"reader": reader.username}))


async def unread_ids(conn: AsyncConnection, reader: NoticeReader,
                     among: Sequence[int] | None) -> list[int]:
    """The reader's unread notices (of ``among`` when given)."""
    query = _shown(reader, notifications.c.id).where(_unread())
    if among is not None:
        query = query.where(notifications.c.id.in_(among))
    return [int(i) for i in (await conn.execute(query, {"reader": reader.username})).scalars()]
