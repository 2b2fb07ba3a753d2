"""The ``gateway`` application and its command groups, speaking the user's language: the
command modules register their commands on these; :mod:`gateway.cli` assembles them.

The CLI speaks the language of LANGUAGE / LC_ALL / LC_MESSAGES / LANG (vi, en, km, lo), from
the catalogs in translations/ (``make translations`` compiles them). Click's own words
("Usage:", "Error:", "Try ... for help") come from the same catalogs.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from gettext import gettext as _
from typing import Annotated, Any, Final, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from gateway import __version__
from gateway.cli.running import REPOSITORY

gettext.bindtextdomain("messages", str(REPOSITORY / "translations"))
gettext.textdomain("messages")


F = TypeVar("F", bound=Callable[..., Any])


_CHOICE: Final = re.compile(r"(?:Value error, )?(?P<value>.+?) is not one of (?P<choices>.+?)\.?")


def _spoken_usage_error(exc: Exception, ctx: Any) -> Exception:
    """A usage error of Typer's copy of Click, said again through the catalogs (Typer keeps
    these words in English). The library's own detail of a bad value other than a choice
    stays as the library wrote it."""
    from typer._click.exceptions import BadParameter, MissingParameter, NoSuchOption, UsageError

    if isinstance(exc, MissingParameter) and exc.param is not None:
        hint = exc.param.get_error_hint()
        if exc.param.param_type_name == "argument":
            return UsageError(_("Missing argument {name}.").format(name=hint), ctx)
        return UsageError(_("Missing option {name}.").format(name=hint), ctx)
    if isinstance(exc, BadParameter) and exc.param is not None:
        detail = exc.message
        choice = _CHOICE.fullmatch(detail)
        if choice:
            detail = _("{value} is not one of {choices}.").format(**choice.groupdict())
        return UsageError(_("Invalid value for {param_hint}: {message}").format(
            param_hint=exc.param.get_error_hint(), message=detail), ctx)
    if isinstance(exc, NoSuchOption):
        return UsageError(_("No such option: {name}").format(name=exc.option_name), ctx)
    return exc


class _Speaking:
    """Typer's own words ("Usage:", the help option, usage errors) in the user's language:
    Typer keeps them in English in its copy of Click, so the command classes put them
    through the catalogs."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from typer._click.exceptions import UsageError

        try:
            parsed: list[str] = super().parse_args(ctx, args)  # type: ignore[misc]
        except UsageError as exc:
            spoken = _spoken_usage_error(exc, ctx)
            if spoken is exc:
                raise
            raise spoken from exc
        return parsed

    def get_usage(self, ctx: Any) -> str:
        usage: str = super().get_usage(ctx)  # type: ignore[misc]
        return usage.replace("Usage: ", f"{_('Usage:')} ", 1)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class SpeakingCommand(_Speaking, TyperCommand):
    """A command whose usage line and help option speak the user's language."""


class SpeakingGroup(_Speaking, TyperGroup):
    """A group whose usage line and help option speak the user's language."""


class GatewayTyper(typer.Typer):
    """A Typer app whose groups and commands speak the user's language."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", SpeakingGroup)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """As Typer's, with the speaking command class."""
        kwargs.setdefault("cls", SpeakingCommand)
        decorator: Callable[[F], F] = super().command(*args, **kwargs)
        return decorator


app = GatewayTyper(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                   help=_("Border Exchange Gateway: signed case exchange between agencies "
                          "(BX/1)."))
keys_app = GatewayTyper(no_args_is_help=True, help=_("This node's signing keys."))
partners_app = GatewayTyper(no_args_is_help=True, help=_("The partner directory."))
messages_app = GatewayTyper(help=_("Messages in and out, and their delivery."))
bundle_app = GatewayTyper(no_args_is_help=True, help=_("Offline bundles on removable media."))
audit_app = GatewayTyper(no_args_is_help=True, help=_(
    "The audit log: a hash chain and a Merkle tree, its checkpoints and their cosigners."))
proof_app = GatewayTyper(no_args_is_help=True, help=_(
    "Proof bundles: that a message was sent or received, checkable offline."))
users_app = GatewayTyper(no_args_is_help=True, help=_("The people who use this node."))
matching_app = GatewayTyper(no_args_is_help=True, help=_(
    "Matching found persons against the people searched for."))
secret_app = GatewayTyper(no_args_is_help=True, help=_(
    "The secret key that seals personal data at rest and signs sessions."))
app.add_typer(keys_app, name="keys")
app.add_typer(partners_app, name="partners")
app.add_typer(messages_app, name="messages")
app.add_typer(bundle_app, name="bundle")
app.add_typer(audit_app, name="audit")
app.add_typer(proof_app, name="proof")
app.add_typer(users_app, name="users")
app.add_typer(secret_app, name="secret")
app.add_typer(matching_app, name="matching")


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
