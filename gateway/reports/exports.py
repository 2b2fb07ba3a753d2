"""A report as files: CSV (UTF-8 with a byte-order mark, for spreadsheet programs), XLSX (a
sheet per group of indicators, numbers as numbers), and a bilingual HTML page that WeasyPrint
prints to PDF. Every count goes through small-cell suppression first: no file holds a hidden
count. Pure apart from the PDF engine: no database, no audit (the callers audit)."""

from __future__ import annotations

import io
from gettext import NullTranslations
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.audit.export import csv_bytes
from gateway.localtime import LOCAL_TIME
from gateway.reports.charts import Chart
from gateway.reports.charts import charts as draw
from gateway.reports.indicators import Report
from gateway.reports.labels import GROUPS, SHARES, TARGETS, label
from gateway.reports.tables import Cell, ShownTable

FORMATS: Final = ("html", "pdf", "xlsx", "csv")
MEDIA_TYPES: Final = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                      "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      "csv": "text/csv; charset=utf-8"}
TEMPLATES: Final = Path(__file__).parent / "templates"
def figure(report: Report, key: str) -> str:
    """A figure beside the tables: a share as per cent, a duration with one decimal."""
    value = report.durations.get(key)
    if value is None:
        return "–"
    return f"{value * 100:.0f} %" if key in SHARES else f"{value:.1f}"


def shown_tables(report: Report) -> dict[str, ShownTable]:
    """Every table of the report after suppression."""
    return {key: table.shown() for key, table in report.tables.items()}


def _period_line(report: Report) -> str:
    period = report.period
    return f"{period.name} ({period.first.isoformat()} – {period.last.isoformat()})"


def to_csv(report: Report, words: NullTranslations) -> bytes:
    """One CSV (:func:`gateway.audit.export.csv_bytes`: BOM, every cell neutralised): a
    block per table (its title, the header, the rows), then the figures."""
    tables = shown_tables(report)
    rows: list[list[str]] = []
    for keys in GROUPS.values():
        for key in keys:
            table = tables[key]
            rows += [[], [label(words, key)], ["", *(label(words, c) for c in table.columns)]]
            rows += [[label(words, row), *(table.cell(row, c).text() for c in table.columns)]
                     for row in table.rows]
    rows.append([])
    rows += [[label(words, key), figure(report, key)] for key in report.durations]
    return csv_bytes([report.unit, _period_line(report)], rows)


def _xlsx_value(cell: Cell) -> int | str:
    return cell.value if cell.value is not None else cell.text()


def to_xlsx(report: Report, words: NullTranslations) -> bytes:
    """One workbook: a sheet per group of indicators; counts are numbers, a hidden count is
    the text "< 5" or "x"."""
    from openpyxl import Workbook  # noqa: PLC0415 - only exports need it
    from openpyxl.styles import Font  # noqa: PLC0415

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    tables = shown_tables(report)
    bold = Font(bold=True)
    for group, keys in GROUPS.items():
        sheet = book.create_sheet(_sheet_name(label(words, group), book.sheetnames))
        sheet.append([report.unit, _period_line(report)])
        for key in keys:
            table = tables[key]
            sheet.append([])
            sheet.append([label(words, key)])
            sheet.cell(sheet.max_row, 1).font = bold
            sheet.append(["", *(label(words, c) for c in table.columns)])
            for row in table.rows:
                sheet.append([label(words, row),
                              *(_xlsx_value(table.cell(row, c)) for c in table.columns)])
        for key in report.durations:
            if key.split(".")[0] in keys:
                value = report.durations[key]
                sheet.append([label(words, key), value if value is not None else "–"])
        sheet.column_dimensions["A"].width = 36
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, taken: list[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, unique."""
    name = "".join(" " if ch in "[]:*?/\\" else ch for ch in title)[:31].strip() or "sheet"
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name[:28]} {number}"
        number += 1
    return candidate


def to_html(report: Report, words: NullTranslations, english: NullTranslations,
            locale: str, charts: dict[str, Chart] | None = None) -> str:
    """The printable page: each label in the reader's language with English beneath (the
    common language of the exchange), the tables after suppression, the figures beside
    their targets, and the charts (inline SVG)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())

    def pair(key: str) -> dict[str, str]:
        own, common = label(words, key), label(english, key)
        return {"own": own, "common": common if common != own else ""}

    def target(key: str) -> dict[str, str]:
        own = words.pgettext("report", TARGETS[key])
        common = english.pgettext("report", TARGETS[key])
        return {"own": own, "common": common if common != own else ""}

    generated = report.as_of.astimezone(LOCAL_TIME)
    return env.get_template("report.html").render(
        report=report, locale=locale, groups=GROUPS, tables=shown_tables(report), pair=pair,
        figure=lambda key: figure(report, key), targets=TARGETS, target=target, charts=charts or {},
        generated=generated.strftime("%Y-%m-%d %H:%M") + " (UTC+7)",
        )


def to_pdf(html: str) -> bytes:
    """The PDF of the page (A4, fonts embedded), as documents are printed."""
    from weasyprint import HTML  # noqa: PLC0415 - heavy; only printing needs it

    result: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return result


def export(report: Report, fmt: str, words: NullTranslations, english: NullTranslations,
           locale: str, charts: dict[str, Chart] | None = None) -> bytes:
    """The report in one of :data:`FORMATS`."""
    if fmt == "csv":
        return to_csv(report, words)
    if fmt == "xlsx":
        return to_xlsx(report, words)
    if charts is None:
        charts = draw(report, lambda key: label(words, key))
    html = to_html(report, words, english, locale, charts)
    return html.encode("utf-8") if fmt == "html" else to_pdf(html)


def to_json(report: Report) -> dict[str, object]:
    """The report as the local API answers it: every table after suppression (a hidden count
    is the text "< 5" or "x"), and the figures beside them."""
    return {
        "unit": report.unit,
        "period": {"name": report.period.name, "kind": report.period.kind,
                   "first": report.period.first.isoformat(),
                   "last": report.period.last.isoformat()},
        "made_at": report.as_of.isoformat(),
        "tables": {key: {"rows": table.rows, "columns": table.columns,
                         "cells": [[_xlsx_value(table.cell(row, column))
                                    for column in table.columns] for row in table.rows]}
                   for key, table in shown_tables(report).items()},
        "figures": dict(report.durations),
    }
