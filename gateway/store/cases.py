"""Repository of case work: every query on cases, their persons, tasks, notes and events, and
the search index, in one place (as ``store/messages.py`` is for messages). The services in
``gateway.cases`` say what happens; this module says how it is stored. Takes the caller's
connection; never commits. Values arrive sealed where the tables keep them sealed.

``unit`` arguments scope a read to the cases of one unit; ``None`` means every unit (C02's
investigators), decided by the caller's role in ``gateway.cases``, never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.case_tables import (
    case_conversations,
    case_events,
    cases,
    drafts,
    notes,
    persons,
    reference_counters,
    search_terms,
    tasks,
)
from gateway.store.tables import messages, receipts

# The statements the case work runs for every message it attaches, built once: building a
# statement and its cache key costs more than running it (bench/drain.py, the case work
# alone). Values are bound when executed.
_CASE_BY_ID = sa.select(cases).where(cases.c.id == sa.bindparam("case_pk"))
_INSERT_CASE = sa.insert(cases).returning(cases.c.id)
_UPDATE_CASE = sa.update(cases).where(cases.c.id == sa.bindparam("case_pk"))
_INSERT_EVENT = sa.insert(case_events)
_DROP_PERSON_TERMS = sa.delete(search_terms).where(
    search_terms.c.person_id == sa.bindparam("person_pk"))
_INSERT_TERMS = sa.insert(search_terms)
_PERSON_REFS = sa.select(persons.c.person_ref).where(
    persons.c.case_id == sa.bindparam("case_pk"))
_PERSON_OF = sa.select(persons).where(
    persons.c.case_id == sa.bindparam("case_pk"), persons.c.person_ref == sa.bindparam("ref"),
    persons.c.role == sa.bindparam("person_role"))
_INSERT_PERSON = sa.insert(persons).returning(persons.c.id)
_UPDATE_PERSON = sa.update(persons).where(persons.c.id == sa.bindparam("person_pk"))
_VERIFIED_VICTIMS = sa.select(sa.func.count()).select_from(persons).where(
    persons.c.case_id == sa.bindparam("case_pk"), persons.c.role == sa.bindparam("person_role"),
    persons.c.identity_status == sa.bindparam("status"))
_INSERT_TASK = sa.insert(tasks).returning(tasks.c.id)
_CASE_OF_CONVERSATION = sa.select(cases).join(
    case_conversations, case_conversations.c.case_id == cases.c.id).where(
    case_conversations.c.conversation == sa.bindparam("conversation_id"),
    case_conversations.c.partner == sa.bindparam("partner_id"))
_CONVERSATION_LINKED = sa.select(case_conversations.c.case_id).where(
    case_conversations.c.conversation == sa.bindparam("conversation_id"),
    case_conversations.c.partner == sa.bindparam("partner_id"))
_LINK_CONVERSATION = sa.insert(case_conversations)


def _columns(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values``, refused as ``.values()`` refuses them when one names no column."""
    unknown = values.keys() - table.c.keys()
    if unknown:
        raise sa.exc.CompileError(f"Unconsumed column names: {', '.join(sorted(unknown))}")
    return values

# -- which messages belong to a case --------------------------------------------------------


def counterpart() -> sa.ColumnElement[Any]:
    """The partner a stored message is exchanged with: its sender, or its recipient."""
    return sa.case((messages.c.direction == "in", messages.c.sender),
                   else_=messages.c.recipient)


def in_case(case_id: int) -> sa.ColumnElement[bool]:
    """Messages that belong to a case: of one of its conversations, with that
    conversation's partner (PROTOCOL.md §4.2: the same id from another partner is another
    conversation)."""
    return sa.exists().where(case_conversations.c.case_id == case_id,
                             case_conversations.c.conversation == messages.c.conversation,
                             case_conversations.c.partner == counterpart())


async def message_of_case(conn: AsyncConnection, case_id: int, message_id: str) -> Any:
    """The stored message ``message_id`` of the case, or None."""
    return (await conn.execute(sa.select(messages).where(
        messages.c.message_id == message_id, in_case(case_id))
        .order_by(messages.c.id).limit(1))).first()


