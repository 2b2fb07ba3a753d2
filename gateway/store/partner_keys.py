"""Repository of the keys partners' signed key sets offered that wait for an administrator
(``partner_keys``, PROTOCOL.md §2), and what was decided. Takes the caller's connection (the
caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import partner_keys


async def add_offer(conn: AsyncConnection, *, partner: str, kid: str, thumbprint: str,
                    jwk: str, vouched_by: str, offered_at: datetime) -> bool:
    """Keep a key waiting for an administrator; False if the same key was offered before."""
    seen = (await conn.execute(sa.select(partner_keys.c.id).where(
        partner_keys.c.partner == partner, partner_keys.c.kid == kid,
        partner_keys.c.thumbprint == thumbprint))).first()
    if seen is not None:
        return False
    await conn.execute(sa.insert(partner_keys).values(
        partner=partner, kid=kid, thumbprint=thumbprint, jwk=jwk, vouched_by=vouched_by,
        offered_at=offered_at, state="pending"))
    return True


async def pending(conn: AsyncConnection) -> list[Any]:
    """The keys waiting for an administrator, oldest first."""
    rows = await conn.execute(sa.select(partner_keys).where(
        partner_keys.c.state == "pending").order_by(partner_keys.c.id))
    return list(rows)


async def offer(conn: AsyncConnection, offer_id: int) -> Any:
    """One offered key (None: no such number)."""
    return (await conn.execute(sa.select(partner_keys).where(
        partner_keys.c.id == offer_id))).first()


async def decide(conn: AsyncConnection, offer_id: int, *, state: str, by: str,
                 at: datetime) -> None:
    """Record an administrator's decision on an offered key."""
    await conn.execute(sa.update(partner_keys).where(partner_keys.c.id == offer_id).values(
        state=state, decided_by=by, decided_at=at))
