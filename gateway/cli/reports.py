"""``gateway report``: this unit's indicators for a period, printed or exported (NODE.md)."""

from __future__ import annotations

import sys
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
    with_node,
)

if TYPE_CHECKING:
    from gateway.documents.catalog import Catalogs
    from gateway.reports.periods import Period
    from gateway.runtime.node import Node

_BINARY = ("pdf", "xlsx")


@app.command("report", help=_(
    "This unit's indicators for a period: 2026-H1 (six months ending 15 May), 2026 (the "
    "year ending 15 November) or FROM..TO; as HTML, PDF, XLSX or CSV."))
def report(
    period: Annotated[str, typer.Option("--period", metavar="P", help=_(
        "2026-H1, 2026 or 2026-01-01..2026-03-31"))],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help=_(
        "html, pdf, xlsx or csv"))] = "html",
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help=_(
        "write here (standard output for html and csv when left out)"))] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=_(
        "the report's language: vi, en, km or lo (English is printed beside it)"))] = None,
    reason: Annotated[str, typer.Option("--reason", help=_(
        "why the report is exported (kept in the audit log)"))] = "",
    send: Annotated[str | None, typer.Option("--send", metavar="ID", help=_(
        "sign the report as a periodic-report and queue it for this node (vn.c02)"))] = None,
    national: Annotated[bool, typer.Option("--national", help=_(
        "the national table of the units' reports instead (on the collecting node)"))] = False,
) -> None:
    """Print or export this unit's indicators for a period."""
    from gateway.documents.catalog import catalogs
    from gateway.exchange.outbound import OutboundError
    from gateway.protocol.problems import Problem
    from gateway.reports.exports import FORMATS, export
    from gateway.reports.periods import ReportError, parse_period
    from gateway.reports.service import checked_reason, make_report, record_export, send_report

    if fmt not in FORMATS:
        fail(_("--format takes one of {formats}").format(formats=", ".join(FORMATS)))
    locale = lang or reader_locale()
    if locale not in LOCALES:
        fail(_("--lang takes one of {locales}").format(locales=", ".join(LOCALES)))
    if national and send is not None:
        fail(_("--national and --send do not go together"))
    if out is None and fmt in _BINARY and send is None:
        fail(_("--out is needed for {format}").format(format=fmt))
    if out is not None and out.exists():
        fail(_("{path} exists; choose another file name").format(path=out))
    try:
        chosen = parse_period(period)
        why = checked_reason(reason or _("exported at the command line"))
    except ReportError as exc:
        fail(exc)
    settings = settings_or_exit()
    words = catalogs(REPOSITORY / "translations")

    async def work(node: Node) -> bytes:
        if national:
            return await _national(node, chosen, fmt, words, locale, why)
        made = await make_report(node, chosen)
        if send is not None:
            return (await send_report(node, made, send)).encode()
        data = export(made, fmt, words.get(locale), words.get("en"), locale)
        await record_export(node, "operator", made, fmt, why)
        return data

    try:
        data = with_node(settings, work)
    except (OutboundError, Problem, ReportError) as exc:
        fail(exc)
    if send is not None:
        typer.echo(data.decode())
        return
    _write(data, out)


def _write(data: bytes, out: Path | None) -> None:
    """To standard output, or to a file that appears whole."""
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    tmp.replace(out)
    typer.echo(_("report written to {path}").format(path=out), err=True)


async def _national(node: Node, period: Period, fmt: str, words: Catalogs, locale: str,
                    why: str) -> bytes:
    """The national table of the units' reports (the collecting node only), audited."""
    from gateway.protocol.errors import N_
    from gateway.protocol.inbound import REPORT_COLLECTORS
    from gateway.reports import national
    from gateway.reports.collection import collect
    from gateway.reports.periods import ReportError
    from gateway.reports.service import record_national_export

    if node.node_id not in REPORT_COLLECTORS.values():
        raise ReportError(N_("only the collecting node ({nodes}) has a national table"),
                          "national", nodes=", ".join(sorted(REPORT_COLLECTORS.values())))
    data = national.export(await collect(node, period), fmt, words.get(locale),
                           words.get("en"), locale, node.node_id, node.clock())
    await record_national_export(node, "operator", period, fmt, why)
    return data
