"""An aiosqlite connection that runs each call in the calling thread.

aiosqlite gives every connection a thread and hands each call over to it and back. On a busy
process every hand-over waits for the GIL (up to its 5 ms switch interval behind the threads
verifying signatures), so a short transaction of ten statements took about 6 ms of waiting
and almost no work (bench/ingest.py, profiled). The group-commit writer
(:mod:`gateway.store.groupcommit`) has a thread and an event loop of its own that do nothing
but write, so it may block: this connection runs every call at once, in that thread, and
SQLAlchemy's asyncio layer sees awaitables that are already done. ``sqlite3`` releases the
GIL while SQLite works, as it does under aiosqlite.

It relies on two details of aiosqlite 0.20 to 0.22: calls go through ``Connection._execute``
and a queue ``_tx`` of ``(future, function)`` pairs (SQLAlchemy's dialect also puts work on
that queue). ``tests/unit/store/test_groupcommit.py`` checks that statements really run in the
calling thread, so that an aiosqlite release that changes them fails the tests, not a node.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class _RunAtOnce:
    """Stands in for aiosqlite's queue to its thread: runs each function when it is put."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 -- handed to the awaiting caller, as
            # aiosqlite's thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """See the module's text."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunAtOnce()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return partial(fn, *args, **kwargs)()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def inline_creator(database: str) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy's aiosqlite dialect."""

    async def create() -> InlineConnection:
        return await InlineConnection(lambda: sqlite3.connect(database, timeout=30))

    return create
