"""The read side of case work: a case with its story, lists, overdue items, C02's view of joint
investigations, and search. Reading a case is audited; reading a victim's special data needs
a reason, which is audited with it (MESSAGES.md, handling rules).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import lifecycle
from gateway.cases.people import query_terms
from gateway.cases.service import facts_of, load_case, unit_seen
from gateway.cases.view_types import (
    CaseDetailView,
    CaseMessageView,
    CaseSummaryView,
    FoundView,
    InvestigationView,
    MessageDocumentView,
    OverdueTaskView,
    PersonDetailView,
    PersonView,
    SettledView,
    TaskView,
)
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.convert import redact
from gateway.protocol.encoding import JsonObject
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.protocol.errors import N_, from_record
from gateway.store import case_messages
from gateway.store import cases as repo
from gateway.store import drafts as draft_repo
from gateway.store import match_suggestions as suggestion_repo
from gateway.store import missing_persons as missing_repo
from gateway.store import persons as person_repo
from gateway.store import tasks as task_repo
from gateway.store.case_messages import message_of_case
from gateway.store.cases import CaseFilters
from gateway.store.messages import RAW_COLUMN
from gateway.store.transactions import reads, writes

SEARCH_LIMIT: Final = 50
#: How far the search counts a term's rows to choose the rarest one to start from.
_COUNT_CAP: Final = 2000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _person(cw: CaseWork, row: Any) -> PersonView:
    return {"id": row.id, "person_ref": row.person_ref, "role": row.role,
            "name_native": cw.sealer.open_text(row.name_native_sealed, "persons.name_native"),
            "name_latin": cw.sealer.open_text(row.name_latin_sealed, "persons.name_latin"),
            "sex": row.sex, "nationality": row.nationality,
            "presumed_child": bool(row.presumed_child),
            "identity_status": row.identity_status, "purged": row.purged_at is not None}


def _task(row: Any, now: datetime) -> TaskView:
    return {"id": row.id, "case_id": row.case_id, "tip_id": row.tip_id, "kind": row.kind,
            "title": row.title, "owner_unit": row.owner_unit, "owner_user": row.owner_user,
            "partner": row.partner, "message_id": row.message_id, "due_at": _iso(row.due_at),
            "done_at": _iso(row.done_at), "done_by": row.done_by,
            "overdue": row.done_at is None and row.due_at < now,
            "detail": _detail(getattr(row, "detail", None))}


def _detail(text: str | None) -> JsonObject | None:
    """What a document said that could not move its case (codes), with the refusal as a
    message the console speaks in the reader's language."""
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    refusal = from_record(found.get("refusal"))
    return {**found, "refusal": refusal.message() if refusal else None}


def _settled(cw: CaseWork, row: Any) -> SettledView:
    """What the exchanged documents put on the case (MESSAGES.md, "Both sides keep one
    case")."""
    refusal = cw.sealer.open_text(row.refusal_sealed, "cases.refusal")
    referral = cw.sealer.open_text(row.referral_sealed, "cases.referral")
    return {
        "partner_reference": row.partner_reference,
        "return": ({"date": row.return_date.isoformat() if row.return_date else None,
                    "gate": row.return_gate} if row.return_date or row.return_gate else None),
        "refusal": json.loads(refusal) if refusal else None,
        "closure": ({"outcome": row.closure_outcome, "reason": row.closure_reason}
                    if row.closure_outcome or row.closure_reason else None),
        "referral": ({**json.loads(referral), "by": row.referred_by,
                      "at": _iso(row.referred_at)} if referral else None),
    }


async def timeline(conn: AsyncConnection, case_id: int) -> list[CaseMessageView]:
    """The messages of a case's conversations, oldest first, with delivery state and receipt."""
    rows = await case_messages.timeline_rows(conn, case_id)
    return [{"id": r.message_id, "direction": r.direction, "from": r.sender,
             "to": r.recipient, "type": r.doc_type, "state": r.state, "created": r.created,
             "priority": r.priority, "handling": r.handling, "ref": r.ref,
             "conversation": r.conversation, "receipt": r.receipt_received}
            for r in rows]


