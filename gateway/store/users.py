"""The ``users`` table: the accounts of the people who use this node (no rules here: those are
:mod:`gateway.access.users`'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import users


async def find(conn: AsyncConnection, username: str) -> Any | None:
    """The row of an account by name, with its password hash, or None."""
    return (await conn.execute(sa.select(users).where(users.c.username == username))).first()


async def all_by_name(conn: AsyncConnection) -> list[Any]:
    """Every account's row, by name."""
    return list(await conn.execute(sa.select(users).order_by(users.c.username)))


async def display_names(conn: AsyncConnection) -> dict[str, str]:
    """Every account's name as people read it, by login name."""
    return {row.username: row.display_name for row in await conn.execute(
        sa.select(users.c.username, users.c.display_name))}


async def add(conn: AsyncConnection, **values: Any) -> int:
    """Store a new account; returns its id."""
    result = await conn.execute(sa.insert(users).values(**values).returning(users.c.id))
    return int(result.scalar_one())


async def set_disabled(conn: AsyncConnection, user_id: int, disabled: bool) -> None:
    """Disable (or enable) an account."""
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(disabled=disabled))


async def set_password(conn: AsyncConnection, user_id: int, password_hash: str,
                       at: datetime) -> None:
    """A new password set at ``at``: failures forgotten, any lock-out cleared."""
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(
        password_hash=password_hash, password_set_at=at, failed_logins=0, locked_until=None))


async def rehash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    """The same password under a stronger hash (after a change of the hash's parameters)."""
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(
        password_hash=password_hash))
