"""The periodic-report document: written from a report after suppression, valid against its
schema, read back into the same cells; and the national sums at C02."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.documents.registry import SchemaRegistry
from gateway.reports.collection import NationalCell
from gateway.reports.document import read_document, to_document
from gateway.reports.indicators import PERSON_COLUMNS, Report
from gateway.reports.periods import ReportError, parse_period
from gateway.reports.tables import Table
from tests.conftest import SCHEMAS


def a_report() -> Report:
    report = Report("vn.blo-mocbai", parse_period("2026-H1"), datetime(2026, 5, 18, tzinfo=UTC))
    victims = Table("victims-received", [], list(PERSON_COLUMNS), persons=True, row_totals=True)
    victims.add("kh.blo-bavet", "female-child", 2)
    victims.add("kh.blo-bavet", "male-adult", 9)
    victims.add("kh.blo-bavet", "female-adult", 8)
    overdue = Table("overdue", [], ["passed", "open-at-end"], persons=False)
    overdue.add("-", "passed", 3)
    report.tables = {"victims-received": victims, "overdue": overdue}
    report.durations = {"tips.classified.share": 0.75, "alerts.sent.median": None}
    return report


def test_the_document_is_valid_holds_no_small_count_and_reads_back() -> None:
    document = to_document(a_report(), {"vi": "Mộc Bài"}, {"vi": "Ghi chú"})
    SchemaRegistry.load(SCHEMAS).validate("periodic-report", "1.0", document)
    text = document.decode()
    assert 'count="2"' not in text  # the girls are fewer than 5: suppressed
    got = read_document(document)
    assert (got.unit, got.kind, got.first.isoformat()) == ("vn.blo-mocbai", "six-month",
                                                           "2025-11-16")
    cells = {(c.where.indicator, c.where.partner, c.where.sex, c.where.age, c.where.measure):
             c.count for c in got.cells}
    assert cells["victims-received", "kh.blo-bavet", "female", "child", "persons"] is None
    assert cells["victims-received", "kh.blo-bavet", "male", "adult", "persons"] == 9
    # the unit's own deadlines (no partner) carry the unit's own id
    assert cells["overdue", "vn.blo-mocbai", None, None, "passed"] == 3
    assert got.figures == {"tips.classified.share": 0.75}


def test_a_cell_with_both_a_count_and_suppressed_is_refused_with_its_line() -> None:
    document = to_document(a_report(), {"vi": "Mộc Bài"}).replace(
        b'count="9"', b'count="9" suppressed="true"')
    with pytest.raises(ReportError) as caught:
        read_document(document)
    assert "line" in str(caught.value)


@pytest.mark.parametrize(("cell", "persons", "shown"), [
    (NationalCell(12, 0), True, "12"), (NationalCell(3, 0), True, "< 5"),
    (NationalCell(3, 0), False, "3"), (NationalCell(0, 0), True, "0"),
    (NationalCell(9, 1), True, "≥ 10"), (NationalCell(2, 1), True, "x"),
    (NationalCell(0, 4), True, "x"), (NationalCell(0, 5), True, "≥ 5")])
def test_national_sums_keep_small_counts_hidden(cell: NationalCell, persons: bool,
                                                shown: str) -> None:
    assert cell.text(persons) == shown
