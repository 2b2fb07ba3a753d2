"""Deadlines: what falls due when a message goes out or comes in, and when (MESSAGES.md).

A deadline is a task with a due time. Answers to requests count working days in the calendar
of the country that must answer (the partner's for what we ask, ours for what we are asked);
emergencies count clock hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.cases.calendars import Calendars

#: doc type -> (working days, working days when urgent or immediate), MESSAGES.md defaults.
ANSWER_WORKING_DAYS: Final[dict[str, tuple[int, int]]] = {
    "verification-request": (20, 5),
    "repatriation-request": (10, 10),
}
#: What answers what: the type whose arrival (with ``ref``) closes the waiting task.
ANSWERED_BY: Final[dict[str, str]] = {
    "verification-request": "verification-response",
    "repatriation-request": "repatriation-response",
}
ALERT_FIRST_ACTION: Final = timedelta(hours=2)
CHILD_EMERGENCY: Final = timedelta(hours=12)
TIP_CLASSIFICATION: Final = timedelta(hours=24)
SELF_REPORT_FIRST_CHECK: Final = timedelta(days=3)
#: A child verified on the finding side: the best-interests decision is due within three
#: days (working practice), so that the return is not held up.
BEST_INTERESTS: Final = timedelta(days=3)
#: A document that could not move its case: its owner looks at it within two days.
DOCUMENT_NOT_APPLIED: Final = timedelta(days=2)


@dataclass(frozen=True)
class Due:
    """A deadline to record as a task."""

    kind: str
    due_at: datetime


def answer_days(doc_type: str, priority: str, overrides: dict[str, int],
                urgent_overrides: dict[str, int]) -> int | None:
    """Working days to answer ``doc_type`` (partner agreement first, then the defaults)."""
    if doc_type not in ANSWER_WORKING_DAYS:
        return None
    normal, urgent = ANSWER_WORKING_DAYS[doc_type]
    if priority in ("urgent", "immediate"):
        return urgent_overrides.get(doc_type, urgent)
    return overrides.get(doc_type, normal)


def answer_due(calendars: Calendars, country: str, start: datetime, doc_type: str,
               priority: str, overrides: dict[str, int] | None = None,
               urgent_overrides: dict[str, int] | None = None) -> datetime | None:
    """When the answer to a request is due, or None if the type wants no answer."""
    days = answer_days(doc_type, priority, overrides or {}, urgent_overrides or {})
    if days is None:
        return None
    return calendars.add_working_days(country, start, days)
