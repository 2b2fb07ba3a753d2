"""What a message does to its case, in either direction (MESSAGES.md, cases and deadlines).

Inbound messages attach to a case by ``conversation``: a new conversation from a partner opens
a case owned by the addressed unit. A document moves the case where it says so (a
``verification-response`` with ``confirmed`` makes the person ``verified`` and the case
``verified``), opens the deadlines it starts and closes the ones it answers.

A partner's message is never refused for case reasons (it is already stored and receipted):
a move the lifecycle does not allow is written in the case's story instead. Our own messages
are checked before they are released, so for them a refused move is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.cases import deadlines, notices, service
from gateway.cases.people import persons_in, presumed_child
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.envelope import Envelope
from gateway.store import cases as repo
from gateway.store.case_tables import drafts

#: Documents that never open or join a case.
WITHOUT_CASE: Final = frozenset({"periodic-report", "checkpoint", "cosignature"})
#: verification-response result -> (case state, identity status of the person).
VERIFICATION_RESULTS: Final[dict[str, tuple[str, str]]] = {
    "confirmed": ("verified", "verified"),
    "not-national": ("not-national", "not-national"),
    "unable-to-confirm": ("unable-to-verify", "unable-to-verify"),
}
#: The state a document puts its case in (besides verification-response).
MOVES: Final[dict[str, str]] = {
    "verification-request": "verification-requested",
    "repatriation-request": "repatriation-planned",
    "handover-record": "handed-over",
    "case-closure": "closed",
}
#: The same for a joint investigation.
INVESTIGATION_MOVES: Final[dict[str, str]] = {
    "investigation-update": "active",
    "suspect-notice": "active",
    "case-closure": "closed",
}
#: The moves a case may make on its own to reach a document's state.
_ON_THE_WAY: Final[dict[str, tuple[str, ...]]] = {
    "verification-requested": ("screening",),
}


@dataclass(frozen=True)
class MessageFacts:
    """One message as the case work sees it."""

    direction: str  # in | out
    message_id: str
    doc_type: str
    partner: str
    priority: str
    handling: str
    ref: str | None
    conversation: str
    data: Any


def kind_for(doc_type: str, data: Any) -> str:
    """The kind of case a partner's new conversation opens."""
    if doc_type in ("investigation-update", "suspect-notice"):
        return "investigation"
    if doc_type == "alert":
        return "hotline"
    if doc_type == "verification-request" and isinstance(data, dict) \
            and data.get("reason") != "repatriation":
        return "verification"
    return "repatriation"


async def attach_inbound(conn: AsyncConnection, cw: CaseWork, envelope: Envelope) -> None:
    """The inbound hook: find or open the case, record persons, apply the document. A
    periodic report belongs to no case (MESSAGES.md): it is kept as received, for the
    collection of reports."""
    bx = envelope.header.bx
    if bx.type in WITHOUT_CASE:
        return
    data = cw.forms.read(bx.type, bx.version, envelope.document, validate=False)
    row = await repo.case_of_conversation(conn, bx.conversation, bx.from_)
    if row is None:
        case_id = await service.create_case(
            conn, cw, bx.from_, kind=kind_for(bx.type, data), origin="partner",
            owner_unit=cw.node.node_id, partner=bx.from_, priority=bx.priority)
        await repo.link_conversation(conn, case_id, bx.conversation, bx.from_)
        row = await repo.case_row(conn, case_id)
    facts = MessageFacts("in", bx.id, bx.type, bx.from_, bx.priority,
                         bx.handling, bx.ref, bx.conversation, data)
    await apply(conn, cw, row, facts, actor=bx.from_, strict=False)
    await _tell(conn, cw, row, facts)


async def _tell(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts) -> None:
    """Notices for an inbound message: the unit, the author of what it answers, and an
    immediate alert with its first-action clock."""
    immediate = message.priority == "immediate"
    await notices.notify(conn, cw, notices.Notice(
        "alert" if immediate else "message", unit=row.owner_unit, case_id=row.id,
        message_id=message.message_id, doc_type=message.doc_type,
        urgent=immediate or message.priority == "urgent",
        due_at=cw.clock() + deadlines.ALERT_FIRST_ACTION if immediate else None))
    if message.ref:
        author = (await conn.execute(sa.select(drafts.c.author).where(
            drafts.c.message_id == message.ref, drafts.c.case_id == row.id))).scalar()
        if author:
            await notices.notify(conn, cw, notices.Notice(
                "answer", username=str(author), case_id=row.id,
                message_id=message.message_id, doc_type=message.doc_type,
                urgent=message.priority != "routine"))


