"""Small cells (MESSAGES.md): counts of 1 to 4 persons read "< 5", and no hidden count can be
worked out from what is shown, by subtraction along a line or by rows and columns together.

The check here is independent of the suppression code: it writes down every equation a reader
has (each line that shows its total), with the bounds each mark gives away (a small count is
1 to 4, a complementary one 5 or more), and searches by brute force for another table that
shows exactly the same thing but differs in the hidden cell (narrowing bounds along the
lines, then splitting a range in two: exact, and quick even where a plain enumeration of the
hidden cells would take hours).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.reports.tables import TOTAL, ShownTable, Table

Key = tuple[str, str]


def equations(shown: ShownTable) -> list[tuple[list[Key], Key]]:
    """(cells, total cell) for every line that shows a total."""
    found = []
    plain_rows = [r for r in shown.rows if r != TOTAL]
    plain_columns = [c for c in shown.columns if c != TOTAL]
    if TOTAL in shown.columns:
        found += [([(r, c) for c in plain_columns], (r, TOTAL)) for r in shown.rows]
    if TOTAL in shown.rows:
        found += [([(r, c) for r in plain_rows], (TOTAL, c)) for c in shown.columns]
    return found


Domains = dict[Key, tuple[int, int]]


def feasible(lines: list[tuple[list[Key], Key]], domains: Domains) -> bool:
    """Whether whole numbers within ``domains`` satisfy every line (cells sum to the total):
    bounds are narrowed along the lines until nothing changes, then the widest-open cell is
    split in two (a search that ends: every split halves a finite range)."""
    domains = dict(domains)
    changed = True
    while changed:
        changed = False
        for cells, total in lines:
            low_sum = sum(domains[k][0] for k in cells)
            high_sum = sum(domains[k][1] for k in cells)
            for key in [*cells, total]:
                low, high = domains[key]
                if key == total:
                    new = (max(low, low_sum), min(high, high_sum))
                else:  # the total less the most and the least the others can hold
                    others_low, others_high = low_sum - low, high_sum - high
                    new = (max(low, domains[total][0] - others_high),
                           min(high, domains[total][1] - others_low))
                if new[0] > new[1]:
                    return False
                if new != (low, high):
                    domains[key] = new
                    changed = True
                    break
            if changed:
                break
    open_ = [k for k, (low, high) in domains.items() if low < high]
    if not open_:
        return True
    key = max(open_, key=lambda k: domains[k][1] - domains[k][0])
    low, high = domains[key]
    middle = (low + high) // 2
    return (feasible(lines, {**domains, key: (low, middle)})
            or feasible(lines, {**domains, key: (middle + 1, high)}))


def another_table_exists(shown: ShownTable, truth: dict[Key, int], target: Key,
                         ceiling: int) -> bool:
    """Whether some table consistent with everything shown has a different count in
    ``target``."""
    lines = equations(shown)
    kinds = {"small": (1, 4), "complement": (5, ceiling), "withheld": (0, ceiling)}
    domains: Domains = {(r, c): kinds[cell.mark] if cell.hidden else (cell.value, cell.value)
                        for r, c, cell in shown}  # type: ignore[misc]
    low, high = domains[target]
    value = truth[target]
    return ((low < value and feasible(lines, {**domains, target: (low, value - 1)}))
            or (value < high and feasible(lines, {**domains, target: (value + 1, high)})))


dimensions = st.integers(min_value=1, max_value=3)
counts = st.integers(min_value=0, max_value=9) | st.sampled_from([0, 1, 2, 3, 4])


@st.composite
def tables(draw: st.DrawFn) -> Table:
    rows = [f"r{i}" for i in range(draw(dimensions))]
    columns = [f"c{i}" for i in range(draw(dimensions))]
    table = Table("t", [], columns, persons=True, row_totals=draw(st.booleans()),
                  column_totals=draw(st.booleans()))
    for row in rows:
        for column in columns:
            table.add(row, column, draw(counts))
    return table


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_hidden_count_can_be_worked_out(table: Table) -> None:
    shown = table.shown()
    truth = {(r, c): table.count(r, c) for r in shown.rows for c in shown.columns}
    ceiling = 2 * truth.get((TOTAL, TOTAL), sum(table.counts.values())) + 10
    for row, column, cell in shown:
        if cell.hidden:
            assert another_table_exists(shown, truth, (row, column), ceiling), \
                (row, column, [(r, c, x.text()) for r, c, x in shown])
        else:
            assert cell.value == truth[row, column]
            assert not 0 < cell.value < 5  # a small count is never shown


def test_a_small_count_reads_less_than_five_and_its_line_hides_a_second_cell() -> None:
    table = Table("victims", [], ["female", "male"], persons=True, row_totals=True,
                  column_totals=False)
    table.add("kh.ahtjp", "female", 3)
    table.add("kh.ahtjp", "male", 12)
    table.add("la.c02", "female", 7)
    shown = table.shown()
    assert [shown.cell("kh.ahtjp", c).text() for c in shown.columns] == ["< 5", "x", "15"]
    assert [shown.cell("la.c02", c).text() for c in shown.columns] == ["7", "0", "7"]


def test_counts_that_are_not_persons_are_shown_as_they_are() -> None:
    table = Table("messages", [], ["sent"], persons=False)
    table.add("kh.ahtjp", "sent", 2)
    table.add("la.c02", "sent", 1)
    shown = table.shown()
    assert [shown.cell(r, "sent").text() for r in shown.rows] == ["2", "1", "3"]


def test_a_small_total_is_hidden_with_its_cells() -> None:
    table = Table("victims", [], ["female", "male"], persons=True, row_totals=True)
    table.add("kh.ahtjp", "female", 2)
    table.add("la.c02", "male", 9)
    table.add("la.c02", "female", 6)
    shown = table.shown()
    assert shown.cell("kh.ahtjp", TOTAL).text() == "< 5"
    assert shown.cell("kh.ahtjp", "female").text() == "< 5"
    assert shown.cell("kh.ahtjp", "male").text() == "0"
    # the column of the small cell hides a second count, and so does the total column
    assert sum(shown.cell(r, "female").hidden for r in shown.rows) >= 2
    assert sum(shown.cell(r, TOTAL).hidden for r in shown.rows) >= 2


def test_a_table_of_few_small_counts_is_withheld_whole() -> None:
    # four ones: "< 5" everywhere would still say that each is 1 (each at least 1, four of
    # them, fewer than 5 in all), so nothing of the table is shown, zeros included
    table = Table("victims", [], ["f", "m", "u"], persons=True, row_totals=True)
    for row in ("kh", "la"):
        for column in ("f", "m"):
            table.add(row, column, 1)
    shown = table.shown()
    assert all(cell.mark == "withheld" for _, _, cell in shown)
    assert {cell.text() for _, _, cell in shown} == {"x"}


def test_a_deduction_across_rows_and_columns_is_broken() -> None:
    # With only line-by-line suppression the totals 31 and 34 of the rows would pin the two
    # small cells down (a = 1 forces d = 4): the rows' totals are hidden too.
    table = Table("victims", [], ["f", "m"], persons=True, row_totals=True)
    for (row, column), value in {("kh", "f"): 1, ("kh", "m"): 30, ("la", "f"): 30,
                                 ("la", "m"): 4}.items():
        table.add(row, column, value)
    shown = table.shown()
    assert shown.cell("kh", TOTAL).hidden or shown.cell("la", TOTAL).hidden
    assert [shown.cell(TOTAL, c).text() for c in shown.columns] == ["31", "34", "65"]
