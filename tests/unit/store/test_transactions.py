"""The store's doors on a real SQLite file: a write door commits and then runs what it
registered, a failing one leaves nothing and runs nothing, a read door never takes the write
lock, and a step runs inside its caller's transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import leases
from gateway.store.database import create_engine, migrate
from gateway.store.transactions import Database, after_commit, reads, writes

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=6)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Context:
    db: Database
    told: list[str]


@writes
async def take(conn: AsyncConnection, ctx: Context, holder: str, fail: bool = False) -> bool:
    held = await leases.hold(conn, "job", holder, NOW, TTL)
    after_commit(lambda: ctx.told.append(holder))
    if fail:
        raise ValueError("refused after the write")
    return held


@reads
async def holders(conn: AsyncConnection, ctx: Context) -> dict[str, object]:
    return dict(await leases.holders(conn))


@writes
async def take_twice(conn: AsyncConnection, ctx: Context) -> tuple[bool, bool]:
    return (await take.within(conn, ctx, "first"), await take.within(conn, ctx, "second"))


async def test_doors_commit_roll_back_and_read_without_the_write_lock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await migrate(engine)
    ctx = Context(Database(engine), [])
    try:
        with pytest.raises(ValueError, match="refused after the write"):
            await take(ctx, "r1", fail=True)
        assert ctx.told == []                   # rolled back: nothing told
        assert await holders(ctx) == {}         # and nothing stored

        assert await take_twice(ctx) == (True, False)   # the second step sees the first
        assert ctx.told == ["first", "second"]          # both told, after the commit
        assert list(await holders(ctx)) == ["job"]

        # A reader of another connection does not wait for a writer holding the lock.
        other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
        try:
            async with Database(other).transaction() as conn:
                await leases.hold(conn, "other", "w", NOW, TTL)     # write lock held
                found = await asyncio.wait_for(holders(ctx), timeout=5)
            assert "other" not in found          # it read the last committed state
        finally:
            await other.dispose()
    finally:
        await engine.dispose()
