"""Repository of tasks: what is due on a case or a tip, by whom and when, the deadlines
passed and due soon (housekeeping), and the reviews of alerts released alone. Takes the
caller's connection; never commits.

``unit`` arguments scope a read to one unit's tasks; ``None`` means every unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import cases, tasks
from gateway.store.cases import of_unit
from gateway.store.inline_sqlite import prepared

_INSERT = prepared(sa.insert(tasks).returning(tasks.c.id))


async def insert_task(conn: AsyncConnection, **values: Any) -> int:
    """Something due; answers its id."""
    return int((await conn.execute(_INSERT, values)).scalar_one())

async def task_row(conn: AsyncConnection, task_id: int, case_id: int | None = None) -> Any:
    """A task (of the case, where given), or None."""
    query = sa.select(tasks).where(tasks.c.id == task_id)
    if case_id is not None:
        query = query.where(tasks.c.case_id == case_id)
    return (await conn.execute(query)).first()

async def update_task(conn: AsyncConnection, task_id: int, **values: Any) -> None:
    """Change a task's columns."""
    await conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(**values))

#: The statements of :func:`close_open_tasks`, by the filters given.
_CLOSE: dict[tuple[str, ...], sa.Update] = {}


async def close_open_tasks(conn: AsyncConnection, done_at: datetime, done_by: str, *,
                           kinds: Sequence[str], case_id: int | None = None,
                           tip_id: int | None = None, message_id: str | None = None,
                           partner: str | None = None) -> int:
    """Mark the open tasks of these kinds (of a case, a tip, a message, with a partner) done
    by ``done_by``; answers how many."""
    given = {"partner": partner, "case_id": case_id, "tip_id": tip_id,
             "message_id": message_id}
    shape = tuple(name for name, value in given.items() if value is not None)
    statement = _CLOSE.get(shape)
    if statement is None:  # built once a shape (the case work closes tasks for every answer)
        statement = _CLOSE[shape] = sa.update(tasks).where(
            tasks.c.done_at.is_(None), tasks.c.kind.in_(sa.bindparam("kinds_", expanding=True)),
            *(tasks.c[name] == sa.bindparam(f"{name}_") for name in shape)).values(
            done_at=sa.bindparam("done_at_"), done_by=sa.bindparam("done_by_"))
    result = await conn.execute(statement, {
        "kinds_": list(kinds), "done_at_": done_at, "done_by_": done_by,
        **{f"{name}_": given[name] for name in shape}})
    return int(result.rowcount)

async def tasks_of(conn: AsyncConnection, case_id: int, *, open_only: bool = False
                   ) -> list[Any]:
    """A case's tasks by due time."""
    query = sa.select(tasks).where(tasks.c.case_id == case_id)
    if open_only:
        query = query.where(tasks.c.done_at.is_(None))
    return list(await conn.execute(query.order_by(tasks.c.due_at)))

async def overdue_tasks(conn: AsyncConnection, now: datetime, unit: str | None
                        ) -> list[Any]:
    """Open tasks past their time (of ``unit``'s, or every unit's), with their case's
    reference and kind, the longest overdue first."""
    query = (sa.select(tasks, cases.c.reference, cases.c.kind)
             .select_from(tasks.outerjoin(cases, cases.c.id == tasks.c.case_id))
             .where(tasks.c.done_at.is_(None), tasks.c.due_at < now))
    if unit is not None:
        query = query.where(tasks.c.owner_unit == unit)
    return list(await conn.execute(query.order_by(tasks.c.due_at)))

async def awaiting_answers(conn: AsyncConnection, unit: str | None) -> list[Any]:
    """Requests of cases (of ``unit``) waiting for a partner's answer, per partner, oldest
    first, with their case's id and reference."""
    return list(await conn.execute(
        sa.select(tasks.c.partner, tasks.c.title, tasks.c.created_at, tasks.c.due_at,
                  cases.c.id.label("case_id"), cases.c.reference)
        .join(cases, cases.c.id == tasks.c.case_id)
        .where(tasks.c.kind == "await-answer", tasks.c.done_at.is_(None), of_unit(unit))
        .order_by(tasks.c.partner, tasks.c.created_at)))

async def newly_overdue(conn: AsyncConnection, now: datetime) -> list[Any]:
    """Open tasks past their time that nobody was told of yet, with their case's reference."""
    return list(await conn.execute(
        sa.select(tasks.c.id, tasks.c.kind, tasks.c.owner_unit, tasks.c.owner_user,
                  tasks.c.case_id, tasks.c.tip_id, tasks.c.due_at, cases.c.reference)
        .select_from(tasks.outerjoin(cases, cases.c.id == tasks.c.case_id))
        .where(tasks.c.done_at.is_(None), tasks.c.due_at < now,
               tasks.c.overdue_noted_at.is_(None))))

async def due_soon_candidates(conn: AsyncConnection, now: datetime, horizon: datetime
                              ) -> list[Any]:
    """Open tasks due between now and ``horizon`` that nobody was told of yet."""
    return list(await conn.execute(
        sa.select(tasks.c.id, tasks.c.kind, tasks.c.owner_unit, tasks.c.owner_user,
                  tasks.c.case_id, tasks.c.tip_id, tasks.c.due_at, tasks.c.created_at)
        .where(tasks.c.done_at.is_(None), tasks.c.due_at >= now, tasks.c.due_at < horizon,
               tasks.c.due_soon_noted_at.is_(None))))

async def mark_tasks(conn: AsyncConnection, task_ids: Sequence[int], **values: Any) -> None:
    """Set columns of several tasks at once (that they were noted overdue, due soon)."""
    if task_ids:
        await conn.execute(sa.update(tasks).where(tasks.c.id.in_(task_ids)).values(**values))

async def overdue_per_unit(conn: AsyncConnection, now: datetime) -> list[tuple[str, int]]:
    """How many open tasks are past their time, per owning unit."""
    return [(str(u), int(c)) for u, c in await conn.execute(
        sa.select(tasks.c.owner_unit, sa.func.count()).where(
            tasks.c.done_at.is_(None), tasks.c.due_at < now).group_by(tasks.c.owner_unit))]

async def release_reviews(conn: AsyncConnection, unit: str) -> list[Any]:
    """The unit's alerts released without a second person, waiting for review, with their
    case's reference."""
    return list(await conn.execute(
        sa.select(tasks.c.id, tasks.c.case_id, tasks.c.message_id, tasks.c.due_at,
                  tasks.c.created_at, cases.c.reference)
        .join(cases, cases.c.id == tasks.c.case_id)
        .where(tasks.c.kind == "review-immediate-release", tasks.c.done_at.is_(None),
               tasks.c.owner_unit == unit)
        .order_by(tasks.c.due_at)))
