"""Group commit: short writes that arrive together share one transaction and one fsync.

A request that must be stored before it is answered (an accepted message and its receipt, a
queued document, a receipt we hold) hands its unit of work to the node's :class:`GroupCommit`
and waits. One writer task takes everything that is ready (up to ``max_batch`` units), runs
each unit in its own savepoint on one connection, commits once, and only then answers each
caller: "stored" still means committed before the answer. A unit that raises is rolled back
to its savepoint and its caller gets the exception; the others commit. If the commit itself
fails, every caller of the batch gets that error and nothing of the batch is stored.

On SQLite (one writer at a time, one fsync per commit) this turns N commits into one; on
PostgreSQL it saves the round trips of N transactions. Actions registered with
:func:`after_commit` while a unit runs (waking a worker) run once the batch has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("gateway.store")
_P = ParamSpec("_P")
_R = TypeVar("_R")

#: What the running use case asked to do once its transaction has committed.
_AFTER_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = \
    contextvars.ContextVar("bx_after_commit", default=None)


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the current use case's transaction has committed (waking the
    delivery worker for what it queued, say); at once when no use case is open."""
    pending = _AFTER_COMMIT.get()
    if pending is None:
        action()
    else:
        pending.append(action)


def collecting_after_commit() -> tuple[list[Callable[[], None]], contextvars.Token[Any]]:
    """Start collecting :func:`after_commit` actions in this context (see ``reset``)."""
    pending: list[Callable[[], None]] = []
    return pending, _AFTER_COMMIT.set(pending)


def reset_after_commit(token: contextvars.Token[Any]) -> None:
    """Stop collecting (the counterpart of :func:`collecting_after_commit`)."""
    _AFTER_COMMIT.reset(token)


@dataclass(frozen=True)
class _Unit:
    work: Callable[[AsyncConnection], Awaitable[Any]]
    done: asyncio.Future[Any]


class GroupCommit:
    """The node's writer: see the module's text."""

    def __init__(self, engine: AsyncEngine, max_batch: int = 128) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Unit] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0
        self.units = 0

    async def run(self, use_case: Callable[Concatenate[AsyncConnection, _P], Awaitable[_R]],
                  *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``use_case(conn, *args, **kwargs)`` in the next batch; its result once the
        batch has committed (or its exception, with its writes rolled back)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._writer is None or self._writer.done() \
                or self._writer.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._writer = loop.create_task(self._write(self._queue), name="group-commit")
        done: asyncio.Future[_R] = loop.create_future()
        self._queue.put_nowait(_Unit(lambda conn: use_case(conn, *args, **kwargs), done))
        return await done

    async def close(self) -> None:
        """Stop the writer once what is queued has been written."""
        if self._writer is not None and not self._writer.done():
            for _ in range(1000):  # at most 10 s: each batch is short
                if self._queue is None or self._queue.empty():
                    break
                await asyncio.sleep(0.01)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._writer = None

    async def _write(self, queue: asyncio.Queue[_Unit]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Unit]) -> None:
        live = [unit for unit in batch if not unit.done.done()]  # a caller gone away
        if not live:
            return
        outcomes: list[tuple[_Unit, Any, BaseException | None]] = []
        pending, token = collecting_after_commit()
        try:
            async with self.engine.begin() as conn:
                for unit in live:
                    try:
                        async with conn.begin_nested():
                            result = await unit.work(conn)
                        outcomes.append((unit, result, None))
                    except Exception as exc:  # noqa: BLE001 -- handed to its caller; this
                        # unit's savepoint is rolled back, the others commit
                        outcomes.append((unit, None, exc))
        except BaseException as exc:  # the commit (or the connection) failed: nothing stored
            for unit in live:
                if not unit.done.done():
                    unit.done.set_exception(exc if isinstance(exc, Exception)
                                            else RuntimeError("writer stopped"))
            if not isinstance(exc, Exception):
                raise
            log.warning("group commit failed", extra={"units": len(live),
                                                      "error": type(exc).__name__})
            return
        finally:
            reset_after_commit(token)
        self.batches += 1
        self.units += len(live)
        for unit, result, error in outcomes:
            if unit.done.done():
                continue
            if error is None:
                unit.done.set_result(result)
            else:
                unit.done.set_exception(error)
        for action in pending:
            action()

