"""Working-day calendars per country: weekends and public holidays (MESSAGES.md, deadlines).

Every year's public holidays of Viet Nam, Cambodia and Laos come from the ``holidays`` package
(its maintainers follow each government's decrees, lunar dates included). The repository's
``calendars/<CC>/<year>.toml`` hold only what a decree adds that the package cannot know:
one-off holidays (``holidays``) and make-up working days, weekend days worked in exchange for a
bridge day (``working_days``). A node's administrator can replace a year's file in
``<data dir>/calendars/<CC>/<year>.toml`` (``PUT /api/calendars/...``), which wins over the
shipped one. A country the package does not know and no file covers counts weekends only and
says so (``missing``), so that nobody mistakes a gap for a working day that was checked.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import tomli_w

from gateway.localtime import LOCAL_TIME
from gateway.protocol.errors import GatewayError
from gateway.trust.files import write_atomically

WEEKEND: Final = frozenset({5, 6})
COUNTRY: Final = re.compile(r"[A-Z]{2}")


class CalendarError(GatewayError):
    """A holiday file (or a year of decreed changes) that cannot be used; the message names
    the file and the fault."""

    code = "invalid-request"


@dataclass(frozen=True)
class Holiday:
    """One public holiday (or, in ``working_days``, one make-up working day)."""

    day: date
    name: str


@dataclass(frozen=True)
class Decreed:
    """What a year's file says: one-off holidays and make-up working days."""

    holidays: list[Holiday]
    working_days: list[Holiday]


def _days(path: Path, year: int, entries: Any, what: str) -> list[Holiday]:
    if not isinstance(entries, list):
        raise CalendarError(f"{path}: {what} must be a list")
    out = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or set(entry) != {"date", "name"}:
            raise CalendarError(f"{path}: {what} {index} needs exactly date and name")
        day = entry["date"]
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError as exc:
                raise CalendarError(f"{path}: {what} {index}: date {day!r} is not "
                                    "YYYY-MM-DD") from exc
        if not isinstance(day, date) or day.year != year:
            raise CalendarError(f"{path}: {what} {index}: date must be a day of {year}")
        if not isinstance(entry["name"], str) or not entry["name"].strip():
            raise CalendarError(f"{path}: {what} {index}: name is empty")
        out.append(Holiday(day, entry["name"].strip()))
    return out


def _parse(path: Path, country: str, year: int, text: str) -> Decreed:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: not TOML: {exc}") from exc
    if data.get("country") != country or data.get("year") != year:
        raise CalendarError(f"{path}: must say country = \"{country}\" and year = {year}")
    unknown = set(data) - {"country", "year", "holidays", "working_days"}
    if unknown:
        raise CalendarError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    return Decreed(_days(path, year, data.get("holidays", []), "holiday"),
                   _days(path, year, data.get("working_days", []), "working day"))


def package_holidays(country: str, year: int) -> list[Holiday] | None:
    """The public holidays the ``holidays`` package knows, or None for a country it lacks."""
    import holidays  # noqa: PLC0415 - its country data loads on first use

    try:
        found = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return None
    return [Holiday(day, str(name)) for day, name in sorted(found.items())]


@dataclass
class Calendars:
    """The holidays of every country, read lazily from the shipped and local folders."""

    shipped: Path
    local: Path | None = None
    _cache: dict[tuple[str, int], tuple[list[Holiday], list[Holiday], str]] = field(
        default_factory=dict)

    def _file(self, country: str, year: int) -> Path | None:
        for folder in (self.local, self.shipped):
            if folder is not None and (folder / country / f"{year}.toml").is_file():
                return folder / country / f"{year}.toml"
        return None

    def _load(self, country: str, year: int) -> tuple[list[Holiday], list[Holiday], str]:
        if not COUNTRY.fullmatch(country):
            raise CalendarError(f"country {country!r} is not an ISO 3166 code")
        key = (country, year)
        if key not in self._cache:
            known = package_holidays(country, year)
            sources = [] if known is None else ["package"]
            decreed = Decreed([], [])
            path = self._file(country, year)
            if path is not None:
                decreed = _parse(path, country, year, path.read_text(encoding="utf-8"))
                sources.append("local" if self.local and path.is_relative_to(self.local)
                               else "shipped")
            merged = {h.day: h for h in [*decreed.holidays, *(known or [])]}
            self._cache[key] = (sorted(merged.values(), key=lambda h: h.day),
                                decreed.working_days, "+".join(sources) or "missing")
        return self._cache[key]

    def year(self, country: str, year: int) -> tuple[list[Holiday], str]:
        """The holidays of a year and where they came from: ``package`` (the ``holidays``
        package), ``+shipped`` or ``+local`` where a file adds decreed changes, or
        ``missing``."""
        holidays, _working, origin = self._load(country, year)
        return holidays, origin

    def working_days(self, country: str, year: int) -> list[Holiday]:
        """The make-up working days a decree set in a year (weekend days worked)."""
        return self._load(country, year)[1]

    def is_working_day(self, country: str, day: date) -> bool:
        """A make-up working day, or else not a weekend and not a public holiday."""
        holidays, working, _origin = self._load(country, day.year)
        if any(w.day == day for w in working):
            return True
        if day.weekday() in WEEKEND:
            return False
        return all(h.day != day for h in holidays)

    def add_working_days(self, country: str, start: datetime, days: int) -> datetime:
        """The end (23:59:59 local time) of the ``days``-th working day after ``start``."""
        day = start.astimezone(LOCAL_TIME).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(country, day):
                counted += 1
        return datetime.combine(day, time(23, 59, 59), LOCAL_TIME).astimezone(UTC)

    def save(self, country: str, year: int, holidays: list[dict[str, str]],
             working_days: list[dict[str, str]] | None = None) -> Path:
        """Write a local file of decreed changes for a year (checked first; it replaces the
        shipped one); returns its path."""
        if self.local is None:
            raise CalendarError("this node has no folder for local calendars")
        path = self.local / country / f"{year}.toml"
        text = ("# Edited on this node: decreed changes the holidays package does not know;\n"
                "# replaces the file shipped with the gateway.\n"
                + tomli_w.dumps({"country": country, "year": year, "holidays": holidays,
                                 "working_days": working_days or []}))
        _parse(path, country, year, text)
        write_atomically(path, text.encode("utf-8"), 0o644)
        self._cache.pop((country, year), None)
        return path
