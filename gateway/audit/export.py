"""Tables exported for spreadsheets: CSV in UTF-8 with a byte-order mark (so that spreadsheet
programs read Khmer, Lao and Vietnamese right), every cell a spreadsheet would take for a
formula neutralised (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Final

#: A cell starting with one of these is read as a formula (or a command) by spreadsheets.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell's text, with a leading apostrophe where a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The CSV file of a table (UTF-8 with BOM, CRLF line ends, every cell neutralised)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
