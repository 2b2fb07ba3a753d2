"""The ``gateway`` command line (NODE.md). Thin: parse, call one function, print the answer.

This module holds the application and what every command shares; the commands live in the
modules of this package, one concern each.

Exit status: 0 on success, 1 on a refused or failed operation (one line on standard error),
2 on a usage error.
"""

from __future__ import annotations

import asyncio
import gettext
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from enum import StrEnum
from gettext import gettext as _
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from gateway import __version__
from gateway.audit import log as audit
from gateway.cases.effects import install as install_case_hook
from gateway.cases.work import open_case_work
from gateway.documents.registry import RegistryError, SchemaRegistry
from gateway.exchange.node import Node, NodeError, open_database, open_node
from gateway.settings import REPOSITORY, Settings, SettingsError, load_settings
from gateway.trust.keys import KeyStore

# The CLI speaks the language of LANGUAGE / LC_ALL / LC_MESSAGES / LANG (vi, en, km, lo),
# from the catalogs in translations/ (``make translations`` compiles them).
gettext.bindtextdomain("messages", str(REPOSITORY / "translations"))
gettext.textdomain("messages")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help=_("Border Exchange Gateway: signed case exchange between agencies (BX/1)."))
keys_app = typer.Typer(no_args_is_help=True, help=_("This node's signing keys."))
partners_app = typer.Typer(no_args_is_help=True, help=_("The partner directory."))
messages_app = typer.Typer(help=_("Messages in and out, and their delivery."))
bundle_app = typer.Typer(no_args_is_help=True, help=_("Offline bundles on removable media."))
audit_app = typer.Typer(no_args_is_help=True, help=_("The hash-chained audit log."))
users_app = typer.Typer(no_args_is_help=True, help=_("The people who use this node."))
app.add_typer(keys_app, name="keys")
app.add_typer(partners_app, name="partners")
app.add_typer(messages_app, name="messages")
app.add_typer(bundle_app, name="bundle")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")


T = TypeVar("T")


class AlgChoice(StrEnum):
    """Signing algorithms a new key may use."""

    EDDSA = "EdDSA"
    ES256 = "ES256"


class DeliveryChoice(StrEnum):
    """How messages reach a partner."""

    PUSH = "push"
    PULL = "pull"


def fail(message: str) -> NoReturn:
    typer.echo(f"gateway: {message}", err=True)
    raise typer.Exit(1)


def now() -> datetime:
    return datetime.now(UTC)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def registry_or_exit(settings: Settings) -> SchemaRegistry:
    try:
        return SchemaRegistry.load(settings.schemas_dir)
    except RegistryError as exc:
        fail(_("schema registry refused: {error}").format(error=exc))


def keystore(settings: Settings) -> KeyStore:
    return KeyStore(settings.key_path, settings.node_id)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one async use case; a node that cannot start is one line and exit 1."""
    try:
        return asyncio.run(work)
    except NodeError as exc:
        fail(str(exc))


async def audit_change(settings: Settings, action: str, subject: str | None,
                       **detail: object) -> None:
    engine = await open_database(settings)
    try:
        async with engine.begin() as conn:
            await audit.append(conn, now, "operator", action, subject, detail)
    finally:
        await engine.dispose()


def migrate_or_exit(settings: Settings) -> None:
    """Create or upgrade the database (every command does at start)."""
    async def work() -> None:
        engine = await open_database(settings)
        await engine.dispose()

    run(work())


def with_node(settings: Settings, use: Callable[[Node], Coroutine[Any, Any, T]]) -> T:
    async def work() -> T:
        opened = await open_node(settings)
        install_case_hook(open_case_work(opened))
        try:
            return await use(opened)
        finally:
            await opened.close()

    return run(work())


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gateway {__version__} (BX/1)")
        raise typer.Exit


@app.callback(help=_("Border Exchange Gateway."))
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help=_("Print the version and exit."))] = False,
) -> None:
    """Border Exchange Gateway."""


def main() -> None:
    """Console entry point."""
    app()


# The command modules register themselves on the apps above.
from gateway.cli import documents, keys, node, partners, users  # noqa: E402, F401
