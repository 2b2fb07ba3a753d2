"""Group commit on a real SQLite file: shared commits, savepoints, failures, threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import greenlet
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.store.database import create_engine
from gateway.store.groupcommit import GroupCommit, TransactionLostError, after_commit
from gateway.store.inline_sqlite import InlineConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "g.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                   "parent INTEGER REFERENCES parent(id))")
    return path


def writer_for(database: Path) -> GroupCommit:
    return GroupCommit(lambda: create_engine(f"sqlite+aiosqlite:///{database}", inline=True))


async def together(writer: GroupCommit, *calls: Any) -> list[Any]:
    """Run ``calls`` (coroutines of ``writer.run``) in one batch: a first unit holds the
    writer's thread while they queue behind it, so the writer takes them all at once."""

    async def hold(_conn: AsyncConnection) -> None:
        time.sleep(0.3)  # blocks the writer's thread: what comes meanwhile waits, together

    async def nothing(_conn: AsyncConnection) -> None:
        return None

    await writer.run(nothing)  # the writer is running: the gate is taken alone, at once
    gate = asyncio.ensure_future(writer.run(hold))
    await asyncio.sleep(0.1)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    await gate
    return list(outcomes)


def stored(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT name FROM item ORDER BY id")]


async def add(conn: AsyncConnection, name: str) -> str:
    await conn.execute(sa.text("INSERT INTO item (name) VALUES (:name)"), {"name": name})
    return name


async def test_units_ready_together_share_one_commit(database: Path) -> None:
    writer = writer_for(database)
    try:
        names = [f"n{i}" for i in range(40)]
        results = await asyncio.gather(*(writer.run(add, name) for name in names))
        assert results == names
        assert sorted(stored(database)) == sorted(names)
        assert writer.units == 40
        assert writer.batches < 40  # several units per commit
    finally:
        await writer.close()


async def test_a_failing_unit_is_rolled_back_alone(database: Path) -> None:
    writer = writer_for(database)

    async def add_then_fail(conn: AsyncConnection, name: str) -> None:
        await add(conn, name)
        raise ValueError("this unit changes its mind")

    try:
        outcomes = await asyncio.gather(writer.run(add, "kept-1"), writer.run(add_then_fail, "x"),
                                        writer.run(add, "kept-2"), return_exceptions=True)
        assert outcomes[0] == "kept-1"
        assert isinstance(outcomes[1], ValueError)
        assert outcomes[2] == "kept-2"
        assert stored(database) == ["kept-1", "kept-2"]  # nothing of the failed unit
    finally:
        await writer.close()


async def test_a_failed_commit_fails_every_caller_and_stores_nothing(database: Path) -> None:
    writer = writer_for(database)

    async def orphan(conn: AsyncConnection) -> None:
        # Checked at COMMIT, not at the statement: the whole batch's commit fails.
        await conn.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
        await conn.execute(sa.text("INSERT INTO item (name, parent) VALUES ('orphan', 99)"))

    try:
        outcomes = await together(writer, writer.run(add, "a"), writer.run(orphan),
                                  writer.run(add, "b"))
        assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
        assert "FOREIGN KEY" in str(outcomes[0])
        assert stored(database) == []
        assert await writer.run(add, "after") == "after"  # the writer goes on
        assert stored(database) == ["after"]
    finally:
        await writer.close()


async def test_units_written_together_fall_back_to_one_by_one(database: Path) -> None:
    writer = writer_for(database)
    calls: list[int] = []

    async def many(conn: AsyncConnection, names: list[str]) -> list[Any]:
        calls.append(len(names))
        await conn.execute(sa.text("INSERT INTO item (name) VALUES (:name)"),
                           [{"name": name} for name in names])
        return names

    try:
        written = await together(writer, *(writer.run_together(many, add, f"t{i}")
                                           for i in range(10)))
        assert written == [f"t{i}" for i in range(10)]
        assert max(calls) > 1  # some were written in one statement
        # A duplicate name fails the whole statement: each is written alone instead, and
        # only the duplicate's caller hears of it.
        again = await together(writer, *(writer.run_together(many, add, name)
                                         for name in ("u1", "t3", "u2")))
        assert again[0] == "u1"
        assert isinstance(again[1], Exception)
        assert "UNIQUE" in str(again[1])
        assert again[2] == "u2"
        assert stored(database).count("t3") == 1
        assert {"u1", "u2"} <= set(stored(database))
    finally:
        await writer.close()


async def test_after_commit_actions_run_on_the_callers_loop_after_the_commit(
        database: Path) -> None:
    writer = writer_for(database)
    seen: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    async def add_and_tell(conn: AsyncConnection, name: str) -> None:
        await add(conn, name)
        after_commit(lambda: seen.append((name, threading.get_ident() == loop_thread
                                          and name in stored(database))))

    try:
        await writer.run(add_and_tell, "told")
        await asyncio.sleep(0.05)
        assert seen == [("told", True)]  # on the serving loop's thread, and committed
    finally:
        await writer.close()


async def test_inline_connections_run_statements_in_the_calling_thread(database: Path) -> None:
    """The writer's connection runs each statement in the thread that asks, with SQLite's own
    driver and no greenlet of its own (see gateway.store.inline_sqlite)."""
    engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{database}", inline=True)
    try:
        async with engine.connect() as conn:
            assert isinstance(conn, InlineConnection)
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            seen: list[tuple[int, object]] = []
            driver.create_function("whoami", 0, lambda: seen.append(
                (threading.get_ident(), greenlet.getcurrent())) or 1)
            await conn.execute(sa.text("SELECT whoami()"))
            assert seen == [(threading.get_ident(), greenlet.getcurrent())]
    finally:
        await engine.dispose()


async def test_inline_results_are_read_as_their_statement_runs(database: Path) -> None:
    """As the asyncio extension's results are: rows read later are the rows there were when
    the statement ran, whatever ran since (even the same table emptied, or a commit)."""
    engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{database}", inline=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO item (name) VALUES ('a'), ('b'), ('c')"))
        async with engine.begin() as conn:
            names = await conn.execute(sa.text("SELECT name FROM item ORDER BY name"))
            first = await conn.execute(sa.text("SELECT name FROM item ORDER BY name"))
            await conn.execute(sa.text("DELETE FROM item"))
            assert first.first() == ("a",)
        assert names.scalars().all() == ["a", "b", "c"]  # read after the commit
        async with engine.begin() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM item"))).scalar_one() == 0
            several = await conn.execute(sa.text("SELECT 1 UNION ALL SELECT 2 UNION ALL "
                                                 "SELECT 3"))
            assert several.fetchmany(2) == [(1,), (2,)]
            assert several.fetchall() == [(3,)]
            assert several.fetchone() is None
    finally:
        await engine.dispose()


