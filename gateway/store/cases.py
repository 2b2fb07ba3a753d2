"""Repository of cases: the case rows, their story (events), their notes, their reference
series and the search index. The services in ``gateway.cases`` say what happens; this module
says how it is stored. Takes the caller's connection; never commits. Values arrive sealed
where the tables keep them sealed. Persons, tasks, drafts and the messages of a case have
their own repositories (``persons``, ``tasks``, ``drafts``, ``case_messages``).

``unit`` arguments scope a read to the cases of one unit; ``None`` means every unit (C02's
investigators), decided by the caller's role in ``gateway.cases``, never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import later
from gateway.store.case_tables import (
    case_events,
    cases,
    notes,
    reference_counters,
    search_terms,
    tasks,
)
from gateway.store.inline_sqlite import prepared

#: The statements the case work runs for every message, built once (a statement built per
#: call costs more CPU than SQLite takes to run it: bench/drain.py).
_CASE = prepared(sa.select(cases).where(cases.c.id == sa.bindparam("case_id_")))
_CASE_OF_UNIT = _CASE.where(cases.c.owner_unit == sa.bindparam("unit_"))
_INSERT_CASE = prepared(sa.insert(cases).returning(cases.c.id))
_UPDATE_CASE = prepared(sa.update(cases).where(cases.c.id == sa.bindparam("case_id_")))
_INSERT_EVENT = prepared(sa.insert(case_events))
_NEXT_NUMBER = prepared(sa.update(reference_counters)
                .where(reference_counters.c.prefix == sa.bindparam("prefix_"))
                .values(last=reference_counters.c.last + 1).returning(reference_counters.c.last))
_INSERT_COUNTER = prepared(sa.insert(reference_counters))
_DROP_PERSON_TERMS = prepared(sa.delete(search_terms).where(
    search_terms.c.person_id == sa.bindparam("person_id_")))
_INSERT_TERMS = prepared(sa.insert(search_terms))
_PERSON_TERMS = prepared(sa.select(search_terms.c.term).where(
    search_terms.c.person_id == sa.bindparam("person_id_")))


def of_unit(unit: str | None) -> sa.ColumnElement[bool]:
    """Cases of ``unit`` (every case for ``None``)."""
    return sa.true() if unit is None else cases.c.owner_unit == unit

async def next_number(conn: AsyncConnection, prefix: str) -> int:
    """The next number of a reference series (1 for a new series)."""
    number = (await conn.execute(_NEXT_NUMBER, {"prefix_": prefix})).scalar()
    if number is None:
        await conn.execute(_INSERT_COUNTER, {"prefix": prefix, "last": 1})
        return 1
    return int(number)

async def case_row(conn: AsyncConnection, case_id: int, unit: str | None = None) -> Any:
    """A case (of ``unit``, where given), or None."""
    if unit is None:
        return (await conn.execute(_CASE, {"case_id_": case_id})).first()
    return (await conn.execute(_CASE_OF_UNIT, {"case_id_": case_id, "unit_": unit})).first()

async def insert_case(conn: AsyncConnection, **values: Any) -> int:
    """A new case; answers its id."""
    return int((await conn.execute(_INSERT_CASE, values)).scalar_one())

async def update_case(conn: AsyncConnection, case_id: int, **values: Any) -> None:
    """Change a case's columns."""
    await conn.execute(_UPDATE_CASE, {"case_id_": case_id, **values})

