"""Leases: one replica at a time holds a named job (housekeeping, polling partners, refreshing
keys), for a while it renews as long as it lives. When it dies, the lease lapses and another
replica takes the job over at its next try. The database is the arbiter (one statement that
inserts the lease, renews it for its holder, or takes over a lapsed one): no coordinator of
our own. On SQLite, with one process, the lease is always this process's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import leases


def _take(insert: Any) -> Any:
    statement = insert(leases)
    return statement.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
        where=sa.or_(leases.c.holder == statement.excluded.holder,
                     leases.c.expires_at < sa.bindparam("now")))


_TAKE = {"sqlite": _take(sqlite.insert), "postgresql": _take(postgresql.insert)}


async def hold(conn: AsyncConnection, name: str, holder: str, now: datetime,
               ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False if another
    holder's lease has not lapsed."""
    result = await conn.execute(_TAKE[conn.dialect.name], {
        "name": name, "holder": holder, "expires_at": now + ttl, "now": now})
    return bool(result.rowcount == 1)


async def release(conn: AsyncConnection, name: str, holder: str) -> None:
    """Give the lease up (a clean stop), so that another replica need not wait for it."""
    await conn.execute(leases.delete().where(leases.c.name == name,
                                             leases.c.holder == holder))


async def holders(conn: AsyncConnection) -> dict[str, tuple[str, datetime]]:
    """Every lease: its holder and until when (for operators)."""
    rows = await conn.execute(sa.select(leases))
    return {row.name: (row.holder, row.expires_at) for row in rows}
