"""Reporting windows (MESSAGES.md): 16 November – 15 May, 16 November – 15 November, or a
range of days; days at the border (UTC+7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.reports.periods import ReportError, current_periods, due_next, parse_period


def test_the_six_month_window_ends_on_15_may_at_the_border() -> None:
    period = parse_period("2026-H1")
    assert (period.kind, period.first, period.last) == ("six-month", date(2025, 11, 16),
                                                       date(2026, 5, 15))
    assert period.start == datetime(2025, 11, 15, 17, tzinfo=UTC)
    assert period.end == datetime(2026, 5, 15, 17, tzinfo=UTC)
    assert period.due == date(2026, 5, 20)


def test_the_year_ends_on_15_november_and_is_due_on_the_20th() -> None:
    period = parse_period("2026")
    assert (period.first, period.last, period.due) == (date(2025, 11, 16),
                                                      date(2026, 11, 15), date(2026, 11, 20))
    assert len(period.months()) == 12
    assert period.months()[0] == (date(2025, 11, 16), date(2025, 12, 15))


def test_a_range_on_request() -> None:
    period = parse_period("2026-01-01..2026-03-31")
    assert (period.kind, period.due) == ("range", None)
    assert period.months()[-1] == (date(2026, 3, 1), date(2026, 3, 31))


@pytest.mark.parametrize(("text", "says"), [
    ("2026-H2", "annual report"), ("2026-13-01..2026-13-02", "not a calendar date"),
    ("2026-03-01..2026-01-01", "before the first"), ("2020-01-01..2026-01-01", "at most"),
    ("last year", "2026-H1, 2026 or"), ("", "2026-H1, 2026 or")])
def test_a_period_that_cannot_be_reported_says_why(text: str, says: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_period(text)
    assert says in str(caught.value)
    assert caught.value.field == "period"


def test_the_periods_offered_on_a_day() -> None:
    names = [p.name for p in current_periods(date(2026, 11, 30))]
    assert names[:2] == ["2027", "2027-H1"]
    assert set(names) == {"2027", "2027-H1", "2026", "2026-H1"}


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 12, 6), "2027-H1"),  # the example: due 20 May 2027
    (date(2026, 11, 20), "2026"),  # the annual report's due day: still that one
    (date(2026, 11, 21), "2027-H1"),
    (date(2027, 5, 15), "2027-H1"),  # the window's last day
    (date(2027, 5, 20), "2027-H1"),  # its due day
    (date(2027, 5, 21), "2027"),  # the next due: 20 November 2027
    (date(2027, 1, 1), "2027-H1"),
    (date(2027, 11, 16), "2027"),  # a new year's window has begun; 2027 is still due
])
def test_the_period_due_next(today: date, expected: str) -> None:
    found = due_next(today)
    assert found.name == expected
    assert found.due is not None
    assert found.due >= today
    assert found in current_periods(today)  # the period menu offers it
