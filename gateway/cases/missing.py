"""Missing-person reports: who is looked for, recorded by the hotline, a BLO officer or an
investigator, so that a person found later can be matched against them (issue 25).

A report is a search notice for the whole node: every role that takes people in may list the
open reports and read one, and every read is audited as a read of special data (a missing
person is often a child). What names anyone is sealed at rest: the person (one JSON document in
the local API's PERSON shape, which matching reads whole), where they were last seen, what is
known, the photo; the reporter's identity is sealed apart and shown only to a supervisor of the
recording unit, with a reason, as for tips. A report is ``open``, then ``linked`` to a case
(when matching confirms the same person) or ``closed`` with a reason by the recording unit.

Each public function decorated :func:`writes` or :func:`reads` is one use case (a door).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final, get_args

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import match_index, service
from gateway.cases.commands import Relation
from gateway.cases.missing_commands import CloseReport, MissingPerson, NewMissingPerson
from gateway.cases.missing_views import (
    MissingLine,
    MissingPhoto,
    MissingRecorded,
    MissingReport,
    missing_line,
    missing_report,
)
from gateway.cases.people import presumed_child
from gateway.cases.work import CaseError, CaseWork
from gateway.matching.person import Person
from gateway.protocol.errors import N_
from gateway.store import missing_persons as repo
from gateway.store.transactions import reads, writes

STATES: Final = ("open", "linked", "closed")
RELATIONS: Final[tuple[str, ...]] = get_args(Relation)
#: What the audit log calls a report where it names the kind of special data read.
KIND: Final = "missing-person"
PHOTO_KIND: Final = "missing-person-photo"
_CLOCK_SLACK: Final = timedelta(minutes=5)


def birth_facts(person: MissingPerson | dict[str, Any]) -> dict[str, object]:
    """A PERSON's age as the documents' ``birth`` element carries it (for the child rule)."""
    values = person.model_dump() if isinstance(person, MissingPerson) else person
    found: dict[str, object] = {}
    if values.get("birth"):
        found["date"] = values["birth"]
    if values.get("estimated_age") is not None:
        found["estimated-age"] = values["estimated_age"]
    return found


def _check_times(body: NewMissingPerson, now: datetime) -> None:
    """Nothing about the person lies in the future: their birth, when they were last seen."""
    birth = body.person.birth
    if birth is not None and birth > now.date().isoformat()[:len(birth)]:
        raise CaseError("invalid-request", N_("person.birth: a birth in the future"),
                        "person.birth")
    seen = body.last_seen.time if body.last_seen else None
    if seen is not None and seen > now + _CLOCK_SLACK:
        raise CaseError("invalid-request", N_("last_seen.time: not in the future"),
                        "last_seen.time")


@writes
async def record(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                 body: NewMissingPerson) -> MissingRecorded:
    """Record a missing-person report in the principal's unit; it is open at once."""
    now = cw.clock()
    _check_times(body, now)
    person = body.person.model_dump(mode="json")
    child = presumed_child(birth_facts(person), now.date())
    seal = cw.sealer.seal_text
    seen = body.last_seen
    place = json.dumps(seen.place.model_dump(exclude_none=True), ensure_ascii=False) if (
        seen and seen.place) else None
    reference = await service.new_reference(
        conn, f"{service.reference_prefix(principal.unit, now)}-MP")
    report_id = await repo.insert_report(
        conn, reference=reference, unit=principal.unit, recorded_by=principal.actor,
        created_at=now, state="open",
        person_sealed=seal(json.dumps(person, ensure_ascii=False), repo.PERSON_COLUMN),
        sex=body.person.sex, nationality=body.person.nationality, presumed_child=child,
        reporter_relation=body.reporter_relation,
        last_seen_at=seen.time if seen else None,
        last_seen_sealed=seal(place, repo.LAST_SEEN_COLUMN),
        narrative_sealed=seal(body.narrative, repo.NARRATIVE_COLUMN),
        photo_type=body.photo.media_type if body.photo else None,
        photo_sealed=cw.sealer.seal(body.photo.image(), repo.PHOTO_COLUMN) if (
            body.photo) else None)
    await match_index.index_report(conn, cw.sealer, report_id, Person.from_json(person),
                                   now.date())
    await match_index.enqueue(conn, match_index.MISSING, report_id, now)
    if body.reporter is not None:
        identity = seal(json.dumps(body.reporter.model_dump(exclude_none=True),
                                   ensure_ascii=False), repo.REPORTER_COLUMN)
        assert identity is not None
        await repo.insert_reporter(conn, report_id, identity)
    await audit.append(conn, cw.clock, principal.actor, "missing.recorded", reference,
                       {"child": child})
    return MissingRecorded(id=report_id, reference=reference)


