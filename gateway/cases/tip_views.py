"""What the hotline's use cases answer: a tip as its unit sees it (with its clocks, never the
reporter's identity), a tip just recorded, an escalation, an alert waiting for the chief's
review, and the hotline desk. The API returns these models as they are and the console
renders them; times of a tip are ISO 8601 text, as the API has always given them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gateway.cases import deadlines
from gateway.cases.missing_views import MissingLine
from gateway.store.crypto import Sealer

#: What a caller said of a person at risk (``TipPerson`` as stored: the fields given).
PersonAtRisk = dict[str, str | int | bool]


class TipSummary(BaseModel):
    """A tip in its unit's list: its state and clocks, without its content."""

    id: int
    reference: str
    received_at: str
    last_seen_at: str | None
    resolved_at: str | None
    channel: str
    reporter_relation: str
    foreign_country: str | None
    child_involved: bool
    danger: str
    indicators: list[str]
    classification: str | None
    urgency: str | None
    status: str
    duplicate_of: int | None
    case_id: int | None
    operator: str
    classify_by: str
    emergency_by: str | None
    classification_overdue: bool


class TipView(TipSummary):
    """One tip with what the caller said (an audited read)."""

    narrative: str
    location: dict[str, str]
    persons: list[PersonAtRisk]


class TipRecorded(BaseModel):
    """A tip just recorded, with the clocks it started."""

    id: int
    reference: str
    classify_by: str
    emergency_by: str | None


class Escalated(BaseModel):
    """A tip escalated into a case, with the alert sent to the partner (if any)."""

    id: int
    case_id: int
    message_id: str | None


@dataclass(frozen=True)
class ReleaseReview:
    """An alert of the unit released without a second person, for the chief to review."""

    task_id: int
    case_id: int
    reference: str
    message_id: str | None
    released_at: datetime
    due_at: datetime
    overdue: bool


@dataclass(frozen=True)
class HotlineDesk:
    """The hotline's one screen: the unit's tips, for a chief the alerts to review, and the
    node's open missing-person reports."""

    tips: list[TipSummary]
    reviews: list[ReleaseReview]
    missing: list[MissingLine]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def emergency_clock(received_at: datetime, child: bool, danger: str) -> str | None:
    """When emergency action is due: 12 hours after the call for a child at imminent risk,
    else no such clock."""
    return (received_at + deadlines.CHILD_EMERGENCY).isoformat() if (
        child and danger == "imminent") else None


def tip_summary(row: Any, now: datetime) -> TipSummary:
    """A stored tip in its unit's list."""
    return TipSummary(
        id=row.id, reference=row.reference, received_at=row.received_at.isoformat(),
        last_seen_at=_iso(row.last_seen_at), resolved_at=_iso(row.resolved_at),
        channel=row.channel, reporter_relation=row.reporter_relation,
        foreign_country=row.foreign_country, child_involved=row.child_involved,
        danger=row.danger, indicators=[i for i in row.indicators.split(",") if i],
        classification=row.classification, urgency=row.urgency, status=row.status,
        duplicate_of=row.duplicate_of, case_id=row.case_id, operator=row.operator,
        classify_by=(row.received_at + deadlines.TIP_CLASSIFICATION).isoformat(),
        emergency_by=emergency_clock(row.received_at, row.child_involved, row.danger),
        classification_overdue=row.classified_at is None
        and now > row.received_at + deadlines.TIP_CLASSIFICATION)


def tip_view(sealer: Sealer, row: Any, now: datetime) -> TipView:
    """A stored tip with its content opened (never the reporter's identity)."""
    open_text = sealer.open_text
    return TipView(
        **tip_summary(row, now).model_dump(),
        narrative=open_text(row.narrative_sealed, "tips.narrative") or "",
        location=json.loads(open_text(row.location_sealed, "tips.location") or "{}"),
        persons=json.loads(open_text(row.persons_sealed, "tips.persons") or "[]"))
