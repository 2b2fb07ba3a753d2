"""Matching by itself (issue 25): the records queued by the use cases that write them (a
victim added to a case by a partner's verification request, alert or repatriation request,
or by hand; a missing-person report recorded) are matched after their commit, so that the
writing path (attaching a message, issue 23) only adds one queue row.

A queued case person is first (re)indexed (its blind-index keys replaced), then, if a victim,
matched. For each queued record the :class:`Matcher` looks for the other side (a case's victim for a
report, the open reports for a victim), stores each pair above the node's suggesting
threshold as a suggestion (the pair once only: a rejected pair is never suggested again) and
tells the case's unit (a ``match`` notice). An officer then decides (:func:`decide`): the
same person, and the report is linked to the case and leaves the open list (the recording
unit is told); not the same, and the pair stays rejected. Every decision is audited as a read
of special data, with ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import match_index, notices, special
from gateway.cases.matching import KIND, Found, find_for
from gateway.cases.service import load_case
from gateway.cases.special import StoredAttachment
from gateway.cases.work import CaseError, CaseWork
from gateway.matching.model import Reason, default_model
from gateway.protocol.errors import N_
from gateway.store import case_messages as message_repo
from gateway.store import cases as case_repo
from gateway.store import match_suggestions as repo
from gateway.store import matching as match_repo
from gateway.store import missing_persons as missing_repo
from gateway.store.transactions import reads, writes

log = logging.getLogger("gateway.matching")
#: Records matched per round at most.
ROUND: Final = 50
#: How often the matcher looks at the queue when nobody wakes it.
POLL_S: Final = 1.0
DECISIONS: Final = ("confirm", "reject")
#: How long a record waits at most for the writer to be quiet before it is matched.
YIELD_S: Final = 0.25
#: When a record whose matching failed (a sealed value that does not open) is tried again:
#: meanwhile the others are matched.
RETRY_AFTER: Final = timedelta(minutes=10)


def reasons_code(found: Found) -> str:
    """The reasons of a match as codes (``name:accents,birth:range``): no value."""
    return ",".join(f"{r.field}:{r.agreement}" for r in found.reasons)


@reads
async def _queued(conn: AsyncConnection, cw: CaseWork) -> list[tuple[str, int, datetime]]:
    return [(r.kind, int(r.record_id), r.queued_at)
            for r in await repo.queued(conn, ROUND, cw.clock())]


@writes
async def _postpone(conn: AsyncConnection, cw: CaseWork, kind: str, record_id: int,
                    queued_at: datetime) -> None:
    await repo.postpone(conn, kind, record_id, queued_at, cw.clock() + RETRY_AFTER)


async def match_queued(conn: AsyncConnection, cw: CaseWork, kind: str, record_id: int,
                       queued_at: datetime) -> int:
    """Match one queued record, store its new suggestions and tell the cases' units;
    answers how many suggestions are new. A unit of the group commit (:func:`run_once`)."""
    await repo.dequeue(conn, kind, record_id, queued_at)
    if kind == match_index.CASE_PERSON:  # indexed here, not on the attaching path
        people = await match_repo.live_persons(conn, [record_id])
        prepared = match_index.prepared_person(cw.sealer, people[0]) if people else None
        await match_repo.replace_keys(
            conn, kind, record_id, int(people[0].case_id) if people else None,
            match_index.keys_of(cw.sealer, prepared) if prepared is not None else [])
        if not people or people[0].role != "victim":  # the found persons are matched
            return 0
    own_case, found_all = await find_for(conn, cw, kind, record_id)
    pairs: list[tuple[int, int, int, Found]] = []  # person, case, report, match
    for found in found_all:
        if not found.suggested:
            continue
        if kind == match_index.CASE_PERSON and found.kind == match_index.MISSING:
            assert own_case is not None
            pairs.append((record_id, own_case, found.id, found))
        elif kind == match_index.MISSING and found.kind == match_index.CASE_PERSON:
            assert found.case_id is not None
            pairs.append((found.id, found.case_id, record_id, found))
    made = 0
    for person_id, case_id, report_id, found in pairs:
        created = await repo.suggest(conn, person_id=person_id, case_id=case_id,
                                     report_id=report_id, score=found.score,
                                     reasons=reasons_code(found), at=cw.clock())
        if created is None:
            continue
        made += 1
        case = await case_repo.case_row(conn, case_id)
        await notices.notify(conn, cw, notices.Notice(
            "match", unit=case.owner_unit, case_id=case_id, urgent=True))
        await audit.append(conn, cw.clock, "system", "match.suggested", case.reference,
                           {"suggestion": created, "person": person_id, "report": report_id})
    return made


async def run_once(cw: CaseWork) -> int:
    """One round of the queue; answers how many suggestions are new. Each record waits
    until the writer has nothing else to do (at most :data:`YIELD_S`): in a burst,
    receipts and the case work go first, matching follows. Each record is matched in the
    group commit, as the case work is: on SQLite a transaction of its own would hold the
    write lock from the serving loop while the writer waits for it (in a burst of 2,000
    messages, 0.6 s of the writer's time, bench/drain.py)."""
    made = 0
    for kind, record_id, queued_at in await _queued(cw):
        await cw.node.writer.quiet(YIELD_S)
        try:
            made += await cw.db.grouped(match_queued, cw, kind, record_id, queued_at)
        except Exception:  # one record that does not open holds up no other
            log.exception("matching a record failed; tried again later",
                          extra={"kind": kind, "record": record_id})
            await _postpone(cw, kind, record_id, queued_at)
    return made


class Matcher:
    """The background matcher, beside the attacher (started in the app's lifespan)."""

    def __init__(self, cw: CaseWork, poll_s: float = POLL_S) -> None:
        self.cw = cw
        self.poll_s = poll_s
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        """Stop after the current round."""
        self._stopped.set()

    async def run(self) -> None:
        """Match what is queued, then wait a little, until stopped."""
        while not self._stopped.is_set():
            try:
                await run_once(self.cw)
            except Exception:  # the next round tries again; the queue keeps the records
                log.exception("matching round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.poll_s)


@writes
async def decide(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                 suggestion_id: int, decision: str) -> str:
    """An officer of the case's unit decides a suggestion: ``confirm`` (the same person: the
    report is linked to the case and leaves the open list, its recording unit is told) or
    ``reject`` (never suggested again). Audited; answers the suggestion's new state."""
    if decision not in DECISIONS:
        raise CaseError("invalid-request", N_("decision: one of {expected}"), "decision",
                        expected=", ".join(DECISIONS))
    row = await repo.suggestion(conn, suggestion_id)
    if row is None:
        raise CaseError("not-found", N_("no suggestion {suggestion_id}"),
                        suggestion_id=suggestion_id)
    try:
        case = await load_case(conn, principal, int(row.case_id))
    except CaseError:
        raise CaseError("not-found", N_("no suggestion {suggestion_id}"),
                        suggestion_id=suggestion_id) from None
    if row.state != "suggested":
        raise CaseError("state-conflict", N_("suggestion {suggestion_id} is decided already"),
                        suggestion_id=suggestion_id)
    now = cw.clock()
    state = "confirmed" if decision == "confirm" else "rejected"
    if not await repo.decide(conn, row.id, state, principal.actor, now):
        raise CaseError("state-conflict", N_("suggestion {suggestion_id} is decided already"),
                        suggestion_id=suggestion_id)
    report = await missing_repo.report_row(conn, int(row.report_id))
    if state == "confirmed":
        if not await missing_repo.mark_linked(conn, int(row.report_id), case.id, now):
            raise CaseError("state-conflict", N_("report {reference} is no longer open"),
                            reference=report.reference)
        await match_index.unindex(conn, match_index.MISSING, int(row.report_id))
        await repo.withdraw_report(conn, int(row.report_id), principal.actor, now)
        await notices.notify(conn, cw, notices.Notice(
            "match-confirmed", unit=report.unit, case_id=case.id,
            report_id=int(row.report_id)))
    await audit.append(conn, cw.clock, principal.actor, "special.read", case.reference,
                       {"kind": KIND, "suggestion": row.id, "outcome": state,
                        "report": report.reference})
    return state


@dataclass(frozen=True)
class SuggestionView:
    """A suggestion as the case page shows it: both persons' fields side by side, the report's
    reference, whether each side has a photo, and the reasons (said in the reader's language at
    the edge)."""

    id: int
    score: float
    case_id: int
    person_id: int
    ours: dict[str, Any]
    report_id: int
    report_reference: str
    report_has_photo: bool
    theirs: dict[str, Any]
    reasons: tuple[Reason, ...]
    person_has_photo: bool


@writes
async def case_suggestions(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                           case_id: int) -> list[SuggestionView]:
    """A case's suggestions still to decide, opened for an officer of its unit: each shown is
    audited as a read of special data (ids only)."""
    case = await load_case(conn, principal, case_id)
    out = await _opened(conn, cw, await repo.of_case(conn, case.id))
    if out:
        await audit.append(conn, cw.clock, principal.actor, "special.read", case.reference,
                           {"kind": KIND, "suggestion": [s.id for s in out],
                            "report": [s.report_reference for s in out]})
    return out


@writes
async def report_suggestions(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                             report_id: int) -> list[SuggestionView]:
    """A report's suggestions still to decide, among the cases the reader may see (another
    unit's case is not named): audited as a read of special data."""
    report = await missing_repo.report_row(conn, report_id)
    if report is None:
        raise CaseError("not-found", N_("no missing-person report {report_id}"),
                        report_id=report_id)
    seen = []
    for row in await repo.of_report(conn, report_id):
        try:
            await load_case(conn, principal, int(row.case_id))
        except CaseError:
            continue
        seen.append(row)
    out = await _opened(conn, cw, seen)
    if out:
        await audit.append(conn, cw.clock, principal.actor, "special.read", report.reference,
                           {"kind": KIND, "suggestion": [s.id for s in out]})
    return out


async def _opened(conn: AsyncConnection, cw: CaseWork, rows: list[Any]
                  ) -> list[SuggestionView]:
    out: list[SuggestionView] = []
    for row in rows:
        people = await match_repo.live_persons(conn, [int(row.person_id)])
        report = await missing_repo.report_row(conn, int(row.report_id))
        if not people or report is None or report.state != "open":
            continue
        ours = match_index.prepared_person(cw.sealer, people[0])
        if ours is None:
            continue
        theirs = match_index.prepared_report(cw.sealer, report)
        match = default_model().score(ours, theirs)
        out.append(SuggestionView(
            int(row.id), float(row.score), int(row.case_id), int(row.person_id),
            ours.person.to_json(), int(row.report_id), str(report.reference),
            report.photo_sealed is not None, theirs.person.to_json(), match.reasons,
            bool(_photo_names(cw, people[0]))))
    return out


#: How many of a case's messages, newest first, are opened to find a person's photo.
PHOTO_LOOKBACK: Final = 50


def _photo_names(cw: CaseWork, person: Any) -> list[str]:
    """The attachment names a case person's document gives as their photo, in its order."""
    opened = cw.sealer.open_text(person.details_sealed, "persons.details")
    details = json.loads(opened) if opened else {}
    photos = details.get("photo") if isinstance(details, dict) else None
    if isinstance(photos, dict):
        photos = [photos]
    return [str(p["@attachment"]) for p in photos or []
            if isinstance(p, dict) and isinstance(p.get("@attachment"), str)]


@writes
async def person_photo(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                       suggestion_id: int) -> StoredAttachment:
    """The photo of a suggestion's case person, as exchanged, shown beside the report's for
    an officer of the case's unit deciding it (a role that may read special data): the newest
    of the case's messages that carries the attachment the person's document names. Audited
    as an attachment read with the suggestion as its reason."""
    if not allowed(principal.role, "matches.read"):
        raise CaseError("forbidden", N_("your role may not read special-category data"))
    case = await load_case(conn, principal, case_id)
    row = await repo.suggestion(conn, suggestion_id)
    if row is None or int(row.case_id) != case.id:
        raise CaseError("not-found", N_("no suggestion {suggestion_id} in case {case_id}"),
                        suggestion_id=suggestion_id, case_id=case_id)
    people = await match_repo.live_persons(conn, [int(row.person_id)])
    names = _photo_names(cw, people[0]) if people else []
    for message in await message_repo.raw_newest_first(conn, case.id, PHOTO_LOOKBACK):
        for name in names:
            found = special.exchanged_attachment(cw, message.raw, name)
            if found is not None:
                await audit.append(conn, cw.clock, principal.actor, "attachment.read",
                                   case.reference, {"message": message.message_id,
                                                    "name": name, "reason": KIND,
                                                    "suggestion": suggestion_id})
                return found
    raise CaseError("not-found", N_("the person of suggestion {suggestion_id} has no photo"),
                    suggestion_id=suggestion_id)
