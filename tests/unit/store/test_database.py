"""Migrations on a real SQLite file: a database at the newest revision opens without alembic,
an older one is upgraded, a newer one refused; and ``HEAD`` is alembic's head."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from gateway.store import database
from gateway.store.database import HEAD, MIGRATIONS, DatabaseError, create_engine, migrate

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def version(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_head_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


async def test_a_database_at_head_is_opened_without_migrating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)  # a new file: every migration runs
        assert version(path) == [HEAD]
        ran: list[str] = []
        monkeypatch.setattr("alembic.command.upgrade", lambda *a: ran.append("upgrade"))
        await migrate(engine)
        assert ran == []
        with sqlite3.connect(path) as conn:  # one revision behind: upgraded again
            conn.execute("UPDATE alembic_version SET version_num = '0016'")
        await migrate(engine)
        assert ran == ["upgrade"]
    finally:
        await engine.dispose()


async def test_a_database_of_a_newer_gateway_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
        with pytest.raises(DatabaseError, match="newer than this gateway"):
            await migrate(engine)
        assert version(path) == ["9999"]
    finally:
        await engine.dispose()


def test_a_command_on_a_database_at_head_does_not_load_alembic(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    script = (
        "import asyncio, sys\n"
        "from gateway.store.database import create_engine, migrate\n"
        f"engine = create_engine('sqlite+aiosqlite:///{path}')\n"
        "asyncio.run(migrate(engine))\n"
        "asyncio.run(engine.dispose())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n")
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    assert first.stdout.strip() != "[]"  # a new file: alembic creates the schema
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    assert again.stdout.strip() == "[]"
    assert version(path)[0] == database.HEAD