@writes
async def case_detail(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                      case_id: int) -> CaseDetailView:
    """A case with its persons (no special data), tasks, notes, story and messages."""
    row = await load_case(conn, principal, case_id)
    now = cw.clock()
    facts = await facts_of(conn, row)
    people = await person_repo.persons_of(conn, [row.id])
    task_rows = await task_repo.tasks_of(conn, row.id)
    note_rows = await repo.notes_of(conn, row.id)
    events = await repo.events_of(conn, row.id)
    draft_rows = await draft_repo.drafts_of(conn, row.id)
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
        "home_side": facts.home_side,
        **_settled(cw, row),
        "referral_suggested": await _receiving_agency(conn, cw, row)
        if row.state == "handed-over" and facts.home_side else None,
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
        "linked_reports": [{"id": int(r.id), "reference": str(r.reference)}
                           for r in await missing_repo.linked_to(conn, row.id)],
        "suggestions_waiting": await suggestion_repo.waiting_count(conn, row.id),
    }


@writes
async def person_detail(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        case_id: int, person_id: int, reason: str) -> PersonDetailView:
    """A person with everything the documents said (special data): needs a reason; audited."""
    if len(reason.strip()) < 3:
        raise CaseError("invalid-request", N_("reading a person's special data needs a reason"),
                        "reason")
    row = await load_case(conn, principal, case_id)
    person = await person_repo.person_row(conn, row.id, person_id)
    if person is None:
        raise CaseError("not-found", N_("no person {person_id} in case {case_id}"),
                        person_id=person_id, case_id=case_id)
    details = cw.sealer.open_text(person.details_sealed, "persons.details")
    await audit.append(conn, cw.clock, principal.actor, "special.read", row.reference,
                       {"person": person.id, "role": person.role, "reason": reason.strip()})
    return {**_person(cw, person), "details": json.loads(details) if details else None,
            "retention_until": person.retention_until.isoformat()
            if person.retention_until else None}


@reads
async def list_cases(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     filters: CaseFilters) -> list[CaseSummaryView]:
    """Cases the principal may see, newest change first, with their open and overdue tasks."""
    now = cw.clock()
    rows = await repo.list_cases(conn, unit_seen(principal), now, filters,
                                 int(filters.get("limit") or 200))
    return [{"id": r.id, "reference": r.reference, "kind": r.kind, "origin": r.origin,
             "state": r.state, "partner": r.partner, "priority": r.priority,
             "owner_unit": r.owner_unit, "presumed_child": bool(r.presumed_child),
             "updated_at": _iso(r.updated_at), "overdue": int(r.overdue)} for r in rows]


@dataclass(frozen=True)
class CaseList:
    """The console's case list: the cases found, and the units whose cases the principal
    may see (a filter of the list)."""

    cases: list[CaseSummaryView]
    units: list[str]


@reads
async def case_list(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    filters: CaseFilters) -> CaseList:
    """The cases of :func:`list_cases` with the units the list may be filtered by."""
    return CaseList(await list_cases.within(conn, cw, principal, filters),
                    await repo.owner_units(conn, unit_seen(principal)))


@reads
async def overdue_items(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        scope: str) -> list[OverdueTaskView]:
    """Open tasks past their due time: the unit's, or (C02) every unit's."""
    if scope == "all" and not sees_all_cases(principal.role):
        raise CaseError("forbidden", N_("only C02's investigators see every unit's overdue items"),
                        "scope")
    now = cw.clock()
    rows = await task_repo.overdue_tasks(conn, now, None if scope == "all" else principal.unit)
    return [{**_task(r, now), "case_reference": r.reference, "case_kind": r.kind,
             "hours_overdue": round((now - r.due_at).total_seconds() / 3600, 1)}
            for r in rows]


