"""The audit log: every message in or out, every rejection, receipt, key and partner change.

Entries are hash-chained: each holds the SHA-256 of the previous entry and of its own
canonical content, so an altered, inserted or deleted entry breaks the chain at that point.
Appends lock the single ``audit_head`` row (``SELECT ... FOR UPDATE``), so concurrent
transactions queue and the chain never forks. No payload and no personal data goes in:
callers pass ids, types, partners and problem codes only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.context import Audited
from gateway.protocol import tlog
from gateway.protocol.envelope import format_rfc3339_utc
from gateway.store import audit_log as repo
from gateway.store.transactions import HasDatabase, reads, writes

GENESIS: Final = "0" * 64
#: An entry: ``(actor, action, subject, detail)``.
Entry = tuple[str, str, str | None, dict[str, Any]]
#: The entries held back for one connection's transaction (see :func:`deferred`).
_DEFERRED: ContextVar[tuple[AsyncConnection, list[Entry]] | None] = ContextVar(
    "bx_audit_deferred", default=None)


def entry_bytes(seq: int, at: str, actor: str, action: str, subject: str | None,
                detail: str) -> bytes:
    """The entry's canonical content: compact JSON ``[seq, at, actor, action, subject,
    detail]`` in UTF-8 (``detail`` as stored, itself canonical JSON). The leaf of the Merkle
    tree, and what the chain hashes."""
    return json.dumps([seq, at, actor, action, subject, detail], ensure_ascii=False,
                      separators=(",", ":")).encode()


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str,
               subject: str | None, detail: str) -> str:
    """SHA-256 over the previous hash and the entry's canonical content."""
    content = entry_bytes(seq, at, actor, action, subject, detail)
    return hashlib.sha256(prev_hash.encode() + b"\n" + content).hexdigest()


def split_edge(stored: bytes | None) -> list[bytes]:
    """The tree's right edge as kept in the head row."""
    data = bytes(stored or b"")
    return [data[i:i + tlog.HASH_SIZE] for i in range(0, len(data), tlog.HASH_SIZE)]


async def _grow_tree(conn: AsyncConnection, size: int, stored_edge: bytes | None,
                     rows: list[dict[str, Any]]) -> bytes:
    """Add the rows' leaves to the Merkle tree (its new perfect subtrees stored); returns
    the new edge, for the head row."""
    leaves = [tlog.leaf_hash(entry_bytes(r["seq"], r["at"], r["actor"], r["action"],
                                         r["subject"], r["detail"])) for r in rows]
    edge, nodes = tlog.grow(size, split_edge(stored_edge), leaves)
    await repo.insert_nodes(conn, [{"level": level, "idx": index, "hash": value}
                                   for level, index, value in nodes])
    return b"".join(edge)


async def append(conn: AsyncConnection, clock: Callable[[], datetime], actor: str,
                 action: str, subject: str | None = None,
                 detail: dict[str, Any] | None = None) -> int:
    """Add one entry in the caller's transaction; returns its sequence number (0 while the
    transaction's entries are :func:`deferred`: it is written with the others, in order)."""
    held = _DEFERRED.get()
    if held is not None and held[0] is conn:
        held[1].append((actor, action, subject, detail or {}))
        return 0
    head = await repo.lock_head(conn)
    seq = int(head.seq) + 1
    at = format_rfc3339_utc(clock())
    detail_text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True,
                             separators=(",", ":"))
    digest = entry_hash(head.hash, seq, at, actor, action, subject, detail_text)
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject,
           "detail": detail_text, "prev_hash": head.hash, "hash": digest}
    await repo.insert_entries(conn, row)
    edge = await _grow_tree(conn, seq - 1, head.tree_edge, [row])
    await repo.move_head(conn, seq, digest, edge)
    return seq


@writes
async def record(conn: AsyncConnection, ctx: Audited, actor: str, action: str,
                 subject: str | None = None, detail: dict[str, Any] | None = None) -> int:
    """Add one entry in its own transaction (a refusal at the door, an operator's change);
    returns its sequence number."""
    return await append(conn, ctx.clock, actor, action, subject, detail)


async def lock_head(conn: AsyncConnection) -> None:
    """Take the append lock now (PostgreSQL): a transaction that will append anyway takes it
    first, so that concurrent transactions of several replicas lock in one order."""
    if conn.dialect.name == "postgresql":
        await repo.lock_head(conn)


