"""Repository of matching by itself: the queue of records to match after their commit
(``match_queue``) and the suggestions (``match_suggestions``: a case person and a report, the
pair once only). Takes the caller's connection; never commits. Holds ids and codes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import later
from gateway.store.inline_sqlite import prepared
from gateway.store.match_tables import match_queue, match_suggestions

STATES: Final = ("suggested", "confirmed", "rejected")


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


#: Built once per dialect: attaching a message queues each of its persons.
_ENQUEUE: Final = {"postgresql": postgresql.insert(match_queue).on_conflict_do_nothing(),
                   "sqlite": sqlite.insert(match_queue).on_conflict_do_nothing()}


async def enqueue(conn: AsyncConnection, kind: str, record_id: int, at: datetime) -> None:
    """A record to match once the caller's transaction has committed (queued once; with the
    round, in a round: :mod:`gateway.store.later`)."""
    await later.insert(conn, _ENQUEUE[conn.dialect.name],
                       {"kind": kind, "record_id": record_id, "queued_at": at})


async def queued(conn: AsyncConnection, limit: int, now: datetime) -> list[Any]:
    """The records waiting to be matched by ``now``, oldest first."""
    return list(await conn.execute(sa.select(match_queue).where(
        match_queue.c.queued_at <= now).order_by(
        match_queue.c.queued_at, match_queue.c.record_id).limit(limit)))


async def postpone(conn: AsyncConnection, kind: str, record_id: int, queued_at: datetime,
                   until: datetime) -> None:
    """A record that could not be matched, tried again at ``until`` (unless matched or
    queued again meanwhile)."""
    await conn.execute(sa.update(match_queue).where(
        match_queue.c.kind == kind, match_queue.c.record_id == record_id,
        match_queue.c.queued_at == queued_at).values(queued_at=until))


_DEQUEUE = prepared(sa.delete(match_queue).where(
    match_queue.c.kind == sa.bindparam("kind_"),
    match_queue.c.record_id == sa.bindparam("record_id_"),
    match_queue.c.queued_at == sa.bindparam("queued_at_", type_=match_queue.c.queued_at.type)))


async def dequeue(conn: AsyncConnection, kind: str, record_id: int,
                  queued_at: datetime) -> None:
    """A record matched (unless queued again meanwhile)."""
    await conn.execute(_DEQUEUE, {"kind_": kind, "record_id_": record_id,
                                  "queued_at_": queued_at})


async def suggest(conn: AsyncConnection, *, person_id: int, case_id: int, report_id: int,
                  score: float, reasons: str, at: datetime) -> int | None:
    """A new suggestion; None when the pair was suggested before (whatever became of it: a
    rejected pair is never suggested again)."""
    result = await conn.execute(
        _insert(conn, match_suggestions).values(
            person_id=person_id, case_id=case_id, report_id=report_id, score=score,
            reasons=reasons[:400], state="suggested", created_at=at)
        .on_conflict_do_nothing().returning(match_suggestions.c.id))
    found = result.scalar()
    return int(found) if found is not None else None


async def suggestion(conn: AsyncConnection, suggestion_id: int) -> Any:
    """One suggestion, or None."""
    return (await conn.execute(sa.select(match_suggestions).where(
        match_suggestions.c.id == suggestion_id))).first()


async def waiting_count(conn: AsyncConnection, case_id: int) -> int:
    """How many of a case's suggestions wait for a decision."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(match_suggestions)
                                   .where(match_suggestions.c.case_id == case_id,
                                          match_suggestions.c.state == "suggested"))
                ).scalar_one())


async def of_case(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's suggestions still to decide, best first."""
    return list(await conn.execute(sa.select(match_suggestions).where(
        match_suggestions.c.case_id == case_id, match_suggestions.c.state == "suggested")
        .order_by(match_suggestions.c.score.desc(), match_suggestions.c.id)))


async def of_report(conn: AsyncConnection, report_id: int) -> list[Any]:
    """A report's suggestions still to decide, best first."""
    return list(await conn.execute(sa.select(match_suggestions).where(
        match_suggestions.c.report_id == report_id,
        match_suggestions.c.state == "suggested")
        .order_by(match_suggestions.c.score.desc(), match_suggestions.c.id)))


async def decide(conn: AsyncConnection, suggestion_id: int, state: str, by: str,
                 at: datetime) -> bool:
    """A suggestion confirmed or rejected; False if it was decided meanwhile."""
    assert state in STATES[1:], state
    result = await conn.execute(sa.update(match_suggestions).where(
        match_suggestions.c.id == suggestion_id, match_suggestions.c.state == "suggested")
        .values(state=state, decided_by=by, decided_at=at))
    return result.rowcount == 1


async def withdraw_report(conn: AsyncConnection, report_id: int, by: str,
                          at: datetime) -> None:
    """A report linked to a case: its other suggestions are settled (rejected)."""
    await conn.execute(sa.update(match_suggestions).where(
        match_suggestions.c.report_id == report_id, match_suggestions.c.state == "suggested")
        .values(state="rejected", decided_by=by, decided_at=at))
