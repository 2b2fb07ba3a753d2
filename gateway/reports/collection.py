"""The collecting node's view of the periodic reports (MESSAGES.md, "Reporting periods"):
which units have reported for a period, which are late or missing, and the national table.

The national table adds up the units' cells. A unit's suppressed cell is unknown but at least
1, so a sum that holds one is a lower bound, shown "≥ N"; where that bound is below 5 the
cell is withheld ("x"). A sum of persons from 1 to 4 made of known counts reads "< 5" again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from gateway.exchange.node import Node
from gateway.localtime import LOCAL_TIME
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.reports.document import DOC_TYPE, Dimensions, ReceivedReport, read_document
from gateway.reports.periods import Period, ReportError
from gateway.reports.tables import SMALL_BELOW
from gateway.store import reports as facts
from gateway.store.database import reading
from gateway.store.messages import RAW_COLUMN

#: Indicators that count persons (the small-cell rule applies to their sums).
PERSON_INDICATORS: Final = frozenset({"foreign-cases", "victims-received", "victims-referred"})


@dataclass
class NationalCell:
    """The sum of the units' counts of one cell, and how many units withheld theirs."""

    known: int = 0
    withheld: int = 0

    def text(self, persons: bool) -> str:
        """The cell as the national table shows it (module docstring)."""
        if self.withheld:
            least = self.known + self.withheld
            return f"≥ {least}" if least >= SMALL_BELOW else "x"
        if persons and 0 < self.known < SMALL_BELOW:
            return f"< {SMALL_BELOW}"
        return str(self.known)


@dataclass
class Collection:
    """The reports received for one period."""

    period: Period
    reported: list[tuple[str, datetime, bool]] = field(default_factory=list)  # unit, at, late
    missing: list[str] = field(default_factory=list)
    national: dict[Dimensions, NationalCell] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)  # unit, why


def _same_period(report: ReceivedReport, period: Period) -> bool:
    return (report.kind, report.first, report.last) == (period.kind, period.first, period.last)


async def collect(node: Node, period: Period) -> Collection:
    """The units' latest report for ``period`` each (a unit may send a corrected one), who
    has not reported (every partner allowed to send a periodic report), who was late
    (received after the due day at the border), and the national sums."""
    async with reading(node.engine) as conn:
        rows = await facts.received_of(conn, DOC_TYPE)
    latest: dict[str, tuple[datetime, ReceivedReport]] = {}
    found = Collection(period)
    for row in rows:
        envelope = parse_envelope(parse_body(node.sealer.open(bytes(row.raw), RAW_COLUMN)))
        try:
            report = read_document(envelope.document)
        except ReportError as exc:
            found.refused.append((row.sender, str(exc)))
            continue
        if report.unit != row.sender:
            found.refused.append((row.sender, f"names another unit ({report.unit})"))
        elif _same_period(report, period):
            latest[row.sender] = (row.stored_at, report)
    for unit, (at, report) in sorted(latest.items()):
        late = period.due is not None and at.astimezone(LOCAL_TIME).date() > period.due
        found.reported.append((unit, at, late))
        for cell in report.cells:
            total = found.national.setdefault(cell.where, NationalCell())
            if cell.count is None:
                total.withheld += 1
            else:
                total.known += cell.count
    expected = sorted(p.node_id for p in node.partners.all() if DOC_TYPE in p.file.may_send)
    found.missing = [unit for unit in expected if unit not in latest]
    return found
