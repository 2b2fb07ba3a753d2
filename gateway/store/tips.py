"""Repository of hotline tips (``tips``) and their reporters' sealed identities
(``tip_reporters``, kept apart so that only a supervisor's audited read opens them). The
hotline's rules are in ``gateway.cases.hotline``; this module says how tips are stored.
Takes the caller's connection; never commits. Values arrive sealed where the tables keep
them sealed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import tip_reporters, tips

#: The most tips a unit's list shows.
LIST_LIMIT = 500


async def insert_tip(conn: AsyncConnection, **values: Any) -> int:
    """Store a new tip; returns its id."""
    result = await conn.execute(sa.insert(tips).values(**values).returning(tips.c.id))
    return int(result.scalar_one())


async def insert_reporter(conn: AsyncConnection, tip_id: int, identity_sealed: bytes) -> None:
    """Keep the reporter's sealed identity apart from the tip."""
    await conn.execute(sa.insert(tip_reporters).values(tip_id=tip_id,
                                                       identity_sealed=identity_sealed))


async def tip_of_unit(conn: AsyncConnection, tip_id: int, unit: str) -> Any:
    """The tip ``tip_id`` if it belongs to ``unit``, else None."""
    return (await conn.execute(sa.select(tips).where(tips.c.id == tip_id,
                                                     tips.c.unit == unit))).first()


async def tips_of_unit(conn: AsyncConnection, unit: str, status: str | None) -> list[Any]:
    """The unit's tips (of ``status`` when given), newest first, at most :data:`LIST_LIMIT`."""
    query = sa.select(tips).where(tips.c.unit == unit)
    if status:
        query = query.where(tips.c.status == status)
    return list(await conn.execute(query.order_by(tips.c.received_at.desc())
                                   .limit(LIST_LIMIT)))


async def reporter_sealed(conn: AsyncConnection, tip_id: int) -> bytes | None:
    """The reporter's sealed identity, or None when the reporter gave none."""
    found = (await conn.execute(sa.select(tip_reporters.c.identity_sealed).where(
        tip_reporters.c.tip_id == tip_id))).scalar()
    return bytes(found) if found is not None else None


async def update_tip(conn: AsyncConnection, tip_id: int, **values: Any) -> None:
    """Change a tip's triage, status or case."""
    await conn.execute(sa.update(tips).where(tips.c.id == tip_id).values(**values))
