"""Attaching accepted messages to their cases, after their receipt has been committed.

The receipt transaction stores a message marked ``attach_pending``; this worker, woken as
soon as that commits, runs the node's inbound hooks (the case work) for it and clears the mark
in one transaction, shared by every message waiting at that moment (a round, up to
:data:`ROUND`). A node killed between the two finds the mark at start and attaches the
message then; a message is attached exactly once because the hooks' writes and the cleared
mark commit together. On PostgreSQL several replicas share the work: each takes the messages
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
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from gateway.audit import log as audit
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.runtime.node import Node
from gateway.store import later
from gateway.store import messages as repo

log = logging.getLogger("gateway.attach")
#: Messages looked up per round, and attached together: one unit of the group commit, one
#: transaction and one fsync for all of them (a savepoint per hook only once one failed), the
#: rows taken and the marks cleared in one statement each.
ROUND = 256
#: Before a round, the attacher waits until the writer has nothing else to do (at most this
#: long): in a burst, receipts go first and the cases follow, at least a few rounds a second;
#: at other times a message is attached as soon as it is accepted.
YIELD_S = 0.25
#: A round that has worked this long stops taking messages as soon as others wait for the
#: writer (a receipt waits for at most about this long behind the case work); the rest are
#: attached in the next round.
BUDGET_S = 0.01


class _HookFailedError(Exception):
    """A hook failed in a round run without savepoints: the round is rolled back and run
    again, each hook in its own savepoint."""


@dataclass(frozen=True)
class _Held:
    """What a round holds back until its end: audit entries, and rows
    (:mod:`gateway.store.later`)."""

    audited: list[audit.Entry]
    rows: list[Any]

    def mark(self) -> tuple[int, int]:
        return len(self.audited), len(self.rows)

    def drop_since(self, mark: tuple[int, int]) -> None:
        """Drop what a step rolled back had held."""
        del self.audited[mark[0]:]
        del self.rows[mark[1]:]


async def _attach(conn: Any, node: Node, row: Any, held: _Held, careful: bool) -> None:
    """Run the node's inbound hooks for one taken message (see the module's text); the
    audit entries and rows of a hook that failed go with its rolled-back writes. Not ``careful``:
    without a savepoint per hook (two statements and their bookkeeping a message), any
    failure failing the round (:class:`_HookFailedError`)."""
    sealed = bytes(row.raw)
    envelope = node.handover.take(row.id, sealed) \
        or parse_envelope(parse_body(node.sealer.open(sealed, repo.RAW_COLUMN)))
    if envelope.header.bx.is_test:  # filed apart, never casework (PROTOCOL.md §3.1)
        return
    if not careful:
        for hook in node.inbound_hooks:
            try:
                await hook(conn, envelope)
            except Exception as exc:
                raise _HookFailedError from exc
        return
    for hook in node.inbound_hooks:
        kept = held.mark()
        try:
            async with conn.begin_nested():
                await hook(conn, envelope)
        except DBAPIError as exc:
            held.drop_since(kept)
            if not isinstance(exc, (IntegrityError, DataError)):
                # The database, not the message: a deadlock with another replica, a lost
                # connection. Nothing is cleared; the round's messages are attached at the
                # next round. A value the database refuses (too long, out of range) is the
                # message's.
                raise
            log.exception("case work could not attach a message",
                          extra={"message_id": row.message_id})
            await audit.append(conn, node.clock, "system", "case.attach-failed",
                               row.message_id, {"error": type(exc).__name__})
        except Exception as exc:
            held.drop_since(kept)
            log.exception("case work could not attach a message",
                          extra={"message_id": row.message_id})
            await audit.append(conn, node.clock, "system", "case.attach-failed",
                               row.message_id, {"error": type(exc).__name__})


async def attach_together(conn: Any, node: Node, message_pks: list[int], *,
                          careful: bool = True) -> int:
    """Attach those of ``message_pks`` still waiting, oldest first, in the caller's
    transaction (a unit of the group commit, :meth:`Database.grouped`); returns how many
    (``careful``: see :func:`_attach`).
    Messages another replica or an earlier round has attached are skipped; after
    :data:`BUDGET_S`, the round stops where it is once other units wait for the writer."""
    rows = await repo.take_many_to_attach(conn, message_pks)
    started = time.perf_counter()
    done: list[int] = []
    # the audit entries in three statements a round; the cases' events, notices and the
    # matcher's queue in one a table, unless careful (each hook's rows in its savepoint)
    async with audit.deferred(conn, node.clock) as audited:
        try:
            async with later.together(conn, hold=not careful) as held:
                for row in rows:
                    if done and time.perf_counter() - started > BUDGET_S \
                            and node.writer.waited_for():
                        break
                    await _attach(conn, node, row, _Held(audited, held), careful)
                    done.append(row.id)
        except (IntegrityError, DataError) as exc:  # a held row the database refused
            raise _HookFailedError from exc
    await repo.mark_many_attached(conn, done)
    return len(done)


async def attach_waiting(node: Node, limit: int = ROUND) -> int:
    """Attach up to ``limit`` waiting messages, oldest first, in one transaction; returns
    how many (0: none was waiting, or another replica has them)."""
    async with node.db.snapshot() as conn:
        waiting = await repo.waiting_to_attach(conn, limit)
    if not waiting:
        return 0
    await node.writer.quiet(YIELD_S)
    try:  # hooks rarely fail: first without a savepoint each, ...
        return await node.db.grouped(attach_together, node, waiting, careful=False)
    except _HookFailedError:  # ... and when one did, nothing of the round is kept: again, each
        # hook in its own savepoint, so that the others are attached and the failure audited
        return await node.db.grouped(attach_together, node, waiting, careful=True)


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
                while not self._stopping.is_set() and await attach_waiting(node):
                    pass
            except Exception:  # a bad round must not stop the case work for good
                log.exception("attach round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(node.attach_signal.wait(), idle_seconds)
