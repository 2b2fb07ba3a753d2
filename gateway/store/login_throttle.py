"""The ``login_throttle`` table: failed logins per key (a name from an address, or an
address), and until when the next try must wait (:func:`gateway.access.users.authenticate`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import login_throttle


async def blocked_until(conn: AsyncConnection, keys: Sequence[str], now: datetime
                        ) -> list[datetime]:
    """Until when each of ``keys`` that is blocked at ``now`` stays blocked."""
    rows = (await conn.execute(sa.select(login_throttle.c.blocked_until).where(
        login_throttle.c.key.in_(keys), login_throttle.c.blocked_until > now))).all()
    return [row.blocked_until for row in rows]


async def find(conn: AsyncConnection, key: str) -> Any | None:
    """A key's failures and times, or None."""
    return (await conn.execute(sa.select(login_throttle).where(
        login_throttle.c.key == key))).first()


async def add(conn: AsyncConnection, key: str, **values: Any) -> None:
    """The first failure kept for a key."""
    await conn.execute(sa.insert(login_throttle).values(key=key, **values))


async def replace(conn: AsyncConnection, key: str, **values: Any) -> None:
    """A key's failures and times, replaced."""
    await conn.execute(sa.update(login_throttle).where(login_throttle.c.key == key)
                       .values(**values))


async def clear(conn: AsyncConnection, key: str) -> None:
    """Forget a key's failures (a right password)."""
    await conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))
