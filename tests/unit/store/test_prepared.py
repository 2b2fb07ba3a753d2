"""Prepared statements on the writer's engine (:func:`gateway.store.inline_sqlite.prepared`),
on a real SQLite file: each answers exactly what SQLAlchemy's own execution answers (rows,
their keys and types, counts, errors), runs without it where it can, and leaves to it what
only it does right."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, ResourceClosedError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import inline_sqlite
from gateway.store.database import create_engine
from gateway.store.inline_sqlite import prepared
from gateway.store.tables import UTC_TIME

pytestmark = pytest.mark.anyio

_serial = itertools.count(1000)
METADATA = sa.MetaData()
ITEMS = sa.Table(
    "item", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(10), nullable=False, server_default="plain"),
    sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("at", UTC_TIME),
)
SERIALS = sa.Table(
    "serial", METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("serial", sa.Integer, default=lambda: next(_serial)),  # computed in Python
)
AT = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)

SELECT_ONE = sa.select(ITEMS).where(ITEMS.c.id == sa.bindparam("id_"))
SELECT_KIND = sa.select(ITEMS.c.name, ITEMS.c.flag, ITEMS.c.at).where(
    ITEMS.c.kind == "special").order_by(ITEMS.c.id)  # a value bound in the statement
INSERT = sa.insert(ITEMS).returning(ITEMS.c.id)
INSERT_MANY = sa.insert(ITEMS)
UPDATE = sa.update(ITEMS).where(ITEMS.c.id == sa.bindparam("id_"))
DELETE_KIND = sa.delete(ITEMS).where(ITEMS.c.kind == sa.bindparam("kind_"))
NAMES_IN = sa.select(ITEMS.c.name).where(ITEMS.c.id.in_(sa.bindparam("ids", expanding=True)))
INSERT_SERIAL = sa.insert(SERIALS)
#: The same statements, prepared (each built once, as a module's constants are).
PREPARED = {statement: prepared(statement) for statement in (
    SELECT_ONE, SELECT_KIND, INSERT, INSERT_MANY, UPDATE, DELETE_KIND, NAMES_IN,
    INSERT_SERIAL)}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[AsyncConnection]:
    path = tmp_path / "p.db"
    engine = create_engine(f"sqlite:///{path}", inline=True)
    async with engine.begin() as setup:
        await setup.run_sync(METADATA.create_all)
    async with engine.connect() as connection:
        await connection.begin()
        yield connection
        await connection.rollback()
    await engine.dispose()


def plans(conn: AsyncConnection) -> dict[Any, Any]:
    return inline_sqlite._plans(conn.sync_engine)


async def both(conn: AsyncConnection, statement: Any, parameters: Any = None) -> Any:
    """What SQLAlchemy's execution and the prepared one answer, as (SQLAlchemy's, ours)."""
    theirs = await conn.execute(statement, parameters)
    ours = await conn.execute(PREPARED[statement], parameters)
    return theirs, ours


async def test_rows_keys_types_and_counts_are_sqlalchemys(conn: AsyncConnection) -> None:
    first = (await conn.execute(PREPARED[INSERT], {"name": "a", "at": AT})).scalar_one()
    await conn.execute(INSERT, {"name": "b", "kind": "special", "flag": True, "at": AT})
    await conn.execute(PREPARED[INSERT], {"name": "c", "kind": "special", "at": None})
    theirs, ours = await both(conn, SELECT_ONE, {"id_": first})
    theirs_row, ours_row = theirs.one(), ours.one()
    assert ours_row == theirs_row
    assert ours_row._mapping == theirs_row._mapping
    assert ours_row.at == AT  # aware, as stored
    assert ours_row.at.tzinfo is not None
    assert (ours_row.flag, ours_row.kind) == (False, "plain")  # the server's defaults
    theirs, ours = await both(conn, SELECT_KIND)
    assert ours.all() == theirs.all() == [("b", True, AT), ("c", False, None)]
    theirs, ours = await both(conn, SELECT_ONE, {"id_": 999})
    assert (ours.first(), theirs.first()) == (None, None)
    updated = await conn.execute(PREPARED[UPDATE], {"id_": first, "name": "a2", "flag": True})
    assert updated.rowcount == 1
    assert (await conn.execute(SELECT_ONE, {"id_": first})).one()._mapping["name"] == "a2"
    assert (await conn.execute(PREPARED[DELETE_KIND], {"kind_": "special"})).rowcount == 2
    keys = {key[1] for key in plans(conn)}  # each statement compiled for its names once
    assert {("id_",), ("flag", "id_", "name")} <= keys


async def test_results_read_as_sqlalchemys_read(conn: AsyncConnection) -> None:
    """By the column selected, not only its name; a statement without rows refuses to be
    read; parameters in a tuple as in a list."""
    await conn.execute(PREPARED[INSERT_MANY], ({"name": "t1"}, {"name": "t2"}))
    made = (await conn.execute(PREPARED[INSERT], ({"name": "t3", "at": AT},))).scalar_one()
    theirs, ours = await both(conn, SELECT_ONE, {"id_": made})
    assert ours.one()._mapping[ITEMS.c.at] == theirs.one()._mapping[ITEMS.c.at] == AT
    theirs, ours = await both(conn, UPDATE, {"id_": made, "flag": True})
    assert (theirs.returns_rows, ours.returns_rows) == (False, False)
    for result in (theirs, ours):
        with pytest.raises(ResourceClosedError):
            result.scalar()
    with pytest.raises(AttributeError, match="RETURNING"):
        _ = ours.inserted_primary_key
    names = (await conn.execute(sa.select(ITEMS.c.name).order_by(ITEMS.c.id))).scalars()
    assert names.all() == ["t1", "t2", "t3"]


async def test_many_rows_at_once(conn: AsyncConnection) -> None:
    rows = [{"name": f"n{i}", "at": AT} for i in range(5)]
    result = await conn.execute(PREPARED[INSERT_MANY], rows)
    assert result.rowcount == 5
    stored = (await conn.execute(sa.select(ITEMS.c.name, ITEMS.c.at)
                                 .order_by(ITEMS.c.id))).all()
    assert stored == [(f"n{i}", AT) for i in range(5)]
    assert plans(conn)[(PREPARED[INSERT_MANY], ("at", "name"), True)] is not None


async def test_the_writer_runs_it_without_sqlalchemys_execution(conn: AsyncConnection) -> None:
    """Fails if every prepared statement silently went through SQLAlchemy's execution."""
    called = []
    sync = conn.sync_connection
    assert sync is not None
    original = sync.execute

    def spy(*args: Any, **kwargs: Any) -> Any:
        called.append(args[0])
        return original(*args, **kwargs)

    sync.execute = spy  # type: ignore[method-assign]
    try:
        await conn.execute(PREPARED[UPDATE], {"id_": 1, "name": "x"})
        await conn.execute(PREPARED[SELECT_ONE], {"id_": 1})
        assert called == []
        await conn.execute(UPDATE, {"id_": 1, "name": "x"})  # not marked: SQLAlchemy's
        assert called == [UPDATE]
    finally:
        del sync.execute