async def received_of_type(conn: AsyncConnection, case_id: int, doc_type: str,
                           direction: str | None = "in") -> list[Any]:
    """The messages of ``doc_type`` the case received (or sent, or either for ``None``),
    with their bytes, newest first."""
    query = sa.select(messages.c.message_id, messages.c.doc_type, messages.c.doc_version,
                      messages.c.raw).where(in_case(case_id), messages.c.doc_type == doc_type)
    if direction is not None:
        query = query.where(messages.c.direction == direction)
    return list(await conn.execute(query.order_by(messages.c.id.desc())))


async def author_of_sent(conn: AsyncConnection, case_id: int, message_id: str) -> str | None:
    """Who drafted the message ``message_id`` sent from the case (None if nobody did)."""
    found = (await conn.execute(sa.select(drafts.c.author).where(
        drafts.c.message_id == message_id, drafts.c.case_id == case_id))).scalar()
    return str(found) if found else None


# -- cases ----------------------------------------------------------------------------------


def of_unit(unit: str | None) -> sa.ColumnElement[bool]:
    """Cases of ``unit`` (every case for ``None``)."""
    return sa.true() if unit is None else cases.c.owner_unit == unit


async def next_number(conn: AsyncConnection, prefix: str) -> int:
    """The next number of a reference series (1 for a new series)."""
    updated = await conn.execute(sa.update(reference_counters)
                                 .where(reference_counters.c.prefix == prefix)
                                 .values(last=reference_counters.c.last + 1)
                                 .returning(reference_counters.c.last))
    number = updated.scalar()
    if number is None:
        await conn.execute(sa.insert(reference_counters).values(prefix=prefix, last=1))
        return 1
    return int(number)


async def case_row(conn: AsyncConnection, case_id: int, unit: str | None = None) -> Any:
    """A case (of ``unit``, where given), or None."""
    if unit is None:
        return (await conn.execute(_CASE_BY_ID, {"case_pk": case_id})).first()
    return (await conn.execute(sa.select(cases).where(cases.c.id == case_id, of_unit(unit))
                               )).first()


async def insert_case(conn: AsyncConnection, **values: Any) -> int:
    """A new case; answers its id."""
    result = await conn.execute(_INSERT_CASE, _columns(cases, values))
    return int(result.scalar_one())


async def update_case(conn: AsyncConnection, case_id: int, **values: Any) -> None:
    """Change a case's columns."""
    await conn.execute(_UPDATE_CASE, {**_columns(cases, values), "case_pk": case_id})


async def cases_of(conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
    """Cases by id, newest first."""
    return list(await conn.execute(sa.select(cases).where(cases.c.id.in_(ids))
                                   .order_by(cases.c.id.desc())))


async def insert_event(conn: AsyncConnection, **values: Any) -> None:
    """One line of a case's story."""
    await conn.execute(_INSERT_EVENT, _columns(case_events, values))


async def events_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's story, oldest first."""
    return list(await conn.execute(sa.select(case_events).where(
        case_events.c.case_id == case_id).order_by(case_events.c.id)))


async def index_terms(conn: AsyncConnection, case_id: int, person_id: int | None,
                      terms: Iterable[str]) -> None:
    """Blind-index terms of a case (``person_id`` None) or of one of its persons (replacing
    the person's earlier terms)."""
    if person_id is not None:
        await conn.execute(_DROP_PERSON_TERMS, {"person_pk": person_id})
    rows = [{"term": t, "case_id": case_id, "person_id": person_id} for t in terms]
    if rows:
        await conn.execute(_INSERT_TERMS, rows)


# -- persons --------------------------------------------------------------------------------


async def count_persons(conn: AsyncConnection, case_id: int, *, role: str | None = None,
                        identity_status: str | None = None) -> int:
    """How many persons a case has (of a role, with an identity status)."""
    if role is not None and identity_status is not None:
        return int((await conn.execute(_VERIFIED_VICTIMS, {
            "case_pk": case_id, "person_role": role, "status": identity_status})).scalar_one())
    where = [persons.c.case_id == case_id]
    if role is not None:
        where.append(persons.c.role == role)
    if identity_status is not None:
        where.append(persons.c.identity_status == identity_status)
    return int((await conn.execute(sa.select(sa.func.count()).select_from(persons)
                                   .where(*where))).scalar_one())


async def person_refs(conn: AsyncConnection, case_id: int) -> set[str]:
    """The ``person-id`` of every person a case holds."""
    return {str(r) for r in (await conn.execute(_PERSON_REFS, {"case_pk": case_id})).scalars()}


async def person_row_of(conn: AsyncConnection, case_id: int, person_ref: str, role: str
                        ) -> Any:
    """The person of a case with this ``person-id`` and role, or None."""
    return (await conn.execute(_PERSON_OF, {"case_pk": case_id, "ref": person_ref,
                                            "person_role": role})).first()


async def insert_person(conn: AsyncConnection, **values: Any) -> int:
    """A new person of a case; answers its id."""
    result = await conn.execute(_INSERT_PERSON, _columns(persons, values))
    return int(result.scalar_one())


async def update_person(conn: AsyncConnection, person_id: int, **values: Any) -> None:
    """Change a person's columns."""
    await conn.execute(_UPDATE_PERSON, {**_columns(persons, values), "person_pk": person_id})


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


# -- tasks ----------------------------------------------------------------------------------


async def insert_task(conn: AsyncConnection, **values: Any) -> int:
    """Something due; answers its id."""
    result = await conn.execute(_INSERT_TASK, _columns(tasks, values))
    return int(result.scalar_one())


async def task_row(conn: AsyncConnection, task_id: int, case_id: int | None = None) -> Any:
    """A task (of the case, where given), or None."""
    query = sa.select(tasks).where(tasks.c.id == task_id)
    if case_id is not None:
        query = query.where(tasks.c.case_id == case_id)
    return (await conn.execute(query)).first()


async def update_task(conn: AsyncConnection, task_id: int, **values: Any) -> None:
    """Change a task's columns."""
    await conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(**values))


