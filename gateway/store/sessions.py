"""The ``sessions`` table: the revocable rows under the console's and the API's session tokens
(:mod:`gateway.access.sessions`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import sessions, users


async def add(conn: AsyncConnection, **values: Any) -> None:
    """Store a new session."""
    await conn.execute(sa.insert(sessions).values(**values))


async def with_user(conn: AsyncConnection, session_id: str) -> Any | None:
    """A session's row with its user's name, role, unit, state and display name, or None."""
    return (await conn.execute(
        sa.select(sessions, users.c.username, users.c.role, users.c.unit, users.c.disabled,
                  users.c.display_name)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.id == session_id))).first()


async def touch(conn: AsyncConnection, session_id: str, at: datetime) -> None:
    """The session was used at ``at`` (its idle clock)."""
    await conn.execute(sa.update(sessions).where(sessions.c.id == session_id)
                       .values(last_seen_at=at))


async def end(conn: AsyncConnection, session_id: str | None, at: datetime) -> None:
    """End one session at ``at``."""
    await conn.execute(sa.update(sessions).where(sessions.c.id == session_id)
                       .values(ended_at=at))


async def end_all_of(conn: AsyncConnection, user_id: int, at: datetime) -> None:
    """End every open session of a user at ``at``."""
    await conn.execute(sa.update(sessions).where(
        sessions.c.user_id == user_id, sessions.c.ended_at.is_(None)).values(ended_at=at))
