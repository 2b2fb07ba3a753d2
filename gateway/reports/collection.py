"""The collecting node's view of the periodic reports (MESSAGES.md, "Reporting periods"):
which units have reported for a period, which are late or missing, and the national table.

The national table adds up the units' cells. A unit's suppressed cell is unknown but at least
1, so a sum that holds one is a lower bound, shown "≥ N"; where that bound is below 5 the
cell is withheld ("x"). A sum of persons from 1 to 4 made of known counts reads "< 5" again.

Then, for the tables of persons, the total of every line (a partner's row, a column over the
partners) that holds a cell not shown as a number is withheld too ("x"), again until no line
that shows its total hides anything: a reader cannot subtract the shown cells from a shown
total to get at a small one (the units' own tables are suppressed the same way, but their
sums need not be).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.documents.periodic_report import PERSON_INDICATORS
from gateway.localtime import LOCAL_TIME
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.reports.document import DOC_TYPE, Dimensions, ReceivedReport, read_document
from gateway.reports.periods import Period, ReportError
from gateway.reports.tables import SMALL_BELOW
from gateway.runtime.node import Node
from gateway.store import reports as facts
from gateway.store.messages import RAW_COLUMN
from gateway.store.transactions import reads


@dataclass
class NationalCell:
    """The sum of the units' counts of one cell, and how many units withheld theirs."""

    known: int = 0
    withheld: int = 0
    #: the total of a line that hides a cell (module docstring)
    line_total_hidden: bool = False

    def text(self, persons: bool) -> str:
        """The cell as the national table shows it (module docstring)."""
        if self.line_total_hidden:
            return "x"
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


@reads
async def collect(conn: AsyncConnection, node: Node, period: Period) -> Collection:
    """The units' latest report for ``period`` each (a unit may send a corrected one), who
    has not reported (every partner allowed to send a periodic report), who was late
    (received after the due day at the border), and the national sums."""
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
    for unit, (at, _) in sorted(latest.items()):
        late = period.due is not None and at.astimezone(LOCAL_TIME).date() > period.due
        found.reported.append((unit, at, late))
    found.national = add_up(report for _, report in latest.values())
    expected = sorted(p.node_id for p in node.partners.all() if DOC_TYPE in p.file.may_send)
    found.missing = [unit for unit in expected if unit not in latest]
    return found


def add_up(reports: Iterable[ReceivedReport]) -> dict[Dimensions, NationalCell]:
    """The national table: each cell the sum of the units' cells (module docstring)."""
    national: dict[Dimensions, NationalCell] = {}
    for report in reports:
        for cell in report.cells:
            total = national.setdefault(cell.where, NationalCell())
            if cell.count is None:
                total.withheld += 1
            else:
                total.known += cell.count
    _hide_line_totals(national)
    return national


def _is_line_total(where: Dimensions) -> bool:
    """Whether a cell is the total of its row (all sexes and ages, or of all measures)."""
    return where.sex is None and where.measure in ("persons", "total")


def _hide_line_totals(national: dict[Dimensions, NationalCell]) -> None:
    """Withhold the total of every line of a table of persons that hides a cell (module
    docstring), until nothing changes: hiding a total can make another line hide a cell."""
    def hidden(where: Dimensions) -> bool:
        cell = national[where]
        return cell.text(True) != str(cell.known)

    changed = True
    while changed:
        changed = False
        lines: dict[tuple[Any, ...], list[Dimensions]] = {}
        for where in national:
            if where.indicator not in PERSON_INDICATORS:
                continue
            # the row: one partner (None: all), every column; the column: every partner
            lines.setdefault(("row", where.indicator, where.partner), []).append(where)
            lines.setdefault(("column", where.indicator, where.measure, where.sex,
                              where.age), []).append(where)
        for (kind, *_), members in lines.items():
            totals = [w for w in members if (_is_line_total(w) if kind == "row"
                                             else w.partner is None)]
            parts = [w for w in members if w not in totals]
            if any(hidden(w) for w in parts):
                for total in totals:
                    if not hidden(total):
                        national[total].line_total_hidden = True
                        changed = True
