"""A new document on a case, as the officer meets it: filled in from what the case, the
directory and the user know (:mod:`gateway.cases.prefill`), with the choices its pickers
offer in words (the case's persons, the received messages an answer refers to, the
partner's case reference) and the message's own defaults (recipient, priority, what it
answers). One read of the case; using the persons' details to fill a document is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import deadlines, release_rules, views
from gateway.cases.effects import ANSWERS
from gateway.cases.people import ADULT_AGE
from gateway.cases.prefill import Known, KnownPerson, UnitNames, prefill
from gateway.cases.view_types import CaseDetailView, CaseMessageView
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.encoding import JsonObject
from gateway.protocol.errors import Message
from gateway.store import cases as repo
from gateway.store import persons as person_repo
from gateway.store.transactions import writes


@dataclass(frozen=True)
class PersonChoice:
    """A person of the case as a picker offers them: never by their internal id alone."""

    person_ref: str
    role: str
    native: str | None
    latin: str | None
    age: int | None
    presumed_child: bool


@dataclass(frozen=True)
class NewDocument:
    """What the compose page shows for a new document of a case."""

    case: CaseDetailView
    document: JsonObject
    persons: tuple[PersonChoice, ...]
    received: tuple[CaseMessageView, ...]  # messages of the case from partners, newest first
    confirmations: tuple[CaseMessageView, ...]  # of those, the answers that confirmed
    to: str | None
    priority: str
    ref: str | None  # the received message this document answers, if any
    blocked: Message | None = None  # why it cannot be sent now, said before it is filled in


def answered_message(case: CaseDetailView, doc_type: str) -> CaseMessageView | None:
    """The newest received message of the case that a document of ``doc_type`` answers."""
    wanted = [q for q, a in ANSWERS.items() if a == doc_type]
    received = [m for m in case["messages"] if m["direction"] == "in" and m["type"] in wanted]
    return received[-1] if received else None


def birth_of(details: JsonObject) -> JsonObject | None:
    """A person's birth as the schemas write it, from what the case holds: a document's own
    ``birth``, or the year or age an officer entered by hand."""
    birth = details.get("birth")
    if isinstance(birth, dict) and birth:
        return birth
    out: JsonObject = {}
    estimated_age, birth_year = details.get("estimated_age"), details.get("birth_year")
    if isinstance(estimated_age, int):
        out["estimated-age"] = estimated_age
    elif isinstance(birth_year, int):
        out["date"] = str(birth_year)
    if out and details.get("age_uncertain"):
        out["@age-uncertain"] = True
    return out or None


def age_of(birth: JsonObject | None, today: date) -> int | None:
    """The age a birth gives (estimated, or from its year), for a picker's label."""
    if not birth:
        return None
    estimated_age = birth.get("estimated-age")
    if isinstance(estimated_age, int):
        return int(estimated_age)
    born = str(birth.get("date") or "")
    return today.year - int(born[:4]) if born[:4].isdigit() else None


@writes
async def new_document(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       case_id: int, doc_type: str, person: str | None = None, *,
                       fill: bool = True) -> NewDocument:
    """The case (read as the case page reads it) and a new ``doc_type`` filled in from it
    (``fill=False``: only the pickers, for a draft that comes back); ``person`` picks whom
    the document is about where the case holds several."""
    case = await views.case_detail.within(conn, cw, principal, case_id)
    rows = await person_repo.persons_of(conn, [case_id])
    today = cw.clock().date()
    known_persons, choices = [], []
    for row in rows:
        if row.purged_at is not None:
            continue
        opened = cw.sealer.open_text(row.details_sealed, "persons.details")
        details = json.loads(opened) if opened else {}
        birth = birth_of(details if isinstance(details, dict) else {})
        native = cw.sealer.open_text(row.name_native_sealed, "persons.name_native")
        latin = cw.sealer.open_text(row.name_latin_sealed, "persons.name_latin")
        known_persons.append(KnownPerson(row.person_ref, row.role, native, latin, row.sex,
                                         row.nationality, birth))
        age = age_of(birth, today)
        choices.append(PersonChoice(row.person_ref, row.role, native, latin, age,
                                    bool(row.presumed_child) or (age is not None
                                                                 and age < ADULT_AGE)))
    answered = answered_message(case, doc_type)
    partner = answered["from"] if answered else case["partner"]
    received = tuple(reversed([m for m in case["messages"] if m["direction"] == "in"]))
    confirmed = await views.confirmed_answers(conn, cw, case_id)
    confirmations = tuple(m for m in received if m["id"] in confirmed)
    verification = confirmations[0]["id"] if confirmations else None
    known = Known(
        reference=case["reference"], partner_reference=case["partner_reference"],
        home_side=case["home_side"], own=_unit(cw, cw.node.node_id),
        partner=_unit(cw, partner) if partner else None,
        composer=principal.display_name or principal.username,
        persons=tuple(known_persons), chosen=person,
        return_gate=case["return"]["gate"] if case["return"] else None,
        verification=verification,
        answer_due=_answer_due(cw, partner, doc_type, case["priority"]))
    document = prefill(doc_type, cw.forms.model(doc_type), known) if fill else {}
    if known_persons:  # their details (birth, age) were opened for the form
        await audit.append(conn, cw.clock, principal.actor, "persons.prefilled",
                           case["reference"], {"type": doc_type, "persons": len(known_persons)})
    return NewDocument(case, document, tuple(choices), received, confirmations, partner,
                       case["priority"], answered["id"] if answered else None,
                       await _blocked(conn, cw, case_id, doc_type, partner))


async def _blocked(conn: AsyncConnection, cw: CaseWork, case_id: int, doc_type: str,
                   partner: str | None) -> Message | None:
    """Why a document of ``doc_type`` would be refused on this case now, whatever it says
    (a return proposed before the child's best-interests decision, a request while the
    victim objects...): the officer reads it before filling in the form, not after."""
    row = await repo.case_row(conn, case_id)
    try:
        await release_rules.check_rules(conn, cw, row, {"doc_type": doc_type,
                                                        "recipient": partner or "",
                                                        "ref": None})
        await release_rules.check_move(conn, row, doc_type, {})
    except CaseError as exc:
        if exc.field == "to":
            return None  # the recipient is chosen on the form
        return exc.message()
    return None


def _unit(cw: CaseWork, node_id: str) -> UnitNames:
    country = cw.country if node_id == cw.node.node_id else cw.partner_country(node_id)
    return UnitNames(node_id, country, cw.node.names.names(node_id))


def _answer_due(cw: CaseWork, partner: str | None, doc_type: str, priority: str
                ) -> date | None:
    """When the partner should answer a request of ``doc_type`` (the agreed deadline in its
    calendar), for the request's "answer wanted by"."""
    if partner is None or doc_type not in deadlines.ANSWER_WORKING_DAYS:
        return None
    found = cw.node.partners.get(partner)
    due = deadlines.answer_due(
        cw.calendars, cw.partner_country(partner), cw.clock(), doc_type, priority,
        found.file.answer_working_days if found else {},
        found.file.urgent_answer_working_days if found else {})
    return due.date() if due else None
