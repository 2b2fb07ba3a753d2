"""The ``audit_checkpoints`` table: the checkpoints of the audit log this node signed, with
the cosignatures partners returned (:mod:`gateway.audit.checkpoints`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import audit_checkpoints


async def latest(conn: AsyncConnection) -> Any | None:
    """The row of the largest checkpoint, or None."""
    return (await conn.execute(sa.select(audit_checkpoints)
                               .order_by(audit_checkpoints.c.size.desc()).limit(1))
            ).one_or_none()


async def at_size(conn: AsyncConnection, size: int) -> Any | None:
    """The row of the checkpoint of one size, or None."""
    return (await conn.execute(sa.select(audit_checkpoints)
                               .where(audit_checkpoints.c.size == size))).one_or_none()


async def add(conn: AsyncConnection, size: int, root: bytes, note: bytes,
                 made_at: datetime) -> None:
    """Keep a new checkpoint."""
    await conn.execute(sa.insert(audit_checkpoints).values(size=size, root=root, note=note,
                                                           made_at=made_at))


async def set_note(conn: AsyncConnection, size: int, note: bytes) -> None:
    """A checkpoint's note, replaced (with one more cosignature)."""
    await conn.execute(sa.update(audit_checkpoints).where(audit_checkpoints.c.size == size)
                       .values(note=note))
