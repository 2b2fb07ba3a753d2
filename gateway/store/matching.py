"""Repository of matching's blind index (``match_keys``) and of the sealed persons matching
opens: candidates found by their keys, ranked by how many they share, and the rows of the
candidates kept (their sealed persons, opened by the caller in memory only). Takes the
caller's connection; never commits. Keys arrive already keyed (``Sealer.index_term``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.matching.blocking import SHORTLIST
from gateway.store.case_tables import cases, missing_persons, persons
from gateway.store.inline_sqlite import prepared
from gateway.store.match_tables import match_keys

MISSING: Final = "missing-person"
CASE_PERSON: Final = "case-person"
#: The candidates a search keeps at most: those sharing the most keys (the core's shortlist,
#: on which its recall was measured).
CANDIDATES: Final = SHORTLIST
#: Keys written per statement (SQLite's bound parameters).
_CHUNK: Final = 200
#: The statements the matcher runs for every record, built once (built per call, they cost
#: more than running them: bench/drain.py).
_INSERT_KEYS = prepared(sa.insert(match_keys))
_DROP_KEYS = prepared(sa.delete(match_keys).where(
    match_keys.c.kind == sa.bindparam("kind_"),
    match_keys.c.record_id == sa.bindparam("record_id_")))
#: A person as matching opens it: id, case, role, sealed names and details, added when.
_LIVE = sa.select(persons.c.id, persons.c.case_id, persons.c.role,
                  persons.c.name_native_sealed, persons.c.name_latin_sealed, persons.c.sex,
                  persons.c.nationality, persons.c.details_sealed,
                  persons.c.created_at).where(persons.c.purged_at.is_(None))
_LIVE_ONE = prepared(_LIVE.where(persons.c.id == sa.bindparam("id_")))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record sharing ``shared`` keys with the person looked for."""

    kind: str
    record_id: int
    case_id: int | None
    shared: int


async def replace_keys(conn: AsyncConnection, kind: str, record_id: int, case_id: int | None,
                       keys: Iterable[str], *, new: bool = False) -> None:
    """The keys of one record, replacing its earlier ones (a ``new`` record has none)."""
    if not new:
        await drop_keys(conn, kind, record_id)
    rows = [{"kind": kind, "record_id": record_id, "case_id": case_id, "key": k}
            for k in sorted(set(keys))]
    for start in range(0, len(rows), _CHUNK):
        await conn.execute(_INSERT_KEYS, rows[start:start + _CHUNK])


