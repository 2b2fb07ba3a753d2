"""Sending a unit's periodic report with four eyes (MESSAGES.md: a second person releases what
crosses to another agency): one supervisor submits the report as it stands, another
supervisor of the same unit releases exactly those bytes from the release queue, which are
then signed and queued for the collecting node, or sends them back with a reason. Submitting
a period again withdraws the submission of it still waiting."""

from __future__ import annotations

from typing import Any, Final, TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import review
from gateway.cases.view_types import QueuedDraftView
from gateway.cases.work import CaseWork
from gateway.exchange.outbound import OutboundError, queue_message
from gateway.protocol.envelope import MessageDraft
from gateway.protocol.errors import N_
from gateway.protocol.ids import node_country
from gateway.protocol.inbound import REPORT_COLLECTORS
from gateway.reports.document import DOC_TYPE, VERSION, to_document
from gateway.reports.indicators import Report
from gateway.reports.periods import Period, ReportError, parse_period
from gateway.reports.service import make_report, unit_names
from gateway.runtime.node import Node
from gateway.store import report_releases as releases
from gateway.store.transactions import reads, writes

#: The longest reason for sending a report back.
REASON_MAX: Final = 500


def collector_of(node: Node) -> str | None:
    """Where this unit sends its periodic report (None: it sends none, C02 itself included)."""
    collector = REPORT_COLLECTORS.get(node_country(node.node_id))
    return None if collector == node.node_id else collector


@writes
async def submit(conn: AsyncConnection, node: Node, principal: Principal, report: Report,
                 notes: dict[str, str] | None = None) -> int:
    """Keep the report's document as it stands, for a second supervisor of the unit to
    release; a submission of the same period still waiting is withdrawn (the newer
    figures replace it)."""
    collector = collector_of(node)
    if collector is None or node.partners.get(collector) is None:
        raise ReportError(N_("this node sends no periodic report (no collecting node in its "
                             "partner directory)"), "period")
    document = to_document(report, unit_names(node), notes)
    node.registry.validate(DOC_TYPE, VERSION, document)
    replaced = await releases.withdraw_pending(conn, period=report.period.name,
                                               recipient=collector, unit=principal.unit)
    release_id = await releases.add_submitted(
        conn, period=report.period.name, recipient=collector, unit=principal.unit,
        document=document, submitted_by=principal.actor, at=node.clock())
    for old in replaced:
        await audit.append(conn, node.clock, principal.actor, "report.withdrawn",
                           report.period.name, {"release": old, "by": release_id})
    await audit.append(conn, node.clock, principal.actor, "report.submitted",
                       report.period.name, {"to": collector, "release": release_id})
    return release_id


async def submit_period(node: Node, principal: Principal, period: Period) -> int:
    """Make this unit's report for ``period`` as it stands (in a read snapshot: the
    indicators take a while and must not hold the write lock) and submit it (:func:`submit`,
    its own transaction); returns the submission's id."""
    return await submit(node, principal, await make_report(node, period))


async def pending(conn: AsyncConnection, unit: str | None = None) -> list[dict[str, Any]]:
    """Reports submitted and not yet released (of ``unit`` when given), oldest first."""
    return await releases.pending(conn, unit)


async def latest(conn: AsyncConnection, unit: str) -> list[dict[str, Any]]:
    """The unit's latest submissions in any state (the reports page), newest first."""
    return await releases.latest(conn, unit)


class Waiting(TypedDict):
    """A supervisor's release queue: drafts and periodic reports."""

    drafts: list[QueuedDraftView]
    reports: list[dict[str, Any]]


@reads
async def waiting(conn: AsyncConnection, cw: CaseWork, principal: Principal) -> Waiting:
    """The release queue of a supervisor: the unit's drafts waiting for a second person
    (with what she has not opened yet), and the unit's periodic reports waiting, each with
    its period and whether she may release it (not her own submission)."""
    reports = await releases.pending(conn, principal.unit)
    for row in reports:
        row["mine"] = row["submitted_by"] == principal.actor
        row["window"] = parse_period(row["period"])
    return {"drafts": await review.queue(conn, cw, principal), "reports": reports}


async def _waiting_row(conn: AsyncConnection, principal: Principal, release_id: int) -> Any:
    """A submission of the principal's unit awaiting release, locked."""
    row = await releases.take(conn, release_id)
    if row is None or (row.unit is not None and row.unit != principal.unit):
        raise ReportError(N_("no periodic report {id} awaits release"), "release", "not-found",
                          id=release_id)
    if row.state != "submitted":
        raise ReportError(N_("the periodic report {id} is {state}, not awaiting release"),
                          "release", "state-conflict", id=release_id, state=row.state)
    return row


@reads
async def submitted_document(conn: AsyncConnection, _node: Node, principal: Principal,
                             release_id: int) -> tuple[str, bytes]:
    """The period and the exact bytes of a submission of the principal's unit (its
    preview): figures only, nothing personal."""
    row = await releases.read(conn, release_id)
    if row is None or (row.unit is not None and row.unit != principal.unit):
        raise ReportError(N_("no periodic report {id} awaits release"), "release", "not-found",
                          id=release_id)
    return str(row.period), bytes(row.document)


@writes
async def release(conn: AsyncConnection, node: Node, principal: Principal,
                  release_id: int) -> str:
    """Sign and queue the submitted document (by another supervisor of the same unit than
    its submitter); returns the message id."""
    row = await _waiting_row(conn, principal, release_id)
    if row.submitted_by == principal.actor:
        raise ReportError(N_("a second person releases a report: you submitted this one"),
                          "release", "forbidden")
    draft = MessageDraft(type=DOC_TYPE, version=VERSION, to=row.recipient, handling="H0",
                         lang="vi")
    try:
        envelope = await queue_message(conn, node, draft, bytes(row.document),
                                       actor=principal.actor)
    except OutboundError as exc:
        raise ReportError(exc.template, "release", "invalid-request", **exc.values) from exc
    message_id = envelope.header.bx.id
    await releases.mark_released(conn, release_id, by=principal.actor, at=node.clock(),
                                 message_id=message_id)
    await audit.append(conn, node.clock, principal.actor, "report.released", row.period,
                       {"to": row.recipient, "release": release_id, "message_id": message_id})
    return message_id


@writes
async def send_back(conn: AsyncConnection, node: Node, principal: Principal,
                    release_id: int, reason: str) -> None:
    """Send a submitted report back to its submitter with a reason (nothing is sent; the
    submitter sees the reason and submits the period again)."""
    text = " ".join(reason.split())
    if not text:
        raise ReportError(N_("say why the report goes back"), "reason")
    if len(text) > REASON_MAX:
        raise ReportError(N_("the reason is longer than {limit} characters"), "reason",
                          limit=REASON_MAX)
    row = await _waiting_row(conn, principal, release_id)
    await releases.mark_returned(conn, release_id, by=principal.actor, at=node.clock(),
                                 reason=text)
    await audit.append(conn, node.clock, principal.actor, "report.returned", row.period,
                       {"release": release_id, "author": row.submitted_by})
