"""The shape of a report: tables of counts with their totals, and small-cell suppression
(MESSAGES.md "Reporting periods", small cells).

A count of persons from 1 to 4 is never shown: its cell is *small* and reads "< 5". Where a
row or a column shows its total, one hidden cell in it could be worked out by subtraction, so
a second cell of that line is hidden too (*complementary*, the smallest count above zero
left, or the total itself when no other cell is left); this repeats until every line that
shows a total hides none or at least two of its cells. Zeros are shown: a hidden zero would
be given away by a total anyway. Where that is still not enough (every cell small and few in
all, so that the bounds alone give the counts away), the whole table is withheld. Counts of
messages, tips and deadlines are not persons and are shown as they are. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from gateway.documents import periodic_report

SMALL_BELOW: Final = periodic_report.SMALL_BELOW
TOTAL: Final = "total"
Mark = Literal["", "small", "complement", "withheld"]


@dataclass(frozen=True)
class Cell:
    """What a reader sees of one count: the number, or only that it is hidden and why."""

    value: int | None  # None when hidden
    mark: Mark = ""

    @property
    def hidden(self) -> bool:
        """Whether the count is withheld."""
        return self.value is None

    def text(self) -> str:
        """The cell as printed: the number, "< 5" for a small count, "x" for a count hidden
        so that a small one cannot be worked out."""
        if self.value is not None:
            return str(self.value)
        return f"< {SMALL_BELOW}" if self.mark == "small" else "x"


@dataclass
class Table:
    """Counts by row (a partner, a month) and column (a breakdown); with totals where the
    columns (``row_totals``) or the rows (``column_totals``) add up."""

    key: str
    rows: list[str]
    columns: list[str]
    persons: bool
    row_totals: bool = False
    column_totals: bool = True
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, row: str, column: str, amount: int = 1) -> None:
        """Count ``amount`` more in a cell (a row not known yet is appended; a column must
        be one of the table's)."""
        key = (row, column)
        if key not in self.counts:
            if column not in self.columns:
                raise KeyError(column)
            if row not in self.rows:
                self.rows.append(row)
            self.counts[key] = 0
        self.counts[key] += amount

    def count(self, row: str, column: str) -> int:
        """A cell's true count (totals included); only inside this node."""
        if row == TOTAL and column == TOTAL:
            return sum(self.counts.values())
        if row == TOTAL:
            return sum(self.counts.get((r, column), 0) for r in self.rows)
        if column == TOTAL:
            return sum(self.counts.get((row, c), 0) for c in self.columns)
        return self.counts.get((row, column), 0)

    def shown_rows(self) -> list[str]:
        """The rows as displayed (with the total row where columns add up over rows)."""
        return [*self.rows, TOTAL] if self.column_totals and len(self.rows) != 1 else \
            list(self.rows)

    def shown_columns(self) -> list[str]:
        """The columns as displayed (with the total column where they add up)."""
        return [*self.columns, TOTAL] if self.row_totals else list(self.columns)

    def shown(self) -> ShownTable:
        """The table as anyone outside this node may see it."""
        return suppress(self)


@dataclass(frozen=True)
class ShownTable:
    """A table after suppression: every cell, totals included, as printed."""

    key: str
    rows: list[str]
    columns: list[str]
    persons: bool
    cells: dict[tuple[str, str], Cell]

    def cell(self, row: str, column: str) -> Cell:
        """One displayed cell."""
        return self.cells[row, column]

    def __iter__(self) -> Iterator[tuple[str, str, Cell]]:
        for row in self.rows:
            for column in self.columns:
                yield row, column, self.cells[row, column]


def _lines(rows: list[str], columns: list[str], row_totals: bool,
           column_totals: bool) -> Iterable[list[tuple[str, str]]]:
    """Every line that shows a total, as its cells with the total cell last."""
    if row_totals:
        for row in rows:
            yield [(row, c) for c in columns]
    if column_totals:
        for column in columns:
            yield [(r, column) for r in rows]


def suppress(table: Table) -> ShownTable:
    """Apply the small-cell rule and complementary suppression (module docstring)."""
    rows, columns = table.shown_rows(), table.shown_columns()
    values = {(r, c): table.count(r, c) for r in rows for c in columns}
    marks: dict[tuple[str, str], Mark] = {}
    if table.persons:
        for key, value in values.items():
            if 0 < value < SMALL_BELOW:
                marks[key] = "small"
        equations = Equations(rows, columns, table.row_totals, TOTAL in rows)
        while _complete_lines(equations, values, marks) or \
                _break_deductions(equations, values, marks):
            pass
        if equations.recoverable(values, marks):
            # Nothing left to hide and the bounds still pin a count down (every cell small
            # and few in all): the whole table is withheld, zeros included.
            marks = dict.fromkeys(values, "withheld")
    cells = {key: Cell(None, marks[key]) if key in marks else Cell(value)
             for key, value in values.items()}
    return ShownTable(table.key, rows, columns, table.persons, cells)


def _complete_lines(equations: Equations, values: dict[tuple[str, str], int],
                    marks: dict[tuple[str, str], Mark]) -> bool:
    """Hide a second cell in every line that shows its total and hides one cell only."""
    changed = False
    for line in equations.lines():
        hidden = [key for key in line if key in marks]
        if len(hidden) != 1:
            continue
        if _hide_one(line, values, marks):
            changed = True
    return changed


def _break_deductions(equations: Equations, values: dict[tuple[str, str], int],
                      marks: dict[tuple[str, str], Mark]) -> bool:
    """Where rows and columns together still pin a hidden count down (bounds included),
    hide one more cell beside it."""
    for row, column in equations.recoverable(values, marks):
        near = [key for key in values if (key[0] == row) != (key[1] == column)]
        if _hide_one(near, values, marks) or _hide_one(list(values), values, marks):
            return True
    return False


def _hide_one(cells: list[tuple[str, str]], values: dict[tuple[str, str], int],
              marks: dict[tuple[str, str], Mark]) -> bool:
    """Hide the smallest count above zero still shown among ``cells`` (the last one, a total,
    only when nothing else is left)."""
    others = [key for key in cells if key not in marks and values[key] > 0]
    if not others:
        return False
    plain = [key for key in others if TOTAL not in key] or others
    marks[min(plain, key=lambda key: values[key])] = "complement"
    return True


#: What a reader knows of a hidden count: small ones are 1 to 4; a complementary one is a
#: shown count that was hidden, so 5 or more (counts below 5 are already small); in a table
#: withheld whole, any count at all.
_BOUNDS: Final[dict[str, tuple[int, int]]] = {"small": (1, SMALL_BELOW - 1),
                                              "complement": (SMALL_BELOW, 10**12),
                                              "withheld": (0, 10**12)}


@dataclass(frozen=True)
class Equations:
    """What a reader can write down from a shown table: each row that shows its total sums to
    it, and so does each column. Hidden counts are the unknowns, with the bounds their mark
    gives away.

    Read as a flow network (totals with the opposite sign), the unknowns can change together
    only along a cycle of hidden cells that alternates between rows and columns; so a hidden
    count is pinned down exactly when no such cycle through it can move it up or down within
    the bounds (the residual graph of network flows; integral because the equations are
    totally unimodular). Lines that show no total add no equation: their cells meet in one
    node that needs no balance."""

    rows: list[str]
    columns: list[str]
    row_equations: bool
    column_equations: bool

    def lines(self) -> Iterable[list[tuple[str, str]]]:
        """Every line that shows a total, its total cell last."""
        return _lines(self.rows, self.columns, self.row_equations, self.column_equations)

    def recoverable(self, values: dict[tuple[str, str], int],
                    marks: dict[tuple[str, str], Mark]) -> list[tuple[str, str]]:
        """The hidden cells a reader could work out exactly (none when no line shows a
        total)."""
        if not (self.row_equations or self.column_equations):
            return []
        edges: list[tuple[str, str, int, int, int, tuple[str, str]]] = []
        for key, mark in marks.items():
            row, column = key
            sign = -1 if (row == TOTAL) != (column == TOTAL) else 1
            low, high = _BOUNDS[mark]
            if sign < 0:
                low, high = -high, -low
            edges.append((f"r:{row}" if self.row_equations else "r",
                          f"c:{column}" if self.column_equations else "c",
                          sign * values[key], low, high, key))
        found = []
        for index, (row, column, value, low, high, key) in enumerate(edges):
            up = value < high and self._reaches(edges, index, column, row)
            down = value > low and self._reaches(edges, index, row, column)
            if not (up or down):
                found.append(key)
        return found

    @staticmethod
    def _reaches(edges: list[tuple[str, str, int, int, int, tuple[str, str]]], skip: int,
                 source: str, target: str) -> bool:
        """Whether the residual graph without edge ``skip`` leads from source to target."""
        graph: dict[str, list[str]] = {}
        for index, (row, column, value, low, high, _) in enumerate(edges):
            if index == skip:
                continue
            if value < high:
                graph.setdefault(row, []).append(column)
            if value > low:
                graph.setdefault(column, []).append(row)
        seen, todo = {source}, [source]
        while todo:
            node = todo.pop()
            if node == target:
                return True
            for following in graph.get(node, ()):
                if following not in seen:
                    seen.add(following)
                    todo.append(following)
        return False