async def close_open_tasks(conn: AsyncConnection, done_at: datetime, *, kinds: Sequence[str],
                           case_id: int | None = None, tip_id: int | None = None,
                           message_id: str | None = None, partner: str | None = None) -> int:
    """Mark the open tasks of these kinds (of a case, a tip, a message, with a partner) done;
    answers how many."""
    where: list[sa.ColumnElement[bool]] = [tasks.c.done_at.is_(None), tasks.c.kind.in_(kinds)]
    if partner is not None:
        where.append(tasks.c.partner == partner)
    if case_id is not None:
        where.append(tasks.c.case_id == case_id)
    if tip_id is not None:
        where.append(tasks.c.tip_id == tip_id)
    if message_id is not None:
        where.append(tasks.c.message_id == message_id)
    result = await conn.execute(sa.update(tasks).where(*where).values(done_at=done_at))
    return int(result.rowcount)


async def tasks_of(conn: AsyncConnection, case_id: int, *, open_only: bool = False
                   ) -> list[Any]:
    """A case's tasks by due time."""
    query = sa.select(tasks).where(tasks.c.case_id == case_id)
    if open_only:
        query = query.where(tasks.c.done_at.is_(None))
    return list(await conn.execute(query.order_by(tasks.c.due_at)))


def overdue_count(now: datetime) -> sa.ScalarSelect[Any]:
    """Per case row of a query: how many of its tasks are open past their time."""
    return (sa.select(sa.func.count()).select_from(tasks)
            .where(tasks.c.case_id == cases.c.id, tasks.c.done_at.is_(None),
                   tasks.c.due_at < now).scalar_subquery())


# -- notes ----------------------------------------------------------------------------------


async def insert_note(conn: AsyncConnection, **values: Any) -> int:
    """A note on a case; answers its id."""
    result = await conn.execute(sa.insert(notes).values(**values).returning(notes.c.id))
    return int(result.scalar_one())


async def notes_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's notes, oldest first."""
    return list(await conn.execute(sa.select(notes).where(notes.c.case_id == case_id)
                                   .order_by(notes.c.id)))


# -- what the read side shows -----------------------------------------------------------------


async def timeline_rows(conn: AsyncConnection, case_id: int) -> list[Any]:
    """The messages of a case's conversations, oldest first, with their receipt's time."""
    return list(await conn.execute(
        sa.select(messages.c.message_id, messages.c.direction, messages.c.sender,
                  messages.c.recipient, messages.c.doc_type, messages.c.state,
                  messages.c.created, messages.c.priority, messages.c.handling,
                  messages.c.ref, messages.c.delivered_at, messages.c.conversation,
                  receipts.c.received.label("receipt_received"))
        .select_from(messages.outerjoin(receipts, receipts.c.message_pk == messages.c.id))
        .where(in_case(case_id))
        .order_by(messages.c.id)))


