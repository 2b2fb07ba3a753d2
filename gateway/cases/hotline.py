"""Hotline tips: intake, triage, escalation into a case and an alert (MESSAGES.md, hotline).

A tip starts two clocks: every tip classified within 24 hours, and emergency action within
12 hours for a child at imminent risk. The reporter's identity is sealed in its own table and
shown only to supervisors, with a reason, audited. Escalation opens a case and, where the tip
has a foreign element, sends an immediate ``alert`` to the partner in the same transaction.

Each public function decorated :func:`writes` or :func:`reads` is one use case (a door:
``await record_tip(cw, principal, tip)``); a read of a tip's content is audited, so it
writes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final, get_args

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import deadlines, drafts, missing, service
from gateway.cases.commands import (
    Channel,
    Classification,
    Danger,
    Escalation,
    NewDraft,
    NewTip,
    Relation,
    TipTriage,
    Urgency,
)
from gateway.cases.people import PersonFacts, presumed_child
from gateway.cases.tip_alert import ALERT_LANG, alert_document, birth
from gateway.cases.tip_views import (
    Escalated,
    HotlineDesk,
    ReleaseReview,
    TipRecorded,
    TipSummary,
    TipView,
    emergency_clock,
    tip_summary,
    tip_view,
)
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.errors import N_
from gateway.store import tasks as task_repo
from gateway.store import tips as tip_repo
from gateway.store.transactions import reads, writes

CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
RELATIONS: Final[tuple[str, ...]] = get_args(Relation)
DANGER: Final[tuple[str, ...]] = get_args(Danger)
CLASSIFICATIONS: Final[tuple[str, ...]] = get_args(Classification)
URGENCIES: Final[tuple[str, ...]] = get_args(Urgency)


@writes
async def record_tip(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     tip: NewTip) -> TipRecorded:
    """Record a tip and start its clocks."""
    channel, relation, danger = tip.channel, tip.reporter_relation, tip.danger
    narrative = tip.narrative.strip()
    if not narrative:
        raise CaseError("invalid-request", N_("narrative: what happened is required"), "narrative")
    foreign = tip.foreign_country
    people = [p.model_dump(exclude_none=True) for p in tip.persons]
    now = cw.clock()
    received = _moment(tip.received_at, "received_at", now) or now
    last_seen = _moment(tip.last_seen_at, "last_seen_at", now)
    child = tip.child_involved or any(
        presumed_child(birth(p), now.date()) for p in people)
    reference = await service.new_reference(conn, service.reference_prefix(principal.unit, now))
    seal = cw.sealer.seal_text
    tip_id = await tip_repo.insert_tip(
        conn, reference=reference, unit=principal.unit, operator=principal.actor,
        received_at=received, last_seen_at=last_seen, channel=channel,
        reporter_relation=relation,
        narrative_sealed=seal(narrative, "tips.narrative"),
        location_sealed=seal(json.dumps(tip.location.model_dump(exclude_none=True)
                                        if tip.location else {}, ensure_ascii=False),
                             "tips.location"),
        persons_sealed=seal(json.dumps(people, ensure_ascii=False), "tips.persons"),
        foreign_country=foreign, child_involved=child, danger=danger,
        indicators=",".join(tip.indicators)[:400],
        status="new")
    identity = tip.reporter_identity.model_dump(exclude_none=True) if (
        tip.reporter_identity) else None
    if identity:
        sealed = seal(json.dumps(identity, ensure_ascii=False), "tip_reporters.identity")
        assert sealed is not None
        await tip_repo.insert_reporter(conn, tip_id, sealed)
    await service.add_task(conn, cw, kind="classify-tip", owner_unit=principal.unit,
                           tip_id=tip_id, due_at=received + deadlines.TIP_CLASSIFICATION)
    if child and danger == "imminent":
        await service.add_task(conn, cw, kind="child-emergency", owner_unit=principal.unit,
                               tip_id=tip_id, due_at=received + deadlines.CHILD_EMERGENCY)
    if relation == "self":
        await service.add_task(conn, cw, kind="first-check", owner_unit=principal.unit,
                               tip_id=tip_id, due_at=received + deadlines.SELF_REPORT_FIRST_CHECK)
    await audit.append(conn, cw.clock, principal.actor, "tip.recorded", reference,
                       {"channel": channel, "danger": danger, "child": child,
                        "foreign": foreign})
    return TipRecorded(id=tip_id, reference=reference,
                       classify_by=(received + deadlines.TIP_CLASSIFICATION).isoformat(),
                       emergency_by=emergency_clock(received, child, danger))


def _moment(value: datetime | None, name: str, now: datetime) -> datetime | None:
    """An optional time of the tip: with its zone, not in the future."""
    if value is None:
        return None
    if value.tzinfo is None or value > now + timedelta(minutes=5):
        raise CaseError("invalid-request", N_("{name}: a time with its zone, not in the future"),
                        name, name=name)
    return value


async def _load(conn: AsyncConnection, principal: Principal, tip_id: int) -> Any:
    row = await tip_repo.tip_of_unit(conn, tip_id, principal.unit)
    if row is None:
        raise CaseError("not-found", N_("no tip {tip_id}"), tip_id=tip_id)
    return row


@writes
async def read_tip(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                   tip_id: int) -> TipView:
    """One tip of the unit; audited (it names people at risk)."""
    row = await _load(conn, principal, tip_id)
    await audit.append(conn, cw.clock, principal.actor, "tip.read", row.reference, {})
    return tip_view(cw.sealer, row, cw.clock())


@reads
async def desk(conn: AsyncConnection, cw: CaseWork, principal: Principal) -> HotlineDesk:
    """The hotline's one screen: the unit's tips, for a chief (who may see reporters) the
    alerts released without a second person, to review, and the node's open missing-person
    reports."""
    reviews = await release_reviews.within(conn, cw, principal) if allowed(
        principal.role, "tips.reporter.read") else []
    reports = await missing.list_reports.within(conn, cw, principal, "open") if allowed(
        principal.role, "missing.read") else []
    return HotlineDesk(await list_tips.within(conn, cw, principal, None), reviews, reports)


@reads
async def list_tips(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    status: str | None) -> list[TipSummary]:
    """The unit's tips, newest first, without their content."""
    now = cw.clock()
    return [tip_summary(r, now)
            for r in await tip_repo.tips_of_unit(conn, principal.unit, status)]


