"""Reports as use cases: make a unit's report for a period from this node's records, and
record each export in the audit log with the reason given."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.exchange.outbound import send_message
from gateway.protocol.envelope import MessageDraft
from gateway.protocol.errors import N_
from gateway.reports import indicators
from gateway.reports.document import DOC_TYPE, VERSION, to_document
from gateway.reports.indicators import Report
from gateway.reports.periods import Period, ReportError
from gateway.runtime.node import Node
from gateway.store.transactions import reads, writes

#: The longest reason an export records.
REASON_MAX = 500


def country_of(node: Node, partner: str) -> str:
    """A partner's country: from its file, else from its id (``kh.ahtjp`` -> ``KH``)."""
    found = node.partners.get(partner)
    return found.file.country if found else partner.split(".", maxsplit=1)[0].upper()


@reads
async def make_report(conn: AsyncConnection, node: Node, period: Period,
                      as_of: datetime | None = None) -> Report:
    """This unit's indicators for ``period`` as known now (or at ``as_of``); reads only."""
    return await indicators.compute(
        conn, node.node_id, period, as_of or node.clock(),
        node.node_id.split(".", maxsplit=1)[0].upper(),
        lambda partner: country_of(node, partner))


def checked_reason(reason: str) -> str:
    """The reason for an export: required, one line, at most :data:`REASON_MAX`
    characters."""
    text = " ".join(reason.split())
    if not text:
        raise ReportError(N_("say why the report is exported"), "reason")
    if len(text) > REASON_MAX:
        raise ReportError(N_("the reason is longer than {limit} characters"), "reason",
                          limit=REASON_MAX)
    return text


@writes
async def record_export(conn: AsyncConnection, node: Node, actor: str, report: Report,
                        fmt: str, reason: str) -> None:
    """Audit one export of a report: who, which period, which format, why."""
    await audit.append(conn, node.clock, actor, "report.exported", report.period.name,
                       {"format": fmt, "reason": reason, "unit": report.unit,
                        "first": report.period.first.isoformat(),
                        "last": report.period.last.isoformat()})


@writes
async def record_national_export(conn: AsyncConnection, node: Node, actor: str,
                                 period: Period, fmt: str, reason: str) -> None:
    """Audit one export of the national table (the collecting node)."""
    await audit.append(conn, node.clock, actor, "report.exported", period.name,
                       {"format": fmt, "reason": reason, "scope": "national",
                        "first": period.first.isoformat(),
                        "last": period.last.isoformat()})


def unit_names(node: Node) -> dict[str, str]:
    """This unit's name by language, from its profile (``partners/<id>.toml``), else its id."""
    return node.names.names(node.node_id) or {"en": node.node_id}


async def send_report(node: Node, report: Report, to: str, actor: str = "operator",
                      notes: dict[str, str] | None = None) -> str:
    """Sign the ``periodic-report`` of ``report`` and queue it for ``to`` (the collecting
    node: anything else is refused by the outbound rules); returns the message id."""
    draft = MessageDraft(type=DOC_TYPE, version=VERSION, to=to, handling="H0",
                         lang="vi" if report.unit.startswith("vn.") else "en")
    return await send_message(node, draft, to_document(report, unit_names(node), notes),
                              actor=actor)
