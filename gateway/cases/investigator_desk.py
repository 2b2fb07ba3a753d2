"""C02's investigator desk: requests awaiting a partner's answer (per partner, oldest first,
with their age), overdue items, joint investigations and the suspect notices sent and
received; each links to its case. One read (:func:`investigator_desk`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import sees_all_cases
from gateway.access.sessions import Principal
from gateway.cases.service import unit_seen
from gateway.cases.views import investigations, overdue_items
from gateway.cases.work import CaseWork
from gateway.store import case_messages
from gateway.store import tasks as task_repo
from gateway.store.transactions import reads

#: The most suspect notices the desk lists.
SUSPECT_NOTICES = 100


@dataclass(frozen=True)
class AwaitedAnswer:
    """A request of a case waiting for the partner's answer."""

    case_id: int
    reference: str
    type: str | None
    sent_at: datetime
    due_at: datetime
    age_days: int
    overdue: bool


@dataclass(frozen=True)
class SuspectNotice:
    """A suspect notice sent (``out``) or received (``in``) on a case."""

    direction: str
    partner: str
    at: datetime
    case_id: int
    reference: str


@dataclass(frozen=True)
class InvestigatorDesk:
    """What the investigator works from (``waiting`` per partner; the overdue items and the
    investigations are the views of their own lists)."""

    waiting: dict[str, list[AwaitedAnswer]]
    overdue: Sequence[object]
    investigations: Sequence[object]
    suspect_notices: list[SuspectNotice]


@reads
async def investigator_desk(conn: AsyncConnection, cw: CaseWork, principal: Principal
                            ) -> InvestigatorDesk:
    """What C02's investigator works from: requests awaiting a partner's answer (per partner,
    oldest first, with their age in days), overdue items, joint investigations (last exchange,
    open tasks) and suspect notices sent and received; each links to its case."""
    now = cw.clock()
    waiting: dict[str, list[AwaitedAnswer]] = {}
    for w in await task_repo.awaiting_answers(conn, unit_seen(principal)):
        waiting.setdefault(w.partner or "", []).append(AwaitedAnswer(
            case_id=w.case_id, reference=w.reference, type=w.title, sent_at=w.created_at,
            due_at=w.due_at, age_days=(now - w.created_at).days, overdue=w.due_at < now))
    notices = await case_messages.messages_of_type(conn, "suspect-notice",
                                                   unit_seen(principal), SUSPECT_NOTICES)
    joint = await investigations.within(conn, cw, principal)
    return InvestigatorDesk(
        waiting=waiting,
        overdue=await overdue_items.within(
            conn, cw, principal, "all" if sees_all_cases(principal.role) else "unit"),
        investigations=joint,
        suspect_notices=[SuspectNotice(direction=n.direction, partner=n.recipient
                                       if n.direction == "out" else n.sender, at=n.created,
                                       case_id=n.case_id, reference=n.reference)
                         for n in notices])
