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

The statements the writer runs for every message are built once (the repositories'
constants) and marked :func:`prepared`: the writer compiles each once for the names of its
parameters and runs it straight through ``sqlite3``, without SQLAlchemy's execution context
and cursor result, which took twice to three times what SQLite itself takes (a case read by
its key: 27 µs against 17 µs; an update: 22 against 11; ``sqlite3`` alone 4 to 6). What it
answers is SQLAlchemy's own ``Result`` (keys, types, ``rowcount``), and what fails raises
SQLAlchemy's errors; what only SQLAlchemy's execution does right (defaults computed in
Python, expanding ``IN`` parameters, ``RETURNING`` of many rows, a missing parameter, a
value its type refuses, a name bound twice, anyone listening to the engine's statements) is
left to it. ``tests/unit/store/test_prepared.py`` compares both executions.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from sqlalchemy import create_engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import CursorResult, Dialect, Engine
from sqlalchemy.engine.cursor import _NO_RESULT_METADATA
from sqlalchemy.engine.interfaces import (
    CoreExecuteOptionsParameter,
    _CoreAnyExecuteParams,
    _DBAPIAnyExecuteParams,
)
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
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


#: The execution option that marks a statement built once (a module's constant) as
#: :func:`prepared`.
PREPARED: Final = "bx_prepared"
_StatementT = TypeVar("_StatementT", bound=Executable)


def prepared(statement: _StatementT) -> _StatementT:
    """Mark ``statement``, built once (a module's constant, values as bound parameters), to be
    run by the writer compiled once, straight through ``sqlite3``: SQLAlchemy's execution of a
    statement (its execution context, parameters and result) costs two to three times what
    SQLite takes to run it, and the case work runs about ten a message (bench/drain.py).
    Anywhere else (another engine, PostgreSQL) the mark changes nothing. Never mark a
    statement built per call: each is compiled and kept."""
    return statement.execution_options(**{PREPARED: True})


class _Returned(IteratorResult[Any]):
    """What a :func:`prepared` statement answers: a buffered result, as the extension's (a
    statement that returns no rows answers none, and refuses to be read as SQLAlchemy's
    does). Not kept: ``inserted_primary_key``, ``lastrowid`` (the repositories use
    ``RETURNING``)."""

    rowcount: int
    returns_rows: bool

    @property
    def inserted_primary_key(self) -> Any:
        """Not kept: a prepared insert answers what its ``RETURNING`` returns."""
        raise AttributeError("a prepared statement keeps no inserted_primary_key: use "
                             "RETURNING")

    def _rows(self) -> None:
        if not self.returns_rows:  # raises ResourceClosedError, as SQLAlchemy's result does
            _NO_RESULT_METADATA._we_dont_return_rows()

    def _fetchiter_impl(self) -> Any:
        self._rows()
        return super()._fetchiter_impl()

    def _fetchone_impl(self, hard_close: bool = False) -> Any:
        self._rows()
        return super()._fetchone_impl(hard_close)

    def _fetchall_impl(self) -> Any:
        self._rows()
        return super()._fetchall_impl()

    def _fetchmany_impl(self, size: int | None = None) -> Any:
        self._rows()
        return super()._fetchmany_impl(size)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A :func:`prepared` statement compiled for the writer's dialect and one set of
    parameter names: its SQL, the order and processing of its parameters, and its rows'
    keys and processing."""

    sql: str
    names: tuple[tuple[str, str, Any], ...]  # each parameter's key, name and BindParameter
    binds: tuple[Callable[[Any], Any] | None, ...]
    metadata: SimpleResultMetaData | None
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns to process, how
    many: bool

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The DBAPI's parameters, as SQLAlchemy's ``construct_params`` and bind processors
        make them: a value given by the parameter's key or name, else the statement's own;
        None when a required one is missing (SQLAlchemy's execution refuses it in its own
        words)."""
        out = []
        for (key, name, bind), process in zip(self.names, self.binds, strict=True):
            if key in given:
                value = given[key]
            elif name in given:
                value = given[name]
            elif bind.required:
                return None
            else:
                value = bind.effective_value
            out.append(value if process is None else process(value))
        return tuple(out)

    def _processed(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for index, process in self.results:
            values[index] = process(values[index])
        return tuple(values)

    def run(self, dialect: Dialect, raw: sqlite3.Connection, given: Any) -> _Returned | None:
        """Run it with ``given`` (a list: for each of many); None if not run (see
        :meth:`parameters`)."""
        try:
            if self.many:
                parameters: Any = [self.parameters(p) for p in given]
                if None in parameters:
                    return None
            else:
                parameters = self.parameters(given)
                if parameters is None:
                    return None
        except Exception:  # noqa: BLE001 -- a value its type refuses (a naive time)
            return None  # SQLAlchemy's execution refuses it in its own words
        cursor = raw.cursor()
        try:
            if self.many:
                cursor.executemany(self.sql, parameters)
            else:
                cursor.execute(self.sql, parameters)
            rows = cursor.fetchall() if self.metadata is not None else []
        except sqlite3.Error as exc:  # as SQLAlchemy raises it (IntegrityError, ...)
            raise DBAPIError.instance(self.sql, parameters, exc, sqlite3.Error,
                                      dialect=dialect, ismulti=self.many) from exc
        finally:
            cursor.close()
        if self.results:
            rows = [self._processed(row) for row in rows]
        result = _Returned(self.metadata or _NO_RESULT_METADATA, iter(rows))
        result.rowcount = cursor.rowcount
        result.returns_rows = self.metadata is not None
        return result


def _plan(dialect: Dialect, statement: Executable, keys: tuple[str, ...],
          many: bool) -> _Plan | None:
    """``statement`` compiled for ``keys`` (as SQLAlchemy compiles it for them); None for
    what only SQLAlchemy's execution does right (defaults computed in Python, expanding
    parameters, ``RETURNING`` of many rows, a name bound twice, ambiguous column names)."""
    compiled: Any = cast(Any, statement).compile(dialect=dialect, column_keys=list(keys),
                                                 for_executemany=many)
    if (not compiled.positional or compiled.insert_prefetch or compiled.update_prefetch
            or compiled.literal_execute_params or compiled.post_compile_params
            or compiled.escaped_bind_names or compiled._insertmanyvalues
            or compiled.positiontup is None):
        return None
    returns = bool(compiled._result_columns)
    if many and returns:
        return None
    processors = compiled._bind_processors
    names = tuple(compiled.positiontup)
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    if len(binds) != len(compiled.bind_names):  # a name bound twice: SQLAlchemy's to check
        return None
    metadata: SimpleResultMetaData | None = None
    results: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    if returns:
        columns = compiled._result_columns
        row_keys = [column[0] for column in columns]
        if len(set(row_keys)) != len(row_keys):
            return None
        # a row read by name, or by the column or label it was selected as
        metadata = SimpleResultMetaData(row_keys, extra=[column[2] for column in columns])
        processors_of_rows = (column[3]._cached_result_processor(dialect, None)
                              for column in columns)
        results = tuple((index, process) for index, process in enumerate(processors_of_rows)
                        if process is not None)
    return _Plan(compiled.string,
                 tuple((binds[name].key, name, binds[name]) for name in names),
                 tuple(processors.get(name) for name in names), metadata, results, many)


class InlineConnection(AsyncConnection):
    """An ``AsyncConnection`` that runs each statement at once (see the module's text), a
    :func:`prepared` one straight through ``sqlite3``."""

    async def execute(
            self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None, *,
            execution_options: CoreExecuteOptionsParameter | None = None) -> CursorResult[Any]:
        sync = self._proxied
        if (execution_options is None
                and statement.get_execution_options().get(PREPARED)
                and sync.in_transaction() and not _listened(sync.engine)):
            # as SQLAlchemy reads parameters: a list of several is an executemany, compiled
            # for the first one's names
            if isinstance(parameters, (list, tuple)):
                many = len(parameters) > 1
                first = parameters[0] if parameters else {}
            else:
                many, first = False, parameters or {}
            key = (statement, tuple(sorted(first)), many)
            plans = _plans(sync.engine)
            try:
                plan = plans[key]
            except KeyError:
                plan = plans[key] = _plan(sync.dialect, statement, key[1], many)
            if plan is not None:
                raw = cast(sqlite3.Connection, sync.connection.driver_connection)
                result = plan.run(sync.dialect, raw, parameters if many else first)
                if result is not None:
                    return cast(CursorResult[Any], result)
        return sync.execute(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(
            self, statement: str, parameters: _DBAPIAnyExecuteParams | None = None,
            execution_options: CoreExecuteOptionsParameter | None = None) -> CursorResult[Any]:
        return self._proxied.exec_driver_sql(statement, parameters, execution_options)


class InlineEngine(AsyncEngine):
    """An ``AsyncEngine`` whose connections are :class:`InlineConnection`."""

    _connection_cls = InlineConnection


def _plans(engine: Engine) -> dict[Any, _Plan | None]:
    """The :func:`prepared` statements the engine has compiled, by statement and parameter
    names."""
    plans: dict[Any, _Plan | None] | None = engine.__dict__.get("_bx_plans")
    if plans is None:
        plans = engine.__dict__["_bx_plans"] = {}
    return plans


def _listened(engine: Engine) -> bool:
    """Whether anyone listens to the engine's statements (tests counting them): then every
    statement goes through SQLAlchemy's execution, which tells them."""
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute
                or dispatch.before_execute or dispatch.after_execute)


def inline_engine(database: str) -> InlineEngine:
    """The writer's engine over the SQLite file ``database`` (one connection, used by the
    thread that made the engine only: ``sqlite3`` refuses any other)."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(database, timeout=30, factory=_Connection)

    return InlineEngine(create_engine(f"sqlite+{DRIVER}://", creator=connect,
                                      poolclass=AsyncAdaptedQueuePool, pool_size=1,
                                      max_overflow=0, pool_timeout=60))