async def insert_keys(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Many records' keys at once (a reindex, the bench's pre-load)."""
    for start in range(0, len(rows), 5000):
        await conn.execute(sa.insert(match_keys), list(rows[start:start + 5000]))


async def drop_keys(conn: AsyncConnection, kind: str, record_id: int) -> None:
    """A record leaves the index (a report closed or linked, a person purged)."""
    await conn.execute(_DROP_KEYS, {"kind_": kind, "record_id_": record_id})


async def clear(conn: AsyncConnection) -> None:
    """Empty the index (before a reindex)."""
    await conn.execute(sa.delete(match_keys))


async def is_empty(conn: AsyncConnection) -> bool:
    """Whether the index holds no key."""
    return (await conn.execute(sa.select(match_keys.c.key).limit(1))).first() is None


async def candidates(conn: AsyncConnection, keys: Sequence[str], *,
                     exclude_case: int | None = None, exclude: tuple[str, int] | None = None,
                     kind: str | None = None, unit: str | None = None,
                     limit: int = CANDIDATES) -> list[Candidate]:
    """The records sharing a key with ``keys``, those sharing the most first (ties: the
    oldest record first), at most ``limit``; only of ``kind`` when given; never the persons
    of ``exclude_case`` nor the record ``exclude`` (kind, id); where ``unit`` is given, only
    the persons of its cases (and every report)."""
    if not keys:
        return []
    query = _candidates_query(kind is not None, exclude_case is not None, unit is not None,
                              exclude is not None)
    parameters: dict[str, Any] = {"keys_": sorted(set(keys)), "limit_": limit}
    if kind is not None:
        parameters["kind_"] = kind
    if exclude_case is not None:
        parameters["exclude_case_"] = exclude_case
    if unit is not None:
        parameters["unit_"] = unit
    if exclude is not None:
        parameters["exclude_kind_"], parameters["exclude_id_"] = exclude
    return [Candidate(r.kind, int(r.record_id), r.case_id, int(r.shared))
            for r in await conn.execute(query, parameters)]


@functools.cache
def _candidates_query(kind: bool, exclude_case: bool, unit: bool,
                      exclude: bool) -> sa.Select[Any]:
    """The query of :func:`candidates` with the filters asked for, built once each (its keys
    and values bound at each call: built per call, it cost more than running it)."""
    shared = sa.func.count().label("shared")
    query = (sa.select(match_keys.c.kind, match_keys.c.record_id,
                       sa.func.max(match_keys.c.case_id).label("case_id"), shared)
             .where(match_keys.c.key.in_(sa.bindparam("keys_", expanding=True))))
    if kind:
        query = query.where(match_keys.c.kind == sa.bindparam("kind_"))
    if exclude_case:
        query = query.where(sa.or_(match_keys.c.case_id.is_(None),
                                   match_keys.c.case_id != sa.bindparam("exclude_case_")))
    if unit:
        query = query.where(sa.or_(match_keys.c.case_id.is_(None), match_keys.c.case_id.in_(
            sa.select(cases.c.id).where(cases.c.owner_unit == sa.bindparam("unit_")))))
    if exclude:
        query = query.where(sa.not_(sa.and_(
            match_keys.c.kind == sa.bindparam("exclude_kind_"),
            match_keys.c.record_id == sa.bindparam("exclude_id_"))))
    return (query.group_by(match_keys.c.kind, match_keys.c.record_id)
            .order_by(shared.desc(), match_keys.c.record_id).limit(sa.bindparam("limit_")))


async def open_reports(conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
    """The open reports among ``ids``: id, sealed person, recorded when."""
    if not ids:
        return []
    return list(await conn.execute(
        sa.select(missing_persons.c.id, missing_persons.c.person_sealed,
                  missing_persons.c.created_at)
        .where(missing_persons.c.id.in_(ids), missing_persons.c.state == "open")))


async def live_persons(conn: AsyncConnection, ids: Sequence[int]) -> list[Any]:
    """The persons among ``ids`` not purged: id, case, sealed names and details, added when."""
    if not ids:
        return []
    if len(ids) == 1:  # the matcher's every record
        return list(await conn.execute(_LIVE_ONE, {"id_": ids[0]}))
    return list(await conn.execute(_LIVE.where(persons.c.id.in_(ids))))


async def persons_of_case(conn: AsyncConnection, case_id: int) -> list[Any]:
    """A case's persons not purged, as :func:`live_persons` gives them."""
    return list(await conn.execute(
        _LIVE.where(persons.c.case_id == case_id).order_by(persons.c.id)))


async def all_live_persons(conn: AsyncConnection, after: int, batch: int) -> list[Any]:
    """The persons not purged with an id above ``after``, a batch (a reindex's keyset)."""
    return list(await conn.execute(
        _LIVE.where(persons.c.id > after).order_by(persons.c.id).limit(batch)))


async def indexed_records(conn: AsyncConnection) -> int:
    """How many open reports and live persons the node holds (the model's population)."""
    reports = sa.select(sa.func.count()).select_from(missing_persons).where(
        missing_persons.c.state == "open").scalar_subquery()
    people = sa.select(sa.func.count()).select_from(persons).where(
        persons.c.purged_at.is_(None)).scalar_subquery()
    return int((await conn.execute(sa.select(reports + people))).scalar_one())
