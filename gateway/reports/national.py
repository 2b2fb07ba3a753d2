"""The collecting node's national table as files, like any report: CSV (BOM, every cell
neutralised), XLSX (the table and the units' state, sums as numbers where they are known), a
bilingual HTML page and its PDF. What a cell shows is :meth:`NationalCell.text` (small sums and
withheld counts stay hidden in every format). Pure apart from the PDF engine."""

from __future__ import annotations

import io
from datetime import datetime
from gettext import NullTranslations
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.audit.export import csv_bytes
from gateway.documents.periodic_report import PERSON_INDICATORS
from gateway.localtime import LOCAL_TIME
from gateway.reports.collection import Collection
from gateway.reports.document import Dimensions
from gateway.reports.exports import TEMPLATES, to_pdf
from gateway.reports.labels import label

#: The columns of the national table, as labels.
COLUMNS: Final = ("indicator", "partner", "month", "sex-age", "measure", "sum")


def _sorted_cells(collection: Collection) -> list[tuple[Dimensions, str, int | None]]:
    """The cells shown (not zero everywhere), in a reading order: each with its text and,
    where the sum is a plain number, the number."""
    found = []
    for where, cell in collection.national.items():
        if not (cell.known or cell.withheld):
            continue
        text = cell.text(where.indicator in PERSON_INDICATORS)
        found.append((where, text, cell.known if text == str(cell.known) else None))
    return sorted(found, key=lambda item: (item[0].indicator, item[0].partner or "",
                                           item[0].month or "", item[0].sex or "",
                                           item[0].age or "", item[0].measure))


def rows(collection: Collection, words: NullTranslations) -> list[list[str | int]]:
    """The national table's rows in the reader's words: a number where the sum is shown as
    one, else its text ("≥ N", "x", "< 5")."""
    return [[label(words, where.indicator), where.partner or label(words, "all"),
             where.month or "",
             label(words, f"{where.sex}-{where.age}") if where.sex else "",
             label(words, where.measure), number if number is not None else text]
            for where, text, number in _sorted_cells(collection)]


def units(collection: Collection, words: NullTranslations) -> list[list[str | int]]:
    """Which units reported (when, on time or late) and which have not."""
    found: list[list[str | int]] = [[unit, at.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M"),
              label(words, "units-late" if late else "units-reported")]
             for unit, at, late in collection.reported]
    return found + [[unit, "", label(words, "units-missing")] for unit in collection.missing]


def _title(collection: Collection) -> str:
    period = collection.period
    return f"{period.name} ({period.first.isoformat()} – {period.last.isoformat()})"


def to_csv(collection: Collection, words: NullTranslations, unit: str) -> bytes:
    """The units' state, then the national table."""
    body: list[list[str | int]] = [[], [label(words, "units")], *units(collection, words), [],
                                   [label(words, "national-title")],
                                   [label(words, key) for key in COLUMNS],
                                   *rows(collection, words)]
    return csv_bytes([unit, _title(collection)], body)


def to_xlsx(collection: Collection, words: NullTranslations, unit: str) -> bytes:
    """Two sheets: the national table (known sums as numbers) and the units' state."""
    from openpyxl import Workbook  # noqa: PLC0415 - only exports need it
    from openpyxl.styles import Font  # noqa: PLC0415

    book = Workbook()
    table = book.active
    assert table is not None
    table.title = "national"
    table.append([unit, _title(collection)])
    table.append([label(words, key) for key in COLUMNS])
    for cell in table[2]:
        cell.font = Font(bold=True)
    for row in rows(collection, words):
        table.append(row)
    table.column_dimensions["A"].width = 40
    sheet = book.create_sheet("units")
    sheet.append([label(words, "units"), _title(collection)])
    for row in units(collection, words):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_html(collection: Collection, words: NullTranslations, english: NullTranslations,
            locale: str, unit: str, made_at: datetime) -> str:
    """The printable page: labels in the reader's language with English beneath."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())

    def pair(key: str) -> dict[str, str]:
        own, common = label(words, key), label(english, key)
        return {"own": own, "common": common if common != own else ""}

    return env.get_template("national.html").render(
        locale=locale, unit=unit, title=_title(collection), pair=pair, columns=COLUMNS,
        rows=rows(collection, words), units=units(collection, words),
        generated=made_at.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M") + " (UTC+7)")


def export(collection: Collection, fmt: str, words: NullTranslations,
           english: NullTranslations, locale: str, unit: str, made_at: datetime) -> bytes:
    """The national table in one of the report formats."""
    if fmt == "csv":
        return to_csv(collection, words, unit)
    if fmt == "xlsx":
        return to_xlsx(collection, words, unit)
    html = to_html(collection, words, english, locale, unit, made_at)
    return html.encode("utf-8") if fmt == "html" else to_pdf(html)
