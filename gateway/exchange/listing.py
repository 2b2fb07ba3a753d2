"""Messages in and out as an operator lists them (``gateway messages``): read in a snapshot,
newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import messages
from gateway.store.transactions import HasDatabase, reads


@reads
async def list_messages(conn: AsyncConnection, _ctx: HasDatabase, status: str | None,
                        partner: str | None) -> list[Any]:
    """Messages and their delivery state, optionally in one state and with one partner."""
    return await messages.list_messages(conn, status, partner)