@writes
async def reporter_of(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                      reason: str) -> dict[str, str] | None:
    """Who called (supervisors only, with a reason); audited."""
    if len(reason.strip()) < 3:
        raise CaseError("invalid-request", N_("reading a reporter's identity needs a reason"),
                        "reason")
    row = await _load(conn, principal, tip_id)
    sealed = await tip_repo.reporter_sealed(conn, row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.reporter-read", row.reference,
                       {"reason": reason.strip()})
    text = cw.sealer.open_text(sealed, "tip_reporters.identity")
    if not text:
        return None
    identity: dict[str, str] = json.loads(text)
    return identity


@writes
async def triage(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                 command: TipTriage) -> None:
    """Classify a tip and set its urgency (stops the 24-hour clock)."""
    row = await _load(conn, principal, tip_id)
    classification, urgency = command.classification, command.urgency
    duplicate_of = command.duplicate_of
    if classification == "duplicate":
        if duplicate_of is None or duplicate_of == row.id:
            raise CaseError("invalid-request",
                            N_("duplicate_of: the id of the tip this one repeats"), "duplicate_of")
        await _load(conn, principal, duplicate_of)
    await tip_repo.update_tip(
        conn, row.id, classification=classification, urgency=urgency, classified_at=cw.clock(),
        classified_by=principal.actor,
        duplicate_of=duplicate_of if classification == "duplicate" else None,
        status="resolved" if classification == "duplicate" else "classified",
        resolved_at=cw.clock() if classification == "duplicate" else None)
    await service.close_tasks(conn, cw, by=principal.actor, kinds=("classify-tip",), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.classified", row.reference,
                       {"classification": classification, "urgency": urgency})


