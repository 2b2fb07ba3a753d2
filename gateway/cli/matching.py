"""``gateway matching reindex``: matching's blind index rebuilt from the open reports and the
case persons (after a restore, or a change of the blocking keys)."""

from __future__ import annotations

from gettext import gettext as _
from typing import TYPE_CHECKING

import typer

from gateway.cli.apps import matching_app
from gateway.cli.running import settings_or_exit, with_node

if TYPE_CHECKING:  # imported when the command runs: a fast --help
    from gateway.runtime.node import Node


@matching_app.command("reindex", help=_(
    "Rebuild the blind index of matching from the open missing-person reports and the "
    "case persons."))
def reindex() -> None:
    """Rebuild the blind index of matching; prints how many reports and persons it holds."""
    from gateway.cases import matching
    from gateway.cases.work import open_case_work

    async def work(node: Node) -> tuple[int, int]:
        return await matching.reindex(open_case_work(node))

    reports, persons = with_node(settings_or_exit(), work)
    typer.echo(_("Indexed {reports} open reports and {persons} case persons.").format(
        reports=reports, persons=persons))
