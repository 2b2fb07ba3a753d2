"""Repository of the periodic reports awaiting a second person (``report_releases``): kept
as submitted, listed, taken for release under a row lock, marked released. Takes the
caller's connection (the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import report_releases


async def add_submitted(conn: AsyncConnection, *, period: str, recipient: str,
                        document: bytes, submitted_by: str, at: datetime) -> int:
    """Keep a submitted report; returns its id."""
    found = await conn.execute(report_releases.insert().values(
        period=period, recipient=recipient, document=document, state="submitted",
        submitted_by=submitted_by, submitted_at=at).returning(report_releases.c.id))
    return int(found.scalar_one())


async def pending(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Reports submitted and not yet released, newest first."""
    rows = await conn.execute(sa.select(
        report_releases.c.id, report_releases.c.period, report_releases.c.recipient,
        report_releases.c.submitted_by, report_releases.c.submitted_at)
        .where(report_releases.c.state == "submitted").order_by(report_releases.c.id.desc()))
    return [dict(row._mapping) for row in rows]


async def take(conn: AsyncConnection, release_id: int) -> Any | None:
    """One submitted (or already released) report, locked until the transaction ends."""
    return (await conn.execute(sa.select(report_releases).where(
        report_releases.c.id == release_id).with_for_update())).one_or_none()


async def mark_released(conn: AsyncConnection, release_id: int, *, by: str, at: datetime,
                        message_id: str) -> None:
    """Record who released the report, when, and the message it went as."""
    await conn.execute(report_releases.update().where(report_releases.c.id == release_id)
                       .values(state="released", released_by=by, released_at=at,
                               message_id=message_id))
