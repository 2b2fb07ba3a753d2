"""Matching a person against the people being searched for (issue 25): the open
missing-person reports and the other cases' persons.

Candidates are found through the blind index (``store.matching``: the records sharing the most
blocking keys with the person, at most :data:`~gateway.store.matching.CANDIDATES`); only their
sealed persons are opened, in memory, and scored with the matching core (``rank``). What is
answered is typed (:class:`Found`): the record, the calibrated probability that it is the same
person, whether it is above the node's suggesting threshold, and the core's reasons (their
words are said in the reader's language at the edge).

The candidates are looked for in a read snapshot (scoring holds no write lock), then the look
is audited as a read of special data in its own transaction, with ids and counts only, before
anything is answered: :func:`match_person` and :func:`match_case` are those two steps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import match_index
from gateway.cases.service import load_case, unit_seen
from gateway.cases.work import CaseError, CaseWork
from gateway.matching.model import Model, Prepared, Ranked, Reason, default_model, prepare
from gateway.matching.person import Person
from gateway.protocol.errors import N_
from gateway.store import matching as repo
from gateway.store import missing_persons as missing_repo
from gateway.store.crypto import SealError
from gateway.store.transactions import reads, writes

#: The most matches one answer lists.
MAX_LIMIT: Final = 50
#: What the audit log calls a look for matches where it names the special data read.
KIND: Final = "matches"
_REINDEX_BATCH: Final = 500
#: Keys held in memory at most by a reindex before they are written.
_FLUSH: Final = 20_000
log = logging.getLogger("gateway.matching")
#: How long a count of the node's records serves the model's prior.
_COUNT_FOR_S: Final = 30.0
_counted: dict[int, tuple[float, int]] = {}


@dataclass(frozen=True, slots=True)
class Found:
    """A record that may be the same person: a missing-person report or a case's person."""

    kind: str
    id: int
    case_id: int | None
    score: float
    suggested: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class CaseMatches:
    """A case's person and the records that may be the same person."""

    person_id: int
    matches: list[Found]


async def _model(conn: AsyncConnection) -> Model:
    """The shipped model, its prior scaled to the records the node holds (counted again
    after :data:`_COUNT_FOR_S`: the prior moves with thousands of records, not one)."""
    at, count = _counted.get(id(conn.engine), (-_COUNT_FOR_S, 0))
    if time.monotonic() - at >= _COUNT_FOR_S:
        count = await repo.indexed_records(conn)
        _counted[id(conn.engine)] = (time.monotonic(), count)
    return default_model().for_reports(count)


async def _find(conn: AsyncConnection, cw: CaseWork, query: Prepared, limit: int,
                model: Model, *, exclude_case: int | None = None,
                exclude: tuple[str, int] | None = None, kind: str | None = None,
                seen_by: Principal | None = None) -> list[Found]:
    """The best records for ``query`` (only of ``kind`` when given); for a reader
    (``seen_by``), only the persons of the cases they may see (another unit's case is no case
    for them: neither its id nor what its person's reasons would say)."""
    keys = match_index.keys_of(cw.sealer, query)
    found = await repo.candidates(conn, keys, exclude_case=exclude_case, exclude=exclude,
                                  kind=kind,
                                  unit=unit_seen(seen_by) if seen_by is not None else None)
    reports = [c.record_id for c in found if c.kind == repo.MISSING]
    people = [c.record_id for c in found if c.kind == repo.CASE_PERSON]
    prepared: list[tuple[tuple[str, int, int | None], Prepared]] = []
    for row in await repo.open_reports(conn, reports):
        report = _opened(cw, repo.MISSING, row)
        if report is not None:
            prepared.append(((repo.MISSING, int(row.id), None), report))
    for row in await repo.live_persons(conn, people):
        person = _opened(cw, repo.CASE_PERSON, row)
        if person is not None:
            prepared.append(((repo.CASE_PERSON, int(row.id), int(row.case_id)), person))
    records = [record for record, _ in prepared]
    # scored off the event loop (pure Python, up to the shortlist of 400 at tens of µs
    # each): the node's other requests keep being answered meanwhile
    ranked: list[Ranked] = await asyncio.to_thread(
        model.rank, query, [(i, p) for i, (_, p) in enumerate(prepared)], limit)
    out = []
    for r in ranked:
        of_kind, record_id, case_id = records[cast(int, r.id)]
        out.append(Found(of_kind, record_id, case_id, round(r.match.score, 6),
                         r.match.suggested, r.match.reasons))
    return out


def _opened(cw: CaseWork, kind: str, row: Any) -> Prepared | None:
    """A candidate's person, prepared; None (and a log line with its id) for one that does not
    open (a sealed value altered, a person that is not JSON or not a PERSON), so that it
    fails no other record's search."""
    try:
        if kind == repo.MISSING:
            return match_index.prepared_report(cw.sealer, row)
        return match_index.prepared_person(cw.sealer, row)
    except (SealError, ValueError):  # a PersonError and a JSON error are ValueErrors
        log.warning("a record to match does not open", extra={"kind": kind,
                                                               "record": int(row.id)})
        return None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise CaseError("invalid-request", N_("limit: from 1 to {limit}"), "limit",
                        limit=MAX_LIMIT)
    return limit


@reads
async def find_matches(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       person: Person, limit: int, asof: date | None = None) -> list[Found]:
    """The ``limit`` records the principal may see most likely the same person as
    ``person``, best first (``asof``: when an estimated age was estimated; today by
    default)."""
    query = prepare(person, asof or cw.clock().date())
    return await _find(conn, cw, query, _limit(limit), await _model(conn), seen_by=principal)


