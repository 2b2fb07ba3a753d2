"""Leases on a real SQLite file: one holder, renewal, takeover once lapsed, release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store import leases
from gateway.store.database import create_engine, migrate

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=6)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_one_holder_until_its_lease_lapses(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    await migrate(engine)
    try:
        async def hold(holder: str, at: datetime) -> bool:
            async with engine.begin() as conn:
                return await leases.hold(conn, "housekeeping", holder, at, TTL)

        assert await hold("r1", NOW)
        assert not await hold("r2", NOW + timedelta(minutes=1))      # r1 holds it
        assert await hold("r1", NOW + timedelta(minutes=5))          # r1 renews
        assert not await hold("r2", NOW + timedelta(minutes=10))     # renewed at 5: until 11
        assert await hold("r2", NOW + timedelta(minutes=11, seconds=1))  # lapsed: taken over
        assert not await hold("r1", NOW + timedelta(minutes=12))     # r1 came back: too late
        async with engine.begin() as conn:
            assert (await leases.holders(conn))["housekeeping"][0] == "r2"
            await leases.release(conn, "housekeeping", "r2")
        assert await hold("r1", NOW + timedelta(minutes=12))         # released: free at once
    finally:
        await engine.dispose()
