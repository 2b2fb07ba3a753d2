"""Repository of what each partner has done with this node's checkpoints
(``checkpoint_witnesses``, PROTOCOL.md §4.8): the size it cosigned, what was last sent to it,
and its last refusal. Takes the caller's connection (the caller's transaction)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import checkpoint_witnesses


async def status_of(conn: AsyncConnection, partner: str) -> Any:
    """One partner's row, locked for the caller's transaction (None: nothing sent yet)."""
    return (await conn.execute(sa.select(checkpoint_witnesses).where(
        checkpoint_witnesses.c.partner == partner).with_for_update())).one_or_none()


async def set_status(conn: AsyncConnection, partner: str, **values: object) -> None:
    """Write the given columns of one partner's row (made when it has none)."""
    if await status_of(conn, partner) is None:
        await conn.execute(checkpoint_witnesses.insert().values(partner=partner, **values))
    else:
        await conn.execute(checkpoint_witnesses.update().where(
            checkpoint_witnesses.c.partner == partner).values(**values))


async def all_statuses(conn: AsyncConnection) -> dict[str, dict[str, object]]:
    """Every partner's row, by partner."""
    rows = await conn.execute(sa.select(checkpoint_witnesses))
    return {str(r.partner): dict(r._mapping) for r in rows}
