"""Reporting periods (MESSAGES.md "Reporting periods"): the six-month window 16 November –
15 May, the year 16 November – 15 November, or any range of days on request.

Days are the border's days (UTC+7): a window starts at 00:00 of its first day and ends at
24:00 of its last, local time. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal

from gateway.localtime import LOCAL_TIME
from gateway.protocol.errors import N_, GatewayError

PeriodKind = Literal["six-month", "annual", "range"]
#: When each report is due at the collecting node (Tay Ninh plan, part III).
DUE_DAY: Final = 20
_HALF: Final = re.compile(r"^(\d{4})-H([12])$")
_YEAR: Final = re.compile(r"^(\d{4})$")
_RANGE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
#: The longest window a report may cover (a range on request stays a report, not a dump).
MAX_DAYS: Final = 3 * 366


class ReportError(GatewayError):
    """A report that cannot be made or sent as asked; ``field`` names the input that was
    wrong, ``code`` the problem code of ``protocol.problems`` it is answered with (per
    refusal: a release not found, or not awaiting release)."""

    code: str

    def __init__(self, message: str, field: str | None = None,
                 code: str = "invalid-request", **values: object) -> None:
        super().__init__(message, **values)
        self.field = field
        self.code = code

    def problem_detail(self) -> tuple[str, str | None]:
        """A report's problem names the field in its detail (``period: ...``), with no
        ``errors``."""
        return (f"{self.field}: {self}" if self.field else str(self)), None


@dataclass(frozen=True)
class Period:
    """A reporting window: its kind, its first and last day, and its name (``2026-H1``)."""

    kind: PeriodKind
    first: date
    last: date
    name: str

    @property
    def start(self) -> datetime:
        """The first moment of the window, in UTC."""
        return datetime.combine(self.first, time(), LOCAL_TIME).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the window, in UTC."""
        return datetime.combine(self.last + timedelta(days=1), time(),
                                LOCAL_TIME).astimezone(UTC)

    @property
    def due(self) -> date | None:
        """When the report of this period is due at the collecting node (20 May or
        20 November); a range on request has no due date."""
        if self.kind == "range":
            return None
        return self.last.replace(day=DUE_DAY)

    def months(self) -> list[tuple[date, date]]:
        """The window cut into reporting months (16th to 15th, as the window is), for
        charts over time; the last piece may be shorter."""
        pieces: list[tuple[date, date]] = []
        first = self.first
        while first <= self.last:
            following = _next_month(first)
            last = min(following - timedelta(days=1), self.last)
            pieces.append((first, last))
            first = last + timedelta(days=1)
        return pieces


    def month_starts(self) -> list[tuple[datetime, str]]:
        """Each reporting month's first moment in UTC and its name (``2026-01`` for 16
        December – 15 January: the month it ends in)."""
        return [(datetime.combine(first, time(), LOCAL_TIME).astimezone(UTC),
                 last.strftime("%Y-%m")) for first, last in self.months()]


def _next_month(day: date) -> date:
    """The same day of the next month (clamped to the 28th where the month is shorter)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, 28))


def six_months(year: int) -> Period:
    """16 November of the year before to 15 May."""
    return Period("six-month", date(year - 1, 11, 16), date(year, 5, 15), f"{year}-H1")


def annual(year: int) -> Period:
    """16 November of the year before to 15 November."""
    return Period("annual", date(year - 1, 11, 16), date(year, 11, 15), f"{year}")


def parse_period(text: str) -> Period:
    """``2026-H1`` (six months ending 15 May 2026), ``2026`` (the year ending 15 November
    2026) or ``2026-01-01..2026-03-31``; anything else is refused with what was expected."""
    value = text.strip()
    if match := _HALF.match(value):
        if match.group(2) == "2":
            raise ReportError(N_("{period}: the second half of the year is reported in the "
                                 "annual report ({year}); six-month reports are H1 only"),
                              "period", period=value, year=match.group(1))
        return six_months(int(match.group(1)))
    if match := _YEAR.match(value):
        return annual(int(match.group(1)))
    if match := _RANGE.match(value):
        try:
            first, last = (date.fromisoformat(match.group(n)) for n in (1, 2))
        except ValueError:
            raise ReportError(N_("{period}: not a calendar date"), "period",
                              period=value) from None
        if last < first:
            raise ReportError(N_("{period}: the last day is before the first"), "period",
                              period=value)
        if (last - first).days >= MAX_DAYS:
            raise ReportError(N_("{period}: a report covers at most {days} days"), "period",
                              period=value, days=MAX_DAYS)
        return Period("range", first, last, value)
    raise ReportError(N_("{period}: a period is written 2026-H1, 2026 or "
                         "2026-01-01..2026-03-31"), "period", period=value)


def current_periods(today: date) -> list[Period]:
    """The periods a unit would pick today, newest first: the running and the last closed
    six-month and annual windows."""
    year = today.year + 1 if today >= date(today.year, 11, 16) else today.year
    found = [annual(year), six_months(year), annual(year - 1), six_months(year - 1)]
    return sorted(found, key=lambda p: (p.last, p.kind == "annual"), reverse=True)


def due_next(today: date) -> Period:
    """The period whose report is due next: the six-month or annual window whose due day
    (20 May, 20 November) is today or the nearest after it. On 6 December 2026 that is
    ``2027-H1`` (due 20 May 2027); on 20 November 2026 still ``2026``."""
    found = [make(year) for year in (today.year, today.year + 1)
             for make in (six_months, annual)]
    return min((p for p in found if p.due is not None and p.due >= today),
               key=lambda p: p.due or today)