@contextlib.asynccontextmanager
async def deferred(conn: AsyncConnection, clock: Callable[[], datetime]
                   ) -> AsyncIterator[list[Entry]]:
    """Hold back the entries appended on ``conn`` inside the block and write them, in the
    order they came, with :func:`append_many` when it ends (not if it raises): a round of
    work over many messages (attaching them to cases) appends in three statements, not three
    a message. The caller may drop the entries of a step it rolled back (truncate the list
    to its length before the step)."""
    entries: list[Entry] = []
    token = _DEFERRED.set((conn, entries))
    try:
        yield entries
    finally:
        _DEFERRED.reset(token)
    await append_many(conn, clock, entries)


async def append_many(conn: AsyncConnection, clock: Callable[[], datetime],
                      entries: list[Entry]) -> int:
    """Add entries ``(actor, action, subject, detail)`` in order, in the caller's transaction,
    in three statements whatever their number (the group commit's many messages); returns the
    sequence number of the last one."""
    head = await repo.lock_head(conn)
    seq, prev = int(head.seq), str(head.hash)
    if not entries:
        return seq
    at = format_rfc3339_utc(clock())
    rows = []
    for actor, action, subject, detail in entries:
        seq += 1
        detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":"))
        digest = entry_hash(prev, seq, at, actor, action, subject, detail_text)
        rows.append({"seq": seq, "at": at, "actor": actor, "action": action,
                     "subject": subject, "detail": detail_text, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    await repo.insert_entries(conn, rows)
    edge = await _grow_tree(conn, int(head.seq), head.tree_edge, rows)
    await repo.move_head(conn, seq, prev, edge)
    return seq


@dataclass(frozen=True)
class ChainVerdict:
    """The result of re-computing the chain."""

    entries: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        """True if every entry and the head agree."""
        return self.broken_at is None


async def verify_chain(conn: AsyncConnection) -> ChainVerdict:
    """Re-compute every hash; name the first entry that was altered, inserted or removed."""
    prev, expected_seq, count = GENESIS, 1, 0
    async for row in await repo.in_order(conn):
        if row.seq != expected_seq:
            return ChainVerdict(count, expected_seq, f"entry {expected_seq} is missing")
        if row.prev_hash != prev:
            return ChainVerdict(count, row.seq, f"entry {row.seq} does not follow entry "
                                                f"{row.seq - 1}")
        digest = entry_hash(prev, row.seq, row.at, row.actor, row.action, row.subject,
                            row.detail)
        if digest != row.hash:
            return ChainVerdict(count, row.seq, f"entry {row.seq} was altered")
        prev, expected_seq, count = row.hash, row.seq + 1, count + 1
    head = await repo.head(conn)
    if head.seq != count or head.hash != prev:
        return ChainVerdict(count, count + 1, f"entries after {count} are missing "
                                              f"(the head records {head.seq})")
    return ChainVerdict(count)


class EntryFilters(TypedDict, total=False):
    """The filters of :func:`entries` an auditor chooses: who, what, about what, when."""

    actor: str | None
    action: str | None
    subject: str | None
    since: datetime | None
    until: datetime | None


async def entries(conn: AsyncConnection, *, actor: str | None = None,
                  action: str | None = None, subject: str | None = None,
                  before: int | None = None, limit: int = 100,
                  since: datetime | None = None, until: datetime | None = None
                  ) -> list[dict[str, Any]]:
    """Entries newest first, filtered (``since`` <= time < ``until``); ``before`` pages back
    by sequence number."""
    rows = await repo.search(conn, actor=actor, action=action, subject=subject,
                             before=before, limit=limit, since=since, until=until)
    return [{"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
             "subject": r.subject, "detail": json.loads(r.detail)} for r in rows]


@reads
async def verified_chain(conn: AsyncConnection, _ctx: HasDatabase) -> ChainVerdict:
    """:func:`verify_chain` in a read snapshot of its own (``GET /api/audit/verify``)."""
    return await verify_chain(conn)


@reads
async def listed_entries(conn: AsyncConnection, _ctx: HasDatabase, *, actor: str | None = None,
                         action: str | None = None, subject: str | None = None,
                         before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """:func:`entries` in a read snapshot of its own (``GET /api/audit``)."""
    return await entries(conn, actor=actor, action=action, subject=subject, before=before,
                         limit=limit)
