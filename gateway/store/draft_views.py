"""Repository of what a supervisor opened of a submitted draft (``draft_views``): its
preview, each attachment. Takes the caller's connection (the caller's transaction)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import draft_views


async def record(conn: AsyncConnection, draft_id: int, viewer: str, item: str,
                 at: datetime) -> None:
    """Note that ``viewer`` opened ``item`` of the draft at ``at``."""
    await conn.execute(draft_views.insert().values(draft_id=draft_id, viewer=viewer,
                                                   item=item, at=at))


async def opened(conn: AsyncConnection, draft_ids: list[int], viewer: str
                 ) -> dict[int, dict[str, datetime]]:
    """When ``viewer`` last opened each item of each draft."""
    found: dict[int, dict[str, datetime]] = {i: {} for i in draft_ids}
    if not draft_ids:
        return found
    rows = await conn.execute(sa.select(draft_views.c.draft_id, draft_views.c.item,
                                        sa.func.max(draft_views.c.at).label("at"))
                              .where(draft_views.c.draft_id.in_(draft_ids),
                                     draft_views.c.viewer == viewer)
                              .group_by(draft_views.c.draft_id, draft_views.c.item))
    for row in rows:
        found[row.draft_id][row.item] = row.at
    return found
