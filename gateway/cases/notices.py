"""What the console tells each person: a new message on a case of their unit, the answer to
their request, their draft returned or released, an immediate alert with its 2-hour clock, an
alert of the unit released without review (to its supervisors), a deadline about to pass or
passed, the unit's periodic report due (to its supervisors).

A notice is addressed to one user or to everyone of a unit; who has read it is kept per user.
Notices are written in the transaction of what they tell of, so none is lost and none tells
of something that did not happen. They carry ids and codes only: the console words them in
the reader's language, and nothing personal is in them.

A notice is shown only to a reader who may open what it points to (:func:`reader_of`): a case
to the roles that read cases of that unit, a tip to the hotline's, the periodic report to
its supervisors. The filter is part of every query, so the header's count, the list and the
home page agree, and an auditor or administrator of the unit is never told of a message
whose page would refuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access import sessions
from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.cases.work import CaseWork
from gateway.store import notices as repo
from gateway.store import users as user_repo
from gateway.store.notices import TARGETS, NoticeReader
from gateway.store.transactions import HasDatabase, reads, writes

KINDS: Final = ("message", "answer", "draft-returned", "draft-released", "alert",
                "released-alone", "due-soon", "overdue", "report-due", "case-not-moved",
                "draft-submitted", "best-interests-due", "match", "match-confirmed")
#: How many notices the list shows at most.
LIST_LIMIT: Final = 50
#: The action of the permission matrix that opens each target's page.
_OPENED_BY: Final = {"draft": "drafts.write", "release": "drafts.release",
                     "missing": "missing.read", "case": "cases.read", "tip": "tips.read",
                     "report": "reports.send"}


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
    report_id: int | None = None  # a missing-person report


@dataclass(frozen=True)
class NoticeLine:
    """A notice as its reader sees it in a list: whether it is read, its case's reference
    and its link (``href``, None where the reader may open nothing it points to)."""

    id: int
    kind: str
    case_id: int | None
    case_reference: str | None
    tip_id: int | None
    draft_id: int | None
    task_id: int | None
    message_id: str | None
    doc_type: str | None
    urgent: bool
    due_at: datetime | None
    created_at: datetime
    read: bool
    href: str | None
    target: str | None = None  # what href opens (one of store.notices.TARGETS)


@dataclass(frozen=True)
class PageCheck:
    """What every console page needs first: who is there, their unread notices and how many
    of them are urgent (for the header), and people's names as they read (the console shows
    "Nguyễn Thị Lan", not the login name ``lan``)."""

    principal: Principal
    unread: tuple[int, int]
    people: dict[str, str]


@writes
async def page_check(conn: AsyncConnection, cw: CaseWork, token: str, touch: bool) -> PageCheck:
    """The console's check of every page (see :class:`PageCheck`). A write: the session's
    last use is kept (unless ``touch`` is False)."""
    principal = await sessions.resolve.within(conn, cw, cw.sealer.session_keys, token,
                                              touch=touch)
    return PageCheck(principal, await unread_count(conn, principal),
                     await user_repo.display_names(conn))


async def notify(conn: AsyncConnection, cw: CaseWork, notice: Notice, *,
                 read_by: str | None = None) -> None:
    """Write a notice (in the caller's transaction); ``read_by``: a notice of a unit, read
    already for one of its people (told otherwise)."""
    assert notice.kind in KINDS, notice.kind
    assert notice.unit or notice.username, "a notice needs an addressee"
    values = {"unit": notice.unit, "username": notice.username, "kind": notice.kind,
              "case_id": notice.case_id, "tip_id": notice.tip_id, "draft_id": notice.draft_id,
              "task_id": notice.task_id, "message_id": notice.message_id,
              "doc_type": notice.doc_type, "urgent": notice.urgent, "due_at": notice.due_at,
              "report_id": notice.report_id, "created_at": cw.clock()}
    if read_by is None:
        await repo.insert_notice(conn, **values)
    else:
        await repo.insert_read_notice(conn, read_by, **values)


async def notify_supervisors(conn: AsyncConnection, cw: CaseWork, notice: Notice, *,
                             besides: str) -> list[str]:
    """Write ``notice`` to each active supervisor of ``notice.unit`` but ``besides`` (who did
    what it tells of), in the caller's transaction; answers whom it was written to."""
    assert notice.unit, "the supervisors of which unit?"
    told = await repo.supervisors_of(conn, notice.unit, besides)
    for username in told:
        await notify(conn, cw, replace(notice, username=username))
    return told


def reader_of(principal: Principal) -> NoticeReader:
    """The principal as a reader of notices: the targets their role may open (the page's
    action of the permission matrix) and the unit's scope."""
    return NoticeReader(
        username=principal.username, unit=principal.unit,
        all_cases=sees_all_cases(principal.role),
        targets=frozenset(t for t in TARGETS if allowed(principal.role, _OPENED_BY[t])))


async def unread_count(conn: AsyncConnection, principal: Principal) -> tuple[int, int]:
    """How many notices the user has not read, and how many of them are urgent."""
    return await repo.unread_count(conn, reader_of(principal))


def _href(target: str | None, row: Any) -> str | None:
    """The link of a notice to what it points to (see :data:`TARGETS`)."""
    if target == "draft":
        return f"/drafts/{row.draft_id}"
    if target == "release":
        return "/release"
    if target == "missing":
        return f"/missing/{row.report_id}"
    if target == "case":
        if row.kind == "match":  # straight to the suggestion to decide on
            return f"/cases/{row.case_id}/matches"
        return f"/cases/{row.case_id}" + (f"/messages/{row.message_id}"
                                          if row.message_id else "")
    if target == "tip":
        return f"/hotline/{row.tip_id}"
    if target == "report":
        return "/reports"
    return None


@reads
async def list_for(conn: AsyncConnection, _ctx: HasDatabase, principal: Principal, *,
                   unread_only: bool = False, limit: int = LIST_LIMIT) -> list[NoticeLine]:
    """The user's notices, newest first, with whether each is read, its case reference and
    its link (``href``)."""
    rows = await repo.listed(conn, reader_of(principal), unread_only=unread_only, limit=limit)
    return [NoticeLine(id=r.id, kind=r.kind, case_id=r.case_id,
                       case_reference=r.case_reference, tip_id=r.tip_id, draft_id=r.draft_id,
                       task_id=r.task_id, message_id=r.message_id, doc_type=r.doc_type,
                       urgent=bool(r.urgent), due_at=r.due_at, created_at=r.created_at,
                       read=r.read_at is not None, href=_href(r.target, r), target=r.target)
            for r in rows]


@writes
async def mark_read(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    ids: Sequence[int] | None) -> int:
    """Mark the user's notices read: the ones named, or all of them (``None``)."""
    found = await repo.unread_ids(conn, reader_of(principal), ids)
    await repo.add_reads(conn, principal.username, found, cw.clock())
    return len(found)
