"""Repository of the periodic reports awaiting a second person (``report_releases``): kept
as submitted, listed per unit, taken for release under a row lock, marked released, sent
back with a reason, or withdrawn when the same period is submitted again. Takes the
caller's connection (the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import report_releases

_LISTED = (report_releases.c.id, report_releases.c.period, report_releases.c.recipient,
           report_releases.c.state, report_releases.c.unit, report_releases.c.submitted_by,
           report_releases.c.submitted_at, report_releases.c.returned_by,
           report_releases.c.returned_at, report_releases.c.return_reason)


async def add_submitted(conn: AsyncConnection, *, period: str, recipient: str, unit: str,
                        document: bytes, submitted_by: str, at: datetime) -> int:
    """Keep a submitted report; returns its id."""
    found = await conn.execute(report_releases.insert().values(
        period=period, recipient=recipient, unit=unit, document=document, state="submitted",
        submitted_by=submitted_by, submitted_at=at).returning(report_releases.c.id))
    return int(found.scalar_one())


def _of_unit(unit: str) -> sa.ColumnElement[bool]:
    # a report submitted before the unit was kept (migration 0012) belongs to every unit
    return sa.or_(report_releases.c.unit == unit, report_releases.c.unit.is_(None))


async def pending(conn: AsyncConnection, unit: str | None = None) -> list[dict[str, Any]]:
    """Reports submitted and not yet released (of ``unit`` when given), oldest first."""
    query = sa.select(*_LISTED).where(report_releases.c.state == "submitted")
    if unit is not None:
        query = query.where(_of_unit(unit))
    rows = await conn.execute(query.order_by(report_releases.c.id))
    return [dict(row._mapping) for row in rows]


async def returned_to(conn: AsyncConnection, username: str) -> list[dict[str, Any]]:
    """The user's submitted reports sent back, not since submitted again, newest first."""
    mine, newer = report_releases.alias("mine"), report_releases.alias("newer")
    again = sa.select(newer.c.id).where(newer.c.period == mine.c.period,
                                        newer.c.recipient == mine.c.recipient,
                                        newer.c.id > mine.c.id)
    rows = await conn.execute(
        sa.select(*(mine.c[c.name] for c in _LISTED))
        .where(mine.c.state == "returned", mine.c.submitted_by == username,
               ~sa.exists(again)).order_by(mine.c.id.desc()))
    return [dict(row._mapping) for row in rows]


async def latest(conn: AsyncConnection, unit: str, limit: int = 10) -> list[dict[str, Any]]:
    """The unit's latest submissions in any state, newest first (the reports page)."""
    rows = await conn.execute(sa.select(*_LISTED, report_releases.c.released_by,
                                        report_releases.c.released_at,
                                        report_releases.c.message_id)
                              .where(_of_unit(unit)).order_by(report_releases.c.id.desc())
                              .limit(limit))
    return [dict(row._mapping) for row in rows]


async def take(conn: AsyncConnection, release_id: int) -> Any | None:
    """One submitted (or already released) report, locked until the transaction ends."""
    return (await conn.execute(sa.select(report_releases).where(
        report_releases.c.id == release_id).with_for_update())).one_or_none()


async def read(conn: AsyncConnection, release_id: int) -> Any | None:
    """One submission with its document (for the preview), without a lock."""
    return (await conn.execute(sa.select(report_releases).where(
        report_releases.c.id == release_id))).one_or_none()


async def mark_released(conn: AsyncConnection, release_id: int, *, by: str, at: datetime,
                        message_id: str) -> None:
    """Record who released the report, when, and the message it went as."""
    await conn.execute(report_releases.update().where(report_releases.c.id == release_id)
                       .values(state="released", released_by=by, released_at=at,
                               message_id=message_id))


async def mark_returned(conn: AsyncConnection, release_id: int, *, by: str, at: datetime,
                        reason: str) -> None:
    """Record who sent the report back to its submitter, when and why."""
    await conn.execute(report_releases.update().where(report_releases.c.id == release_id)
                       .values(state="returned", returned_by=by, returned_at=at,
                               return_reason=reason))


async def withdraw_pending(conn: AsyncConnection, *, period: str, recipient: str,
                           unit: str) -> list[int]:
    """Withdraw the unit's submissions of ``period`` still awaiting release (a newer one
    replaces them); returns their ids."""
    found = await conn.execute(
        report_releases.update().where(report_releases.c.state == "submitted",
                                       report_releases.c.period == period,
                                       report_releases.c.recipient == recipient,
                                       _of_unit(unit))
        .values(state="withdrawn").returning(report_releases.c.id))
    return sorted(int(i) for i in found.scalars())
