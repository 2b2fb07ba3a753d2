"""Charts of a report, drawn here as SVG (no script, no file from elsewhere: the console's
Content-Security-Policy holds, and WeasyPrint prints the same markup into the PDF).

Only presentation attributes are used (no ``style``). The SVG holds shapes, numbers, months
and partner ids only; every word (title, legend) is HTML beside it, because WeasyPrint's SVG
text does not shape Khmer or Lao (each character drawn alone). A count hidden by the
small-cell rule gets no bar: its place reads "< 5" (or "x"), so that no length gives it
away. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from gateway.reports.indicators import PERSON_COLUMNS, TIP_CLASSES, Report
from gateway.reports.tables import TOTAL, Cell

FONT: Final = "Noto Sans, DejaVu Sans, sans-serif"
#: One colour per series, told apart in grey too (print) and by colour-blind readers.
COLOURS: Final = ("#1b6ca8", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
                  "#999999")
WIDTH: Final = 640
Label = Callable[[str], str]


@dataclass(frozen=True)
class Chart:
    """One chart: its title and legend (words, shown as HTML) and its drawing (SVG)."""

    key: str
    title: str
    svg: str
    legend: list[tuple[str, str]]  # (colour, words)


def _legend(names: Sequence[str]) -> list[tuple[str, str]]:
    return [(COLOURS[index % len(COLOURS)], name) for index, name in enumerate(names)]


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start",
          weight: str = "normal", fill: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>')


def _svg(height: float, body: list[str], key: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
            f'width="{WIDTH}" height="{height:.0f}" role="img" '
            f'aria-labelledby="chart-{key}-title" font-family="{FONT}" class="chart" '
            f'id="chart-{key}">' + "".join(body) + "</svg>")


def stacked_columns(key: str, title: str, groups: Sequence[str],
                    series: Sequence[str], values: dict[tuple[str, str], int],
                    label: Label) -> Chart:
    """Columns per group (a month), stacked by series (a class); counts, never hidden."""
    top, plot_h, left = 12.0, 160.0, 40.0
    totals = [sum(values.get((g, s), 0) for s in series) for g in groups]
    peak = max([*totals, 1])
    step = (WIDTH - left - 10) / max(len(groups), 1)
    body: list[str] = []
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" '
                    f'stroke="#ddd"/>')
        body.append(_text(left - 4, y + 4, f"{peak * fraction:.0f}", 9, "end"))
    for index, group in enumerate(groups):
        x, base = left + index * step + step * 0.2, top + plot_h
        for number, name in enumerate(series):
            count = values.get((group, name), 0)
            if count:
                height = plot_h * count / peak
                base -= height
                body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{step * 0.6:.1f}" '
                            f'height="{height:.1f}" fill="{COLOURS[number % len(COLOURS)]}"/>')
        body.append(_text(x + step * 0.3, base - 3, str(totals[index]), 9, "middle"))
        body.append(_text(x + step * 0.3, top + plot_h + 14, group, 9, "middle"))
    return Chart(key, title, _svg(top + plot_h + 22, body, key),
                 _legend([label(s) for s in series]))


def split_bars(key: str, title: str, rows: Sequence[str], parts: Sequence[str],
               values: dict[tuple[str, str], int], label: Label) -> Chart:
    """A horizontal bar per row (a partner), split into parts (in time, late, unanswered)."""
    left, bar_h, gap, top = 150.0, 18.0, 10.0, 8.0
    peak = max([sum(values.get((r, p), 0) for p in parts) for r in rows] + [1])
    span = WIDTH - left - 50
    body: list[str] = []
    for index, row in enumerate(rows):
        y = top + index * (bar_h + gap)
        body.append(_text(left - 6, y + 13, row, 10, "end"))
        x = left
        for number, part in enumerate(parts):
            count = values.get((row, part), 0)
            if count:
                width = span * count / peak
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                            f'height="{bar_h}" fill="{COLOURS[number % len(COLOURS)]}"/>')
                if width > 18:
                    body.append(_text(x + width / 2, y + 13, str(count), 9, "middle",
                                      fill="#fff"))
                x += width
        total = sum(values.get((row, p), 0) for p in parts)
        body.append(_text(x + 4, y + 13, str(total), 9))
    bottom = top + max(len(rows), 1) * (bar_h + gap)
    if not rows:
        body.append(_text(left, top + 13, "–", 10))
    return Chart(key, title, _svg(bottom, body, key), _legend([label(p) for p in parts]))


def person_columns(key: str, title: str, cells: Sequence[tuple[str, Cell]],
                   label: Label) -> Chart:
    """One column per breakdown (girls, women...) of counts of persons; a hidden count gets
    no column, only its mark."""
    top, plot_h, left = 16.0, 140.0, 40.0
    shown = [cell.value for _, cell in cells if cell.value is not None]
    peak = max([*shown, 1])
    step = (WIDTH - left - 10) / max(len(cells), 1)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 10}" y2="{top + plot_h}" '
            f'stroke="#999"/>']
    for index, (_, cell) in enumerate(cells):
        x = left + index * step + step * 0.2
        if cell.value is None:
            body.append(_text(x + step * 0.3, top + plot_h - 6, cell.text(), 11, "middle",
                              "bold", "#b00"))
        else:
            height = plot_h * cell.value / peak
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - height:.1f}" '
                        f'width="{step * 0.6:.1f}" height="{height:.1f}" '
                        f'fill="{COLOURS[index % len(COLOURS)]}"/>')
            body.append(_text(x + step * 0.3, top + plot_h - height - 3, str(cell.value), 9,
                              "middle"))
        body.append(f'<rect x="{x + step * 0.3 - 5:.1f}" y="{top + plot_h + 5:.1f}" '
                    f'width="10" height="10" fill="{COLOURS[index % len(COLOURS)]}"/>')
    return Chart(key, title, _svg(top + plot_h + 20, body, key),
                 _legend([label(name) for name, _ in cells]))


def charts(report: Report, label: Label) -> dict[str, Chart]:
    """The report's charts by the group they illustrate: tips and their classification over
    the months; verification answers per partner against the deadline; victims received by
    sex and child/adult (small counts hidden as everywhere)."""
    months = report.table("tips-by-month")
    classes = [*TIP_CLASSES, "unclassified"]
    verification = report.table("verification")
    answers: dict[tuple[str, str], int] = {}
    for partner in verification.rows:
        asked = verification.count(partner, "sent") + verification.count(partner, "received")
        answered = (verification.count(partner, "sent-answered")
                    + verification.count(partner, "received-answered"))
        in_time = (verification.count(partner, "sent-in-time")
                   + verification.count(partner, "received-in-time"))
        answers[partner, "answered-in-time"] = in_time
        answers[partner, "answered-late"] = answered - in_time
        answers[partner, "unanswered"] = asked - answered
    victims = report.table("victims-received").shown()
    total_row = TOTAL if TOTAL in victims.rows else (victims.rows[0] if victims.rows else "")
    cells = [(column, victims.cell(total_row, column) if total_row else Cell(0))
             for column in PERSON_COLUMNS]
    return {
        "tips": stacked_columns("tips", label("tips-by-month"), months.rows, classes,
                                months.counts, label),
        "verification": split_bars("verification", label("verification-chart"),
                                   verification.rows,
                                   ("answered-in-time", "answered-late", "unanswered"),
                                   answers, label),
        "victims": person_columns("victims", label("victims-received"), cells, label),
    }
