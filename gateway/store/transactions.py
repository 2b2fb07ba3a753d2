"""The store's one API for units of work: every use case opens its transaction (or its read
snapshot) here, and nowhere else opens one.

- :meth:`Database.transaction`: one use case's writes, committed when the block ends without
  error; what the use case registered with :func:`after_commit` runs once the commit has
  succeeded (never before, never after a rollback).
- :meth:`Database.snapshot`: reads only; on SQLite a plain ``BEGIN`` that never takes the write
  lock, rolled back at the end.
- :meth:`Database.grouped`: a short write in the next group commit
  (:mod:`gateway.store.groupcommit`), for the hot paths.

A use case is written as a function of ``(conn, context, ...)`` and made a door with
:func:`writes` or :func:`reads`: callers (a router, a console page, a command) call
``door(context, ...)`` and never see a connection; a use case that is a step of another calls
``door.within(conn, context, ...)`` inside the caller's transaction.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Concatenate, Generic, ParamSpec, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.store.database import reading
from gateway.store.groupcommit import (
    GroupCommit,
    after_commit,
    collecting_after_commit,
    reset_after_commit,
)

__all__ = ["Database", "HasDatabase", "UseCase", "after_commit", "reads", "writes"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_C = TypeVar("_C", bound="HasDatabase")


class Database:
    """A node's database: its engine and its group-commit writer."""

    def __init__(self, engine: AsyncEngine, writer: GroupCommit | None = None) -> None:
        self.engine = engine
        self.writer = writer

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One use case's transaction (see the module docstring)."""
        pending, token = collecting_after_commit()
        try:
            async with self.engine.begin() as conn:
                yield conn
        finally:
            reset_after_commit(token)
        for action in pending:
            action()

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read snapshot: no write lock, nothing committed."""
        async with reading(self.engine) as conn:
            yield conn

    async def grouped(self, use_case: Callable[Concatenate[AsyncConnection, _P], Awaitable[_R]],
                      *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run a short write in the next group commit: it shares a transaction and an fsync
        with the others ready at the same moment, in its own savepoint, on the writer's
        thread (so it must not touch the serving loop's objects)."""
        if self.writer is None:
            async with self.transaction() as conn:
                return await use_case(conn, *args, **kwargs)
        return await self.writer.run(use_case, *args, **kwargs)

    async def dispose(self) -> None:
        """Close the writer and the engine."""
        if self.writer is not None:
            await self.writer.close()
        await self.engine.dispose()


class HasDatabase(Protocol):
    """What a use case's context offers: the database it works in."""

    @property
    def db(self) -> Database:
        """The database."""
        ...


class UseCase(Generic[_C, _P, _R]):
    """A use case made a door: ``await door(context, ...)`` runs it in its own transaction
    (or snapshot); ``await door.within(conn, context, ...)`` runs it as a step of another."""

    def __init__(self, step: Callable[Concatenate[AsyncConnection, _C, _P], Awaitable[_R]],
                 *, read_only: bool) -> None:
        functools.update_wrapper(self, step)
        self.within = step
        self.read_only = read_only

    async def __call__(self, context: _C, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        db = context.db
        opened = db.snapshot() if self.read_only else db.transaction()
        async with opened as conn:
            return await self.within(conn, context, *args, **kwargs)


def writes(step: Callable[Concatenate[AsyncConnection, _C, _P], Awaitable[_R]]
           ) -> UseCase[_C, _P, _R]:
    """Make ``step`` a use case that opens its own transaction."""
    return UseCase(step, read_only=False)


def reads(step: Callable[Concatenate[AsyncConnection, _C, _P], Awaitable[_R]]
          ) -> UseCase[_C, _P, _R]:
    """Make ``step`` a use case that reads in its own snapshot (never takes the write lock;
    whatever it writes is rolled back, so a read that must leave a trace, an audited view of
    a victim's file, is a :func:`writes`)."""
    return UseCase(step, read_only=True)
