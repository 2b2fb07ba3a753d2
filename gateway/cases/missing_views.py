"""What the missing-person use cases answer: a report in the open list (its state and what the
list needs, never a name), a report read whole (an audited read of special data, never the
reporter's identity), and a report just recorded. The API returns these models as they are and
the console renders them; times are ISO 8601 text, as for tips."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gateway.store.crypto import Sealer
from gateway.store.missing_persons import (
    CLOSE_NOTE_COLUMN,
    LAST_SEEN_COLUMN,
    NARRATIVE_COLUMN,
    PERSON_COLUMN,
    PHOTO_COLUMN,
)


class MissingLine(BaseModel):
    """A report in a list: its state and what the list shows, nothing that names anyone."""

    id: int
    reference: str
    state: str
    unit: str
    recorded_by: str
    created_at: str
    sex: str
    nationality: str | None
    presumed_child: bool
    reporter_relation: str
    last_seen_at: str | None
    has_photo: bool
    case_id: int | None
    closed_at: str | None
    close_reason: str | None
    #: Whole days since the person was last seen (else since the report), as of now.
    days_missing: int
    #: Whether the report is the reader's unit's own (its unit closes it).
    own_unit: bool


class PhotoInfo(BaseModel):
    """A report's photo as a page names it (its bytes are a read of their own)."""

    media_type: str
    size: int


class MissingReport(MissingLine):
    """A report read whole (an audited read of special data): the person in the PERSON shape,
    when and where last seen, what is known; never who reported it."""

    person: dict[str, Any]
    last_seen: dict[str, Any] | None
    narrative: str | None
    photo: PhotoInfo | None
    linked_at: str | None
    closed_by: str | None
    close_note: str | None
    #: The linked case's reference, for a reader who may open that case (None otherwise:
    #: another unit's case is not the reader's to name).
    case_reference: str | None = None


class MissingRecorded(BaseModel):
    """A report just recorded."""

    id: int
    reference: str


@dataclass(frozen=True)
class MissingPhoto:
    """A report's photo, as stored."""

    reference: str
    media_type: str
    data: bytes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def missing_line(row: Any, now: datetime, unit: str) -> MissingLine:
    """A stored report in a list (a row of the list query, or a whole row), as a reader of
    ``unit`` sees it ``now``."""
    has_photo = row.has_photo if hasattr(row, "has_photo") else row.photo_sealed is not None
    since = row.last_seen_at or row.created_at
    return MissingLine(
        id=row.id, reference=row.reference, state=row.state, unit=row.unit,
        recorded_by=row.recorded_by, created_at=row.created_at.isoformat(), sex=row.sex,
        nationality=row.nationality, presumed_child=bool(row.presumed_child),
        reporter_relation=row.reporter_relation, last_seen_at=_iso(row.last_seen_at),
        has_photo=bool(has_photo), case_id=row.case_id, closed_at=_iso(row.closed_at),
        close_reason=row.close_reason, days_missing=max(0, (now - since).days),
        own_unit=row.unit == unit)


def missing_report(sealer: Sealer, row: Any, now: datetime, unit: str) -> MissingReport:
    """A stored report with its sealed fields opened (never the reporter's identity)."""
    open_text = sealer.open_text
    place = open_text(row.last_seen_sealed, LAST_SEEN_COLUMN)
    last_seen = {"time": _iso(row.last_seen_at),
                 "place": json.loads(place) if place else None} if (
        row.last_seen_at is not None or place) else None
    photo = sealer.open(bytes(row.photo_sealed), PHOTO_COLUMN) if (
        row.photo_sealed is not None) else None
    return MissingReport(
        **missing_line(row, now, unit).model_dump(),
        person=json.loads(open_text(row.person_sealed, PERSON_COLUMN) or "{}"),
        last_seen=last_seen, narrative=open_text(row.narrative_sealed, NARRATIVE_COLUMN),
        photo=PhotoInfo(media_type=row.photo_type, size=len(photo)) if photo else None,
        linked_at=_iso(row.linked_at), closed_by=row.closed_by,
        close_note=open_text(row.close_note_sealed, CLOSE_NOTE_COLUMN))
