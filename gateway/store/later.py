"""Rows a round of work writes together at its end: lines nothing reads back before the round
commits (a case's events, notices, the matcher's queue), held while a round attaches many
messages to their cases and inserted then in one statement per table, not one a row.

Outside a round (:func:`together`) an insert runs at once, so the same repository function
serves a console request and the case work. A round that rolls a step back drops the rows that
step held (truncate the list :func:`together` yields to its length before the step), as it
drops the step's audit entries.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

#: The round open on a connection: that connection, and the rows it holds in order.
_ROUND: contextvars.ContextVar[tuple[AsyncConnection, list[tuple[Insert, dict[str, Any]]]]
                               | None] = contextvars.ContextVar("bx_later", default=None)


async def insert(conn: AsyncConnection, statement: Insert, values: dict[str, Any]) -> None:
    """Insert one row with ``statement`` (no ``RETURNING``): with the round open on
    ``conn``, at its end; otherwise now."""
    held = _ROUND.get()
    if held is not None and held[0] is conn:
        held[1].append((statement, values))
    else:
        await conn.execute(statement, values)


async def flush(conn: AsyncConnection) -> None:
    """Write now what the round open on ``conn`` holds (before a row that must follow them
    and cannot wait, so that ids keep the order rows came in)."""
    held = _ROUND.get()
    if held is not None and held[0] is conn:
        rows = list(held[1])
        held[1].clear()
        await _write(conn, rows)


async def _write(conn: AsyncConnection, rows: list[tuple[Insert, dict[str, Any]]]) -> None:
    tables: dict[tuple[Insert, tuple[str, ...]], list[dict[str, Any]]] = {}
    for statement, values in rows:
        tables.setdefault((statement, tuple(values)), []).append(values)
    for (statement, _), many in tables.items():
        await conn.execute(statement, many)


@contextlib.asynccontextmanager
async def together(conn: AsyncConnection, *, hold: bool = True
                   ) -> AsyncIterator[list[tuple[Insert, dict[str, Any]]]]:
    """Hold the inserts of :func:`insert` on ``conn`` inside the block and write them when it
    ends (not if it raises): one statement per table, its rows in the order they came. Not
    ``hold``: each is written at once (a round that wants each step's rows in its own
    savepoint); the list yielded stays empty."""
    rows: list[tuple[Insert, dict[str, Any]]] = []
    if not hold:
        yield rows
        return
    token = _ROUND.set((conn, rows))
    try:
        yield rows
    finally:
        _ROUND.reset(token)
    await _write(conn, rows)
