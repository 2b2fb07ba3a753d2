"""Working-day calendars per country: weekends plus public holidays from a file per country and
year (MESSAGES.md, deadlines).

The repository ships ``calendars/<CC>/<year>.toml``; a node's administrator can override a year
in ``<data dir>/calendars/<CC>/<year>.toml`` (``PUT /api/calendars/...``), which wins. A year
with no file counts weekends only and says so (``missing``), so that nobody mistakes a gap in
the calendar for a working day that was checked.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import tomli_w

#: Viet Nam, Cambodia and Laos all keep Indochina Time, UTC+7, with no summer time.
LOCAL_TIME: Final = timezone(timedelta(hours=7))
WEEKEND: Final = frozenset({5, 6})
COUNTRY: Final = re.compile(r"[A-Z]{2}")


class CalendarError(Exception):
    """A holiday file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True)
class Holiday:
    """One public holiday."""

    day: date
    name: str


def _parse(path: Path, country: str, year: int, text: str) -> list[Holiday]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: not TOML: {exc}") from exc
    if data.get("country") != country or data.get("year") != year:
        raise CalendarError(f"{path}: must say country = \"{country}\" and year = {year}")
    holidays = []
    for index, entry in enumerate(data.get("holidays", []), start=1):
        if not isinstance(entry, dict) or set(entry) != {"date", "name"}:
            raise CalendarError(f"{path}: holiday {index} needs exactly date and name")
        day = entry["date"]
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError as exc:
                raise CalendarError(f"{path}: holiday {index}: date {day!r} is not "
                                    "YYYY-MM-DD") from exc
        if not isinstance(day, date) or day.year != year:
            raise CalendarError(f"{path}: holiday {index}: date must be a day of {year}")
        if not isinstance(entry["name"], str) or not entry["name"].strip():
            raise CalendarError(f"{path}: holiday {index}: name is empty")
        holidays.append(Holiday(day, entry["name"].strip()))
    return holidays


@dataclass
class Calendars:
    """The holidays of every country, read lazily from the shipped and local folders."""

    shipped: Path
    local: Path | None = None
    _cache: dict[tuple[str, int], tuple[list[Holiday], str]] = field(default_factory=dict)

    def _file(self, country: str, year: int) -> Path | None:
        for folder in (self.local, self.shipped):
            if folder is not None and (folder / country / f"{year}.toml").is_file():
                return folder / country / f"{year}.toml"
        return None

    def year(self, country: str, year: int) -> tuple[list[Holiday], str]:
        """The holidays of a year and where they came from (``shipped``, ``local``,
        ``missing``)."""
        if not COUNTRY.fullmatch(country):
            raise CalendarError(f"country {country!r} is not an ISO 3166 code")
        key = (country, year)
        if key not in self._cache:
            path = self._file(country, year)
            if path is None:
                self._cache[key] = ([], "missing")
            else:
                origin = "local" if self.local and path.is_relative_to(self.local) else "shipped"
                holidays = _parse(path, country, year, path.read_text(encoding="utf-8"))
                self._cache[key] = (holidays, origin)
        return self._cache[key]

    def is_working_day(self, country: str, day: date) -> bool:
        """Not a weekend and not a public holiday of ``country``."""
        if day.weekday() in WEEKEND:
            return False
        return all(h.day != day for h in self.year(country, day.year)[0])

    def add_working_days(self, country: str, start: datetime, days: int) -> datetime:
        """The end (23:59:59 local time) of the ``days``-th working day after ``start``."""
        day = start.astimezone(LOCAL_TIME).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(country, day):
                counted += 1
        return datetime.combine(day, time(23, 59, 59), LOCAL_TIME).astimezone(UTC)

    def save(self, country: str, year: int, holidays: list[dict[str, str]]) -> Path:
        """Write a local override for a year (checked first); returns its path."""
        if self.local is None:
            raise CalendarError("this node has no folder for local calendars")
        path = self.local / country / f"{year}.toml"
        text = ("# Edited on this node; overrides the calendar shipped with the gateway.\n"
                + tomli_w.dumps({"country": country, "year": year, "holidays": holidays}))
        _parse(path, country, year, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
        self._cache.pop((country, year), None)
        return path
