"""Matching's blind index kept with the records it finds: the keys of a missing-person report
and of a case person, written in the transaction that records or changes them, dropped when
the report leaves the open list or the person is purged (issue 25).

A case person is held as the documents describe them (sealed names, the document's person as
sealed JSON); :func:`person_of_case` brings them to the matching's :class:`Person`. Each
blocking key (``gateway.matching.blocking``) is stored keyed with the node's index key
(``Sealer.index_term``, as case search): never a clear name. Steps of other use cases: these
functions take the caller's connection.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.matching.blocking import blocking_keys
from gateway.matching.model import Prepared, prepare
from gateway.matching.person import Person, PersonError
from gateway.store import match_suggestions as suggestion_repo
from gateway.store import matching as repo
from gateway.store import missing_persons as missing_repo
from gateway.store.crypto import Sealer

MISSING: Final = repo.MISSING
CASE_PERSON: Final = repo.CASE_PERSON
_NAME_NATIVE: Final = "persons.name_native"
_NAME_LATIN: Final = "persons.name_latin"
_DETAILS: Final = "persons.details"
#: Prepared persons kept in memory, the least recently used dropped first, by what they were
#: prepared from (the sealed bytes change with every change of the record, so an entry never
#: goes stale; a replica keeps its own). About 3 kB each: 40,000 hold about 120 MB.
_PREPARED_CACHE: Final = 40_000
_prepared: OrderedDict[tuple[str, int, bytes], Prepared] = OrderedDict()


def keys_of(sealer: Sealer, person: Prepared) -> list[str]:
    """The blind-index forms of a prepared person's blocking keys."""
    return sorted({sealer.index_term(k) for k in blocking_keys(person)})


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    return str(value).strip() or None if value is not None else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def person_of_case(native: str | None, latin: str | None, sex: str | None,
                   nationality: str | None, details: dict[str, Any]) -> Person | None:
    """A case's person as the matching compares them, from what the case holds (a document's
    person, or a person added by hand: ``birth_year``, ``identifiers``, ``phones``); None
    without a name. A field the contract would refuse is left out."""
    birth = details.get("birth") if isinstance(details.get("birth"), dict) else {}
    assert isinstance(birth, dict)
    home = details.get("claimed-home-address") or details.get("home-address") or details.get(
        "address")
    data: dict[str, Any] = {
        "name_latin": (latin or "")[:200], "name_native": native[:200] if native else None,
        "sex": sex if sex in ("female", "male") else "unknown",
        "birth": _text(birth.get("date")) or _text(details.get("birth_year")),
        "estimated_age": _age(birth.get("estimated-age", details.get("estimated_age"))),
        "nationality": nationality,
        "home": {k: _text(home.get(k)) for k in ("country", "province", "district", "commune")}
        if isinstance(home, dict) else None,
        "papers": [{"kind": _text(p.get("kind")) or "other", "number": _text(p.get("number")),
                    "country": _text(p.get("issuing-country"))}
                   for p in _as_list(details.get("identity-paper"))
                   if isinstance(p, dict) and _text(p.get("number"))][:10]
        + [{"kind": "other", "number": str(n), "country": None}
           for n in _as_list(details.get("identifiers"))][:10],
        "phones": [str(p) for p in _as_list(details.get("phone", details.get("phones")))][:10]}
    if not (latin or native):
        return None
    for _ in range(len(data)):
        try:
            return Person.from_json(data)
        except PersonError as refused:
            field = (refused.field or "").split(".")[0].split("[")[0]
            if field in ("name_latin", "name_native", "person") or field not in data:
                return None
            data[field] = [] if field in ("papers", "phones") else (
                "unknown" if field == "sex" else None)
    return None


def _age(value: Any) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _remember(key: tuple[str, int, bytes], prepared: Prepared) -> Prepared:
    _prepared[key] = prepared
    if len(_prepared) > _PREPARED_CACHE:
        _prepared.popitem(last=False)
    return prepared


def _recalled(key: tuple[str, int, bytes]) -> Prepared | None:
    found = _prepared.get(key)
    if found is not None:
        _prepared.move_to_end(key)
    return found


def prepared_report(sealer: Sealer, row: Any) -> Prepared:
    """An open report's person (a row of ``store.matching.open_reports``), prepared."""
    sealed = bytes(row.person_sealed)
    key = (MISSING, int(row.id), sealed)
    found = _recalled(key)
    if found is not None:
        return found
    person = Person.from_json(json.loads(sealer.open(sealed, missing_repo.PERSON_COLUMN)))
    return _remember(key, prepare(person, _day(row.created_at)))


def prepared_person(sealer: Sealer, row: Any) -> Prepared | None:
    """A case person (a row of ``store.matching.live_persons``), prepared; None without a
    name."""
    sealed = b"".join(bytes(v or b"") for v in (
        row.name_native_sealed, row.name_latin_sealed, row.details_sealed))
    key = (CASE_PERSON, int(row.id), sealed + (row.sex or "").encode()
           + (row.nationality or "").encode())
    found = _recalled(key)
    if found is not None:
        return found
    opened = sealer.open_text(row.details_sealed, _DETAILS)
    details = json.loads(opened) if opened else {}
    person = person_of_case(sealer.open_text(row.name_native_sealed, _NAME_NATIVE),
                            sealer.open_text(row.name_latin_sealed, _NAME_LATIN), row.sex,
                            row.nationality, details if isinstance(details, dict) else {})
    if person is None:
        return None
    return _remember(key, prepare(person, _day(row.created_at)))


def _day(at: datetime | date) -> date:
    return at.date() if isinstance(at, datetime) else at


async def index_report(conn: AsyncConnection, sealer: Sealer, report_id: int,
                       person: Person, asof: date, *, new: bool = True) -> None:
    """An open report's keys."""
    await repo.replace_keys(conn, MISSING, report_id, None,
                            keys_of(sealer, prepare(person, asof)), new=new)


async def enqueue(conn: AsyncConnection, kind: str, record_id: int, at: datetime) -> None:
    """A record to match once the caller's transaction has committed (the matcher's queue:
    the writing use case does no more)."""
    await suggestion_repo.enqueue(conn, kind, record_id, at)


async def unindex(conn: AsyncConnection, kind: str, record_id: int) -> None:
    """A record leaves the index: a report closed or linked, a person purged."""
    await repo.drop_keys(conn, kind, record_id)