async def _load(conn: AsyncConnection, report_id: int) -> Any:
    row = await repo.report_row(conn, report_id)
    if row is None:
        raise CaseError("not-found", N_("no missing-person report {report_id}"),
                        report_id=report_id)
    return row


def _answers_for(principal: Principal, row: Any) -> bool:
    """Whether the principal answers for the report: its unit, C02's investigators (who see
    every unit's work) and the node's own automation."""
    return principal.unit == row.unit or sees_all_cases(principal.role) or (
        principal.role == "machine")


@reads
async def list_reports(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       state: str | None) -> list[MissingLine]:
    """The node's reports (of ``state`` when given), newest first, without what names anyone."""
    if state is not None and state not in STATES:
        raise CaseError("invalid-request", N_("state: one of {expected}"), "state",
                        expected=", ".join(STATES))
    now = cw.clock()
    return [missing_line(r, now, principal.unit) for r in await repo.reports(conn, state)]


@reads
async def open_count(conn: AsyncConnection, cw: CaseWork, principal: Principal) -> int:
    """How many reports are open on the node (a home page's card)."""
    del cw, principal  # the same count for every reader who may list the reports
    return await repo.count_open(conn)


@writes
async def read_report(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                      report_id: int) -> MissingReport:
    """One report, opened: audited as a read of special data."""
    row = await _load(conn, report_id)
    await audit.append(conn, cw.clock, principal.actor, "special.read", row.reference,
                       {"kind": KIND})
    report = missing_report(cw.sealer, row, cw.clock(), principal.unit)
    if row.case_id is None or not allowed(principal.role, "cases.read"):
        return report
    try:  # the linked case, named and linked only for a reader who may open it
        case = await service.load_case(conn, principal, int(row.case_id))
    except CaseError:
        return report
    return report.model_copy(update={"case_reference": str(case.reference)})


@writes
async def photo(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                report_id: int) -> MissingPhoto:
    """A report's photo: audited as a read of special data of its own."""
    row = await _load(conn, report_id)
    if row.photo_sealed is None:
        raise CaseError("not-found", N_("report {reference} has no photo"),
                        reference=row.reference)
    await audit.append(conn, cw.clock, principal.actor, "special.read", row.reference,
                       {"kind": PHOTO_KIND})
    return MissingPhoto(row.reference, row.photo_type,
                        cw.sealer.open(bytes(row.photo_sealed), repo.PHOTO_COLUMN))


@writes
async def close(conn: AsyncConnection, cw: CaseWork, principal: Principal, report_id: int,
                command: CloseReport) -> MissingLine:
    """Close an open (or linked) report with a reason: the recording unit's decision (or
    C02's); a closed report leaves the open list and is never matched again."""
    row = await _load(conn, report_id)
    if not _answers_for(principal, row):
        raise CaseError("forbidden", N_("only the unit that recorded report {reference} may "
                                        "close it"), reference=row.reference)
    if row.state == "closed":
        raise CaseError("state-conflict", N_("report {reference} is closed already"),
                        reference=row.reference)
    if command.reason == "other" and command.note is None:
        raise CaseError("invalid-request", N_("note: say why the report is closed"), "note")
    now = cw.clock()
    changed = await repo.update_report(
        conn, row.id, row.state, state="closed", closed_at=now, closed_by=principal.actor,
        close_reason=command.reason,
        close_note_sealed=cw.sealer.seal_text(command.note, repo.CLOSE_NOTE_COLUMN))
    if not changed:
        raise CaseError("state-conflict", N_("report {reference} was changed meanwhile; "
                                             "look again"), reference=row.reference)
    await match_index.unindex(conn, match_index.MISSING, row.id)
    await audit.append(conn, cw.clock, principal.actor, "missing.closed", row.reference,
                       {"reason": command.reason})
    return missing_line(await _load(conn, row.id), now, principal.unit)


@writes
async def reporter_of(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                      report_id: int, reason: str) -> dict[str, str] | None:
    """Who reported the person missing: a supervisor of the recording unit, with a reason;
    audited."""
    if not 3 <= len(reason.strip()) <= 500:
        raise CaseError("invalid-request", N_("reading a reporter's identity needs a reason"),
                        "reason")
    row = await _load(conn, report_id)
    if row.unit != principal.unit:
        raise CaseError("forbidden", N_("only the unit that recorded report {reference} may "
                                        "read who reported it"), reference=row.reference)
    sealed = await repo.reporter_sealed(conn, row.id)
    await audit.append(conn, cw.clock, principal.actor, "missing.reporter-read", row.reference,
                       {"reason": reason.strip()})
    text = cw.sealer.open_text(sealed, repo.REPORTER_COLUMN)
    if not text:
        return None
    identity: dict[str, str] = json.loads(text)
    return identity

