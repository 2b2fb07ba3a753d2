"""The read side of case work: a case with its story, lists, overdue items, C02's view of joint
investigations, and search. Reading a case is audited; reading a victim's special data needs
a reason, which is audited with it (MESSAGES.md, handling rules).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import lifecycle
from gateway.cases.people import query_terms
from gateway.cases.service import facts_of, load_case, visible
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.convert import redact
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.store.case_tables import (
    case_conversations,
    case_events,
    cases,
    drafts,
    notes,
    persons,
    search_terms,
    tasks,
)
from gateway.store.cases import counterpart, in_case, message_of_case
from gateway.store.messages import RAW_COLUMN
from gateway.store.tables import messages, receipts

SEARCH_LIMIT: Final = 50
#: How far the search counts a term's rows to choose the rarest one to start from.
_COUNT_CAP: Final = 2000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _person(cw: CaseWork, row: Any) -> dict[str, Any]:
    return {"id": row.id, "person_ref": row.person_ref, "role": row.role,
            "name_native": cw.sealer.open_text(row.name_native_sealed, "persons.name_native"),
            "name_latin": cw.sealer.open_text(row.name_latin_sealed, "persons.name_latin"),
            "sex": row.sex, "nationality": row.nationality,
            "presumed_child": bool(row.presumed_child),
            "identity_status": row.identity_status, "purged": row.purged_at is not None}


def _task(row: Any, now: datetime) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "tip_id": row.tip_id, "kind": row.kind,
            "title": row.title, "owner_unit": row.owner_unit, "owner_user": row.owner_user,
            "partner": row.partner, "message_id": row.message_id, "due_at": _iso(row.due_at),
            "done_at": _iso(row.done_at), "done_by": row.done_by,
            "overdue": row.done_at is None and row.due_at < now}


async def timeline(conn: AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    """The messages of a case's conversations, oldest first, with delivery state and receipt."""
    rows = await conn.execute(
        sa.select(messages.c.message_id, messages.c.direction, messages.c.sender,
                  messages.c.recipient, messages.c.doc_type, messages.c.state,
                  messages.c.created, messages.c.priority, messages.c.handling,
                  messages.c.ref, messages.c.delivered_at, messages.c.conversation,
                  receipts.c.received.label("receipt_received"))
        .select_from(messages.outerjoin(receipts, receipts.c.message_pk == messages.c.id))
        .where(in_case(case_id))
        .order_by(messages.c.id))
    return [{"id": r.message_id, "direction": r.direction, "from": r.sender,
             "to": r.recipient, "type": r.doc_type, "state": r.state, "created": r.created,
             "priority": r.priority, "handling": r.handling, "ref": r.ref,
             "conversation": r.conversation, "receipt": r.receipt_received}
            for r in rows]


async def case_detail(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                      case_id: int) -> dict[str, Any]:
    """A case with its persons (no special data), tasks, notes, story and messages."""
    row = await load_case(conn, principal, case_id)
    now = cw.clock()
    facts = await facts_of(conn, row)
    people = await conn.execute(sa.select(persons).where(persons.c.case_id == row.id)
                                .order_by(persons.c.id))
    task_rows = await conn.execute(sa.select(tasks).where(tasks.c.case_id == row.id)
                                   .order_by(tasks.c.due_at))
    note_rows = await conn.execute(sa.select(notes).where(notes.c.case_id == row.id)
                                   .order_by(notes.c.id))
    events = await conn.execute(sa.select(case_events).where(case_events.c.case_id == row.id)
                                .order_by(case_events.c.id))
    draft_rows = await conn.execute(sa.select(
        drafts.c.id, drafts.c.doc_type, drafts.c.recipient, drafts.c.state, drafts.c.author,
        drafts.c.priority, drafts.c.message_id, drafts.c.updated_at, drafts.c.return_reason)
        .where(drafts.c.case_id == row.id).order_by(drafts.c.id))
    await audit.append(conn, cw.clock, principal.actor, "case.read", row.reference, {})
    return {
        "id": row.id, "reference": row.reference, "kind": row.kind, "origin": row.origin,
        "state": row.state, "resume_state": row.resume_state, "owner_unit": row.owner_unit,
        "partner": row.partner, "priority": row.priority,
        "summary": cw.sealer.open_text(row.summary_sealed, "cases.summary"),
        "presumed_child": bool(row.presumed_child),
        "best_interests": ({"by": row.best_interests_by, "at": _iso(row.best_interests_at),
                            "decision": row.best_interests_decision or "return"}
                           if row.best_interests_at else None),
        "blocked": lifecycle.blocked_states(facts),
        "next_states": lifecycle.next_states(facts),
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
        "persons": [_person(cw, p) for p in people],
        "tasks": [_task(t, now) for t in task_rows],
        "notes": [{"id": n.id, "author": n.author, "at": _iso(n.at),
                   "text": cw.sealer.open_text(n.text_sealed, "notes.text")} for n in note_rows],
        "events": [{"at": _iso(e.at), "actor": e.actor, "event": e.event, "from": e.from_state,
                    "to": e.to_state, "message_id": e.message_id} for e in events],
        "drafts": [{"id": d.id, "type": d.doc_type, "to": d.recipient, "state": d.state,
                    "author": d.author, "priority": d.priority, "message_id": d.message_id,
                    "return_reason": d.return_reason if d.state == "returned" else None,
                    "updated_at": _iso(d.updated_at)} for d in draft_rows],
        "messages": await timeline(conn, row.id),
    }


