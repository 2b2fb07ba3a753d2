"""Reminding a unit's supervisors of the periodic report (MESSAGES.md, "Reporting periods":
"a unit's supervisor is reminded from ten days before the due date").

Each housekeeping round (one replica at a time) looks at the six-month and annual periods
whose due date (20 May, 20 November) is at most ten days ahead and at most
:data:`LATE_FOR` behind. A period whose report this unit has not yet sent to its collecting
node gets one ``report-due`` notice per supervisor of the unit, once (the notice's due time
says which period). A unit that sends no report (C02 itself, a node abroad) is never
reminded. Nothing personal: the notice carries a document type and a due time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.cases import notices
from gateway.cases.work import CaseWork
from gateway.localtime import LOCAL_TIME
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.reports.document import DOC_TYPE, read_document
from gateway.reports.periods import Period, ReportError, annual, six_months
from gateway.reports.release import collector_of
from gateway.runtime.node import Node
from gateway.store import reports as facts
from gateway.store.messages import RAW_COLUMN

#: From how long before the due date a supervisor is reminded.
REMIND_FROM: Final = timedelta(days=10)
#: How long after the due date a report not sent is still reminded of (a node that was
#: down when the reminders fell due still tells its supervisors).
LATE_FOR: Final = timedelta(days=30)
KIND: Final = "report-due"


def due_at(period: Period) -> datetime:
    """The end of the due day at the border (24:00, UTC+7), as the notice shows it."""
    assert period.due is not None
    return datetime.combine(period.due + timedelta(days=1), time(), LOCAL_TIME)


def periods_to_remind(today: date) -> list[Period]:
    """The periods whose report is due within ten days, or was due not long ago."""
    found = []
    for year in (today.year - 1, today.year, today.year + 1):
        for period in (six_months(year), annual(year)):
            due = period.due
            assert due is not None
            if due - REMIND_FROM <= today <= due + LATE_FOR:
                found.append(period)
    return found


async def sent_periods(conn: AsyncConnection, node: Node, to: str) -> set[tuple[date, date]]:
    """The windows (first and last day) of the periodic reports this unit has sent to
    ``to``."""
    sent = set()
    for row in await facts.exchanged_of(conn, DOC_TYPE, "out"):
        if row.recipient != to:
            continue
        envelope = parse_envelope(parse_body(node.sealer.open(bytes(row.raw), RAW_COLUMN)))
        try:
            report = read_document(envelope.document)
        except ReportError:
            continue
        sent.add((report.first, report.last))
    return sent


async def remind(conn: AsyncConnection, cw: CaseWork) -> int:
    """Write the reminders now due (in the caller's transaction); how many were written."""
    node = cw.node
    collector = collector_of(node)
    if collector is None:
        return 0
    today = node.clock().astimezone(LOCAL_TIME).date()
    periods = periods_to_remind(today)
    if not periods:
        return 0
    sent = await sent_periods(conn, node, collector)
    written = 0
    for period in periods:
        if (period.first, period.last) in sent:
            continue
        due = due_at(period)
        for username in await facts.supervisors_not_reminded(conn, KIND, due):
            await notices.notify(conn, cw, notices.Notice(
                KIND, username=username, doc_type=DOC_TYPE, due_at=due))
            written += 1
    return written
