"""Repository of the persons of cases (victims, suspects, witnesses, relatives): their
rows, identity statuses, and their purge when their retention ends. Names and details arrive
sealed. Takes the caller's connection; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import cases, persons, search_terms


async def count_persons(conn: AsyncConnection, case_id: int, *, role: str | None = None,
                        identity_status: str | None = None) -> int:
    """How many persons a case has (of a role, with an identity status)."""
    where = [persons.c.case_id == case_id]
    if role is not None:
        where.append(persons.c.role == role)
    if identity_status is not None:
        where.append(persons.c.identity_status == identity_status)
    return int((await conn.execute(sa.select(sa.func.count()).select_from(persons)
                                   .where(*where))).scalar_one())

async def person_refs(conn: AsyncConnection, case_id: int) -> set[str]:
    """The ``person-id`` of every person a case holds."""
    return {str(r) for r in (await conn.execute(sa.select(persons.c.person_ref).where(
        persons.c.case_id == case_id))).scalars()}

async def person_row_of(conn: AsyncConnection, case_id: int, person_ref: str, role: str
                        ) -> Any:
    """The person of a case with this ``person-id`` and role, or None."""
    return (await conn.execute(sa.select(persons).where(
        persons.c.case_id == case_id, persons.c.person_ref == person_ref,
        persons.c.role == role))).first()

async def insert_person(conn: AsyncConnection, **values: Any) -> int:
    """A new person of a case; answers its id."""
    result = await conn.execute(sa.insert(persons).values(**values).returning(persons.c.id))
    return int(result.scalar_one())

async def update_person(conn: AsyncConnection, person_id: int, **values: Any) -> None:
    """Change a person's columns."""
    await conn.execute(sa.update(persons).where(persons.c.id == person_id).values(**values))

async def set_victims_status(conn: AsyncConnection, case_id: int, person_ref: str | None,
                             status: str) -> int:
    """Set the identity status of the case's victims (one by ``person-id``, or all); answers
    how many."""
    where: list[sa.ColumnElement[bool]] = [persons.c.case_id == case_id,
                                           persons.c.role == "victim"]
    if person_ref is not None:
        where.append(persons.c.person_ref == person_ref)
    result = await conn.execute(sa.update(persons).where(*where)
                                .values(identity_status=status))
    return int(result.rowcount)

async def persons_of(conn: AsyncConnection, case_ids: Sequence[int]) -> list[Any]:
    """The persons of some cases, in the order they were added."""
    return list(await conn.execute(sa.select(persons).where(persons.c.case_id.in_(case_ids))
                                   .order_by(persons.c.id)))

async def person_row(conn: AsyncConnection, case_id: int, person_id: int) -> Any:
    """A person of the case, or None."""
    return (await conn.execute(sa.select(persons).where(
        persons.c.id == person_id, persons.c.case_id == case_id))).first()

async def suspects_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """The suspects of a case (id and ``person-id``)."""
    return list(await conn.execute(sa.select(persons.c.id, persons.c.person_ref).where(
        persons.c.case_id == case_id, persons.c.role == "suspect")))

async def expired_persons(conn: AsyncConnection, today: date) -> list[Any]:
    """Persons kept past their retention day and not yet purged, with their case's
    reference."""
    return list(await conn.execute(
        sa.select(persons.c.id, persons.c.role, cases.c.reference)
        .join(cases, cases.c.id == persons.c.case_id)
        .where(persons.c.retention_until < today, persons.c.purged_at.is_(None))))

async def purge_person(conn: AsyncConnection, person_id: int, now: datetime) -> None:
    """Erase a person's names and details and their search terms; the row stays, marked."""
    await conn.execute(sa.update(persons).where(persons.c.id == person_id).values(
        name_native_sealed=None, name_latin_sealed=None, details_sealed=None, purged_at=now))
    await conn.execute(sa.delete(search_terms).where(search_terms.c.person_id == person_id))
