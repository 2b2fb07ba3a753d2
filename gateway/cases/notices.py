"""What the console tells each person: a new message on a case of their unit, the answer to
their request, their draft returned or released, an immediate alert with its 2-hour clock, an
alert of the unit released without review (to its supervisors), a deadline about to pass or
passed, the unit's periodic report due (to its supervisors).

A notice is addressed to one user or to everyone of a unit; who has read it is kept per user.
Notices are written in the transaction of what they tell of, so none is lost and none tells
of something that did not happen. They carry ids and codes only: the console words them in
the reader's language, and nothing personal is in them.

A notice is shown only to a reader who may open what it points to (:func:`_targets`): a case
to the roles that read cases of that unit, a tip to the hotline's, the periodic report to
its supervisors. The filter is part of every query, so the header's count, the list and the
home page agree, and an auditor or administrator of the unit is never told of a message
whose page would refuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access import sessions
from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.cases.work import CaseWork
from gateway.store.case_tables import (
    cases,
    drafts,
    notification_reads,
    notifications,
    tips,
    users,
)

KINDS: Final = ("message", "answer", "draft-returned", "draft-released", "alert",
                "released-alone", "due-soon", "overdue", "report-due", "case-not-moved",
                "draft-submitted", "best-interests-due")
#: How many notices the list shows at most.
LIST_LIMIT: Final = 50
#: Drafts their author may still open in their form (``/drafts/{id}``).
_OPEN_DRAFT: Final = ("draft", "returned")


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
    principal = await sessions.principal_of(conn, clock, key, token, touch=touch)
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


async def mark_read_for(conn: AsyncConnection, cw: CaseWork, notice_id: int,
                        username: str) -> None:
    """A notice of a unit, read already for one of its people (told otherwise)."""
    await conn.execute(sa.insert(notification_reads).values(
        notification_id=notice_id, username=username, read_at=cw.clock()))


async def notify_supervisors(conn: AsyncConnection, cw: CaseWork, notice: Notice, *,
                             besides: str) -> list[str]:
    """Write ``notice`` to each active supervisor of ``notice.unit`` but ``besides`` (who did
    what it tells of), in the caller's transaction; answers whom it was written to."""
    assert notice.unit, "the supervisors of which unit?"
    found = await conn.execute(sa.select(users.c.username).where(
        users.c.unit == notice.unit, users.c.role == "supervisor",
        users.c.disabled.is_(False), users.c.username != besides)
        .order_by(users.c.username))
    told = [str(name) for name in found.scalars()]
    for username in told:
        await notify(conn, cw, replace(notice, username=username))
    return told


def _mine(principal: Principal) -> sa.ColumnElement[bool]:
    since = sa.select(users.c.created_at).where(users.c.username == principal.username)
    return sa.and_(
        sa.or_(notifications.c.username == principal.username,
               sa.and_(notifications.c.username.is_(None),
                       notifications.c.unit == principal.unit)),
        notifications.c.created_at >= since.scalar_subquery())


def _targets(principal: Principal) -> dict[str, sa.ColumnElement[bool]]:
    """What a notice points to, in the order its link is chosen, each with the condition
    under which this reader may open it (the page's action of the permission matrix and
    the unit's scope); a target the role may not open is left out."""
    case_seen = sa.true() if sees_all_cases(principal.role) \
        else cases.c.owner_unit == principal.unit
    conditions = {
        # /drafts/{id}: the author goes on with a draft sent back, while it may still change
        "draft": ("drafts.write", sa.and_(
            notifications.c.kind == "draft-returned", drafts.c.state.in_(_OPEN_DRAFT),
            drafts.c.author == principal.username, case_seen)),
        # /release: a draft of the unit waits for a second person (while it still waits)
        "release": ("drafts.release", sa.and_(
            notifications.c.kind == "draft-submitted", drafts.c.state == "submitted",
            drafts.c.author_unit == principal.unit, drafts.c.author != principal.username)),
        # /cases/{id}[/messages/{mid}]
        "case": ("cases.read", sa.and_(cases.c.id.is_not(None), case_seen)),
        # /hotline/{id}
        "tip": ("tips.read", sa.and_(notifications.c.case_id.is_(None),
                                     tips.c.unit == principal.unit)),
        # /reports: the unit's periodic report, which its supervisors send
        "report": ("reports.send", sa.and_(notifications.c.kind == "report-due",
                                           notifications.c.case_id.is_(None),
                                           notifications.c.tip_id.is_(None))),
    }
    return {name: condition for name, (action, condition) in conditions.items()
            if allowed(principal.role, action)}


def _shown(principal: Principal, *columns: Any) -> sa.Select[Any]:
    """``columns`` of the principal's notices that point to something they may open."""
    targets = _targets(principal)
    return (sa.select(*columns)
            .select_from(notifications
                         .outerjoin(cases, cases.c.id == notifications.c.case_id)
                         .outerjoin(drafts, drafts.c.id == notifications.c.draft_id)
                         .outerjoin(tips, tips.c.id == notifications.c.tip_id))
            .where(_mine(principal), sa.or_(sa.false(), *targets.values())))


def _unread() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(notification_reads.c.notification_id == notifications.c.id,
                              notification_reads.c.username == sa.bindparam("reader"))


async def unread_count(conn: AsyncConnection, principal: Principal) -> tuple[int, int]:
    """How many notices the user has not read, and how many of them are urgent."""
    row = (await conn.execute(
        _shown(principal, sa.func.count(), sa.func.coalesce(sa.func.sum(
            sa.case((notifications.c.urgent, 1), else_=0)), 0)).where(_unread()),
        {"reader": principal.username})).one()
    return int(row[0]), int(row[1])


def _href(target: str | None, row: Any) -> str | None:
    """The link of a notice to what it points to (see :func:`_targets`)."""
    if target == "draft":
        return f"/drafts/{row.draft_id}"
    if target == "release":
        return "/release"
    if target == "case":
        return f"/cases/{row.case_id}" + (f"/messages/{row.message_id}"
                                          if row.message_id else "")
    if target == "tip":
        return f"/hotline/{row.tip_id}"
    if target == "report":
        return "/reports"
    return None


async def list_for(conn: AsyncConnection, principal: Principal, *, unread_only: bool = False,
                   limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The user's notices, newest first, with whether each is read, its case reference and
    its link (``href``)."""
    read_at = (sa.select(notification_reads.c.read_at)
               .where(notification_reads.c.notification_id == notifications.c.id,
                      notification_reads.c.username == principal.username)
               .scalar_subquery())
    targets = _targets(principal)
    target = sa.case(*((condition, name) for name, condition in targets.items()),
                     else_=None) if targets else sa.null()
    query = _shown(principal, notifications, read_at.label("read_at"),
                   cases.c.reference.label("case_reference"), target.label("target"))
    if unread_only:
        query = query.where(_unread())
    rows = await conn.execute(query.order_by(notifications.c.urgent.desc(),
                                             notifications.c.id.desc()).limit(limit),
                              {"reader": principal.username})
    return [{"id": r.id, "kind": r.kind, "case_id": r.case_id,
             "case_reference": r.case_reference, "tip_id": r.tip_id, "draft_id": r.draft_id,
             "task_id": r.task_id, "message_id": r.message_id, "doc_type": r.doc_type,
             "urgent": bool(r.urgent), "due_at": r.due_at, "created_at": r.created_at,
             "read": r.read_at is not None, "href": _href(r.target, r)} for r in rows]


async def mark_read(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    ids: list[int] | None) -> int:
    """Mark the user's notices read: the ones named, or all of them (``None``)."""
    query = _shown(principal, notifications.c.id).where(_unread())
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
