"""Repository of special-data grants: a session's permission, with its reason, to read the
special-category data of one message for a while. Takes the caller's connection; never
commits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import special_grants


async def insert_grant(conn: AsyncConnection, *, session_id: str | None, message_id: str,
                       reason: str, granted_at: datetime, expires_at: datetime) -> None:
    """Grant a session the special data of a message until ``expires_at``."""
    await conn.execute(sa.insert(special_grants).values(
        session_id=session_id, message_id=message_id, reason=reason,
        granted_at=granted_at, expires_at=expires_at))


async def live_reason(conn: AsyncConnection, session_id: str, message_id: str,
                      now: datetime) -> str | None:
    """The reason of the session's latest grant on the message still live at ``now``."""
    reason = (await conn.execute(sa.select(special_grants.c.reason).where(
        special_grants.c.session_id == session_id,
        special_grants.c.message_id == message_id,
        special_grants.c.expires_at > now).order_by(special_grants.c.id.desc())
        .limit(1))).scalar()
    return str(reason) if reason is not None else None
