"""Group commit: short writes that arrive together share one transaction and one fsync.

A request that must be stored before it is answered (an accepted message and its receipt, a
queued document, a receipt we hold) hands its unit of work to the node's :class:`GroupCommit`
and waits. One writer takes everything that is ready (up to ``max_batch`` units), runs each
unit in its own savepoint on one connection, commits once, and only then answers each caller:
"stored" still means committed before the answer. A unit that raises is rolled back to its
savepoint and its caller gets the exception; the others commit. If the commit itself fails,
every caller of the batch gets that error and nothing of the batch is stored. So too when a
unit's failure ended the whole transaction (SQLite rolls everything back on a full disk, an
I/O error or no memory, and the savepoint is gone with it): :class:`TransactionLostError` to
every caller, and no unit after it runs, for it would commit on its own.

The writer runs on its own event loop in its own thread, with its own engine. On the serving
loop, with hundreds of requests in flight, every statement would wait for a turn of a busy
loop (about 0.6 ms each, measured by bench/ingest.py): the writer's loop does nothing else, so
a statement costs what the database costs. Units therefore run on the writer's thread: they
use their connection, the clock and read-only parts of the node, never the serving loop's
objects; what they register with :func:`after_commit` runs on the serving loop once the batch
has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.protocol.errors import GatewayError

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


class TransactionLostError(GatewayError):
    """The database ended a batch's transaction when one of its units failed: nothing of the
    batch is stored."""


async def _still_open(conn: AsyncConnection, failure: BaseException) -> None:
    """Raise :class:`TransactionLostError` if the driver's transaction is gone (sqlite3 and
    aiosqlite say so; asyncpg keeps a failed transaction open until it is rolled back)."""
    driver = (await conn.get_raw_connection()).driver_connection
    if getattr(driver, "in_transaction", True) is False:
        raise TransactionLostError("the database ended the transaction: {error}",
                                   error=type(failure).__name__) from failure


#: Writes many units of one kind at once: one result (or exception) per item, in order.
Many = Callable[[AsyncConnection, list[Any]], Awaitable[list[Any]]]


@dataclass(frozen=True)
class _Unit:
    work: Callable[[AsyncConnection], Awaitable[Any]]
    done: asyncio.Future[Any]  # on the caller's loop
    many: Many | None = None  # units of one kind, written together (see run_together)
    item: Any = None


def _settle(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.done():  # the caller went away
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)


class GroupCommit:
    """The node's writer: see the module's text. ``open_engine`` is called on the writer's
    thread to make its engine (one connection is enough: it writes one batch at a time)."""

    def __init__(self, open_engine: Callable[[], AsyncEngine], max_batch: int = 128,
                 prologue: Callable[[AsyncConnection], Awaitable[None]] | None = None) -> None:
        self.open_engine = open_engine
        #: Run first in every batch's transaction: the node locks its audit head there, so
        #: that every batch (of every replica) takes its locks in one order (no deadlocks).
        self.prologue = prologue
        self.max_batch = max_batch
        self.batches = 0
        self.units = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Unit | None] | None = None
        self._home: asyncio.AbstractEventLoop | None = None
        self._failed: BaseException | None = None
        self._starting: asyncio.Future[None] | None = None
        self._writing = False
        # units handed to the writer, and taken by it: each counted by one thread only
        self._submitted = 0
        self._taken = 0

    async def run(self, use_case: Callable[Concatenate[AsyncConnection, _P], Awaitable[_R]],
                  *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``use_case(conn, *args, **kwargs)`` in the next batch, on the writer's thread;
        its result once the batch has committed (or its exception, its writes rolled back)."""
        home = asyncio.get_running_loop()
        loop, queue = await self._started(home)
        done: asyncio.Future[_R] = home.create_future()
        unit = _Unit(lambda conn: use_case(conn, *args, **kwargs), done)
        self._submitted += 1
        loop.call_soon_threadsafe(queue.put_nowait, unit)
        return await done

    async def run_together(self, many: Many,
                           one: Callable[[AsyncConnection, Any], Awaitable[_R]],
                           item: Any) -> _R:
        """Like :meth:`run`, for a unit that can be written together with the others of its
        kind in the same batch: ``many(conn, items)`` writes them all in a few statements
        (a result, or an exception to raise to that caller, per item). Should ``many``
        fail as a whole, each item is written alone by ``one(conn, item)``, in its own
        savepoint, so that one bad item cannot fail the others."""
        home = asyncio.get_running_loop()
        loop, queue = await self._started(home)
        done: asyncio.Future[_R] = home.create_future()
        unit = _Unit(lambda conn: one(conn, item), done, many, item)
        self._submitted += 1
        loop.call_soon_threadsafe(queue.put_nowait, unit)
        return await done

    async def _started(self, home: asyncio.AbstractEventLoop
                       ) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[_Unit | None]]:
        """The writer's loop and queue, starting the writer on first use (callers that come
        while it starts wait for it, so that units are queued in the order they came)."""
        with self._lock:
            starting = self._starting
            running = (self._thread is not None and self._thread.is_alive()
                       and self._home is home)
            if not running and starting is None:  # this caller starts the writer
                started: asyncio.Future[None] = home.create_future()
                self._starting = started
                replacing = self._thread is not None
        if running and starting is None:
            assert self._loop is not None
            assert self._queue is not None
            return self._loop, self._queue
        if starting is not None:  # being started (or replaced): wait, then look again
            if starting.get_loop() is home:
                await asyncio.shield(starting)
            else:
                await asyncio.sleep(0.01)  # started by another loop's caller: a test's
            return await self._started(home)
        try:
            if replacing:  # a writer of another loop (a test's): let it go first, with its
                await self.close()  # home as it was (its batch answers its own callers)
            ready = threading.Event()
            with self._lock:
                self._home = home
                self._failed = None
                self._taken = self._submitted  # what an earlier writer left is not waiting
                self._thread = threading.Thread(target=self._main, args=(ready,),
                                                name="group-commit", daemon=True)
                self._thread.start()
            await asyncio.to_thread(ready.wait)
        finally:
            with self._lock:
                self._starting = None
            started.set_result(None)
        if self._failed is not None:
            raise self._failed
        assert self._loop is not None
        assert self._queue is not None
        return self._loop, self._queue

    def busy(self) -> bool:
        """True while units wait for the writer or a batch is being written."""
        queue = self._queue
        return self._writing or (queue is not None and not queue.empty())

    def waited_for(self) -> bool:
        """True while units wait for the writer besides the batch in hand: for a long unit
        (attaching many messages to cases) that stops early when others wait. Counted, not
        read from the queue, whose hand-overs run only when the writer's loop turns."""
        return self._submitted > self._taken

    async def quiet(self, at_most: float) -> None:
        """Wait until the writer has nothing to do, or ``at_most`` seconds: for work that can
        wait (attaching messages to cases) and should not slow down what cannot."""
        waited = 0.0
        while self.busy() and waited < at_most:
            await asyncio.sleep(0.005)
            waited += 0.005

    async def close(self) -> None:
        """Write what is queued, then stop the writer and release its engine."""
        with self._lock:
            thread, loop, queue = self._thread, self._loop, self._queue
            self._thread = None
        if thread is None or loop is None or queue is None or not thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # its loop has ended already
            loop.call_soon_threadsafe(queue.put_nowait, None)
        await asyncio.to_thread(thread.join, 30)

    def _main(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        try:
            engine = self.open_engine()
        except BaseException as exc:  # noqa: BLE001 -- raised to the first caller
            self._failed = exc
            ready.set()
            return
        queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._loop, self._queue = asyncio.get_running_loop(), queue
        ready.set()
        try:
            while True:
                first = await queue.get()
                if first is None:
                    return
                batch, stop = [first], False
                while len(batch) < self.max_batch and not queue.empty():
                    unit = queue.get_nowait()
                    if unit is None:
                        stop = True
                        break
                    batch.append(unit)
                self._taken += len(batch)
                self._writing = True
                try:
                    await self._commit(engine, batch)
                finally:
                    self._writing = False
                if stop:
                    return
        finally:
            await engine.dispose()

    async def _commit(self, engine: AsyncEngine, batch: list[_Unit]) -> None:
        live = [unit for unit in batch if not unit.done.done()]  # a caller gone away
        if not live:
            return
        home = self._home
        assert home is not None
        outcomes: list[tuple[_Unit, Any, BaseException | None]] = []
        pending, token = collecting_after_commit()
        try:
            async with engine.begin() as conn:
                if self.prologue is not None:
                    await self.prologue(conn)
                alone = await self._together(conn, live, outcomes)
                for unit in alone:
                    try:
                        async with conn.begin_nested():
                            result = await unit.work(conn)
                        outcomes.append((unit, result, None))
                    except Exception as exc:  # noqa: BLE001 -- handed to its caller; this
                        # unit's savepoint is rolled back, the others commit
                        await _still_open(conn, exc)
                        outcomes.append((unit, None, exc))
        except Exception as exc:  # noqa: BLE001 -- the commit (or the connection) failed:
            # nothing of the batch is stored, and every caller is told
            log.warning("group commit failed", extra={"units": len(live),
                                                      "error": type(exc).__name__})
            for unit in live:
                home.call_soon_threadsafe(_settle, unit.done, None, exc)
            return
        finally:
            reset_after_commit(token)
        self.batches += 1
        self.units += len(live)
        for unit, result, error in outcomes:
            home.call_soon_threadsafe(_settle, unit.done, result, error)
        for action in pending:
            home.call_soon_threadsafe(action)

    @staticmethod
    async def _together(conn: AsyncConnection, live: list[_Unit],
                        outcomes: list[tuple[_Unit, Any, BaseException | None]]
                        ) -> list[_Unit]:
        """Write the units that have a ``many`` by kind; the units left to write alone."""
        kinds: dict[Many, list[_Unit]] = {}
        alone: list[_Unit] = []
        for unit in live:
            if unit.many is None:
                alone.append(unit)
            else:
                kinds.setdefault(unit.many, []).append(unit)
        for many, units in kinds.items():
            if len(units) == 1:
                alone.extend(units)
                continue
            try:
                async with conn.begin_nested():
                    results = await many(conn, [unit.item for unit in units])
            except Exception as exc:  # noqa: BLE001 -- written one by one instead
                await _still_open(conn, exc)
                log.info("writing together failed; writing one by one",
                         extra={"units": len(units)})
                alone.extend(units)
                continue
            for unit, result in zip(units, results, strict=True):
                if isinstance(result, Exception):
                    outcomes.append((unit, None, result))
                else:
                    outcomes.append((unit, result, None))
        return alone