@writes
async def resolve(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                  tip_id: int) -> None:
    """Mark a classified tip resolved (the programme target counts them)."""
    row = await _load(conn, principal, tip_id)
    if row.classified_at is None:
        raise CaseError("state-conflict", N_("classify the tip before resolving it"))
    await tip_repo.update_tip(conn, row.id, status="resolved", resolved_at=cw.clock())
    await service.close_tasks(conn, cw, by=principal.actor,
                              kinds=("child-emergency", "first-check"), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.resolved", row.reference, {})


async def escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                   body: Escalation) -> Escalated:
    """Open a case from a classified tip; with ``alert_to``, send an immediate alert to that
    partner in the same transaction (the operator may release it alone). A step of
    :func:`triage_and_escalate`, in its transaction."""
    row = await _load(conn, principal, tip_id)
    if row.classified_at is None:
        raise CaseError("state-conflict", N_("classify the tip before escalating it"))
    if row.case_id is not None:
        raise CaseError("state-conflict", N_("the tip is already case {case_id}"),
                        case_id=row.case_id)
    tip = tip_view(cw.sealer, row, cw.clock())
    case_id = await service.create_case(
        conn, cw, principal.actor, kind="hotline", origin="hotline", owner_unit=principal.unit,
        partner=body.alert_to, priority=row.urgency or "urgent",
        summary=tip.narrative)
    for index, person in enumerate(tip.persons, start=1):
        await service.upsert_person(conn, cw, case_id, PersonFacts(
            person_ref=f"A{index}", role="victim", native=_text(person.get("name_native")),
            latin=_text(person.get("name_latin")), sex=_text(person.get("sex")),
            nationality=_text(person.get("nationality")),
            presumed_child=presumed_child(birth(person), cw.clock().date()),
            details=dict(person)), principal.actor)
    await tip_repo.update_tip(conn, row.id, status="escalated", case_id=case_id)
    await service.close_tasks(conn, cw, by=principal.actor, kinds=("child-emergency",),
                              tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.escalated", row.reference,
                       {"case": case_id, "alert_to": body.alert_to})
    message_id = None
    if body.alert_to:
        if not tip.foreign_country:
            raise CaseError("invalid-request", N_("an alert to a partner needs a tip with a "
                                                  "foreign element (foreign_country)"), "alert_to")
        if not body.duty_phone:
            raise CaseError("invalid-request", N_("duty_phone: the alert must say whom to call"),
                            "duty_phone")
        if not (body.last_seen or tip.last_seen_at):
            raise CaseError("invalid-request", N_("last_seen: when was the person last seen? The "
                                                  "alert must say it"), "last_seen")
        _moment(body.last_seen, "last_seen", cw.clock())
        case = await service.load_case(conn, principal, case_id)
        document = alert_document(cw, tip, case.reference, body, principal)
        draft_id = await drafts.create_draft.within(conn, cw, principal, case_id, NewDraft(
            type="alert", to=body.alert_to, priority="immediate", handling=body.handling,
            lang=ALERT_LANG, document=document))
        sent = await drafts.submit_draft.within(conn, cw, principal, draft_id)
        message_id = sent.message_id
    return Escalated(id=tip_id, case_id=case_id, message_id=message_id)


def _text(value: str | int | bool | None) -> str | None:
    """A text field of a caller's person (None where the caller gave none)."""
    return value if isinstance(value, str) else None


@writes
async def triage_and_escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                              tip_id: int, triage_body: TipTriage | None,
                              escalation: Escalation | None) -> Escalated | None:
    """The operator's one action: classify the tip (when a classification is given, or it
    has none yet) and, when asked, escalate it into a case with an alert, all in one
    transaction."""
    row = await _load(conn, principal, tip_id)
    if triage_body is not None and (row.classified_at is None or escalation is None):
        await triage.within(conn, cw, principal, tip_id, triage_body)
    if escalation is None:
        return None
    return await escalate(conn, cw, principal, tip_id, escalation)


@reads
async def release_reviews(conn: AsyncConnection, cw: CaseWork, principal: Principal
                          ) -> list[ReleaseReview]:
    """Alerts of the unit released without a second person, waiting for the chief's review
    (MESSAGES.md: the supervisor is told at once)."""
    rows = await task_repo.release_reviews(conn, principal.unit)
    now = cw.clock()
    return [ReleaseReview(task_id=r.id, case_id=r.case_id, reference=r.reference,
                          message_id=r.message_id, released_at=r.created_at, due_at=r.due_at,
                          overdue=r.due_at < now) for r in rows]
