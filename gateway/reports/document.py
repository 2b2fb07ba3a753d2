"""The ``periodic-report`` document (MESSAGES.md): a unit's report as cells with their
dimensions, each a count or ``suppressed="true"``; written from a report after suppression,
and read back (at C02) into the same cells.

A table's row is a partner (``partner``), a month (``month``) or all of them (left out); the
unit's own deadlines (no partner) carry the unit's own node id. A column of persons is a sex
and an age group (``sex``, ``age``, measure ``persons``); any other column is the measure.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

from lxml import etree

from gateway.documents.xml import parse_safely
from gateway.protocol.envelope import format_rfc3339_utc
from gateway.protocol.errors import N_
from gateway.reports.indicators import NO_PARTNER, PERSON_COLUMNS, Report
from gateway.reports.periods import ReportError
from gateway.reports.tables import TOTAL

DOC_TYPE: Final = "periodic-report"
VERSION: Final = "1.0"
NAMESPACE: Final = "urn:bx:doc:periodic-report:1"
_MONTH_TABLES: Final = frozenset({"tips-by-month"})


@dataclass(frozen=True)
class Dimensions:
    """Where a cell sits: indicator and measure, and the dimensions it is broken down by."""

    indicator: str
    measure: str
    partner: str | None = None
    month: str | None = None
    sex: str | None = None
    age: str | None = None


@dataclass(frozen=True)
class ReportCell:
    """One cell as sent: its dimensions and its count (None when suppressed)."""

    where: Dimensions
    count: int | None


@dataclass(frozen=True)
class ReceivedReport:
    """A periodic report as read at the collecting node."""

    unit: str
    kind: str
    first: date
    last: date
    cells: list[ReportCell]
    figures: dict[str, float]
    generated: str = ""


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _dimensions(indicator: str, row: str, column: str, unit: str) -> Dimensions:
    """The dimensions of one displayed cell (module docstring)."""
    partner = month = sex = age = None
    if row not in (TOTAL, "all"):
        if indicator in _MONTH_TABLES:
            month = row
        else:
            partner = unit if row == NO_PARTNER else row
    measure = column
    if column in PERSON_COLUMNS:
        sex, age = column.split("-")
        measure = "persons"
    elif column == TOTAL:
        measure = "persons" if indicator.startswith("victims-") else "total"
    return Dimensions(indicator, measure, partner, month, sex, age)


def cells_of(report: Report) -> Iterator[ReportCell]:
    """Every cell of the report after suppression, with its dimensions."""
    for key, table in report.tables.items():
        for row, column, cell in table.shown():
            yield ReportCell(_dimensions(key, row, column, report.unit), cell.value)


def to_document(report: Report, unit_names: dict[str, str],
                notes: dict[str, str] | None = None) -> bytes:
    """The ``periodic-report`` of a report: names of the unit by language, notes by
    language. Holds no count of 1 to 4 persons (suppression comes first)."""
    root = etree.Element(_q(DOC_TYPE), nsmap={None: NAMESPACE})
    unit = etree.SubElement(root, _q("reporting-unit"), node=report.unit)
    for lang, name in list(unit_names.items())[:4]:
        etree.SubElement(unit, _q("name"), lang=lang).text = name
    period = etree.SubElement(root, _q("period"))
    etree.SubElement(period, _q("kind")).text = report.period.kind
    etree.SubElement(period, _q("first-day")).text = report.period.first.isoformat()
    etree.SubElement(period, _q("last-day")).text = report.period.last.isoformat()
    etree.SubElement(root, _q("generated-at")).text = format_rfc3339_utc(report.as_of)
    for found in cells_of(report):
        attributes = {k: v for k, v in vars(found.where).items() if v is not None}
        if found.count is None:
            attributes["suppressed"] = "true"
        else:
            attributes["count"] = str(found.count)
        etree.SubElement(root, _q("cell"), attributes)
    for name, value in report.durations.items():
        if value is not None:
            etree.SubElement(root, _q("figure"), name=name, value=f"{value:.4f}")
    for lang, text in list((notes or {}).items())[:4]:
        etree.SubElement(root, _q("note"), lang=lang).text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_document(document: bytes) -> ReceivedReport:
    """A received (already schema-valid) periodic report; a cell with both a count and
    ``suppressed``, or neither, is refused with its line."""
    root = parse_safely(document).getroot()
    unit = root.find(_q("reporting-unit"))
    period = root.find(_q("period"))
    if unit is None or period is None:
        raise ReportError(N_("not a periodic report"), "document")
    cells = []
    for element in root.iterfind(_q("cell")):
        count, suppressed = element.get("count"), element.get("suppressed") in ("true", "1")
        if (count is None) == (not suppressed):
            raise ReportError(N_("line {line}: a cell holds either a count or "
                                 "suppressed=\"true\""), "cell", line=element.sourceline)
        cells.append(ReportCell(Dimensions(
            str(element.get("indicator")), str(element.get("measure")), element.get("partner"),
            element.get("month"), element.get("sex"), element.get("age")),
            None if suppressed else int(str(count))))
    figures = {str(f.get("name")): float(str(f.get("value")))
               for f in root.iterfind(_q("figure"))}
    return ReceivedReport(str(unit.get("node") or ""), str(period.findtext(_q("kind"))),
                          date.fromisoformat(str(period.findtext(_q("first-day")))),
                          date.fromisoformat(str(period.findtext(_q("last-day")))),
                          cells, figures, str(root.findtext(_q("generated-at")) or ""))
