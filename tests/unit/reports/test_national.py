"""The national table as files (the collecting node): every format shows what the page
shows: known sums as numbers, "≥ N" where a unit withheld a small count, "x" where that bound
is below 5, "< 5" for a small sum of persons; and who reported, late or not."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook

from gateway.documents.catalog import catalogs
from gateway.reports import national
from gateway.reports.collection import Collection, NationalCell, add_up
from gateway.reports.document import Dimensions, ReceivedReport, ReportCell
from gateway.reports.periods import parse_period
from gateway.settings import REPOSITORY

WORDS = catalogs(REPOSITORY / "translations")
MADE = datetime(2027, 5, 25, 3, 0, tzinfo=UTC)


def collection() -> Collection:
    found = Collection(parse_period("2027-H1"))
    found.reported = [("vn.blo-laobao", datetime(2027, 5, 19, 2, 0, tzinfo=UTC), False),
                      ("vn.blo-mocbai", datetime(2027, 5, 22, 2, 0, tzinfo=UTC), True)]
    found.missing = ["vn.blo-xamat"]
    found.national = {
        Dimensions("tips", "received"): NationalCell(known=7),
        Dimensions("victims-received", "persons", "kh.ahtjp", None, "female", "child"):
            NationalCell(known=2, withheld=1),
        Dimensions("victims-received", "persons", "la.c02", None, "male", "adult"):
            NationalCell(known=3),
        Dimensions("foreign-cases", "cases", "kh.ahtjp"): NationalCell(known=6, withheld=1),
        Dimensions("alerts", "sent", "kh.ahtjp"): NationalCell(),  # zero everywhere
    }
    return found


def test_the_csv_shows_sums_bounds_and_the_units() -> None:
    data = national.to_csv(collection(), WORDS.get("en"), "vn.c02")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert ["vn.blo-laobao", "2027-05-19 09:00", "reported"] in rows
    assert ["vn.blo-mocbai", "2027-05-22 09:00", "reported late"] in rows
    assert ["vn.blo-xamat", "", "not reported yet"] in rows
    values = {(row[0], row[1], row[3]): row[5] for row in rows if len(row) == 6}
    assert values["Hotline tips", "all", ""] == "7"
    assert values["Victims received, by partner, sex and age", "kh.ahtjp", "girls"] == "x"
    assert values["Victims received, by partner, sex and age", "la.c02", "men"] == "< 5"
    assert values["Cases with a foreign element, by partner", "kh.ahtjp", ""] == "≥ 7"
    assert not any(row[:1] == ["Alerts"] for row in rows)  # a zero everywhere is left out
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for cell in row)


def test_the_xlsx_holds_known_sums_as_numbers_and_hidden_ones_as_text() -> None:
    book = load_workbook(io.BytesIO(national.to_xlsx(collection(), WORDS.get("vi"),
                                                     "vn.c02")))
    assert book.sheetnames == ["national", "units"]
    cells = [row[5] for row in book["national"].iter_rows(min_row=3, values_only=True)]
    assert sorted(c for c in cells if isinstance(c, int)) == [7]
    assert sorted(c for c in cells if isinstance(c, str)) == ["< 5", "x", "≥ 7"]
    assert [row[0] for row in book["units"].iter_rows(min_row=2, values_only=True)] == [
        "vn.blo-laobao", "vn.blo-mocbai", "vn.blo-xamat"]


def test_the_pdf_is_bilingual_and_hides_what_the_page_hides(tmp_path: Path) -> None:
    path = tmp_path / "national.pdf"
    path.write_bytes(national.export(collection(), "pdf", WORDS.get("km"), WORDS.get("en"),
                                     "km", "vn.c02", MADE))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "National table: the sum of the units' reports" in text  # English beneath
    assert "vn.blo-xamat" in text
    packed = text.replace(" ", "")  # pdftotext drops the thin space after ≥ and <
    assert "≥7" in packed
    assert "<5" in packed
    assert not any(line.split()[-1:] in (["2"], ["3"]) for line in text.splitlines())


def received(unit: str, cells: dict[tuple[str, str | None, str | None, str | None], int | None]
             ) -> ReceivedReport:
    """A unit's victims-received cells: (measure, partner, sex, age) -> count (None:
    suppressed)."""
    return ReceivedReport(unit, "six-month", date(2026, 11, 16), date(2027, 5, 15), [
        ReportCell(Dimensions("victims-received", measure, partner, None, sex, age), count)
        for (measure, partner, sex, age), count in cells.items()], {})


def test_a_line_that_hides_a_sum_hides_its_total_too() -> None:
    # Lao Bao hid kh girls (a small count) and kh women beside it; Moc Bai showed its own.
    laobao = received("vn.blo-laobao", {
        ("persons", "kh.ahtjp", "female", "child"): None,
        ("persons", "kh.ahtjp", "female", "adult"): None,
        ("persons", "kh.ahtjp", None, None): 10,
        ("persons", "la.c02", "female", "child"): 0,
        ("persons", "la.c02", "female", "adult"): 8,
        ("persons", "la.c02", None, None): 8,
        ("persons", None, "female", "child"): None,
        ("persons", None, "female", "adult"): None,
        ("persons", None, None, None): 18})
    mocbai = received("vn.blo-mocbai", {
        ("persons", "kh.ahtjp", "female", "child"): 0,
        ("persons", "kh.ahtjp", "female", "adult"): 6,
        ("persons", "kh.ahtjp", None, None): 6,
        ("persons", "la.c02", "female", "child"): 0,
        ("persons", "la.c02", "female", "adult"): 5,
        ("persons", "la.c02", None, None): 5,
        ("persons", None, "female", "child"): 0,
        ("persons", None, "female", "adult"): 11,
        ("persons", None, None, None): 11})
    national = add_up([laobao, mocbai])

    def shown(partner: str | None, sex: str | None, age: str | None) -> str:
        where = Dimensions("victims-received", "persons", partner, None, sex, age)
        return national[where].text(True)

    assert shown("kh.ahtjp", "female", "child") == "x"     # at least 1: below 5
    assert shown("kh.ahtjp", "female", "adult") == "≥ 7"
    assert shown("kh.ahtjp", None, None) == "x"            # 16 would give the two away
    assert shown("la.c02", "female", "adult") == "13"      # a line that hides nothing
    assert shown("la.c02", None, None) == "13"
    assert shown(None, "female", "adult") == "≥ 12"
    assert shown(None, None, None) == "x"                  # its row and column hide cells
