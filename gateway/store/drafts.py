"""Repository of drafts: documents to partners written on a case, waiting to be
submitted, released (four eyes) or sent back. Document and attachments arrive sealed. Takes
the caller's connection; never commits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import drafts
from gateway.store.inline_sqlite import prepared


async def drafts_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's drafts (without their content), oldest first."""
    return list(await conn.execute(sa.select(
        drafts.c.id, drafts.c.doc_type, drafts.c.recipient, drafts.c.state, drafts.c.author,
        drafts.c.priority, drafts.c.message_id, drafts.c.updated_at, drafts.c.return_reason)
        .where(drafts.c.case_id == case_id).order_by(drafts.c.id)))

_AUTHOR_OF_SENT = prepared(sa.select(drafts.c.author).where(
    drafts.c.message_id == sa.bindparam("message_id_"),
    drafts.c.case_id == sa.bindparam("case_id_")))


async def author_of_sent(conn: AsyncConnection, case_id: int, message_id: str) -> str | None:
    """Who drafted the message ``message_id`` sent from the case (None if nobody did)."""
    found = (await conn.execute(_AUTHOR_OF_SENT, {"message_id_": message_id,
                                                  "case_id_": case_id})).scalar()
    return str(found) if found else None


async def insert_draft(conn: AsyncConnection, **values: Any) -> int:
    """A new draft; answers its id."""
    result = await conn.execute(sa.insert(drafts).values(**values).returning(drafts.c.id))
    return int(result.scalar_one())


async def draft_row(conn: AsyncConnection, draft_id: int, *, lock: bool = False) -> Any:
    """A draft, or None; ``lock``: held until the transaction ends (a release)."""
    query = sa.select(drafts).where(drafts.c.id == draft_id)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def update_draft(conn: AsyncConnection, draft_id: int, **values: Any) -> None:
    """Change a draft's columns."""
    await conn.execute(sa.update(drafts).where(drafts.c.id == draft_id).values(**values))


async def drafts_of_unit(conn: AsyncConnection, unit: str, state: str | None) -> list[Any]:
    """The drafts of a unit (in one state, where given), oldest change first."""
    query = sa.select(drafts).where(drafts.c.author_unit == unit)
    if state:
        query = query.where(drafts.c.state == state)
    return list(await conn.execute(query.order_by(drafts.c.updated_at)))
