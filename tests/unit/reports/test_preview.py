"""The preview of a submitted periodic report is read back from the document's bytes: the
tables laid out again (rows, columns and totals in the report's order), a withheld cell as
"x" and never its count, the unit's own deadlines under "no partner", and the labels in the
reader's language with English beneath."""

from __future__ import annotations

import re

from gateway.documents.catalog import catalogs
from gateway.reports.document import read_document, to_document
from gateway.reports.preview import made_at, preview_html, tables_of
from gateway.settings import REPOSITORY
from tests.unit.reports.test_document import a_report

WORDS = catalogs(REPOSITORY / "translations")


def test_the_tables_come_back_from_the_document_with_withheld_cells_as_x() -> None:
    document = to_document(a_report(), {"vi": "Mộc Bài"})
    tables = {t.key: t for t in tables_of(read_document(document))}
    assert list(tables) == ["victims-received", "overdue"]  # in the printed report's order
    victims = tables["victims-received"]
    assert victims.rows == ["kh.blo-bavet"]  # one partner: no total row
    assert victims.columns[:2] == ["female-child", "female-adult"]
    assert victims.columns[-1] == "total"
    assert victims.text("kh.blo-bavet", "female-child") == "x"  # 2 girls: withheld
    assert victims.text("kh.blo-bavet", "male-adult") == "9"
    shown = a_report().tables["victims-received"].shown()
    for (row, column), cell in shown.cells.items():  # every cell as suppression left it
        assert victims.text(row, column) == (cell.text() if cell.value is not None else "x")
    overdue = tables["overdue"]
    assert overdue.rows == ["-"]  # the unit's own deadlines: no partner, not the unit's id
    assert overdue.text("-", "passed") == "3"


def test_the_page_is_in_the_readers_language_with_english_beneath() -> None:
    document = to_document(a_report(), {"vi": "Mộc Bài"})
    html = preview_html(document, WORDS.get("km"), WORDS.get("en"), "km", "2026-H1",
                        lambda node: {"kh.blo-bavet": "Bavet"}.get(node, node))
    assert '<html lang="km">' in html
    khmer = WORDS.get("km").pgettext("report", "Victims received, by partner, sex and age")
    assert khmer in html
    assert "Victims received, by partner, sex and age" in html
    assert "Bavet" in html  # partners by name
    cells = re.findall(r'<td class="n">([^<]*)</td>', html)
    assert "2" not in cells  # the small count never appears
    assert "2026-05-18 07:00 (UTC+7)" in html  # made at, at the border


def test_made_at_is_the_time_at_the_border() -> None:
    assert made_at("2026-12-06T19:22:09.987Z") == "2026-12-07 02:22 (UTC+7)"
    assert made_at("soon") == "soon"