async def test_inline_savepoints_roll_back_only_their_writes(database: Path) -> None:
    """Savepoints and the driver-level SQL path work on the writer's connection as on any."""
    engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{database}", inline=True)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO item (name) VALUES ('kept')")
            with pytest.raises(sa.exc.IntegrityError):  # noqa: PT012 -- the savepoint's block
                async with conn.begin_nested():
                    await conn.execute(sa.text("INSERT INTO item (name) VALUES ('gone')"))
                    await conn.execute(sa.text("INSERT INTO item (name) VALUES ('kept')"))
        assert stored(database) == ["kept"]
    finally:
        await engine.dispose()


async def test_a_failure_that_ends_the_transaction_fails_the_whole_batch(database: Path) -> None:
    """A full disk (here: SQLite's page limit) rolls back the whole transaction, savepoints
    and all: no caller of that batch is told its write is stored, and nothing written after
    it commits on its own."""
    writer = writer_for(database)

    async def fill(conn: AsyncConnection) -> str:
        pages = (await conn.exec_driver_sql("PRAGMA page_count")).scalar_one()
        await conn.exec_driver_sql(f"PRAGMA max_page_count={pages}")
        try:
            await conn.execute(sa.text("INSERT INTO item (name) VALUES ("
                                       "hex(randomblob(200000)))"))
        finally:
            await conn.exec_driver_sql("PRAGMA max_page_count=1073741823")
        return "filled"

    try:
        await writer.run(add, "earlier")
        outcomes = await together(writer, writer.run(add, "before"), writer.run(fill),
                                  writer.run(add, "after"))
        assert all(isinstance(o, TransactionLostError) for o in outcomes), outcomes
        assert stored(database) == ["earlier"]
        assert await writer.run(add, "later") == "later"  # the next batch is written
        assert stored(database) == ["earlier", "later"]
    finally:
        await writer.close()


def test_a_writer_moved_to_another_loop_is_replaced_not_doubled(database: Path) -> None:
    """Callers on a new loop (a test's) that come together while the old writer stops wait
    for one new writer: never two writers, each with a connection, one of them left behind."""
    writer = writer_for(database)

    def writers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "group-commit" and t.is_alive()]

    before = len(writers())

    async def burst(prefix: str) -> None:
        await asyncio.gather(*(writer.run(add, f"{prefix}{i}") for i in range(8)))

    asyncio.run(burst("a"))
    asyncio.run(burst("b"))
    assert len(writers()) == before + 1
    asyncio.run(writer.close())
    assert len(writers()) == before
    assert len(stored(database)) == 16
