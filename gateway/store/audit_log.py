"""The audit log's tables: the entries (``audit_log``), the head row that serialises appends
and keeps the Merkle tree's right edge (``audit_head``), and the tree's perfect subtrees
(``audit_tree``). The hashing is :mod:`gateway.audit.log`'s and :mod:`gateway.audit.tree`'s;
here are only the statements, built once at import (the append runs in every group commit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncResult

from gateway.protocol.envelope import format_rfc3339_utc
from gateway.store.inline_sqlite import prepared
from gateway.store.tables import audit_head, audit_log, audit_tree

_HEAD = prepared(sa.select(audit_head.c.seq, audit_head.c.hash, audit_head.c.tree_edge).where(
    audit_head.c.id == 1))
_LOCK_HEAD = _HEAD.with_for_update()
_INSERT_NODES = prepared(audit_tree.insert())
_INSERT_ENTRIES = prepared(audit_log.insert())
_MOVE_HEAD = prepared(audit_head.update().where(audit_head.c.id == 1))
_IN_ORDER = sa.select(audit_log).order_by(audit_log.c.seq)


async def lock_head(conn: AsyncConnection) -> Any:
    """The head row (``seq``, ``hash``, ``tree_edge``), locked for an append (``SELECT ...
    FOR UPDATE``; on SQLite the transaction's write lock already serialises)."""
    return (await conn.execute(_LOCK_HEAD)).one()


async def head(conn: AsyncConnection) -> Any:
    """The head row (``seq``, ``hash``, ``tree_edge``), not locked."""
    return (await conn.execute(_HEAD)).one()


async def insert_entries(conn: AsyncConnection,
                         rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Store one entry or many (one statement)."""
    await conn.execute(_INSERT_ENTRIES, rows)


async def insert_nodes(conn: AsyncConnection, nodes: Sequence[Mapping[str, Any]]) -> None:
    """Store the tree's new perfect subtrees (``level``, ``idx``, ``hash``)."""
    await conn.execute(_INSERT_NODES, nodes)


async def move_head(conn: AsyncConnection, seq: int, digest: str, edge: bytes) -> None:
    """The head after an append: the last entry's number and hash, the tree's new edge."""
    await conn.execute(_MOVE_HEAD, {"seq": seq, "hash": digest, "tree_edge": edge})


async def in_order(conn: AsyncConnection) -> AsyncResult[Any]:
    """Every entry, oldest first, streamed (a verification's walk)."""
    return await conn.stream(_IN_ORDER)


async def entry(conn: AsyncConnection, seq: int) -> Any:
    """One entry by its number (it must exist)."""
    return (await conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq))).one()


async def search(conn: AsyncConnection, *, actor: str | None, action: str | None,
                 subject: str | None, before: int | None, limit: int,
                 since: datetime | None, until: datetime | None) -> list[Any]:
    """Entries newest first: by actor, by action prefix, by subject, ``since`` <= time <
    ``until``, numbered below ``before``."""
    query = sa.select(audit_log)
    if since is not None:  # RFC 3339 UTC text compares in time order
        query = query.where(audit_log.c.at >= format_rfc3339_utc(since))
    if until is not None:
        query = query.where(audit_log.c.at < format_rfc3339_utc(until))
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if subject:
        query = query.where(audit_log.c.subject == subject)
    if before:
        query = query.where(audit_log.c.seq < before)
    return list(await conn.execute(query.order_by(audit_log.c.seq.desc()).limit(limit)))


async def nodes(conn: AsyncConnection, by_level: Mapping[int, Sequence[int]]) -> list[Any]:
    """The stored subtrees asked for (level -> indexes), in one query."""
    # one indexed lookup per level (a row-value IN would scan the table on SQLite)
    return list(await conn.execute(sa.select(audit_tree).where(sa.or_(*(
        sa.and_(audit_tree.c.level == level, audit_tree.c.idx.in_(indexes))
        for level, indexes in by_level.items())))))


async def level(conn: AsyncConnection, level: int) -> AsyncResult[Any]:
    """The stored subtrees of one level (``idx``, ``hash``), in order, streamed."""
    rows: AsyncResult[Any] = await conn.stream(
        sa.select(audit_tree.c.idx, audit_tree.c.hash).where(audit_tree.c.level == level)
        .order_by(audit_tree.c.idx))
    return rows


async def count_from_level(conn: AsyncConnection, level: int) -> int:
    """How many subtrees are stored at ``level`` or above."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(audit_tree)
                                   .where(audit_tree.c.level >= level))).scalar_one())
