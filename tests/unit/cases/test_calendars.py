"""Working days: weekends, each country's holidays, local overrides, bad files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.cases.calendars import CalendarError, Calendars
from gateway.cases.deadlines import answer_due
from tests.conftest import REPO

SHIPPED = REPO / "calendars"


def test_shipped_files_parse_and_add_to_the_package() -> None:
    calendars = Calendars(SHIPPED)
    files = list(SHIPPED.glob("*/*.toml"))
    assert files
    for path in files:
        holidays, origin = calendars.year(path.parent.name, int(path.stem))
        assert holidays
        assert origin == "package+shipped"


def test_every_year_of_every_country_counts_its_public_holidays() -> None:
    calendars = Calendars(SHIPPED)
    for country in ("VN", "KH", "LA"):
        for year in (2026, 2027, 2030):
            holidays, origin = calendars.year(country, year)
            assert origin.startswith("package"), (country, year)
            assert len(holidays) >= 5, (country, year)
    # 2027 in Cambodia: the Khmer New Year (14-16 April) is not counted
    tuesday = datetime(2027, 4, 13, 2, 0, tzinfo=UTC)
    assert calendars.add_working_days("KH", tuesday, 1).date().isoformat() == "2027-04-19"
    # 2027 in Laos: the Lao New Year days off are not counted either
    due = calendars.add_working_days("LA", tuesday, 1).date()
    assert due.isoformat() >= "2027-04-16"
    assert not calendars.is_working_day("LA", date(2027, 4, 14))


def test_a_make_up_working_day_counts() -> None:
    calendars = Calendars(SHIPPED)
    friday = datetime(2026, 8, 21, 2, 0, tzinfo=UTC)
    assert calendars.is_working_day("VN", date(2026, 8, 22))  # a Saturday, worked by decree
    assert calendars.add_working_days("VN", friday, 1).date().isoformat() == "2026-08-22"
    assert not calendars.is_working_day("VN", date(2026, 8, 31))  # the day off it buys


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


def test_a_country_nobody_knows_counts_weekends_only_and_says_so() -> None:
    calendars = Calendars(SHIPPED)
    assert calendars.year("XX", 2026) == ([], "missing")
    start = datetime(2026, 12, 31, tzinfo=UTC)  # a Thursday; 1 January is no holiday there
    assert calendars.add_working_days("XX", start, 2).date().isoformat() == "2027-01-04"


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
    assert calendars.year("VN", 2026)[1] == "package+local"
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert calendars.add_working_days("VN", start, 1).date().isoformat() == "2026-11-26"
    with pytest.raises(CalendarError, match="day of 2026"):
        calendars.save("VN", 2026, [{"date": "2027-01-01", "name": "x"}])
    (tmp_path / "LA").mkdir()
    (tmp_path / "LA" / "2026.toml").write_text('country = "LA"\nyear = 2025\n')
    with pytest.raises(CalendarError, match="year = 2026"):
        Calendars(SHIPPED, tmp_path).year("LA", 2026)
