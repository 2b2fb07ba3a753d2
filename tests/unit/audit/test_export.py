"""CSV exports: what a spreadsheet opens is text, never a formula, in every script."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.export import csv_bytes

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_formula_cells_are_neutralised_and_text_stays_readable() -> None:
    data = csv_bytes(["name", "note"], [["=HYPERLINK(\"http://x\")", "Nguyễn Thị Hoa"],
                                        ["+1 555", "សុខ ដារា"], ["@SUM(A1)", "-2"],
                                        ["\tx", "ລາວ"]])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "Nguyễn Thị Hoa"]
    assert rows[2] == ["'+1 555", "សុខ ដារា"]
    assert rows[3] == ["'@SUM(A1)", "'-2"]
    assert rows[4][1] == "ລາວ"


@given(st.lists(st.lists(st.text(max_size=20), min_size=1, max_size=4), max_size=6))
def test_no_cell_of_any_table_starts_like_a_formula(table: list[list[str]]) -> None:
    data = csv_bytes(["h"], table)
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        for cell in row:
            assert not cell.startswith(DANGEROUS), cell
