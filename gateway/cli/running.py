"""How a command runs: its settings, the node or just its database, one use case, and one
line on standard error when that is refused.

A command imports what it uses when it runs, so that ``gateway --help`` and a usage error
answer at once (no database, web or crypto stack): the imports below the functions' first
lines are deliberate.

Exit status: 0 on success, 1 on a refused or failed operation (one line on standard error),
2 on a usage error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from gettext import gettext as _
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

import typer

from gateway.localtime import as_local

if TYPE_CHECKING:
    from gateway.audit.context import DatabaseAtHand
    from gateway.documents.registry import SchemaRegistry
    from gateway.runtime.node import Node
    from gateway.settings import Settings
    from gateway.trust.keys import KeyStore

#: The repository beside the package (schemas, catalogs, partner profiles).
REPOSITORY: Final = Path(__file__).resolve().parent.parent.parent
#: The console's and the catalogs' languages (gateway.documents.catalog.LOCALES).
LOCALES: Final = ("vi", "en", "km", "lo")

T = TypeVar("T")


def reader_locale() -> str:
    """The language the command line speaks (LANGUAGE, LC_ALL, LC_MESSAGES, LANG)."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for part in os.environ.get(name, "").split(":"):
            code = part.split("_")[0].split(".")[0]
            if code in LOCALES:
                return code
    return "en"


def fail(message: str | Exception) -> NoReturn:
    """One line on standard error and exit 1; a gateway error in the reader's language."""
    from gateway.protocol.errors import GatewayError

    if isinstance(message, GatewayError):
        message = message.speak(_)
    typer.echo(f"gateway: {message}", err=True)
    raise typer.Exit(1)


def usage_error(message: str) -> NoReturn:
    """A usage error: one line and exit 2 (NODE.md)."""
    typer.echo(f"gateway: {message}", err=True)
    raise typer.Exit(2)


def now() -> datetime:
    """The wall clock, in UTC (the commands' clock)."""
    return datetime.now(UTC)


def when(value: Any) -> str:
    """A stored UTC time as the console shows it: UTC+7, to the minute ('-' if none)."""
    return as_local(value) or "-"


def settings_or_exit() -> Settings:
    """The node's settings, or one line and exit 1."""
    from gateway.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc)


def registry_or_exit(settings: Settings) -> SchemaRegistry:
    """The schema registry, or one line and exit 1."""
    from gateway.documents.registry import RegistryError, SchemaRegistry

    try:
        return SchemaRegistry.load(settings.schemas_dir)
    except RegistryError as exc:
        fail(_("schema registry refused: {error}").format(error=exc))


def keystore(settings: Settings) -> KeyStore:
    """This node's key store."""
    from gateway.trust.keys import KeyStore

    return KeyStore(settings.key_path, settings.node_id)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one async use case; a node that cannot start is one line and exit 1."""
    import asyncio

    from gateway.runtime.node import NodeError

    try:
        return asyncio.run(work)
    except NodeError as exc:
        fail(exc)


@contextlib.asynccontextmanager
async def _database_at_hand(settings: Settings) -> AsyncIterator[DatabaseAtHand]:
    """The node's database (migrated first) and the wall clock, closed after."""
    from gateway.audit.context import DatabaseAtHand
    from gateway.runtime.node import open_database
    from gateway.store.transactions import Database

    at_hand = DatabaseAtHand(Database(await open_database(settings)), now)
    try:
        yield at_hand
    finally:
        await at_hand.db.dispose()


def with_database(settings: Settings,
                  use: Callable[[DatabaseAtHand], Coroutine[Any, Any, T]]) -> T:
    """Run ``use`` on the node's database and the wall clock, without the rest of the node:
    for the commands on accounts and on the audit log."""

    async def work() -> T:
        async with _database_at_hand(settings) as at_hand:
            return await use(at_hand)

    return run(work())


async def audit_change(settings: Settings, action: str, subject: str | None,
                       **detail: object) -> None:
    """Audit an operator's change made outside the database (a key, a partner file, a
    unit's names)."""
    from gateway.audit import log as audit

    async with _database_at_hand(settings) as at_hand:
        await audit.record(at_hand, "operator", action, subject, detail)


def migrate_or_exit(settings: Settings) -> None:
    """Create or upgrade the database (every command does at start)."""
    from gateway.runtime.node import open_database

    async def work() -> None:
        engine = await open_database(settings)
        await engine.dispose()

    run(work())


def with_node(settings: Settings, use: Callable[[Node], Coroutine[Any, Any, T]]) -> T:
    """Run ``use`` on the opened node (its case work attached), closed after."""
    from gateway.cases.effects import install as install_case_hook
    from gateway.cases.work import open_case_work
    from gateway.exchange.startup import open_node

    async def work() -> T:
        opened = await open_node(settings)
        install_case_hook(open_case_work(opened))
        try:
            return await use(opened)
        finally:
            await opened.close()

    return run(work())