async def test_errors_are_sqlalchemys(conn: AsyncConnection) -> None:
    await conn.execute(PREPARED[INSERT], {"name": "same"})
    with pytest.raises(IntegrityError) as raised:
        await conn.execute(PREPARED[INSERT], {"name": "same"})
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    assert "INSERT INTO item" in str(raised.value)
    with pytest.raises(IntegrityError):
        await conn.execute(PREPARED[INSERT_MANY], [{"name": "ours"}, {"name": "same"}])
    with pytest.raises(IntegrityError):
        await conn.execute(INSERT_MANY, [{"name": "theirs"}, {"name": "same"}])
    with pytest.raises(StatementError, match="id_"):  # a required parameter missing
        await conn.execute(PREPARED[SELECT_ONE], {})
    with pytest.raises(StatementError, match="id_"):
        await conn.execute(SELECT_ONE, {})
    naive = AT.replace(tzinfo=None)
    for statement in (INSERT, PREPARED[INSERT]):  # a value its type refuses
        with pytest.raises(StatementError, match="naive datetime"):
            await conn.execute(statement, {"name": "naive", "at": naive})
    # the transaction goes on: SQLite undid the failed row only, the rows before it stay
    # (the caller's savepoint undoes them), with either execution
    names = (await conn.execute(sa.select(ITEMS.c.name))).scalars().all()
    assert sorted(names) == ["ours", "same", "theirs"]


async def test_what_only_sqlalchemy_does_right_is_left_to_it(conn: AsyncConnection) -> None:
    made = (await conn.execute(PREPARED[INSERT], {"name": "d"})).scalar_one()
    await conn.execute(PREPARED[INSERT_SERIAL], {})
    await conn.execute(PREPARED[INSERT_SERIAL], [{}, {}])
    serials = (await conn.execute(sa.select(SERIALS.c.serial))).scalars().all()
    assert len(serials) == 3
    assert None not in serials  # a default computed in Python
    theirs, ours = await both(conn, NAMES_IN, {"ids": [made, 12345]})  # expanding
    assert ours.all() == theirs.all() == [("d",)]
    left = [plan for (statement, _, _), plan in plans(conn).items()
            if statement in (PREPARED[INSERT_SERIAL], PREPARED[NAMES_IN])]
    assert left == [None, None, None]  # compiled once each, and left to SQLAlchemy


async def test_statements_listened_to_and_outside_a_transaction_go_through_sqlalchemy(
        conn: AsyncConnection) -> None:
    seen: list[str] = []

    def statement(_c: object, _cu: object, sql: str, *_: object) -> None:
        seen.append(sql)

    event.listen(conn.sync_engine, "before_cursor_execute", statement)
    try:
        await conn.execute(PREPARED[SELECT_ONE], {"id_": 1})
    finally:
        event.remove(conn.sync_engine, "before_cursor_execute", statement)
    assert [sql.split(",")[0] for sql in seen] == ["SELECT item.id"]
    await conn.rollback()
    assert not conn.in_transaction()
    await conn.execute(PREPARED[INSERT], {"name": "autobegun"})  # begins as SQLAlchemy does
    assert conn.in_transaction()


async def test_the_mark_changes_nothing_elsewhere(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")  # the serving engine
    async with engine.begin() as setup:
        await setup.run_sync(METADATA.create_all)
        made = (await setup.execute(PREPARED[INSERT], {"name": "e", "at": AT})).scalar_one()
        row = (await setup.execute(PREPARED[SELECT_ONE], {"id_": made})).one()
    await engine.dispose()
    assert (row.name, row.at) == ("e", AT)
