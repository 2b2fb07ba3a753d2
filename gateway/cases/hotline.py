"""Hotline tips: intake, triage, escalation into a case and an alert (MESSAGES.md, hotline).

A tip starts two clocks: every tip classified within 24 hours, and emergency action within
12 hours for a child at imminent risk. The reporter's identity is sealed in its own table and
shown only to supervisors, with a reason, audited. Escalation opens a case and, where the tip
has a foreign element, sends an immediate ``alert`` to the partner in the same transaction.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import deadlines, drafts, service
from gateway.cases.people import PersonFacts, presumed_child
from gateway.cases.work import CaseError, CaseWork
from gateway.store.case_tables import cases, tasks, tip_reporters, tips

CHANNELS: Final = ("phone", "sms", "chat", "email", "web", "walk-in", "other")
RELATIONS: Final = ("self", "parent", "relative", "friend", "neighbour", "teacher", "employer",
                    "official", "ngo-worker", "anonymous", "other")
DANGER: Final = ("imminent", "not-imminent", "unknown")
CLASSIFICATIONS: Final = ("trafficking", "smuggling", "labour-dispute", "other", "duplicate")
URGENCIES: Final = ("immediate", "urgent", "routine")


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise CaseError("invalid-request", f"{name} must be one of {', '.join(allowed)}", name)
    return str(value)


def _tip_persons(body: dict[str, Any]) -> list[dict[str, Any]]:
    people = body.get("persons") or []
    if not isinstance(people, list) or len(people) > 10:
        raise CaseError("invalid-request", "persons: a list of at most 10", "persons")
    for index, person in enumerate(people, start=1):
        if not isinstance(person, dict) or person.get("sex") not in ("female", "male",
                                                                      "other", "unknown"):
            raise CaseError("invalid-request", f"persons[{index}].sex: female, male, other or "
                            "unknown", f"persons[{index}].sex")
        age = person.get("estimated_age")
        if age is not None and (not isinstance(age, int) or not 0 <= age <= 120):
            raise CaseError("invalid-request", f"persons[{index}].estimated_age: 0 to 120",
                            f"persons[{index}].estimated_age")
    return people


async def record_tip(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     body: dict[str, Any]) -> dict[str, Any]:
    """Record a tip and start its clocks."""
    channel = _choice(body, "channel", CHANNELS)
    relation = _choice(body, "reporter_relation", RELATIONS)
    danger = _choice(body, "danger", DANGER)
    narrative = str(body.get("narrative") or "").strip()
    if not narrative:
        raise CaseError("invalid-request", "narrative: what happened is required", "narrative")
    foreign = body.get("foreign_country")
    if foreign is not None and (not isinstance(foreign, str)
                                or not re.fullmatch(r"[A-Z]{2}", foreign)):
        raise CaseError("invalid-request", "foreign_country: an ISO 3166 code such as KH",
                        "foreign_country")
    people = _tip_persons(body)
    now = cw.clock()
    received = _moment(body, "received_at", now) or now
    last_seen = _moment(body, "last_seen_at", now)
    child = bool(body.get("child_involved")) or any(
        presumed_child(_birth(p), now.date()) for p in people)
    reference = await service.new_reference(conn, service.reference_prefix(principal.unit, now))
    seal = cw.sealer.seal_text
    result = await conn.execute(sa.insert(tips).values(
        reference=reference, unit=principal.unit, operator=principal.actor,
        received_at=received, last_seen_at=last_seen, channel=channel,
        reporter_relation=relation,
        narrative_sealed=seal(narrative, "tips.narrative"),
        location_sealed=seal(json.dumps(body.get("location") or {}, ensure_ascii=False),
                             "tips.location"),
        persons_sealed=seal(json.dumps(people, ensure_ascii=False), "tips.persons"),
        foreign_country=foreign, child_involved=child, danger=danger,
        indicators=",".join(str(i) for i in body.get("indicators") or [])[:400],
        status="new").returning(tips.c.id))
    tip_id = int(result.scalar_one())
    identity = body.get("reporter_identity")
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


def _moment(body: dict[str, Any], name: str, now: datetime) -> datetime | None:
    """An optional time of the tip (ISO 8601 with its zone, not in the future)."""
    value = body.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CaseError("invalid-request", f"{name}: an ISO 8601 time", name) from exc
    if not isinstance(value, datetime) or value.tzinfo is None \
            or value > now + timedelta(minutes=5):
        raise CaseError("invalid-request", f"{name}: a time with its zone, not in the future",
                        name)
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
        raise CaseError("not-found", f"no tip {tip_id}")
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
        raise CaseError("invalid-request", "reading a reporter's identity needs a reason",
                        "reason")
    row = await _load(conn, principal, tip_id)
    sealed = (await conn.execute(sa.select(tip_reporters.c.identity_sealed).where(
        tip_reporters.c.tip_id == row.id))).scalar()
    await audit.append(conn, cw.clock, principal.actor, "tip.reporter-read", row.reference,
                       {"reason": reason.strip()})
    text = cw.sealer.open_text(sealed, "tip_reporters.identity")
    return json.loads(text) if text else None


async def triage(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                 body: dict[str, Any]) -> None:
    """Classify a tip and set its urgency (stops the 24-hour clock)."""
    row = await _load(conn, principal, tip_id)
    classification = _choice(body, "classification", CLASSIFICATIONS)
    urgency = _choice(body, "urgency", URGENCIES)
    duplicate_of = body.get("duplicate_of")
    if classification == "duplicate":
        if not isinstance(duplicate_of, int) or duplicate_of == row.id:
            raise CaseError("invalid-request", "duplicate_of: the id of the tip this one "
                            "repeats", "duplicate_of")
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
        raise CaseError("state-conflict", "classify the tip before resolving it")
    await conn.execute(sa.update(tips).where(tips.c.id == row.id).values(
        status="resolved", resolved_at=cw.clock()))
    await service.close_tasks(conn, cw, kinds=("child-emergency", "first-check"), tip_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "tip.resolved", row.reference, {})


def _utc_text(value: str | datetime) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        value.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alert_document(cw: CaseWork, tip: dict[str, Any], case_reference: str,
                    body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    location = tip["location"] or {}
    place: dict[str, Any] = {"country": location.get("country") or tip["foreign_country"]}
    for key in ("province", "district"):
        if location.get(key):
            place[key] = location[key]
    if location.get("details"):
        place["details"] = [{"@lang": "vi", "#text": location["details"]}]
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
    actions = body.get("requested_action") or ["locate", "rescue"]
    now = cw.clock()
    return {
        "case-reference": case_reference, "person": persons, "last-known-location": place,
        "last-seen": _utc_text(body.get("last_seen") or tip["last_seen_at"]),
        "danger": "imminent" if tip["danger"] == "imminent" else "not-imminent",
        "situation": [{"@lang": body.get("lang", "vi"),
                       "#text": body.get("situation") or tip["narrative"]}],
        "reporter-relation": relation, "requested-action": actions,
        "contact": {"unit": {"@node": cw.node.node_id,
                             "name": [{"@lang": "vi", "#text": principal.unit}]},
                    "duty-phone": str(body.get("duty_phone") or ""),
                    "available-until": (now + timedelta(hours=12)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")}}


async def escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal, tip_id: int,
                   body: dict[str, Any]) -> dict[str, Any]:
    """Open a case from a classified tip; with ``alert_to``, send an immediate alert to that
    partner in the same transaction (the operator may release it alone)."""
    row = await _load(conn, principal, tip_id)
    if row.classified_at is None:
        raise CaseError("state-conflict", "classify the tip before escalating it")
    if row.case_id is not None:
        raise CaseError("state-conflict", f"the tip is already case {row.case_id}")
    tip = tip_view(cw, row, cw.clock())
    case_id = await service.create_case(
        conn, cw, principal.actor, kind="hotline", origin="hotline", owner_unit=principal.unit,
        partner=body.get("alert_to"), priority=row.urgency or "urgent",
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
                       {"case": case_id, "alert_to": body.get("alert_to")})
    message_id = None
    if body.get("alert_to"):
        if not tip["foreign_country"]:
            raise CaseError("invalid-request", "an alert to a partner needs a tip with a "
                            "foreign element (foreign_country)", "alert_to")
        if not body.get("duty_phone"):
            raise CaseError("invalid-request", "duty_phone: the alert must say whom to call",
                            "duty_phone")
        if not (body.get("last_seen") or tip["last_seen_at"]):
            raise CaseError("invalid-request", "last_seen: when was the person last seen? "
                            "The alert must say it", "last_seen")
        if body.get("last_seen"):
            _moment(body, "last_seen", cw.clock())
        case = await service.load_case(conn, principal, case_id)
        document = _alert_document(cw, tip, case.reference, body, principal)
        draft_id = await drafts.create_draft(conn, cw, principal, case_id, {
            "type": "alert", "to": body["alert_to"], "priority": "immediate",
            "handling": body.get("handling") or "H1", "lang": "vi", "document": document})
        sent = await drafts.submit_draft(conn, cw, principal, draft_id)
        message_id = sent["message_id"]
    return {"case_id": case_id, "message_id": message_id}


async def triage_and_escalate(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                              tip_id: int, triage_body: dict[str, Any] | None,
                              escalation: dict[str, Any] | None) -> dict[str, Any] | None:
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
    rows = await conn.execute(
        sa.select(tasks.c.id, tasks.c.case_id, tasks.c.message_id, tasks.c.due_at,
                  tasks.c.created_at, cases.c.reference)
        .join(cases, cases.c.id == tasks.c.case_id)
        .where(tasks.c.kind == "review-immediate-release", tasks.c.done_at.is_(None),
               tasks.c.owner_unit == principal.unit)
        .order_by(tasks.c.due_at))
    now = cw.clock()
    return [{"task_id": r.id, "case_id": r.case_id, "reference": r.reference,
             "message_id": r.message_id, "released_at": r.created_at, "due_at": r.due_at,
             "overdue": r.due_at < now} for r in rows]
