"""The words of Click and Typer that the command line shows ("Usage:", "Options", the usage
errors), listed so that the catalogs translate them: the command line speaks the language of
``LANGUAGE`` from its first word to its last. Click and Typer look them up through
:mod:`gettext` in the domain :mod:`gateway.cli` binds."""

from __future__ import annotations

from typing import Final


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: extract, do not translate
    """Mark a message for extraction."""
    return message


FRAMEWORK_WORDS: Final = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Arguments"),
    N_("Error"),
    N_("Show this message and exit."),
    N_("Try [blue]'{command_path} {help_option}'[/] for help."),
    N_("Try '{command} {option}' for help."),
    N_("Error: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("[required]"),
    N_("[default: {}]"),
    N_("Aborted."),
)
