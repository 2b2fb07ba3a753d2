"""``gateway users``: accounts of the people who use this node."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from enum import StrEnum
from gettext import gettext as _
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gateway.cli.apps import users_app
from gateway.cli.running import (
    audit_change,
    fail,
    now,
    registry_or_exit,
    run,
    settings_or_exit,
    usage_error,
    when,
    with_database,
)

if TYPE_CHECKING:
    from gateway.audit.context import DatabaseAtHand

T = TypeVar("T")


class RoleChoice(StrEnum):
    """The roles a person can hold (gateway.access.roles.HUMAN_ROLES; a test keeps them
    equal): a wrong one is a usage error, before any password is asked."""

    HOTLINE_OPERATOR = "hotline-operator"
    BLO_OFFICER = "blo-officer"
    INVESTIGATOR = "investigator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


def _in_database(use: Callable[[DatabaseAtHand], Coroutine[Any, Any, T]]) -> T:
    """Run one use case on accounts; a refusal is one line and exit 1."""
    from gateway.access import users

    try:
        return with_database(settings_or_exit(), use)
    except users.UserError as exc:
        fail(exc)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True))


@users_app.command("add", help=_("Create an account (asks for the password twice)."))
def users_add(
    username: str,
    role: Annotated[RoleChoice, typer.Option(help=_("The user's role."))],
    unit: Annotated[str, typer.Option(help=_("The user's unit, e.g. vn.blo-mocbai."))],
    name: Annotated[str, typer.Option("--name", help=_("The name shown to colleagues."))],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help=_("Read the password from standard input."))] = False,
) -> None:
    """Create an account (asks for the password twice)."""
    from gateway.access import users

    if not users.UNIT.fullmatch(unit):
        usage_error(_("--unit is a unit id such as vn.blo-mocbai"))
    password = _password(password_stdin)
    _in_database(lambda db: users.add_user(db, "operator", username=username,
                                           display_name=name, role=role.value, unit=unit,
                                           password=password))
    typer.echo(_("added {user} ({role}, {unit})").format(user=username, role=role.value,
                                                          unit=unit))
    _hint_unnamed(unit)


def _hint_unnamed(unit: str) -> None:
    """Say so when a user's unit has no name: the console and the alerts it signs would
    show its id."""
    from gateway.trust.names import NameBook, units_file
    from gateway.trust.partners import PartnerDirectory

    settings = settings_or_exit()
    if (settings.partners_path / f"{unit}.toml").is_file():
        return  # a partner: named in its partner file
    book = NameBook(settings.profiles_dir, PartnerDirectory(settings.partners_path, ()),
                    units_file(settings.data_path))
    if not book.names(unit):
        typer.echo(_("{unit} has no name yet: name it with 'gateway users unit {unit} --vi "
                     "... --en ... --km ... --lo ...'").format(unit=unit))


@users_app.command("unit",
    help=_("Show a unit's names, or name it (--vi, --en, --km, --lo): the console and the "
           "alerts it signs show them."))
def users_unit(
    unit: str,
    vi: Annotated[str | None, typer.Option("--vi", help=_("Its name in Vietnamese."))] = None,
    en: Annotated[str | None, typer.Option("--en", help=_("Its name in English."))] = None,
    km: Annotated[str | None, typer.Option("--km", help=_("Its name in Khmer."))] = None,
    lo: Annotated[str | None, typer.Option("--lo", help=_("Its name in Lao."))] = None,
) -> None:
    """Show a unit's names, or name it in the node's units file (``<BX_DATA_DIR>/units.toml``);
    a partner is named in its partner file instead."""
    from gateway.access import users
    from gateway.trust.names import (
        NAME_LANGUAGES,
        NameBook,
        UnitNamesError,
        read_unit_names,
        units_file,
        write_unit_names,
    )
    from gateway.trust.partners import PartnerDirectory

    if not users.UNIT.fullmatch(unit):
        usage_error(_("UNIT is a unit id such as vn.hotline-111"))
    settings = settings_or_exit()
    path = units_file(settings.data_path)
    given = {lang: text for lang, text in (("vi", vi), ("en", en), ("km", km), ("lo", lo))
             if text is not None}
    partner_file = settings.partners_path / f"{unit}.toml"
    try:
        if given and partner_file.is_file():
            fail(_("{unit} is a partner: its names are in its partner file {path}").format(
                unit=unit, path=partner_file))
        if given:
            written = write_unit_names(path, unit, given)[unit]
            run(audit_change(settings, "unit.named", unit, names=written))
        else:
            read_unit_names(path)  # a broken file is said, not shown as "no names"
    except UnitNamesError as exc:
        fail(exc)
    directory = PartnerDirectory(settings.partners_path, registry_or_exit(settings).types())
    directory.reload()
    names = NameBook(settings.profiles_dir, directory, path).names(unit)
    for lang in NAME_LANGUAGES:
        typer.echo(f"{lang}  {names.get(lang, '-')}")
    missing = [lang for lang in NAME_LANGUAGES if lang not in names]
    if missing:
        typer.echo(_("no name yet in: {languages}").format(languages=", ".join(missing)),
                   err=True)


@users_app.command("list", help=_("Every account: name, role, unit, state."))
def users_list() -> None:
    """Every account: name, role, unit, since when, state."""
    from gateway.access import users

    for user in _in_database(users.list_users):
        state = _("disabled") if user.disabled else (
            _("locked until {time}").format(time=when(user.locked_until)) if user.locked_until
            and user.locked_until > now() else _("active"))
        typer.echo(f"{user.username:24} {user.role:17} {user.unit:24} "
                   f"{when(user.created_at)}  {state}")


@users_app.command("disable", help=_("Disable an account; its sessions end at once."))
def users_disable(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", help=_("Do not ask for confirmation."))] = False,
) -> None:
    """Disable an account; its sessions end at once."""
    if not yes and not typer.confirm(_("Disable {user}? Their sessions end now.").format(
            user=username)):
        fail(_("nothing changed"))
    from gateway.access import users

    _in_database(lambda db: users.set_disabled(db, "operator", username))
    typer.echo(_("disabled {user}").format(user=username))


@users_app.command("reset-password",
    help=_("Set a new password; clears a lock-out and ends the user's sessions."))
def users_reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help=_("Read the password from standard input."))] = False,
) -> None:
    """Set a new password; clears a lock-out and ends the user's sessions."""
    from gateway.access import users

    password = _password(password_stdin)
    _in_database(lambda db: users.set_password(db, "operator", username, password))
    typer.echo(_("password set for {user}").format(user=username))
