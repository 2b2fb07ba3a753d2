"""Sending a unit's periodic report with four eyes (MESSAGES.md: a second person releases what
crosses to another agency): one supervisor submits the report as it stands, another releases
exactly those bytes, which are then signed and queued for the collecting node."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.exchange.node import Node
from gateway.exchange.outbound import OutboundError, queue_message
from gateway.protocol.envelope import MessageDraft
from gateway.protocol.errors import N_
from gateway.protocol.ids import node_country
from gateway.protocol.inbound import REPORT_COLLECTORS
from gateway.reports.document import DOC_TYPE, VERSION, to_document
from gateway.reports.indicators import Report
from gateway.reports.periods import ReportError
from gateway.reports.service import unit_names
from gateway.store import report_releases as releases


def collector_of(node: Node) -> str | None:
    """Where this unit sends its periodic report (None: it sends none, C02 itself included)."""
    collector = REPORT_COLLECTORS.get(node_country(node.node_id))
    return None if collector == node.node_id else collector


async def submit(conn: AsyncConnection, node: Node, actor: str, report: Report,
                 notes: dict[str, str] | None = None) -> int:
    """Keep the report's document as it stands, for a second person to release."""
    collector = collector_of(node)
    if collector is None or node.partners.get(collector) is None:
        raise ReportError(N_("this node sends no periodic report (no collecting node in its "
                             "partner directory)"), "period")
    document = to_document(report, unit_names(node), notes)
    node.registry.validate(DOC_TYPE, VERSION, document)
    release_id = await releases.add_submitted(
        conn, period=report.period.name, recipient=collector, document=document,
        submitted_by=actor, at=node.clock())
    await audit.append(conn, node.clock, actor, "report.submitted", report.period.name,
                       {"to": collector, "release": release_id})
    return release_id


async def pending(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Reports submitted and not yet released, newest first."""
    return await releases.pending(conn)


async def release(conn: AsyncConnection, node: Node, actor: str, release_id: int) -> str:
    """Sign and queue the submitted document (by another person than its submitter);
    returns the message id."""
    row = await releases.take(conn, release_id)
    if row is None:
        raise ReportError(N_("no periodic report {id} awaits release"), "release", "not-found",
                          id=release_id)
    if row.state != "submitted":
        raise ReportError(N_("the periodic report {id} is {state}, not awaiting release"),
                          "release", "state-conflict", id=release_id, state=row.state)
    if row.submitted_by == actor:
        raise ReportError(N_("a second person releases a report: you submitted this one"),
                          "release", "forbidden")
    draft = MessageDraft(type=DOC_TYPE, version=VERSION, to=row.recipient, handling="H0",
                         lang="vi")
    try:
        envelope = await queue_message(conn, node, draft, bytes(row.document), actor=actor)
    except OutboundError as exc:
        raise ReportError(exc.template, "release", "invalid-request", **exc.values) from exc
    message_id = envelope.header.bx.id
    await releases.mark_released(conn, release_id, by=actor, at=node.clock(),
                                 message_id=message_id)
    await audit.append(conn, node.clock, actor, "report.released", row.period,
                       {"to": row.recipient, "release": release_id, "message_id": message_id})
    return message_id
