"""Repository of missing-person reports (``missing_persons``) and their reporters' sealed
identities (``missing_person_reporters``, kept apart as a tip's reporter is). The rules are in
``gateway.cases.missing``; this module says how reports are stored. Takes the caller's
connection; never commits. Values arrive sealed where the table keeps them sealed.

:func:`open_persons` is the one way to read the persons of the open reports in bulk (for
matching): each opened in memory only, a batch at a time, never written anywhere in clear.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import missing_person_reporters, missing_persons
from gateway.store.crypto import Sealer, SealError

#: The most reports a list shows.
LIST_LIMIT: Final = 500
#: The names the person and the reporter are sealed for (the column, as associated data).
PERSON_COLUMN: Final = "missing_persons.person"
LAST_SEEN_COLUMN: Final = "missing_persons.last_seen"
NARRATIVE_COLUMN: Final = "missing_persons.narrative"
PHOTO_COLUMN: Final = "missing_persons.photo"
CLOSE_NOTE_COLUMN: Final = "missing_persons.close_note"
REPORTER_COLUMN: Final = "missing_person_reporters.identity"
#: Reports opened per round trip by :func:`open_persons`.
BATCH: Final = 500


async def insert_report(conn: AsyncConnection, **values: Any) -> int:
    """Store a new report; returns its id."""
    result = await conn.execute(sa.insert(missing_persons).values(**values)
                                .returning(missing_persons.c.id))
    return int(result.scalar_one())


async def insert_reports(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Store many reports at once, their ids given (the matching bench's pre-load)."""
    await conn.execute(sa.insert(missing_persons), rows)


async def insert_reporter(conn: AsyncConnection, report_id: int, identity_sealed: bytes) -> None:
    """Keep the reporter's sealed identity apart from the report."""
    await conn.execute(sa.insert(missing_person_reporters).values(
        report_id=report_id, identity_sealed=identity_sealed))


async def report_row(conn: AsyncConnection, report_id: int) -> Any:
    """The report ``report_id``, or None."""
    return (await conn.execute(sa.select(missing_persons).where(
        missing_persons.c.id == report_id))).first()


async def reports(conn: AsyncConnection, state: str | None) -> list[Any]:
    """The node's reports (of ``state`` when given), newest first, at most
    :data:`LIST_LIMIT`, without their sealed columns (a list never opens them)."""
    columns = [c for c in missing_persons.c if not c.name.endswith("_sealed")]
    query = sa.select(*columns, missing_persons.c.photo_sealed.is_not(None).label("has_photo"))
    if state:
        query = query.where(missing_persons.c.state == state)
    return list(await conn.execute(query.order_by(missing_persons.c.created_at.desc(),
                                                  missing_persons.c.id.desc())
                                   .limit(LIST_LIMIT)))


async def count_open(conn: AsyncConnection) -> int:
    """How many reports are open (a home page's badge)."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(missing_persons)
                                   .where(missing_persons.c.state == "open"))).scalar_one())


async def reporter_sealed(conn: AsyncConnection, report_id: int) -> bytes | None:
    """The reporter's sealed identity, or None when the reporter gave none."""
    found = (await conn.execute(sa.select(missing_person_reporters.c.identity_sealed).where(
        missing_person_reporters.c.report_id == report_id))).scalar()
    return bytes(found) if found is not None else None


async def update_report(conn: AsyncConnection, report_id: int, expected_state: str,
                        **values: Any) -> bool:
    """Change a report that is still in ``expected_state``; False if it no longer is (another
    user moved it meanwhile)."""
    result = await conn.execute(sa.update(missing_persons).where(
        missing_persons.c.id == report_id, missing_persons.c.state == expected_state)
        .values(**values))
    return result.rowcount == 1


async def mark_linked(conn: AsyncConnection, report_id: int, case_id: int,
                      at: datetime) -> bool:
    """An open report linked to a case (the same person): it leaves the open list. False if
    the report was no longer open."""
    return await update_report(conn, report_id, "open", state="linked", case_id=case_id,
                               linked_at=at)


@dataclass(frozen=True)
class OpenPerson:
    """The person of an open report, opened in memory: its id, the PERSON document, and the
    day it was reported (the "as of" of an estimated age)."""

    id: int
    person: dict[str, Any]
    created_at: datetime


async def open_persons(conn: AsyncConnection, sealer: Sealer, batch: int = BATCH,
                       unopened: Callable[[int, Exception], None] | None = None
                       ) -> AsyncIterator[OpenPerson]:
    """Every open report's person, oldest first, a batch of rows at a time (keyset paging on
    the id, so that the memory held is one batch whatever the number of reports). A person
    that does not open (sealed bytes altered, not JSON) raises, or, with ``unopened``, is
    handed to it by id and skipped."""
    after = 0
    while True:
        rows = list(await conn.execute(
            sa.select(missing_persons.c.id, missing_persons.c.person_sealed,
                      missing_persons.c.created_at)
            .where(missing_persons.c.state == "open", missing_persons.c.id > after)
            .order_by(missing_persons.c.id).limit(batch)))
        for row in rows:
            try:
                person = json.loads(sealer.open(bytes(row.person_sealed), PERSON_COLUMN))
            except (SealError, ValueError) as exc:  # a JSON error is a ValueError
                if unopened is None:
                    raise
                unopened(int(row.id), exc)
                continue
            yield OpenPerson(row.id, person, row.created_at)
        if len(rows) < batch:
            return
        after = rows[-1].id


async def linked_to(conn: AsyncConnection, case_id: int) -> list[Any]:
    """The reports linked to a case (id, reference), oldest first."""
    return list(await conn.execute(
        sa.select(missing_persons.c.id, missing_persons.c.reference)
        .where(missing_persons.c.case_id == case_id, missing_persons.c.state == "linked")
        .order_by(missing_persons.c.id)))
