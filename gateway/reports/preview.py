"""The preview of a submitted periodic report, read back from the very bytes that will be
signed (not made again from the records): its tables and figures, each label in the
reader's language with English beneath, a withheld cell as "x". What the second supervisor
looks at before she releases it. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from gettext import NullTranslations

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.localtime import LOCAL_TIME
from gateway.reports.document import Dimensions, ReceivedReport, read_document
from gateway.reports.exports import TEMPLATES
from gateway.reports.indicators import NO_PARTNER
from gateway.reports.labels import GROUPS, SHARES, label
from gateway.reports.tables import TOTAL

#: How a withheld cell reads in the preview: the document says only that it is withheld.
WITHHELD = "x"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


@dataclass
class PreviewTable:
    """One indicator's cells as the document holds them, laid out again as a table."""

    key: str
    rows: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], str] = field(default_factory=dict)

    def text(self, row: str, column: str) -> str:
        """A cell as printed ("" where the document holds none)."""
        return self.cells.get((row, column), "")


def _row(where: Dimensions, unit: str) -> str:
    if where.month:
        return where.month
    if where.partner:
        return NO_PARTNER if where.partner == unit else where.partner
    return TOTAL


def _column(where: Dimensions) -> str:
    if where.measure == "persons":
        return f"{where.sex}-{where.age}" if where.sex else TOTAL
    return where.measure


def tables_of(report: ReceivedReport) -> list[PreviewTable]:
    """The document's cells as tables, in the order of the printed report (rows and
    columns in the order the document holds them)."""
    found: dict[str, PreviewTable] = {}
    for cell in report.cells:
        table = found.setdefault(cell.where.indicator, PreviewTable(cell.where.indicator))
        row, column = _row(cell.where, report.unit), _column(cell.where)
        if row not in table.rows:
            table.rows.append(row)
        if column not in table.columns:
            table.columns.append(column)
        table.cells[row, column] = WITHHELD if cell.count is None else str(cell.count)
    for table in found.values():
        if table.rows == [TOTAL]:
            table.rows = ["all"]  # a table of one line: the whole period, not a total
            table.cells = {("all", c): v for (_, c), v in table.cells.items()}
    order = [key for keys in GROUPS.values() for key in keys]
    return sorted(found.values(),
                  key=lambda t: order.index(t.key) if t.key in order else len(order))


def made_at(text: str) -> str:
    """When the report was made, at the border (``2026-12-07 02:22 (UTC+7)``); as written
    where it is not a time."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return when.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M") + " (UTC+7)"


def figure_text(key: str, value: float) -> str:
    """A figure as printed: a share as per cent, a duration with one decimal."""
    return f"{value * 100:.0f} %" if key in SHARES else f"{value:.1f}"


def preview_html(document: bytes, words: NullTranslations, english: NullTranslations,
                 locale: str, period_name: str, name: Callable[[str], str]) -> str:
    """The page of a submitted report, from its document's bytes; ``name`` names a node
    or unit in the reader's language."""
    report = read_document(document)

    def pair(key: str) -> dict[str, str]:
        own, common = label(words, key), label(english, key)
        return {"own": own, "common": common if common != own else ""}

    return _env.get_template("preview.html").render(
        report=report, locale=locale, name=name, period_name=period_name,
        tables=tables_of(report), pair=pair, withheld=WITHHELD,
        generated=made_at(report.generated),
        figures=[(key, figure_text(key, value)) for key, value in report.figures.items()])
