"""What the console tells each person: a new message on a case of their unit, the answer to
their request, their draft returned or released, an immediate alert with its 2-hour clock, a
deadline about to pass or passed, the unit's periodic report due (to its supervisors).

A notice is addressed to one user or to everyone of a unit; who has read it is kept per user.
Notices are written in the transaction of what they tell of, so none is lost and none tells
of something that did not happen. They carry ids and codes only: the console words them in
the reader's language, and nothing personal is in them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access import sessions
from gateway.access.sessions import Principal
from gateway.cases.work import CaseWork
from gateway.store.case_tables import cases, notification_reads, notifications, users

KINDS: Final = ("message", "answer", "draft-returned", "draft-released", "alert", "due-soon",
                "overdue", "report-due", "case-not-moved")
#: How many notices the list shows at most.
LIST_LIMIT: Final = 50


@dataclass(frozen=True)
class Notice:
    """One notice, to one user or to a whole unit."""

    kind: str
    unit: str | None = None
    username: str | None = None
    case_id: int | None = None
    tip_id: int | None = None
    draft_id: int | None = None
    task_id: int | None = None
    message_id: str | None = None
    doc_type: str | None = None
    urgent: bool = False
    due_at: datetime | None = None


async def session_and_unread(conn: AsyncConnection, clock: Callable[[], datetime],
                             key: bytes | Sequence[bytes],
                             token: str, touch: bool
                             ) -> tuple[Principal, tuple[int, int]]:
    """The console's check of every page: the session behind the cookie and the user's
    unread notices and how many of them are urgent (for the header)."""
    principal = await sessions.resolve(conn, clock, key, token, touch=touch)
    return principal, await unread_count(conn, principal)


async def notify(conn: AsyncConnection, cw: CaseWork, notice: Notice) -> int:
    """Write a notice (in the caller's transaction)."""
    assert notice.kind in KINDS, notice.kind
    assert notice.unit or notice.username, "a notice needs an addressee"
    result = await conn.execute(sa.insert(notifications).values(
        unit=notice.unit, username=notice.username, kind=notice.kind, case_id=notice.case_id,
        tip_id=notice.tip_id, draft_id=notice.draft_id, task_id=notice.task_id,
        message_id=notice.message_id, doc_type=notice.doc_type, urgent=notice.urgent,
        due_at=notice.due_at, created_at=cw.clock()).returning(notifications.c.id))
    return int(result.scalar_one())


def _mine(principal: Principal) -> sa.ColumnElement[bool]:
    since = sa.select(users.c.created_at).where(users.c.username == principal.username)
    return sa.and_(
        sa.or_(notifications.c.username == principal.username,
               sa.and_(notifications.c.username.is_(None),
                       notifications.c.unit == principal.unit)),
        notifications.c.created_at >= since.scalar_subquery())


def _unread() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(notification_reads.c.notification_id == notifications.c.id,
                              notification_reads.c.username == sa.bindparam("reader"))


async def unread_count(conn: AsyncConnection, principal: Principal) -> tuple[int, int]:
    """How many notices the user has not read, and how many of them are urgent."""
    row = (await conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(
            sa.case((notifications.c.urgent, 1), else_=0)), 0))
        .where(_mine(principal), _unread()), {"reader": principal.username})).one()
    return int(row[0]), int(row[1])


async def list_for(conn: AsyncConnection, principal: Principal, *, unread_only: bool = False,
                   limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The user's notices, newest first, with whether each is read and its case reference."""
    read_at = (sa.select(notification_reads.c.read_at)
               .where(notification_reads.c.notification_id == notifications.c.id,
                      notification_reads.c.username == principal.username)
               .scalar_subquery())
    query = (sa.select(notifications, read_at.label("read_at"),
                       cases.c.reference.label("case_reference"))
             .select_from(notifications.outerjoin(cases, cases.c.id == notifications.c.case_id))
             .where(_mine(principal)))
    if unread_only:
        query = query.where(_unread())
    rows = await conn.execute(query.order_by(notifications.c.urgent.desc(),
                                             notifications.c.id.desc()).limit(limit),
                              {"reader": principal.username})
    return [{"id": r.id, "kind": r.kind, "case_id": r.case_id,
             "case_reference": r.case_reference, "tip_id": r.tip_id, "draft_id": r.draft_id,
             "task_id": r.task_id, "message_id": r.message_id, "doc_type": r.doc_type,
             "urgent": bool(r.urgent), "due_at": r.due_at, "created_at": r.created_at,
             "read": r.read_at is not None} for r in rows]


async def mark_read(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    ids: list[int] | None) -> int:
    """Mark the user's notices read: the ones named, or all of them (``None``)."""
    query = sa.select(notifications.c.id).where(_mine(principal), _unread())
    if ids is not None:
        query = query.where(notifications.c.id.in_(ids))
    found = [int(i) for i in (await conn.execute(query, {"reader": principal.username}))
             .scalars()]
    if found:
        now = cw.clock()
        await conn.execute(sa.insert(notification_reads), [
            {"notification_id": i, "username": principal.username, "read_at": now}
            for i in found])
    return len(found)
