"""Repository of held files: files chosen in a compose form that was refused for another
field, kept sealed for their owner until the form comes back. Takes the caller's connection;
never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import held_files


async def forget_others(conn: AsyncConnection, owner: str, kept: Sequence[str]) -> None:
    """Forget the owner's held files but those in ``kept``."""
    await conn.execute(sa.delete(held_files).where(held_files.c.owner == owner,
                                                   held_files.c.id.not_in(kept)))


async def insert_held(conn: AsyncConnection, **values: Any) -> None:
    """Hold one file (its handle is its id)."""
    await conn.execute(sa.insert(held_files).values(**values))


async def held_rows(conn: AsyncConnection, owner: str, handles: Sequence[str],
                    since: datetime) -> list[Any]:
    """The owner's files among ``handles`` held after ``since``, oldest first."""
    return list(await conn.execute(sa.select(held_files).where(
        held_files.c.id.in_(handles), held_files.c.owner == owner,
        held_files.c.created_at > since).order_by(held_files.c.created_at)))


async def delete_held(conn: AsyncConnection, owner: str, handles: Sequence[str]) -> None:
    """Forget the owner's files among ``handles``."""
    await conn.execute(sa.delete(held_files).where(held_files.c.id.in_(handles),
                                                   held_files.c.owner == owner))


async def purge_held(conn: AsyncConnection, until: datetime) -> int:
    """Forget the files held at or before ``until``; answers how many."""
    result = await conn.execute(sa.delete(held_files).where(held_files.c.created_at <= until))
    return int(result.rowcount)