@reads
async def find_case_matches(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                            case_id: int, limit: int) -> tuple[str, list[CaseMatches]]:
    """A case's persons, each with the records most likely the same person (never the case's
    own persons); with the case's reference."""
    row = await load_case(conn, principal, case_id)
    model = await _model(conn)
    out = []
    for person_row in await repo.persons_of_case(conn, row.id):
        query = match_index.prepared_person(cw.sealer, person_row)
        if query is None:
            continue
        out.append(CaseMatches(int(person_row.id), await _find(
            conn, cw, query, _limit(limit), model, exclude_case=row.id, seen_by=principal)))
    return str(row.reference), out


async def find_for(conn: AsyncConnection, cw: CaseWork, kind: str, record_id: int,
                   limit: int = 10) -> tuple[int | None, list[Found]]:
    """The matches of a stored record that can make a suggestion (a case person: the open
    reports; a report: the persons of the cases), with the record's case (None for a report);
    nothing for a record gone (a person purged, a report no longer open). A step of the
    matcher's use case: a victim is never scored against the other cases' namesakes, which
    no suggestion pairs (on a busy border they are hundreds)."""
    model = await _model(conn)
    if kind == repo.CASE_PERSON:
        people = await repo.live_persons(conn, [record_id])
        if not people:
            return None, []
        case_id = int(people[0].case_id)
        query = match_index.prepared_person(cw.sealer, people[0])
        if query is None:
            return case_id, []
        return case_id, await _find(conn, cw, query, limit, model, exclude_case=case_id,
                                    kind=repo.MISSING)
    reports = await repo.open_reports(conn, [record_id])
    if not reports:
        return None, []
    return None, await _find(conn, cw, match_index.prepared_report(cw.sealer, reports[0]),
                             limit, model, exclude=(repo.MISSING, record_id),
                             kind=repo.CASE_PERSON)


async def match_person(cw: CaseWork, principal: Principal, person: Person,
                       limit: int) -> list[Found]:
    """``POST /api/matches``: the matches of a person, the look audited as a read of special
    data (the number of matches, no name)."""
    found = await find_matches(cw, principal, person, limit)
    await audit.record(cw, principal.actor, "special.read", None,
                       {"kind": KIND, "matches": [f"{f.kind}:{f.id}" for f in found],
                        "suggested": sum(f.suggested for f in found)})
    return found


async def match_case(cw: CaseWork, principal: Principal, case_id: int,
                     limit: int = 10) -> list[CaseMatches]:
    """``GET /api/cases/{id}/matches``: a case's persons' matches, audited as a read of
    special data (the persons' ids and the counts, no name)."""
    reference, found = await find_case_matches(cw, principal, case_id, limit)
    await audit.record(cw, principal.actor, "special.read", reference,
                       {"kind": KIND, "persons": [p.person_id for p in found],
                        "matches": [f"{f.kind}:{f.id}" for p in found for f in p.matches]})
    return found


@writes
async def reindex(conn: AsyncConnection, cw: CaseWork) -> tuple[int, int]:
    """Rebuild the blind index from the open reports and the live case persons; answers how
    many of each were indexed."""
    await repo.clear(conn)
    reports = 0
    rows: list[dict[str, object]] = []
    async for report in missing_repo.open_persons(conn, cw.sealer,
                                                  unopened=_skipped(repo.MISSING)):
        try:
            person = Person.from_json(report.person)
        except ValueError as exc:  # not a PERSON (a PersonError): left out, the others indexed
            _skipped(repo.MISSING)(int(report.id), exc)
            continue
        rows.extend({"kind": repo.MISSING, "record_id": report.id, "case_id": None, "key": k}
                    for k in match_index.keys_of(
                        cw.sealer, prepare(person, report.created_at.date())))
        reports += 1
        if len(rows) >= _FLUSH:
            await repo.insert_keys(conn, rows)
            rows = []
    people, after = 0, 0
    while True:
        batch = await repo.all_live_persons(conn, after, _REINDEX_BATCH)
        for row in batch:
            prepared = _opened(cw, repo.CASE_PERSON, row)
            if prepared is not None:
                rows.extend({"kind": repo.CASE_PERSON, "record_id": int(row.id),
                             "case_id": int(row.case_id), "key": k}
                            for k in match_index.keys_of(cw.sealer, prepared))
                people += 1
        if len(batch) < _REINDEX_BATCH:
            break
        after = int(batch[-1].id)
    await repo.insert_keys(conn, rows)
    await audit.append(conn, cw.clock, "system", "matching.reindexed", None,
                       {"reports": reports, "persons": people})
    return reports, people


def _skipped(kind: str) -> Callable[[int, Exception], None]:
    """What a rebuild does with a record that does not open: a log line with its id (never
    its content), and the rebuild goes on."""

    def skip(record_id: int, exc: Exception) -> None:
        log.warning("a record does not open; left out of the index",
                    extra={"kind": kind, "record": record_id, "error": type(exc).__name__})

    return skip


@reads
async def index_needed(conn: AsyncConnection, cw: CaseWork) -> bool:
    """Whether the index is empty while the node holds reports or persons (a database from
    before the index, or restored without it): ``gateway serve`` then rebuilds it."""
    del cw
    return await repo.is_empty(conn) and await repo.indexed_records(conn) > 0


async def ensure_index(cw: CaseWork) -> int | None:
    """At start-up: the index rebuilt when :func:`index_needed`; answers how many records it
    then holds (None when nothing was done)."""
    if not await index_needed(cw):
        return None
    reports, people = await reindex(cw)
    log.info("matching index rebuilt", extra={"count": reports + people})
    return reports + people