async def drafts_of(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's drafts (without their content), oldest first."""
    return list(await conn.execute(sa.select(
        drafts.c.id, drafts.c.doc_type, drafts.c.recipient, drafts.c.state, drafts.c.author,
        drafts.c.priority, drafts.c.message_id, drafts.c.updated_at, drafts.c.return_reason)
        .where(drafts.c.case_id == case_id).order_by(drafts.c.id)))


async def owner_units(conn: AsyncConnection, unit: str | None) -> list[str]:
    """The units that own cases (of ``unit`` only, or all)."""
    return sorted(str(u) for u in (await conn.execute(
        sa.select(cases.c.owner_unit).where(of_unit(unit)).distinct())).scalars())


async def list_cases(conn: AsyncConnection, unit: str | None, now: datetime,
                     filters: dict[str, Any], limit: int) -> list[Any]:
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


async def investigations_of(conn: AsyncConnection, unit: str | None) -> list[Any]:
    """The joint investigations (of ``unit``)."""
    return list(await conn.execute(sa.select(cases).where(
        cases.c.kind == "investigation", of_unit(unit)).order_by(cases.c.id)))


async def partners_of(conn: AsyncConnection, case_id: int) -> set[str]:
    """The partners a case has conversations with."""
    return {r.partner for r in await conn.execute(
        sa.select(case_conversations.c.partner).distinct()
        .where(case_conversations.c.case_id == case_id))}


async def exchange_counts(conn: AsyncConnection, case_id: int) -> tuple[int, int, Any]:
    """A case's messages sent and received, and when the last one was made."""
    row = (await conn.execute(sa.select(
        sa.func.count().filter(messages.c.direction == "out").label("sent"),
        sa.func.count().filter(messages.c.direction == "in").label("received"),
        sa.func.max(messages.c.created).label("last"))
        .where(in_case(case_id)))).one()
    return int(row.sent), int(row.received), row.last


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


async def awaiting_answers(conn: AsyncConnection, unit: str | None) -> list[Any]:
    """Requests of cases (of ``unit``) waiting for a partner's answer, per partner, oldest
    first, with their case's id and reference."""
    return list(await conn.execute(
        sa.select(tasks.c.partner, tasks.c.title, tasks.c.created_at, tasks.c.due_at,
                  cases.c.id.label("case_id"), cases.c.reference)
        .join(cases, cases.c.id == tasks.c.case_id)
        .where(tasks.c.kind == "await-answer", tasks.c.done_at.is_(None), of_unit(unit))
        .order_by(tasks.c.partner, tasks.c.created_at)))


async def messages_of_type(conn: AsyncConnection, doc_type: str, unit: str | None,
                           limit: int) -> list[Any]:
    """The latest messages of one type on cases (of ``unit``), with their case."""
    return list(await conn.execute(
        sa.select(messages.c.direction, messages.c.sender, messages.c.recipient,
                  messages.c.created, cases.c.id.label("case_id"), cases.c.reference)
        .join(case_conversations, sa.and_(
            case_conversations.c.conversation == messages.c.conversation,
            case_conversations.c.partner == counterpart()))
        .join(cases, cases.c.id == case_conversations.c.case_id)
        .where(messages.c.doc_type == doc_type, of_unit(unit))
        .order_by(messages.c.id.desc()).limit(limit)))


async def case_of_conversation(conn: AsyncConnection, conversation: str, partner: str) -> Any:
    """The case of the conversation with ``partner``, or None (PROTOCOL.md §4.2: keyed by
    the pair)."""
    return (await conn.execute(_CASE_OF_CONVERSATION, {"conversation_id": conversation,
                                                       "partner_id": partner})).first()


async def link_conversation(conn: AsyncConnection, case_id: int, conversation: str,
                            partner: str) -> None:
    """Tie a conversation with ``partner`` to a case (once)."""
    exists = (await conn.execute(_CONVERSATION_LINKED, {"conversation_id": conversation,
                                                        "partner_id": partner})).first()
    if exists is None:
        await conn.execute(_LINK_CONVERSATION, {"conversation": conversation,
                                                "case_id": case_id, "partner": partner})


# -- deadlines and retention (housekeeping) -------------------------------------------------


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
