"""The ``periodic-report`` document (MESSAGES.md): a unit's report as cells with their
dimensions, each a count or ``suppressed="true"``; written from a report after suppression,
and read back (at C02) into the same cells. The XML itself is written and read in
:mod:`gateway.documents.periodic_report`; here, what the cells mean.

A table's row is a partner (``partner``), a month (``month``) or all of them (left out); the
unit's own deadlines (no partner) carry the unit's own node id. A column of persons is a sex
and an age group (``sex``, ``age``, measure ``persons``); any other column is the measure.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from gateway.documents.periodic_report import (
    DOC_TYPE,
    NAMESPACE,
    VERSION,
    Dimensions,
    PeriodicReportError,
    ReceivedReport,
    ReportCell,
    read_periodic_report,
    write_periodic_report,
)
from gateway.protocol.envelope import format_rfc3339_utc
from gateway.reports.indicators import NO_PARTNER, PERSON_COLUMNS, Report
from gateway.reports.periods import ReportError
from gateway.reports.tables import TOTAL

__all__ = ["DOC_TYPE", "NAMESPACE", "VERSION", "Dimensions", "ReceivedReport", "ReportCell",
           "cells_of", "read_document", "to_document"]

_MONTH_TABLES: Final = frozenset({"tips-by-month"})


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
    return write_periodic_report(
        report.unit, unit_names, report.period.kind, report.period.first,
        report.period.last, format_rfc3339_utc(report.as_of), cells_of(report),
        report.durations, notes)


def read_document(document: bytes) -> ReceivedReport:
    """A received (already schema-valid) periodic report; a cell with both a count and
    ``suppressed``, or neither, is refused with its line."""
    try:
        return read_periodic_report(document)
    except PeriodicReportError as exc:
        raise ReportError(exc.template, exc.field, "invalid-request", **exc.values) from exc
