"""Working days: weekends, each country's holidays, local overrides, bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.cases.calendars import CalendarError, Calendars
from gateway.cases.deadlines import answer_due
from tests.conftest import REPO

SHIPPED = REPO / "calendars"


def test_shipped_calendars_parse() -> None:
    calendars = Calendars(SHIPPED)
    for path in SHIPPED.glob("*/*.toml"):
        holidays, origin = calendars.year(path.parent.name, int(path.stem))
        assert holidays
        assert origin == "shipped"


def test_tet_and_weekends_are_skipped_in_viet_nam() -> None:
    calendars = Calendars(SHIPPED)
    friday_before_tet = datetime(2026, 2, 13, 3, 0, tzinfo=UTC)
    # Sat 14, Sun 15, Tết 16-20, Sat 21, Sun 22: the first working day is Mon 23 Feb.
    due = calendars.add_working_days("VN", friday_before_tet, 1)
    assert due.date().isoformat() == "2026-02-23"
    assert due.hour == 16  # 23:59:59 in UTC+7


def test_the_same_start_differs_by_country() -> None:
    calendars = Calendars(SHIPPED)
    start = datetime(2026, 4, 13, 2, 0, tzinfo=UTC)  # Monday before the Khmer New Year
    assert calendars.add_working_days("KH", start, 1).date().isoformat() == "2026-04-17"
    assert calendars.add_working_days("VN", start, 1).date().isoformat() == "2026-04-14"


def test_a_year_without_a_file_counts_weekends_only_and_says_so() -> None:
    calendars = Calendars(SHIPPED)
    assert calendars.year("TH", 2026) == ([], "missing")
    start = datetime(2031, 1, 2, tzinfo=UTC)  # a Thursday
    assert calendars.add_working_days("VN", start, 2).date().isoformat() == "2031-01-06"


def test_defaults_and_partner_agreements() -> None:
    calendars = Calendars(SHIPPED)
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    routine = answer_due(calendars, "VN", start, "verification-request", "routine")
    urgent = answer_due(calendars, "VN", start, "verification-request", "urgent")
    agreed = answer_due(calendars, "VN", start, "verification-request", "routine",
                        {"verification-request": 15})
    assert routine is not None
    assert urgent is not None
    assert agreed is not None
    assert urgent < agreed < routine
    assert answer_due(calendars, "VN", start, "alert", "routine") is None


def test_local_overrides_win_and_bad_files_are_refused(tmp_path: Path) -> None:
    calendars = Calendars(SHIPPED, tmp_path)
    calendars.save("VN", 2026, [{"date": "2026-11-25", "name": "Storm closure"}])
    assert calendars.year("VN", 2026)[1] == "local"
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert calendars.add_working_days("VN", start, 1).date().isoformat() == "2026-11-26"
    with pytest.raises(CalendarError, match="day of 2026"):
        calendars.save("VN", 2026, [{"date": "2027-01-01", "name": "x"}])
    (tmp_path / "LA").mkdir()
    (tmp_path / "LA" / "2026.toml").write_text('country = "LA"\nyear = 2025\n')
    with pytest.raises(CalendarError, match="year = 2026"):
        Calendars(SHIPPED, tmp_path).year("LA", 2026)
