"""What this node holds as a witness of partners' audit logs: the latest checkpoint it
cosigned per origin (``witnessed``) and the forks it saw (``witness_forks``)
(:mod:`gateway.audit.witness`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import witness_forks, witnessed


async def held(conn: AsyncConnection, origin: str, lock: bool = False) -> Any | None:
    """The row of the checkpoint cosigned last for ``origin`` (``lock``: FOR UPDATE), or
    None."""
    query = sa.select(witnessed).where(witnessed.c.origin == origin)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).one_or_none()


async def insert_held(conn: AsyncConnection, origin: str, **values: Any) -> None:
    """The first checkpoint cosigned for ``origin``."""
    await conn.execute(sa.insert(witnessed).values(origin=origin, **values))


async def update_held(conn: AsyncConnection, origin: str, **values: Any) -> None:
    """The checkpoint cosigned for ``origin``, replaced by a newer one."""
    await conn.execute(sa.update(witnessed).where(witnessed.c.origin == origin)
                       .values(**values))


async def insert_fork(conn: AsyncConnection, *, origin: str, held_note: bytes,
                      offered_note: bytes, offered_old_size: int, offered_proof: bytes,
                      why: str, seen_at: datetime) -> None:
    """Keep the evidence of a fork: both signed checkpoints and the proof offered."""
    await conn.execute(sa.insert(witness_forks).values(
        origin=origin, held_note=held_note, offered_note=offered_note,
        offered_old_size=offered_old_size, offered_proof=offered_proof, why=why,
        seen_at=seen_at))


async def forks(conn: AsyncConnection) -> list[Any]:
    """Every fork seen, newest first."""
    return list(await conn.execute(sa.select(witness_forks)
                                   .order_by(witness_forks.c.id.desc())))


async def fork_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many forks were seen, per origin."""
    rows = await conn.execute(sa.select(witness_forks.c.origin, sa.func.count())
                              .group_by(witness_forks.c.origin))
    return {str(origin): int(count) for origin, count in rows}