async def person_detail(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        case_id: int, person_id: int, reason: str) -> dict[str, Any]:
    """A person with everything the documents said (special data): needs a reason; audited."""
    if len(reason.strip()) < 3:
        raise CaseError("invalid-request", "reading a person's special data needs a reason",
                        "reason")
    row = await load_case(conn, principal, case_id)
    person = (await conn.execute(sa.select(persons).where(
        persons.c.id == person_id, persons.c.case_id == row.id))).first()
    if person is None:
        raise CaseError("not-found", f"no person {person_id} in case {case_id}")
    details = cw.sealer.open_text(person.details_sealed, "persons.details")
    await audit.append(conn, cw.clock, principal.actor, "special.read", row.reference,
                       {"person": person.id, "role": person.role, "reason": reason.strip()})
    return {**_person(cw, person), "details": json.loads(details) if details else None,
            "retention_until": person.retention_until.isoformat()
            if person.retention_until else None}


async def list_cases(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Cases the principal may see, newest change first, with their open and overdue tasks."""
    now = cw.clock()
    overdue = (sa.select(sa.func.count()).select_from(tasks)
               .where(tasks.c.case_id == cases.c.id, tasks.c.done_at.is_(None),
                      tasks.c.due_at < now).scalar_subquery())
    query = sa.select(cases, overdue.label("overdue")).where(visible(principal))
    for name in ("kind", "state", "partner", "priority"):
        if filters.get(name):
            query = query.where(cases.c[name] == filters[name])
    if filters.get("unit"):
        query = query.where(cases.c.owner_unit == filters["unit"])
    if filters.get("overdue"):
        query = query.where(overdue > 0)
    rows = await conn.execute(query.order_by(cases.c.updated_at.desc(), cases.c.id.desc())
                              .limit(int(filters.get("limit") or 200)))
    return [{"id": r.id, "reference": r.reference, "kind": r.kind, "origin": r.origin,
             "state": r.state, "partner": r.partner, "priority": r.priority,
             "owner_unit": r.owner_unit, "presumed_child": bool(r.presumed_child),
             "updated_at": _iso(r.updated_at), "overdue": int(r.overdue)} for r in rows]


async def overdue_items(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        scope: str) -> list[dict[str, Any]]:
    """Open tasks past their due time: the unit's, or (C02) every unit's."""
    if scope == "all" and not sees_all_cases(principal.role):
        raise CaseError("forbidden", "only C02's investigators see every unit's overdue items",
                        "scope")
    now = cw.clock()
    query = (sa.select(tasks, cases.c.reference, cases.c.kind)
             .select_from(tasks.outerjoin(cases, cases.c.id == tasks.c.case_id))
             .where(tasks.c.done_at.is_(None), tasks.c.due_at < now))
    if scope != "all":
        query = query.where(tasks.c.owner_unit == principal.unit)
    rows = await conn.execute(query.order_by(tasks.c.due_at))
    return [{**_task(r, now), "case_reference": r.reference, "case_kind": r.kind,
             "hours_overdue": round((now - r.due_at).total_seconds() / 3600, 1)}
            for r in rows]


async def investigations(conn: AsyncConnection, cw: CaseWork,
                         principal: Principal) -> list[dict[str, Any]]:
    """C02's view: every joint investigation with its partners, requests and suspects."""
    now = cw.clock()
    rows = (await conn.execute(sa.select(cases).where(
        cases.c.kind == "investigation", visible(principal)).order_by(cases.c.id))).all()
    out = []
    for row in rows:
        partners = (await conn.execute(sa.select(case_conversations.c.partner).distinct()
                                       .where(case_conversations.c.case_id == row.id))).all()
        counts = (await conn.execute(sa.select(
            sa.func.count().filter(messages.c.direction == "out").label("sent"),
            sa.func.count().filter(messages.c.direction == "in").label("received"))
            .where(in_case(row.id)))).one()
        open_tasks = (await conn.execute(sa.select(tasks).where(
            tasks.c.case_id == row.id, tasks.c.done_at.is_(None)))).all()
        suspects = (await conn.execute(sa.select(persons.c.id, persons.c.person_ref).where(
            persons.c.case_id == row.id, persons.c.role == "suspect"))).all()
        out.append({
            "id": row.id, "reference": row.reference, "state": row.state,
            "owner_unit": row.owner_unit,
            "partners": sorted({p.partner for p in partners} | ({row.partner} - {None})),
            "messages_sent": int(counts.sent), "answers_received": int(counts.received),
            "open_requests": sum(1 for t in open_tasks if t.kind == "await-answer"),
            "overdue_tasks": sum(1 for t in open_tasks if t.due_at < now),
            "suspects": [{"id": s.id, "person_ref": s.person_ref} for s in suspects]})
    return out


async def _matching_cases(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                          query: str) -> list[int]:
    groups = [[cw.sealer.index_term(t) for t in sorted(options)]
              for options in query_terms(query)]
    if not groups:
        raise CaseError("invalid-request", "the search needs a name, an identifier, a phone "
                        "number or a case reference", "q")
    sizes = []
    for group in groups:
        capped = sa.select(sa.literal(1)).where(search_terms.c.term.in_(group)).limit(_COUNT_CAP)
        sizes.append((await conn.execute(sa.select(sa.func.count())
                                         .select_from(capped.subquery()))).scalar_one())
    ordered = [g for _, g in sorted(zip(sizes, groups, strict=True), key=lambda p: p[0])]
    driver = search_terms.alias("driver")
    query_ids = (sa.select(driver.c.case_id).distinct()
                 .join(cases, cases.c.id == driver.c.case_id)
                 .where(driver.c.term.in_(ordered[0]), visible(principal)))
    for group in ordered[1:]:
        other = search_terms.alias()
        query_ids = query_ids.where(sa.exists(sa.select(sa.literal(1)).where(
            other.c.case_id == driver.c.case_id, other.c.term.in_(group))))
    rows = await conn.execute(query_ids.limit(SEARCH_LIMIT))
    return [int(r.case_id) for r in rows]


async def search(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                 query: str) -> list[dict[str, Any]]:
    """Cases and persons matching every word of ``query`` (names in any script, accents
    ignored; identifiers; phone numbers; case references)."""
    ids = await _matching_cases(conn, cw, principal, query)
    if not ids:  # a search that finds nothing is a search of personal data all the same
        await audit.append(conn, cw.clock, principal.actor, "search", None, {"results": 0})
        return []
    rows = (await conn.execute(sa.select(cases).where(cases.c.id.in_(ids))
                               .order_by(cases.c.updated_at.desc()))).all()
    people = (await conn.execute(sa.select(persons).where(persons.c.case_id.in_(ids))
                                 .order_by(persons.c.id))).all()
    by_case: dict[int, list[dict[str, Any]]] = {}
    for person in people:
        by_case.setdefault(person.case_id, []).append(_person(cw, person))
    await audit.append(conn, cw.clock, principal.actor, "search", None, {"results": len(rows)})
    return [{"id": r.id, "reference": r.reference, "kind": r.kind, "state": r.state,
             "partner": r.partner, "owner_unit": r.owner_unit,
             "persons": by_case.get(r.id, [])} for r in rows]


async def message_document(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                           case_id: int, message_id: str, reason: str | None
                           ) -> dict[str, Any]:
    """A message of a case with its document as JSON. ``special`` fields are redacted unless
    a reason is given by a role that may read them; either way the read is audited."""
    row = await load_case(conn, principal, case_id)
    message = await message_of_case(conn, row.id, message_id)
    if message is None:
        raise CaseError("not-found", f"no message {message_id} in case {case_id}")
    show = reason is not None
    if reason is not None and (not allowed(principal.role, "special.read")
                               or len(reason.strip()) < 3):
        raise CaseError("forbidden", "special data needs a role that may read it and a reason",
                        "reason")
    envelope = parse_envelope(parse_body(cw.sealer.open(bytes(message.raw), RAW_COLUMN)))
    data = cw.forms.read(message.doc_type, message.doc_version, envelope.document)
    model = cw.forms.model(message.doc_type, message.doc_version)
    await audit.append(conn, cw.clock, principal.actor, "document.read", row.reference,
                       {"message": message_id, "special": show,
                        "reason": reason.strip() if reason else None})
    return {"id": message_id, "direction": message.direction, "from": message.sender,
            "to": message.recipient, "type": message.doc_type, "version": message.doc_version,
            "conversation": message.conversation, "ref": message.ref,
            "created": message.created, "priority": message.priority,
            "handling": message.handling, "state": message.state,
            "special_shown": show, "document": redact(model, data, show_special=show),
            "attachments": [{"name": a.name, "media_type": a.media_type, "size": a.size,
                             "sha256": a.sha256}
                            for a in envelope.header.bx.attachments or []]}


async def investigator_desk(conn: AsyncConnection, cw: CaseWork, principal: Principal
                            ) -> dict[str, Any]:
    """What C02's investigator works from: requests awaiting a partner's answer (per partner,
    oldest first, with their age in days), overdue items, joint investigations (last exchange,
    open tasks) and suspect notices sent and received; each links to its case."""
    now = cw.clock()
    waiting = (await conn.execute(
        sa.select(tasks.c.partner, tasks.c.title, tasks.c.created_at, tasks.c.due_at,
                  cases.c.id.label("case_id"), cases.c.reference)
        .join(cases, cases.c.id == tasks.c.case_id)
        .where(tasks.c.kind == "await-answer", tasks.c.done_at.is_(None), visible(principal))
        .order_by(tasks.c.partner, tasks.c.created_at))).all()
    per_partner: dict[str, list[dict[str, Any]]] = {}
    for w in waiting:
        per_partner.setdefault(w.partner or "", []).append({
            "case_id": w.case_id, "reference": w.reference, "type": w.title,
            "sent_at": w.created_at, "due_at": w.due_at, "age_days": (now - w.created_at).days,
            "overdue": w.due_at < now})
    notices_rows = (await conn.execute(
        sa.select(messages.c.direction, messages.c.sender, messages.c.recipient,
                  messages.c.created, cases.c.id.label("case_id"), cases.c.reference)
        .join(case_conversations, sa.and_(
            case_conversations.c.conversation == messages.c.conversation,
            case_conversations.c.partner == counterpart()))
        .join(cases, cases.c.id == case_conversations.c.case_id)
        .where(messages.c.doc_type == "suspect-notice", visible(principal))
        .order_by(messages.c.id.desc()).limit(100))).all()
    joint = await investigations(conn, cw, principal)
    for item in joint:
        item["last_exchange"] = (await conn.execute(
            sa.select(sa.func.max(messages.c.created)).where(in_case(item["id"])))).scalar()
    return {"waiting": per_partner,
            "overdue": await overdue_items(conn, cw, principal,
                                           "all" if sees_all_cases(principal.role) else "unit"),
            "investigations": joint,
            "suspect_notices": [{"direction": n.direction, "partner": n.recipient
                                 if n.direction == "out" else n.sender, "at": n.created,
                                 "case_id": n.case_id, "reference": n.reference}
                                for n in notices_rows]}
