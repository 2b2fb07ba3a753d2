"""The database engine and its migrations.

SQLite is the default: WAL journal, ``synchronous=FULL`` so that a committed message survives a
power cut, and write transactions that start with ``BEGIN IMMEDIATE`` so that two writers queue
instead of failing. PostgreSQL (``postgresql+asyncpg://``) needs none of that.
Every command and ``gateway serve`` upgrade the schema at start; a database written by a newer
gateway is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.protocol.errors import N_, GatewayError
from gateway.store.inline_sqlite import inline_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest revision in ``migrations/versions``. A database already there is opened without
#: loading alembic, a fifth of every command's start-up (``gateway users list``: 1.5 s, of
#: which 0.35 s importing alembic); tests/unit/store/test_database.py checks that this is
#: alembic's head, so that a new migration cannot be left out of it.
HEAD: Final = "0017"
#: The PostgreSQL advisory lock that serialises migrations ("BX" and 1).
MIGRATION_LOCK = 0x4258_0001


class DatabaseError(GatewayError):
    """The database cannot be used by this version of the gateway."""


#: SQLite's page cache per connection, in KiB: the node's own connection keeps 32 MiB
#: (reports and searches read much); the group-commit writer 16 MiB, as its inserts touch
#: index pages all over a large database and would fill any cache. With 64 MiB each, a node
#: holding 1,000,000 messages grew to 293 MB resident under a burst; with 16 MiB each, to
#: 192 MB, at the same rate (bench/ingest.py --stored 1000000; the operating system caches
#: the file anyway).
READ_CACHE_KIB: Final = 32768
WRITE_CACHE_KIB: Final = 16384


def _sqlite_pragmas(cache_kib: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=30000", f"cache_size=-{cache_kib}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so two of them queue instead of deadlocking;
    # readers (see `reading`) do not take it at all.
    read_only = connection.get_execution_options().get("bx_read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str, *, inline: bool = False) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get their folder, WAL and FULL sync.

    ``inline`` (SQLite only): run each statement at once in the calling thread, instead of
    handing it to aiosqlite's thread inside a greenlet (:mod:`gateway.store.inline_sqlite`),
    for an event loop that does nothing but write (the group-commit writer)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: the node's own requests queue in the pool (no busy-wait sleeps);
        # other processes (a CLI command beside `gateway serve`) wait on busy_timeout.
        if inline:
            assert parsed.database, "a file is needed"
            assert parsed.database != ":memory:", "a file is needed"
            engine: AsyncEngine = inline_engine(parsed.database)
        else:
            engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1,
                                         max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect",
                     _sqlite_pragmas(WRITE_CACHE_KIB if inline else READ_CACHE_KIB))
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only: no write lock, nothing committed."""
    async with engine.connect() as conn:
        await conn.execution_options(bx_read_only=True)
        try:
            yield conn
        finally:
            await conn.rollback()


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config  # noqa: PLC0415 -- only when migrating (see HEAD)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _at_head(connection: Connection) -> bool:
    if not inspect(connection).has_table("alembic_version"):
        return False
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars() \
        .all() == [HEAD]


def _upgrade(connection: Connection) -> None:
    if _at_head(connection):
        return
    from alembic import command  # noqa: PLC0415 -- only when migrating (see HEAD)
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    config = _alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseError(N_("the database schema ({current}) is newer than this gateway (knows "
                               "up to {head}); upgrade the gateway"),
                            current=current, head=script.get_current_head())
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the schema to the newest revision; refuse a database from a newer gateway."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait and find it done.
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await connection.run_sync(_upgrade)