async def apply(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts, *,
                actor: str, strict: bool) -> None:
    """Persons, deadlines and state changes of one message on its case."""
    today = cw.clock().date()
    for person in persons_in(message.doc_type, message.data, today):
        await service.upsert_person(conn, cw, row.id, person, actor)
    await service.record_event(conn, cw, row.id, actor, f"message-{message.direction}",
                         message_id=message.message_id)
    await _deadlines(conn, cw, row, message)
    if row.kind == "investigation":
        target = INVESTIGATION_MOVES.get(message.doc_type)
    elif message.doc_type == "verification-response":
        target = await _verification_result(conn, row, message)
    else:
        target = MOVES.get(message.doc_type)
    if target is None:
        return
    await _move(conn, cw, row, target, actor, message.message_id, strict)


async def _verification_result(conn: AsyncConnection, row: Any,
                               message: MessageFacts) -> str | None:
    data = message.data if isinstance(message.data, dict) else {}
    outcome = VERIFICATION_RESULTS.get(str(data.get("result")))
    if outcome is None:  # need-more-information: the request stays open
        return None
    subject = data["subject"] if isinstance(data.get("subject"), dict) else {}
    updated = await service.set_identity_status(conn, row.id, subject.get("@person-id"),
                                                outcome[1])
    if updated == 0:  # the partner's person-id is not one we hold: mark the case's victims
        await service.set_identity_status(conn, row.id, None, outcome[1])
    return outcome[0]


async def _move(conn: AsyncConnection, cw: CaseWork, row: Any, target: str, actor: str,
                message_id: str, strict: bool) -> None:
    try:
        for step in (*_ON_THE_WAY.get(target, ()), target):
            current = await repo.case_row(conn, row.id)
            if current.state == target:
                return
            if step != target and current.state != "detected":
                continue
            await service.move(conn, cw, current, step, actor, message_id=message_id)
    except CaseError as exc:
        if strict:
            raise
        await service.record_event(conn, cw, row.id, actor, "state-not-changed",
                             row.state, target, message_id)
        await audit.append(conn, cw.clock, actor, "case.state-not-changed", row.reference,
                           {"wanted": target, "reason": str(exc), "message": message_id})


async def _deadlines(conn: AsyncConnection, cw: CaseWork, row: Any,
                     message: MessageFacts) -> None:
    now = cw.clock()
    answered = [t for t, a in deadlines.ANSWERED_BY.items() if a == message.doc_type]
    if answered:
        kind = "answer" if message.direction == "out" else "await-answer"
        closed = 0
        if message.ref:
            closed = await service.close_tasks(conn, cw, kinds=(kind,), case_id=row.id,
                                               message_id=message.ref)
        if not closed:
            await service.close_tasks(conn, cw, kinds=(kind,), case_id=row.id)
    if message.doc_type in deadlines.ANSWERED_BY:
        partner = cw.node.partners.get(message.partner)
        overrides = partner.file.answer_working_days if partner else {}
        urgent = partner.file.urgent_answer_working_days if partner else {}
        country = cw.partner_country(message.partner) if message.direction == "out" \
            else cw.country
        due = deadlines.answer_due(cw.calendars, country, now, message.doc_type,
                                   message.priority, overrides, urgent)
        assert due is not None
        await service.add_task(
            conn, cw, kind="await-answer" if message.direction == "out" else "answer",
            owner_unit=row.owner_unit, due_at=due, case_id=row.id, partner=message.partner,
            message_id=message.message_id, title=message.doc_type)
    if message.direction == "in" and message.doc_type == "alert":
        data = message.data if isinstance(message.data, dict) else {}
        if message.priority == "immediate":
            await service.add_task(conn, cw, kind="alert-first-action",
                                   owner_unit=row.owner_unit, case_id=row.id,
                                   due_at=now + deadlines.ALERT_FIRST_ACTION,
                                   partner=message.partner, message_id=message.message_id)
        if _child_at_risk(data, now.date()):
            await service.add_task(conn, cw, kind="child-emergency", owner_unit=row.owner_unit,
                                   case_id=row.id, due_at=now + deadlines.CHILD_EMERGENCY,
                                   partner=message.partner, message_id=message.message_id)


def _child_at_risk(data: dict[str, Any], today: date) -> bool:
    """MESSAGES.md: a child at imminent risk gets emergency action within 12 hours."""
    if data.get("danger") != "imminent":
        return False
    people = data.get("person") or []
    return any(isinstance(p, dict) and presumed_child(p.get("birth"), today) for p in people)


def install(cw: CaseWork) -> None:
    """Attach every message the node accepts to its case (the node's inbound hook)."""

    async def attach(conn: AsyncConnection, envelope: Envelope) -> None:
        await attach_inbound(conn, cw, envelope)

    cw.node.inbound_hooks.append(attach)
