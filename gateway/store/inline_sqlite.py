"""The group-commit writer's SQLite engine: each statement runs at once, in the calling thread.

Through SQLAlchemy's asyncio extension and aiosqlite, every statement is handed to aiosqlite's
thread and back, and runs inside a greenlet of its own that SQLAlchemy starts for it. On a busy
process every hand-over waits for the GIL (up to its 5 ms switch interval behind the threads
verifying signatures), and the greenlet and its adapters cost about as much as the statement's
own work in SQLAlchemy (bench/drain.py: the case work alone took 1.44 to 1.80 ms of CPU a
message with them, 1.05 to 1.17 ms without, in the same hour). The group-commit writer
(:mod:`gateway.store.groupcommit`) has a thread and an event loop of its own that do nothing
but write, so it may block: its engine (:func:`inline_engine`) runs Python's own ``sqlite3``
(SQLAlchemy's pysqlite dialect) in its thread, and its connections (:class:`InlineConnection`)
run each statement directly. ``sqlite3`` releases the GIL while SQLite works.

What the writer's use cases see is what the asyncio extension gives: an ``AsyncConnection``
whose results are buffered (every row read as the statement runs, :class:`_BufferedCursor`),
so that a result read after the next statement, or after the commit, reads what it read.
Connecting, beginning, savepoints, committing and disposing still go through the extension's
greenlets, which here never wait: a few per batch, not one per statement. ``stream()`` is the
one method it lacks (pysqlite has no server-side cursors): nothing the writer runs streams.
``tests/unit/store/test_groupcommit.py`` checks the thread, the buffering and the savepoints.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.interfaces import (
    CoreExecuteOptionsParameter,
    _CoreAnyExecuteParams,
    _DBAPIAnyExecuteParams,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql.base import Executable

#: The dialect's name in SQLAlchemy's registry (``sqlite+bxinline://``), for this module only.
DRIVER = "bxinline"


class InlineDialect(SQLiteDialect_pysqlite):
    """pysqlite, declared usable by the asyncio extension: nothing it does ever waits, so the
    extension's greenlets around connecting, beginning and committing return at once."""

    is_async = True
    supports_statement_cache = True


registry.register(f"sqlite.{DRIVER}", __name__, "InlineDialect")


class _BufferedCursor(sqlite3.Cursor):
    """A cursor that reads every row as its statement runs, as the asyncio extension's
    adapter of aiosqlite does: a result does not depend on when it is read."""

    _rows: collections.deque[Any]

    def execute(self, sql: str, parameters: Any = (), /) -> _BufferedCursor:
        super().execute(sql, parameters)
        self._rows = collections.deque(super().fetchall() if self.description else ())
        return self

    def executemany(self, sql: str, parameters: Any, /) -> _BufferedCursor:
        super().executemany(sql, parameters)
        self._rows = collections.deque()
        return self

    def fetchone(self) -> Any:
        rows = getattr(self, "_rows", None)
        return rows.popleft() if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = getattr(self, "_rows", None)
        if not rows:
            return []
        count = self.arraysize if size is None else size
        return [rows.popleft() for _ in range(min(count, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = getattr(self, "_rows", None)
        if not rows:
            return []
        taken = list(rows)
        rows.clear()
        return taken


class _Connection(sqlite3.Connection):
    """``sqlite3``'s connection, with :class:`_BufferedCursor` cursors."""

    def cursor(self, factory: Any = _BufferedCursor) -> Any:
        return super().cursor(factory)


class InlineConnection(AsyncConnection):
    """An ``AsyncConnection`` that runs each statement at once (see the module's text)."""

    async def execute(
            self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None, *,
            execution_options: CoreExecuteOptionsParameter | None = None) -> CursorResult[Any]:
        return self._proxied.execute(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(
            self, statement: str, parameters: _DBAPIAnyExecuteParams | None = None,
            execution_options: CoreExecuteOptionsParameter | None = None) -> CursorResult[Any]:
        return self._proxied.exec_driver_sql(statement, parameters, execution_options)


class InlineEngine(AsyncEngine):
    """An ``AsyncEngine`` whose connections are :class:`InlineConnection`."""

    _connection_cls = InlineConnection


def inline_engine(database: str) -> InlineEngine:
    """The writer's engine over the SQLite file ``database`` (one connection, used by the
    thread that made the engine only: ``sqlite3`` refuses any other)."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(database, timeout=30, factory=_Connection)

    return InlineEngine(create_engine(f"sqlite+{DRIVER}://", creator=connect,
                                      poolclass=AsyncAdaptedQueuePool, pool_size=1,
                                      max_overflow=0, pool_timeout=60))
