"""The border's clock: Viet Nam, Cambodia and Laos all keep Indochina Time, UTC+7, with no
summer time. Times are stored in UTC and shown to people in this zone, to the minute (the
console, the command line). Standard library only: the command line imports it at start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

LOCAL_TIME: Final = timezone(timedelta(hours=7))


def as_local(value: Any) -> str:
    """A stored UTC time (a datetime or ISO 8601 text) as the border reads it; '' if none."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")
