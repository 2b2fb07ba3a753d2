"""What a message does to its case, in either direction (MESSAGES.md, "Both sides keep one
case: how documents move it", and the deadlines).

Inbound messages attach to a case by ``conversation``: a new conversation from a partner opens
a case owned by the addressed unit (a verification request opens it at
``verification-requested``, as the table says). Each document moves the case when it is
released (sender) and when it is attached (receiver), on both sides alike, and puts on the
case what it settles: the partner's case reference, the agreed return's date and gate, a
refusal's reason, the closure's outcome. It opens the deadlines it starts and closes the ones
it answers.

A partner's message is never refused for case reasons (it is already stored and receipted),
and a released document is already signed: a move the lifecycle does not allow becomes a task
for the case's owner with the document's words, and a notice, never a silent drift. Each
automatic move is an event on the case and an audit line naming the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.cases import deadlines, lifecycle, notices, service
from gateway.cases.people import PersonFacts, person_references, persons_in, presumed_child
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.envelope import Envelope
from gateway.protocol.errors import N_
from gateway.store import case_messages
from gateway.store import cases as repo
from gateway.store import drafts as draft_repo
from gateway.store import persons as person_repo

#: Documents that never open or join a case.
WITHOUT_CASE: Final = frozenset({"periodic-report", "checkpoint", "cosignature"})
#: verification-response result -> (case state, identity status of the person).
VERIFICATION_RESULTS: Final[dict[str, tuple[str, str]]] = {
    "confirmed": ("verified", "verified"),
    "not-national": ("not-national", "not-national"),
    "unable-to-confirm": ("unable-to-verify", "unable-to-verify"),
}
#: repatriation-response decision -> the state it puts both sides' cases in.
RETURN_DECISIONS: Final[dict[str, str]] = {
    "accepted": "repatriation-planned",
    "alternative-proposed": "repatriation-planned",
    "refused": "verified",
}
#: The state a document puts its case in on both sides (the others say it by their content;
#: a repatriation-request leaves the case where it is: verified).
MOVES: Final[dict[str, str]] = {
    "verification-request": "verification-requested",
    "handover-record": "handed-over",
    "case-closure": "closed",
}
#: The same for a joint investigation.
INVESTIGATION_MOVES: Final[dict[str, str]] = {
    "investigation-update": "active",
    "suspect-notice": "active",
    "case-closure": "closed",
}
#: The moves a case makes on its own on the way to a document's state, from where it is.
_ON_THE_WAY: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("detected", "verification-requested"): ("screening",),
    ("not-national", "verification-requested"): ("screening",),
}
#: The codes of a document that say what it decided (shown with a task it leaves).
_SAID: Final[dict[str, tuple[str, ...]]] = {
    "verification-response": ("result",),
    "repatriation-response": ("decision", "confirmed-date", "confirmed-gate",
                              "alternative-date", "alternative-gate"),
    "case-closure": ("outcome", "closure-reason", "closed-on"),
    "handover-record": ("time", "gate"),
}
#: repatriation-response decision -> (its date, its gate): where the agreed return is.
_RETURN_FIELDS: Final[dict[str, tuple[str, str]]] = {
    "accepted": ("confirmed-date", "confirmed-gate"),
    "alternative-proposed": ("alternative-date", "alternative-gate"),
}
#: Where a document names persons by ``person-id`` only, as persons of the conversation.
_NAMING_BY_ID: Final = frozenset({"victim", "linked-person"})
#: What answers what: the deadlines' pairs, and news on an alert.
ANSWERS: Final = {**deadlines.ANSWERED_BY, "alert": "investigation-update"}
#: The home side's first state when a partner's verification request opens its case.
_OPENED_AT: Final[dict[str, str]] = {"verification-request": "verification-requested"}


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


def kind_for(doc_type: str) -> str:
    """The kind of case a partner's new conversation opens (MESSAGES.md: a verification
    request opens a ``verification`` case on the home side)."""
    if doc_type in ("investigation-update", "suspect-notice"):
        return "investigation"
    if doc_type == "alert":
        return "hotline"
    if doc_type == "verification-request":
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
    row = await case_messages.case_of_conversation(conn, bx.conversation, bx.from_)
    if row is None:
        case_id = await service.create_case(
            conn, cw, bx.from_, kind=kind_for(bx.type), origin="partner",
            owner_unit=cw.node.node_id, partner=bx.from_, priority=bx.priority,
            state=_OPENED_AT.get(bx.type))
        await case_messages.link_conversation(conn, case_id, bx.conversation, bx.from_,
                                              new_case=True)
        row = await repo.case_row(conn, case_id)
    facts = MessageFacts("in", bx.id, bx.type, bx.from_, bx.priority,
                         bx.handling, bx.ref, bx.conversation, data)
    await apply(conn, cw, row, facts, actor=bx.from_)
    await _tell(conn, cw, row, facts)


async def _tell(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts) -> None:
    """Notices for an inbound message: the unit, the author of what it answers, and an
    immediate alert with its first-action clock."""
    immediate = message.priority == "immediate"
    author = await draft_repo.author_of_sent(conn, row.id, message.ref) \
        if message.ref and message.doc_type in ANSWERS.values() else None
    # told once: the unit's notice of an answer is read for the author of what it answers
    await notices.notify(conn, cw, notices.Notice(
        "alert" if immediate else "message", unit=row.owner_unit, case_id=row.id,
        message_id=message.message_id, doc_type=message.doc_type,
        urgent=immediate or message.priority == "urgent",
        due_at=cw.clock() + deadlines.ALERT_FIRST_ACTION if immediate else None),
        read_by=author)
    if author:
        await notices.notify(conn, cw, notices.Notice(
            "answer", username=author, case_id=row.id,
            message_id=message.message_id, doc_type=message.doc_type,
            urgent=message.priority != "routine"))


def _data(message: MessageFacts) -> dict[str, Any]:
    return message.data if isinstance(message.data, dict) else {}


def target_of(kind: str, doc_type: str, data: Any) -> str | None:
    """The state a document of ``doc_type`` saying ``data`` puts a case of ``kind`` in, on
    either side (None: it leaves the case where it is)."""
    return _target(kind, MessageFacts("out", "", doc_type, "", "routine", "H0", None, "",
                                      data))


def steps_to(state: str, target: str) -> tuple[str, ...]:
    """The moves from ``state`` to a document's ``target``, those the case makes on its own
    on the way included (none if it is there already)."""
    if state == target:
        return ()
    return (*_ON_THE_WAY.get((state, target), ()), target)


def _target(kind: str, message: MessageFacts) -> str | None:
    """The state a document puts a case of ``kind`` in, on either side (None: it stays)."""
    data = _data(message)
    if kind == "investigation":
        return INVESTIGATION_MOVES.get(message.doc_type)
    if message.doc_type == "verification-response":
        outcome = VERIFICATION_RESULTS.get(str(data.get("result")))
        return outcome[0] if outcome else None  # need-more-information: it stays
    if message.doc_type == "repatriation-response":
        return RETURN_DECISIONS.get(str(data.get("decision")))
    return MOVES.get(message.doc_type)


async def apply(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts, *,
                actor: str) -> None:
    """Persons, deadlines, the state the document puts the case in, and what it settles
    there: only once the case has followed it (a refused move settles nothing)."""
    today = cw.clock().date()
    child_case = bool(row.presumed_child)
    for person in persons_in(message.doc_type, message.data, today):
        await service.upsert_person(conn, cw, row.id, person, actor,
                                    from_partner=message.direction == "in",
                                    their_case=row.origin == "partner", child_case=child_case)
        child_case = child_case or (person.presumed_child and person.role == "victim")
    await _known_by_id(conn, cw, row, message, actor)
    await service.record_event(conn, cw, row.id, actor, f"message-{message.direction}",
                               message_id=message.message_id)
    await _deadlines(conn, cw, row, message, actor)
    await _partner_reference(conn, row, message)
    target = _target(row.kind, message)
    if target is None:
        return
    current = await repo.case_row(conn, row.id)
    before = current.state
    unfit = await _unfit(conn, row, message)
    if unfit is not None:
        await _not_moved(conn, cw, current, target, actor, message, unfit)
        return
    if await _move(conn, cw, current, target, actor, message):
        await _settle(conn, cw, row, message, moved_now=before != target)
        if target == "verified" and before != target:
            await _best_interests_due(conn, cw, row.id, actor)


async def _best_interests_due(conn: AsyncConnection, cw: CaseWork, case_id: int,
                              actor: str) -> None:
    """A (presumed) child verified on the finding side: the supervisors decide whether
    return is in her best interests before anyone proposes it (MESSAGES.md): a task for the
    unit and a notice to each of them, at once."""
    row = await repo.case_row(conn, case_id)
    if not row.presumed_child or row.best_interests_at is not None \
            or lifecycle.is_home_side(row.origin, row.kind):
        return
    await service.add_task(conn, cw, kind="best-interests", owner_unit=row.owner_unit,
                           case_id=row.id, due_at=cw.clock() + deadlines.BEST_INTERESTS,
                           partner=row.partner)
    await notices.notify_supervisors(conn, cw, notices.Notice(
        "best-interests-due", unit=row.owner_unit, case_id=row.id, urgent=True),
        besides=actor)


async def _known_by_id(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts,
                       actor: str) -> None:
    """A person the conversation names by ``person-id`` only where the protocol names
    persons so (a suspect notice's victims, an investigation's linked persons) becomes a
    person of the case known by that id alone, so that a later document can refer to them
    (PROTOCOL.md: ids are stable within a conversation). Other references (the person an
    answer is about, a belonging's owner) name persons the case must already hold."""
    _, referred = person_references(cw.forms.model(message.doc_type), message.data)
    by_id = [r for r in referred if r.key.split(".", 1)[0] in _NAMING_BY_ID]
    held = await person_repo.person_refs(conn, row.id) if by_id else set()
    for reference in by_id:
        if reference.person_ref not in held:
            await service.upsert_person(conn, cw, row.id, PersonFacts(
                reference.person_ref, reference.role), actor)
            held.add(reference.person_ref)


async def _partner_reference(conn: AsyncConnection, row: Any, message: MessageFacts) -> None:
    """The partner's own case reference, as its latest document gives it."""
    reference = _data(message).get("case-reference")
    if message.direction == "in" and isinstance(reference, str) and reference \
            and reference != row.partner_reference:
        await repo.update_case(conn, row.id, partner_reference=reference)


async def _unfit(conn: AsyncConnection, row: Any, message: MessageFacts) -> CaseError | None:
    """Why a document the lifecycle would follow says too little for the case to follow it:
    an answer about a person the case does not hold, a return agreed without its date and
    gate."""
    data = _data(message)
    if message.doc_type == "verification-response" and row.kind != "investigation":
        subject = data["subject"] if isinstance(data.get("subject"), dict) else {}
        person = subject.get("@person-id")
        if not isinstance(person, str) or person not in await person_repo.person_refs(conn, row.id):
            return CaseError("state-conflict", N_("the answer is about {person}, who is not a "
                                                  "person of this case"),
                             "subject", person=str(person))
    if message.doc_type == "repatriation-response":
        fields = _RETURN_FIELDS.get(str(data.get("decision")))
        if fields and not (_date(data.get(fields[0])) and data.get(fields[1])):
            return CaseError("state-conflict", N_("a return is agreed with its date and its "
                                                  "border gate; the answer gives none"),
                             "decision")
    return None


async def _settle(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts, *,
                  moved_now: bool) -> None:
    """What a document the case has followed puts on it besides its state: the
    verification's result on the person, the agreed return, a refusal's reason, the
    closure's outcome (only with the move that closes it: a closed case keeps its own)."""
    data, values = _data(message), dict[str, Any]()
    if message.doc_type == "verification-response" and row.kind != "investigation":
        outcome = VERIFICATION_RESULTS.get(str(data.get("result")))
        subject = data["subject"] if isinstance(data.get("subject"), dict) else {}
        if outcome is not None:
            await service.set_identity_status(conn, row.id, subject.get("@person-id"),
                                              outcome[1])
    if message.doc_type == "repatriation-response":
        decision = str(data.get("decision"))
        fields = _RETURN_FIELDS.get(decision)
        if fields:
            values.update(return_date=_date(data.get(fields[0])),
                          return_gate=data.get(fields[1]), refusal_sealed=None)
        elif decision == "refused":
            values.update(return_date=None, return_gate=None, refusal_sealed=cw.sealer.seal_text(
                json.dumps(data.get("reason") or [], ensure_ascii=False), "cases.refusal"))
    if message.doc_type == "case-closure" and moved_now:
        values.update(closure_outcome=data.get("outcome"),
                      closure_reason=data.get("closure-reason"))
    if values:
        await repo.update_case(conn, row.id, **values)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


async def _move(conn: AsyncConnection, cw: CaseWork, current: Any, target: str, actor: str,
                message: MessageFacts) -> bool:
    """Move the case (``current``: its row as it stands) to ``target`` (with the steps it
    takes on its own on the way); whether it stands there now. A move the lifecycle refuses
    leaves the owner a task with the document's words, and a notice."""
    row, steps = current, steps_to(current.state, target)
    try:
        for n, step in enumerate(steps, 1):
            await service.move(conn, cw, current, step, actor, message_id=message.message_id)
            if n < len(steps):  # the next step moves the case as it stands now
                current = await repo.case_row(conn, row.id)
    except CaseError as exc:
        await _not_moved(conn, cw, current, target, actor, message, exc)
        return False
    return True


async def _not_moved(conn: AsyncConnection, cw: CaseWork, row: Any, target: str, actor: str,
                     message: MessageFacts, refusal: CaseError) -> None:
    data = _data(message)
    detail = {"wanted": target, "direction": message.direction, "doc_type": message.doc_type,
              "said": {k: str(data[k])[:64] for k in _SAID.get(message.doc_type, ())
                       if isinstance(data.get(k), (str, int))},
              "refusal": refusal.record()}
    await service.record_event(conn, cw, row.id, actor, "state-not-changed", row.state, target,
                               message.message_id)
    task_id = await service.add_task(
        conn, cw, kind="document-not-applied", owner_unit=row.owner_unit,
        due_at=cw.clock() + deadlines.DOCUMENT_NOT_APPLIED, case_id=row.id,
        partner=message.partner, message_id=message.message_id, title=message.doc_type,
        detail=json.dumps(detail, ensure_ascii=False))
    await notices.notify(conn, cw, notices.Notice(
        "case-not-moved", unit=row.owner_unit, case_id=row.id, task_id=task_id,
        message_id=message.message_id, doc_type=message.doc_type, urgent=True))
    # why, in the reader's words, is the task's (the log keeps codes and ids)
    await audit.append(conn, cw.clock, actor, "case.state-not-changed", row.reference,
                       {"wanted": target, "message": message.message_id, "task": task_id})


async def _deadlines(conn: AsyncConnection, cw: CaseWork, row: Any,
                     message: MessageFacts, actor: str) -> None:
    now = cw.clock()
    answered = [t for t, a in deadlines.ANSWERED_BY.items() if a == message.doc_type]
    if answered:
        kind = "answer" if message.direction == "out" else "await-answer"
        closed = 0
        if message.ref:
            closed = await service.close_tasks(conn, cw, by=actor, kinds=(kind,),
                                               case_id=row.id, message_id=message.ref)
        if not closed:  # no ref: what this partner was asked, never another's deadline
            await service.close_tasks(conn, cw, by=actor, kinds=(kind,), case_id=row.id,
                                      partner=message.partner)
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
    await _question(conn, cw, row, message, actor)
    if message.direction == "in" and message.doc_type == "alert":
        data = _data(message)
        if message.priority == "immediate":
            await service.add_task(conn, cw, kind="alert-first-action",
                                   owner_unit=row.owner_unit, case_id=row.id,
                                   due_at=now + deadlines.ALERT_FIRST_ACTION,
                                   partner=message.partner, message_id=message.message_id)
        if _child_at_risk(data, now.date()):
            await service.add_task(conn, cw, kind="child-emergency", owner_unit=row.owner_unit,
                                   case_id=row.id, due_at=now + deadlines.CHILD_EMERGENCY,
                                   partner=message.partner, message_id=message.message_id)


async def _question(conn: AsyncConnection, cw: CaseWork, row: Any, message: MessageFacts,
                    actor: str) -> None:
    """A verification answered "need more information": the finder gets a task to answer
    the question (by a new request, which closes it); the home side's answer task closed
    when the question went out and opens again with that request."""
    if message.doc_type == "verification-request" and message.direction == "out":
        await service.close_tasks(conn, cw, by=actor, kinds=("answer-question",),
                                  case_id=row.id)
    elif message.doc_type == "verification-response" and message.direction == "in" \
            and _data(message).get("result") == "need-more-information":
        due = deadlines.answer_due(cw.calendars, cw.country, cw.clock(),
                                   "verification-request", message.priority)
        assert due is not None
        await service.add_task(conn, cw, kind="answer-question", owner_unit=row.owner_unit,
                               due_at=due, case_id=row.id, partner=message.partner,
                               message_id=message.message_id, title=message.doc_type)


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
