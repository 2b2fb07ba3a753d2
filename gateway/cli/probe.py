"""``gateway probe`` (NODE.md, docs/probe.md): a partner's BX/1 endpoint checked against
PROTOCOL.md, check by check, signed as this node, with a report an implementer acts on.

Exit status: 0 when every MUST that was checked is met, 1 when one is not (or the probe
could not run), 2 on a usage error.
"""

from __future__ import annotations

from gettext import gettext as _
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.apps import app
from gateway.cli.running import (
    LOCALES,
    REPOSITORY,
    fail,
    reader_locale,
    settings_or_exit,
    usage_error,
    with_node,
)

if TYPE_CHECKING:
    from gateway.exchange.probe.results import ProbeRun, Result
    from gateway.runtime.node import Node


@app.command("probe", help=_(
    "Check a partner's BX/1 endpoint against PROTOCOL.md, check by check, with test "
    "messages (bx.test) signed as this node; exit 0 when every MUST is met, 1 when one is "
    "not."))
def probe(
    base_url: Annotated[str | None, typer.Argument(metavar="BASE_URL", help=_(
        "the partner's base URL, e.g. https://gw.example.kh/bx/v1 (left out: the "
        "endpoint of --partner)"))] = None,
    as_node: Annotated[str | None, typer.Option("--as", metavar="NODE_ID", help=_(
        "this node's id, as the partner enrolled it: the probe signs as this node"))] = None,
    partner: Annotated[str | None, typer.Option("--partner", metavar="ID", help=_(
        "the partner, from its partner file: its endpoint and pinned keys"))] = None,
    report: Annotated[Path | None, typer.Option("--report", metavar="DIR", help=_(
        "write probe.xml (JUnit), probe.json and probe.html here"))] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help=_(
        "push nothing: keys, mailbox, tokens on GET /messages, bundle and history only"))
    ] = False,
    bundle: Annotated[Path | None, typer.Option("--bundle", metavar="FILE", help=_(
        "also check a bundle the partner exported for this node (nothing is imported)"))
    ] = None,
    rate: Annotated[int | None, typer.Option("--rate", min=1, max=100_000, help=_(
        "requests a minute at most (default: half the partner file's rate_per_minute)"))
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=_(
        "the report's language: vi, en, km or lo (English is printed beside it)"))] = None,
) -> None:
    """Check a partner's BX/1 endpoint against PROTOCOL.md."""
    if as_node is None:
        usage_error(_("--as NODE_ID is needed: the node the probe signs as"))
    if base_url is None and partner is None:
        usage_error(_("give the partner's BASE_URL, or --partner ID"))
    if bundle is not None and not bundle.is_file():
        usage_error(_("{path}: no such file").format(path=bundle))
    if report is not None and report.exists() and not report.is_dir():
        usage_error(_("{path} is not a folder").format(path=report))
    locale = lang or reader_locale()
    if locale not in LOCALES:
        usage_error(_("--lang takes one of {locales}").format(locales=", ".join(LOCALES)))
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        usage_error(_("{url} is not an http(s) URL").format(url=base_url))
    settings = settings_or_exit()
    if as_node != settings.node_id:
        usage_error(_("--as {asked}: this node is {node_id} (BX_NODE_ID); the probe signs "
                      "only as the node it runs on").format(asked=as_node,
                                                           node_id=settings.node_id))
    if partner is not None and not (settings.partners_path / f"{partner}.toml").is_file():
        usage_error(_("{partner} is not in the partner directory").format(partner=partner))
    run = with_node(settings, lambda node: _probe(node, base_url, partner, read_only,
                                                  bundle, rate))
    _tell(run, report, locale)


async def _probe(node: Node, base_url: str | None, partner: str | None, read_only: bool,
                 bundle: Path | None, rate: int | None) -> ProbeRun:
    """Set the probe up, run it with a progress line, and audit it (started and done)."""
    from dataclasses import replace

    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from gateway.exchange.probe.history import partner_history
    from gateway.exchange.probe.run import planned, run_probe
    from gateway.exchange.probe.setup import ProbeSetupError, setup_for

    try:
        setup = setup_for(node, partner_id=partner, base_url=base_url, read_only=read_only,
                          bundle=bundle, per_minute=rate)
    except ProbeSetupError as exc:
        usage_error(exc.speak(_))
    if setup.partner is not None:
        setup = replace(setup, history=await partner_history(node, setup.partner))
    await node.audit("operator", "probe.started", setup.partner, endpoint=setup.base,
                     read_only=read_only)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task(_("probing {endpoint}").format(endpoint=setup.base),
                             total=planned(setup))

    def step(result: Result) -> None:
        progress.update(task, advance=1, description=f"{result.check.id} {result.status}")

    with progress:
        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
            run = await run_probe(setup, client, on_result=step)
    await node.audit("operator", "probe.finished", setup.partner, endpoint=setup.base,
                     results=str(run.summary()),
                     failed=" ".join(r.check.id for r in run.failed) or "-")
    return run


def _tell(run: ProbeRun, report: Path | None, locale: str) -> None:
    """The checks on standard output, the reports written, and the exit status."""
    from gateway.documents.catalog import catalogs
    from gateway.exchange.probe.report import summary_lines, write_reports

    for line in summary_lines(run, _):
        typer.echo(line)
    typer.echo(run.summary().error.speak(_))
    if report is not None:
        words = catalogs(REPOSITORY / "translations")
        try:
            paths = write_reports(run, report, words.get(locale), words.get("en"), locale)
        except OSError as exc:
            fail(_("{path}: the report cannot be written ({error})").format(path=report,
                                                                          error=exc))
        typer.echo(_("report written to {paths}").format(
            paths=", ".join(str(p) for p in paths)), err=True)
    if not run.passed:
        raise typer.Exit(1)
