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
from gateway.store.inline_sqlite import prepared

#: The statements the case work runs for every message, built once (bench/drain.py).
_BY_CASE = persons.c.case_id == sa.bindparam("case_id_")
_COUNT = prepared(sa.select(sa.func.count()).select_from(persons).where(_BY_CASE))
_COUNT_ROLE_STATUS = _COUNT.where(persons.c.role == sa.bindparam("role_"),
                                  persons.c.identity_status == sa.bindparam("status_"))
_REFS = prepared(sa.select(persons.c.person_ref).where(_BY_CASE))
_PERSON_OF = prepared(sa.select(persons).where(
    _BY_CASE, persons.c.person_ref == sa.bindparam("ref_"),
    persons.c.role == sa.bindparam("role_")))
_INSERT = prepared(sa.insert(persons).returning(persons.c.id))
_UPDATE = prepared(sa.update(persons).where(persons.c.id == sa.bindparam("person_id_")))


async def count_persons(conn: AsyncConnection, case_id: int, *, role: str | None = None,
                        identity_status: str | None = None) -> int:
    """How many persons a case has (of a role, with an identity status)."""
    if role is not None and identity_status is not None:
        return int((await conn.execute(_COUNT_ROLE_STATUS, {
            "case_id_": case_id, "role_": role, "status_": identity_status})).scalar_one())
    where = [persons.c.case_id == case_id]
    if role is not None:
        where.append(persons.c.role == role)
    if identity_status is not None:
        where.append(persons.c.identity_status == identity_status)
    return int((await conn.execute(sa.select(sa.func.count()).select_from(persons)
                                   .where(*where))).scalar_one())

async def person_refs(conn: AsyncConnection, case_id: int) -> set[str]:
    """The ``person-id`` of every person a case holds."""
    return {str(r) for r in (await conn.execute(_REFS, {"case_id_": case_id})).scalars()}

async def person_row_of(conn: AsyncConnection, case_id: int, person_ref: str, role: str
                        ) -> Any:
    """The person of a case with this ``person-id`` and role, or None."""
    return (await conn.execute(_PERSON_OF, {"case_id_": case_id, "ref_": person_ref,
                                            "role_": role})).first()

async def insert_person(conn: AsyncConnection, **values: Any) -> int:
    """A new person of a case; answers its id."""
    return int((await conn.execute(_INSERT, values)).scalar_one())

async def update_person(conn: AsyncConnection, person_id: int, **values: Any) -> None:
    """Change a person's columns."""
    await conn.execute(_UPDATE, {"person_id_": person_id, **values})

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