async def cases_of(conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
    """Cases by id, newest first."""
    return list(await conn.execute(sa.select(cases).where(cases.c.id.in_(ids))
                                   .order_by(cases.c.id.desc())))

async def insert_event(conn: AsyncConnection, **values: Any) -> None:
    """One line of a case's story (with the round, in a round: :mod:`gateway.store.later`)."""
    await later.insert(conn, _INSERT_EVENT, values)

async def events_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's story, oldest first."""
    return list(await conn.execute(sa.select(case_events).where(
        case_events.c.case_id == case_id).order_by(case_events.c.id)))

async def person_terms(conn: AsyncConnection, person_id: int) -> list[str]:
    """The blind-index terms a person is found by."""
    return [str(t) for t in (await conn.execute(_PERSON_TERMS, {"person_id_": person_id}))
            .scalars()]

async def index_terms(conn: AsyncConnection, case_id: int, person_id: int | None,
                      terms: Iterable[str], *, new_person: bool = False) -> None:
    """Blind-index terms of a case (``person_id`` None) or of one of its persons (replacing
    the person's earlier terms; a ``new_person`` has none)."""
    if person_id is not None and not new_person:
        await conn.execute(_DROP_PERSON_TERMS, {"person_id_": person_id})
    rows = [{"term": t, "case_id": case_id, "person_id": person_id} for t in terms]
    if rows:
        await conn.execute(_INSERT_TERMS, rows)

async def matching_case_ids(conn: AsyncConnection, groups: list[list[str]], unit: str | None,
                            limit: int, count_cap: int) -> list[int]:
    """Cases (of ``unit``) whose search index holds a term of every group (blind-index
    terms; each group the spellings of one word). The rarest group drives the query: each
    group's rows are counted up to ``count_cap``."""
    sizes = []
    for group in groups:
        capped = sa.select(sa.literal(1)).where(search_terms.c.term.in_(group)).limit(count_cap)
        sizes.append((await conn.execute(sa.select(sa.func.count())
                                         .select_from(capped.subquery()))).scalar_one())
    ordered = [g for _, g in sorted(zip(sizes, groups, strict=True), key=lambda p: p[0])]
    driver = search_terms.alias("driver")
    query_ids = (sa.select(driver.c.case_id).distinct()
                 .join(cases, cases.c.id == driver.c.case_id)
                 .where(driver.c.term.in_(ordered[0]), of_unit(unit)))
    for group in ordered[1:]:
        other = search_terms.alias()
        query_ids = query_ids.where(sa.exists(sa.select(sa.literal(1)).where(
            other.c.case_id == driver.c.case_id, other.c.term.in_(group))))
    return [int(r.case_id) for r in await conn.execute(query_ids.limit(limit))]

async def owner_units(conn: AsyncConnection, unit: str | None) -> list[str]:
    """The units that own cases (of ``unit`` only, or all)."""
    return sorted(str(u) for u in (await conn.execute(
        sa.select(cases.c.owner_unit).where(of_unit(unit)).distinct())).scalars())


def overdue_count(now: datetime) -> sa.ScalarSelect[Any]:
    """Per case row of a query: how many of its tasks are open past their time."""
    return (sa.select(sa.func.count()).select_from(tasks)
            .where(tasks.c.case_id == cases.c.id, tasks.c.done_at.is_(None),
                   tasks.c.due_at < now).scalar_subquery())


class CaseFilters(TypedDict, total=False):
    """What a list of cases is filtered by: codes (kind, state, partner, priority, the owner
    unit), only cases with overdue tasks, and how many at most."""

    kind: str | None
    state: str | None
    partner: str | None
    unit: str | None
    overdue: bool
    priority: str | None
    limit: int


async def list_cases(conn: AsyncConnection, unit: str | None, now: datetime,
                     filters: CaseFilters, limit: int) -> list[Any]:
    """Cases of ``unit``, newest change first, each with its count of overdue tasks
    (``overdue``); ``filters`` by code (kind, state, partner, priority, unit) and
    ``overdue``."""
    overdue = overdue_count(now)
    query = sa.select(cases, overdue.label("overdue")).where(of_unit(unit))
    for name in ("kind", "state", "partner", "priority"):
        if filters.get(name):
            query = query.where(cases.c[name] == filters[name])
    if filters.get("unit"):
        query = query.where(cases.c.owner_unit == filters["unit"])
    if filters.get("overdue"):
        query = query.where(overdue > 0)
    return list(await conn.execute(
        query.order_by(cases.c.updated_at.desc(), cases.c.id.desc()).limit(limit)))

async def investigations_of(conn: AsyncConnection, unit: str | None) -> list[Any]:
    """The joint investigations (of ``unit``)."""
    return list(await conn.execute(sa.select(cases).where(
        cases.c.kind == "investigation", of_unit(unit)).order_by(cases.c.id)))

async def insert_note(conn: AsyncConnection, **values: Any) -> int:
    """A note on a case; answers its id."""
    result = await conn.execute(sa.insert(notes).values(**values).returning(notes.c.id))
    return int(result.scalar_one())

async def notes_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's notes, oldest first."""
    return list(await conn.execute(sa.select(notes).where(notes.c.case_id == case_id)
                                   .order_by(notes.c.id)))
