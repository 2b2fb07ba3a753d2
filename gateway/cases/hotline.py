"""Hotline tips: intake, triage, escalation into a case and an alert (MESSAGES.md, hotline).

A tip starts two clocks: every tip classified within 24 hours, and emergency action within
12 hours for a child at imminent risk. The reporter's identity is sealed in its own table and
shown only to supervisors, with a reason, audited. Escalation opens a case and, where the tip
has a foreign element, sends an immediate ``alert`` to the partner in the same transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import deadlines, drafts, service
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
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.errors import N_
from gateway.store import tasks as task_repo
from gateway.store.case_tables import tip_reporters, tips
from gateway.trust.names import NAME_LANGUAGES, home_language

#: The language an escalated alert is written in (its situation, and its contact unit's name).
ALERT_LANG: Final = "vi"
CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
RELATIONS: Final[tuple[str, ...]] = get_args(Relation)
DANGER: Final[tuple[str, ...]] = get_args(Danger)
CLASSIFICATIONS: Final[tuple[str, ...]] = get_args(Classification)
URGENCIES: Final[tuple[str, ...]] = get_args(Urgency)


async def record_tip(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     tip: NewTip) -> dict[str, Any]:
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
        presumed_child(_birth(p), now.date()) for p in people)
    reference = await service.new_reference(conn, service.reference_prefix(principal.unit, now))
    seal = cw.sealer.seal_text
    result = await conn.execute(sa.insert(tips).values(
        reference=reference, unit=principal.unit, operator=principal.actor,
        received_at=received, last_seen_at=last_seen, channel=channel,
        reporter_relation=relation,
        narrative_sealed=seal(narrative, "tips.narrative"),
        location_sealed=seal(json.dumps(tip.location.model_dump(exclude_none=True)
                                        if tip.location else {}, ensure_ascii=False),
                             "tips.location"),
        persons_sealed=seal(json.dumps(people, ensure_ascii=False), "tips.persons"),
        foreign_country=foreign, child_involved=child, danger=danger,
        indicators=",".join(tip.indicators)[:400],
        status="new").returning(tips.c.id))
    tip_id = int(result.scalar_one())
    identity = tip.reporter_identity.model_dump(exclude_none=True) if (
        tip.reporter_identity) else None
    if identity:
        await conn.execute(sa.insert(tip_reporters).values(tip_id=tip_id, identity_sealed=seal(
            json.dumps(identity, ensure_ascii=False), "tip_reporters.identity")))
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
    return {"id": tip_id, "reference": reference,
            "classify_by": (received + deadlines.TIP_CLASSIFICATION).isoformat(),
            "emergency_by": (received + deadlines.CHILD_EMERGENCY).isoformat()
            if child and danger == "imminent" else None}


def _moment(value: datetime | None, name: str, now: datetime) -> datetime | None:
    """An optional time of the tip: with its zone, not in the future."""
    if value is None:
        return None
    if value.tzinfo is None or value > now + timedelta(minutes=5):
        raise CaseError("invalid-request", N_("{name}: a time with its zone, not in the future"),
                        name, name=name)
    return value


def _birth(person: dict[str, Any]) -> dict[str, Any]:
    birth: dict[str, Any] = {}
    if person.get("estimated_age") is not None:
        birth["estimated-age"] = person["estimated_age"]
    if person.get("age_uncertain"):
        birth["@age-uncertain"] = True
    return birth


async def _load(conn: AsyncConnection, principal: Principal, tip_id: int) -> Any:
    row = (await conn.execute(sa.select(tips).where(tips.c.id == tip_id,
                                                    tips.c.unit == principal.unit))).first()
    if row is None:
        raise CaseError("not-found", N_("no tip {tip_id}"), tip_id=tip_id)
    return row


def tip_view(cw: CaseWork, row: Any, now: datetime) -> dict[str, Any]:
    """A tip for its unit (never the reporter's identity)."""
    open_text = cw.sealer.open_text
    return {"id": row.id, "reference": row.reference, "received_at": row.received_at.isoformat(),
            "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None,
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
            "channel": row.channel, "reporter_relation": row.reporter_relation,
            "narrative": open_text(row.narrative_sealed, "tips.narrative"),
            "location": json.loads(open_text(row.location_sealed, "tips.location") or "{}"),
            "persons": json.loads(open_text(row.persons_sealed, "tips.persons") or "[]"),
            "foreign_country": row.foreign_country, "child_involved": row.child_involved,
            "danger": row.danger, "indicators": [i for i in row.indicators.split(",") if i],
            "classification": row.classification, "urgency": row.urgency,
            "status": row.status, "duplicate_of": row.duplicate_of, "case_id": row.case_id,
            "operator": row.operator,
            "classify_by": (row.received_at + deadlines.TIP_CLASSIFICATION).isoformat(),
            "emergency_by": (row.received_at + deadlines.CHILD_EMERGENCY).isoformat()
            if row.child_involved and row.danger == "imminent" else None,
            "classification_overdue": row.classified_at is None
            and now > row.received_at + deadlines.TIP_CLASSIFICATION}


async def read_tip(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                   tip_id: int) -> dict[str, Any]:
    """One tip of the unit; audited (it names people at risk)."""
    row = await _load(conn, principal, tip_id)
    await audit.append(conn, cw.clock, principal.actor, "tip.read", row.reference, {})
    return tip_view(cw, row, cw.clock())


async def desk(conn: AsyncConnection, cw: CaseWork, principal: Principal
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hotline's one screen: the unit's tips, and for a chief (who may see reporters)
    the alerts released without a second person, to review."""
    reviews = await release_reviews(conn, cw, principal) if allowed(
        principal.role, "tips.reporter.read") else []
    return await list_tips(conn, cw, principal, None), reviews


async def list_tips(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    status: str | None) -> list[dict[str, Any]]:
    """The unit's tips, newest first, without their content."""
    query = sa.select(tips).where(tips.c.unit == principal.unit)
    if status:
        query = query.where(tips.c.status == status)
    now = cw.clock()
    rows = await conn.execute(query.order_by(tips.c.received_at.desc()).limit(500))
    return [{k: v for k, v in tip_view(cw, r, now).items()
             if k not in ("narrative", "location", "persons")} for r in rows]


async def reporter_of(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                      reason: str) -> dict[str, Any] | None:
    """Who called (supervisors only, with a reason); audited."""
    if len(reason.strip()) < 3:
        raise CaseError("invalid-request", N_("reading a reporter's identity needs a reason"),
                        "reason")
    row = await _load(conn, principal, tip_id)
    sealed = (await conn.execute(sa.select(tip_reporters.c.identity_sealed).where(
        tip_reporters.c.tip_id == row.id))).scalar()
    await audit.append(conn, cw.clock, principal.actor, "tip.reporter-read", row.reference,
                       {"reason": reason.strip()})
    text = cw.sealer.open_text(sealed, "tip_reporters.identity")
    return json.loads(text) if text else None


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
    await conn.execute(sa.update(tips).where(tips.c.id == row.id).values(
        classification=classification, urgency=urgency, classified_at=cw.clock(),
        classified_by=principal.actor,
        duplicate_of=duplicate_of if classification == "duplicate" else None,
        status="resolved" if classification == "duplicate" else "classified",
        resolved_at=cw.clock() if classification == "duplicate" else None))
    await service.close_tasks(conn, cw, kinds=("classify-tip",), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.classified", row.reference,
                       {"classification": classification, "urgency": urgency})


async def resolve(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                  tip_id: int) -> None:
    """Mark a classified tip resolved (the programme target counts them)."""
    row = await _load(conn, principal, tip_id)
    if row.classified_at is None:
        raise CaseError("state-conflict", N_("classify the tip before resolving it"))
    await conn.execute(sa.update(tips).where(tips.c.id == row.id).values(
        status="resolved", resolved_at=cw.clock()))
    await service.close_tasks(conn, cw, kinds=("child-emergency", "first-check"), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.resolved", row.reference, {})


def _utc_text(value: str | datetime) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        value.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact_unit_names(cw: CaseWork, unit: str, lang: str, reader: str | None
                       ) -> list[dict[str, str]]:
    """The alert's contact unit by its names (``Unit/name``, each tagged with its language):
    in the alert's language, in the reading partner's and in English, as far as the unit has
    them (never a translation made up here: the alert is signed). A unit with none of these
    is named in a language it has; one with no name anywhere, by its id (``gateway users
    unit`` names it)."""
    names = cw.node.names.names(unit)
    wanted = [lang, home_language(reader) if reader else lang, "en"]
    chosen = [code for code in dict.fromkeys(wanted) if names.get(code)]
    if not chosen:
        chosen = [code for code in NAME_LANGUAGES if names.get(code)][:1]
    if not chosen:
        return [{"@lang": lang, "#text": unit}]
    return [{"@lang": code, "#text": names[code]} for code in chosen]


def _alert_document(cw: CaseWork, tip: dict[str, Any], case_reference: str,
                    body: Escalation, principal: Principal) -> dict[str, Any]:
    location = tip["location"] or {}
    place: dict[str, Any] = {"country": location.get("country") or tip["foreign_country"]}
    for key in ("province", "district"):
        if location.get(key):
            place[key] = location[key]
    if location.get("details"):
        place["details"] = [{"@lang": ALERT_LANG, "#text": location["details"]}]
    persons = []
    for index, person in enumerate(tip["persons"], start=1):
        entry: dict[str, Any] = {"@person-id": f"A{index}"}
        if person.get("name_latin"):
            entry["name"] = {k: v for k, v in (("native", person.get("name_native")),
                                               ("latin", person["name_latin"])) if v}
        entry["sex"] = person["sex"]
        if _birth(person):
            entry["birth"] = _birth(person)
        if person.get("nationality"):
            entry["nationality"] = person["nationality"]
        persons.append(entry)
    relation = tip["reporter_relation"]
    actions = list(body.requested_action)
    now = cw.clock()
    return {
        "case-reference": case_reference, "person": persons, "last-known-location": place,
        "last-seen": _utc_text(body.last_seen or tip["last_seen_at"]),
        "danger": "imminent" if tip["danger"] == "imminent" else "not-imminent",
        "situation": [{"@lang": ALERT_LANG, "#text": body.situation or tip["narrative"]}],
        "reporter-relation": relation, "requested-action": actions,
        "contact": {"unit": {"@node": cw.node.node_id,
                             "name": contact_unit_names(cw, principal.unit, ALERT_LANG,
                                                        body.alert_to)},
                    "duty-phone": body.duty_phone or "",
                    "available-until": (now + timedelta(hours=12)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")}}


async def escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                   body: Escalation) -> dict[str, Any]:
    """Open a case from a classified tip; with ``alert_to``, send an immediate alert to that
    partner in the same transaction (the operator may release it alone)."""
    row = await _load(conn, principal, tip_id)
    if row.classified_at is None:
        raise CaseError("state-conflict", N_("classify the tip before escalating it"))
    if row.case_id is not None:
        raise CaseError("state-conflict", N_("the tip is already case {case_id}"),
                        case_id=row.case_id)
    tip = tip_view(cw, row, cw.clock())
    case_id = await service.create_case(
        conn, cw, principal.actor, kind="hotline", origin="hotline", owner_unit=principal.unit,
        partner=body.alert_to, priority=row.urgency or "urgent",
        summary=tip["narrative"])
    for index, person in enumerate(tip["persons"], start=1):
        await service.upsert_person(conn, cw, case_id, PersonFacts(
            person_ref=f"A{index}", role="victim", native=person.get("name_native"),
            latin=person.get("name_latin"), sex=person.get("sex"),
            nationality=person.get("nationality"),
            presumed_child=presumed_child(_birth(person), cw.clock().date()),
            details=person), principal.actor)
    await conn.execute(sa.update(tips).where(tips.c.id == row.id).values(
        status="escalated", case_id=case_id))
    await service.close_tasks(conn, cw, kinds=("child-emergency",), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.escalated", row.reference,
                       {"case": case_id, "alert_to": body.alert_to})
    message_id = None
    if body.alert_to:
        if not tip["foreign_country"]:
            raise CaseError("invalid-request", N_("an alert to a partner needs a tip with a "
                                                  "foreign element (foreign_country)"), "alert_to")
        if not body.duty_phone:
            raise CaseError("invalid-request", N_("duty_phone: the alert must say whom to call"),
                            "duty_phone")
        if not (body.last_seen or tip["last_seen_at"]):
            raise CaseError("invalid-request", N_("last_seen: when was the person last seen? The "
                                                  "alert must say it"), "last_seen")
        _moment(body.last_seen, "last_seen", cw.clock())
        case = await service.load_case(conn, principal, case_id)
        document = _alert_document(cw, tip, case.reference, body, principal)
        draft_id = await drafts.create_draft.within(conn, cw, principal, case_id, NewDraft(
            type="alert", to=body.alert_to, priority="immediate", handling=body.handling,
            lang=ALERT_LANG, document=document))
        sent = await drafts.submit_draft.within(conn, cw, principal, draft_id)
        message_id = sent.message_id
    return {"case_id": case_id, "message_id": message_id}


async def triage_and_escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                              tip_id: int, triage_body: TipTriage | None,
                              escalation: Escalation | None) -> dict[str, Any] | None:
    """The operator's one action: classify the tip (when a classification is given, or it
    has none yet) and, when asked, escalate it into a case with an alert, all in the
    caller's transaction."""
    row = await _load(conn, principal, tip_id)
    if triage_body is not None and (row.classified_at is None or escalation is None):
        await triage(conn, cw, principal, tip_id, triage_body)
    if escalation is None:
        return None
    return await escalate(conn, cw, principal, tip_id, escalation)


async def release_reviews(conn: AsyncConnection, cw: CaseWork, principal: Principal
                          ) -> list[dict[str, Any]]:
    """Alerts of the unit released without a second person, waiting for the chief's review
    (MESSAGES.md: the supervisor is told at once)."""
    rows = await task_repo.release_reviews(conn, principal.unit)
    now = cw.clock()
    return [{"task_id": r.id, "case_id": r.case_id, "reference": r.reference,
             "message_id": r.message_id, "released_at": r.created_at, "due_at": r.due_at,
             "overdue": r.due_at < now} for r in rows]
