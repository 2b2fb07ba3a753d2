"""What the reports page and the reports API show for a period, read in one snapshot: this
unit's indicators, its latest submissions (for a supervisor whose unit sends a report), and,
on the collecting node, the units' reports and the national sums."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.protocol.inbound import REPORT_COLLECTORS
from gateway.reports import release
from gateway.reports.collection import Collection, collect
from gateway.reports.indicators import Report
from gateway.reports.periods import Period
from gateway.reports.service import make_report
from gateway.runtime.node import Node
from gateway.store.transactions import reads


@dataclass(frozen=True)
class ReportsView:
    """A period's report (None: no period chosen), the unit's latest submissions (None: not
    asked), and the collection (None: not the collecting node, or no period)."""

    report: Report | None
    submissions: list[dict[str, Any]] | None
    collection: Collection | None


def collects_reports(node: Node) -> bool:
    """Whether this node is a collecting node (C02): it receives the units' reports."""
    return node.node_id in REPORT_COLLECTORS.values()


@reads
async def reports_view(conn: AsyncConnection, node: Node, period: Period | None,
                       submissions_of: str | None = None) -> ReportsView:
    """This unit's report for ``period``, the latest submissions of the unit
    ``submissions_of`` (when given), and the collection on the collecting node."""
    report = await make_report.within(conn, node, period) if period is not None else None
    submissions = (await release.latest(conn, submissions_of)
                   if submissions_of is not None else None)
    collection = (await collect.within(conn, node, period)
                  if period is not None and collects_reports(node) else None)
    return ReportsView(report, submissions, collection)
