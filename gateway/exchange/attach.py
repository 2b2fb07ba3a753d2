"""Attaching accepted messages to their cases, after their receipt has been committed.

The receipt transaction stores a message marked ``attach_pending``; this worker, woken as
soon as that commits, runs the node's inbound hooks (the case work) for it and clears the mark
in one transaction. A node killed between the two finds the mark at start and attaches the
message then; a message is attached exactly once because the hooks' writes and the cleared
mark commit together. On PostgreSQL several replicas share the work: each takes a message
with ``FOR UPDATE SKIP LOCKED``. A hook that fails never loses the message: its writes are
rolled back, the failure is audited (``case.attach-failed``) for an operator, and the mark is
cleared so that one broken message does not block the others (a value the database refuses
is the message's too). A failure of the database itself (a deadlock with another replica's
transaction, a lost connection) is not the message's: nothing is cleared and the next round
attaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from gateway.audit import log as audit
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.database import reading

log = logging.getLogger("gateway.attach")
#: Messages looked up per round. They are attached one at a time, each its own unit of the
#: group commit, and each waits until the writer has nothing else to do (at most
#: :data:`YIELD_S`): in a burst, receipts go first at full speed and the cases follow, at
#: least a few a second; at other times a message is attached as soon as it is accepted.
ROUND = 16
YIELD_S = 0.25


async def attach_one(conn: Any, node: Node, message_pk: int) -> bool:
    """Attach one waiting message (a use case for :meth:`Node.commit`); False if another
    replica or an earlier round has done it already."""
    row = await repo.take_to_attach(conn, message_pk)
    if row is None:
        return False
    envelope = parse_envelope(parse_body(node.sealer.open(bytes(row.raw), repo.RAW_COLUMN)))
    for hook in node.inbound_hooks:
        try:
            async with conn.begin_nested():
                await hook(conn, envelope)
        except DBAPIError as exc:
            if not isinstance(exc, (IntegrityError, DataError)):
                # The database, not the message: a deadlock with another replica, a lost
                # connection. Nothing is cleared; the message is attached at the next round.
                # A value the database refuses (too long, out of range) is the message's.
                raise
            log.exception("case work could not attach a message",
                          extra={"message_id": row.message_id})
            await audit.append(conn, node.clock, "system", "case.attach-failed",
                               row.message_id, {"error": type(exc).__name__})
        except Exception as exc:
            log.exception("case work could not attach a message",
                          extra={"message_id": row.message_id})
            await audit.append(conn, node.clock, "system", "case.attach-failed",
                               row.message_id, {"error": type(exc).__name__})
    await repo.mark_attached(conn, message_pk)
    return True


async def attach_waiting(node: Node, limit: int = ROUND) -> int:
    """Attach up to ``limit`` waiting messages, oldest first; returns how many."""
    async with reading(node.engine) as conn:
        waiting = await repo.waiting_to_attach(conn, limit)
    if not waiting:
        return 0
    done = 0
    for pk in waiting:
        await node.writer.quiet(YIELD_S)
        done += await node.commit(attach_one, node, pk)
    return len(waiting) if done else 0


class Attacher:
    """Runs inside ``gateway serve``: attaches what was accepted, as soon as it was."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the round in hand, then stop."""
        self._stopping.set()
        self.node.attach_signal.set()

    async def run(self, idle_seconds: float = 1.0) -> None:
        """Attach until stopped, waking on each accepted message or every ``idle_seconds``
        (which also picks up what a stopped or crashed process left waiting)."""
        node = self.node
        while not self._stopping.is_set():
            node.attach_signal.clear()
            try:
                while not self._stopping.is_set() and await attach_waiting(node) == ROUND:
                    pass
            except Exception:  # a bad round must not stop the case work for good
                log.exception("attach round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(node.attach_signal.wait(), idle_seconds)
