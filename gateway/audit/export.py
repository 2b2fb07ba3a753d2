"""Tables exported for spreadsheets: CSV in UTF-8 with a byte-order mark (so that spreadsheet
programs read Khmer, Lao and Vietnamese right), every cell a spreadsheet would take for a
formula neutralised (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log
from gateway.audit.context import Audited
from gateway.store.transactions import HasDatabase, reads, writes

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


#: An entry's fields as the log stores and hashes them (:func:`log.entry_hash`): the columns
#: of an exported log kept for machines, beside the ones in words.
STORED_COLUMNS: Final = ("seq", "at", "actor", "action", "subject", "detail")


def stored_cells(entry: dict[str, Any]) -> list[Any]:
    """An entry of :func:`log.entries` as stored: codes, the time in UTC as hashed, and the
    detail as the JSON text the chain hashes (the same canonical form :func:`log.append`
    writes)."""
    return [entry["seq"], entry["at"], entry["actor"], entry["action"], entry["subject"] or "",
            json.dumps(entry["detail"] or {}, ensure_ascii=False, sort_keys=True,
                       separators=(",", ":"))]


@reads
async def browse(conn: AsyncConnection, _ctx: HasDatabase, filters: log.EntryFilters,
                 before: int | None, limit: int
                 ) -> tuple[list[dict[str, Any]], log.ChainVerdict]:
    """A page of the log for an auditor (``filters``: the keyword filters of
    :func:`log.entries`) and whether the chain is intact, read in one snapshot."""
    return (await log.entries(conn, before=before, limit=limit, **filters),
            await log.verify_chain(conn))


@writes
async def exported(conn: AsyncConnection, ctx: Audited, actor: str, reason: str,
                   filters: log.EntryFilters, shown: dict[str, str], cap: int
                   ) -> list[dict[str, Any]]:
    """The entries an auditor exports, the export itself audited with the reason and the
    filters as the auditor typed them (``shown``)."""
    found = await log.entries(conn, limit=cap, **filters)
    await log.append(conn, ctx.clock, actor, "audit.exported", None,
                     {"reason": reason, "entries": len(found), "filters": shown})
    return found