@reads
async def investigations(conn: AsyncConnection, cw: CaseWork,
                         principal: Principal) -> list[InvestigationView]:
    """C02's view: every joint investigation with its partners, requests and suspects."""
    now = cw.clock()
    out: list[InvestigationView] = []
    for row in await repo.investigations_of(conn, unit_seen(principal)):
        partners = await case_messages.partners_of(conn, row.id)
        sent, received, last = await case_messages.exchange_counts(conn, row.id)
        open_tasks = await task_repo.tasks_of(conn, row.id, open_only=True)
        suspects = await person_repo.suspects_of(conn, row.id)
        out.append({
            "id": row.id, "reference": row.reference, "state": row.state,
            "owner_unit": row.owner_unit,
            "partners": sorted(partners | ({row.partner} - {None})),
            "messages_sent": sent, "answers_received": received, "last_exchange": last,
            "open_requests": sum(1 for t in open_tasks if t.kind == "await-answer"),
            "overdue_tasks": sum(1 for t in open_tasks if t.due_at < now),
            "suspects": [{"id": s.id, "person_ref": s.person_ref} for s in suspects]})
    return out


async def _matching_cases(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                          query: str) -> list[int]:
    groups = [[cw.sealer.index_term(t) for t in sorted(options)]
              for options in query_terms(query)]
    if not groups:
        raise CaseError("invalid-request", N_("the search needs a name, an identifier, a phone "
                                              "number or a case reference"), "q")
    return await repo.matching_case_ids(conn, groups, unit_seen(principal), SEARCH_LIMIT,
                                        _COUNT_CAP)


@writes
async def search(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                 query: str) -> list[FoundView]:
    """Cases and persons matching every word of ``query`` (names in any script, accents
    ignored; identifiers; phone numbers; case references)."""
    ids = await _matching_cases(conn, cw, principal, query)
    if not ids:  # a search that finds nothing is a search of personal data all the same
        await audit.append(conn, cw.clock, principal.actor, "search", None, {"results": 0})
        return []
    rows = await repo.cases_of(conn, ids)
    people = await person_repo.persons_of(conn, ids)
    by_case: dict[int, list[PersonView]] = {}
    for person in people:
        by_case.setdefault(person.case_id, []).append(_person(cw, person))
    await audit.append(conn, cw.clock, principal.actor, "search", None, {"results": len(rows)})
    return [{"id": r.id, "reference": r.reference, "kind": r.kind, "state": r.state,
             "partner": r.partner, "owner_unit": r.owner_unit,
             "persons": by_case.get(r.id, [])} for r in rows]


async def _receiving_agency(conn: AsyncConnection, cw: CaseWork, row: Any) -> str | None:
    """Where the handover record said the person goes on to (its receiving agency), for the
    referral the home side records next."""
    handovers = await case_messages.received_of_type(conn, row.id, "handover-record", None)
    for message in handovers[:1]:
        envelope = parse_envelope(parse_body(cw.sealer.open(bytes(message.raw), RAW_COLUMN)))
        data = cw.forms.read(message.doc_type, message.doc_version, envelope.document,
                             validate=False)
        agency = data.get("receiving-agency") if isinstance(data, dict) else None
        names = agency.get("name") if isinstance(agency, dict) else None
        for name in names if isinstance(names, list) else []:
            if isinstance(name, dict) and name.get("#text"):
                return str(name["#text"])
    return None


async def confirmed_answers(conn: AsyncConnection, cw: CaseWork, case_id: int) -> list[str]:
    """The verification answers the case received that confirmed an identity, newest first:
    what a repatriation request may cite as the verification a return relies on."""
    found = []
    for row in await case_messages.received_of_type(conn, case_id, "verification-response"):
        envelope = parse_envelope(parse_body(cw.sealer.open(bytes(row.raw), RAW_COLUMN)))
        data = cw.forms.read(row.doc_type, row.doc_version, envelope.document, validate=False)
        if isinstance(data, dict) and data.get("result") == "confirmed":
            found.append(str(row.message_id))
    return found


@writes
async def message_document(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                           case_id: int, message_id: str, reason: str | None
                           ) -> MessageDocumentView:
    """A message of a case with its document as JSON. ``special`` fields are redacted unless
    a reason is given by a role that may read them; either way the read is audited."""
    row = await load_case(conn, principal, case_id)
    message = await message_of_case(conn, row.id, message_id)
    if message is None:
        raise CaseError("not-found", N_("no message {message_id} in case {case_id}"),
                        message_id=message_id, case_id=case_id)
    show = reason is not None
    if reason is not None and (not allowed(principal.role, "special.read")
                               or len(reason.strip()) < 3):
        raise CaseError("forbidden", N_("special data needs a role that may read it and a reason"),
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
