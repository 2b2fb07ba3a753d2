"""Birth compared as ranges: a full date, a month, a year, or an age estimated on a day.

An estimated age is uncertain: a person estimated to be ``A`` on day ``D`` was born between
``D.year - A - 1`` and ``D.year - A``, widened by the estimate's uncertainty (two years, more
for adults: a tenth of the age). "Estimated 16 in 2026" is born 2007-2012 and agrees with
"born 2011".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.protocol.errors import N_

#: Levels of agreement of two births, from the strongest.
DATE, MONTH, YEAR, NEAR, RANGE, DISAGREE = "date", "month", "year", "near", "range", "disagree"
LEVELS = (DATE, MONTH, YEAR, NEAR, RANGE, DISAGREE)


@dataclass(frozen=True, slots=True)
class Birth:
    """What is known of a birth: a written date (``year``, ``month``, ``day`` as far as
    known), or only an age estimated on a day (``age``, ``asof``); ``lo``..``hi`` the years
    it may have been."""

    year: int | None
    month: int | None
    day: int | None
    age: int | None
    asof: date | None
    lo: int
    hi: int

    @property
    def estimated(self) -> bool:
        """Only an estimated age is known."""
        return self.year is None


def uncertainty(age: int) -> int:
    """How many years an age estimated by eye may be off: two, a tenth of an adult's age."""
    return max(2, round(age / 10))


def birth_of(birth: str | None, estimated_age: int | None, asof: date) -> Birth | None:
    """What is known of a birth from the contract's ``birth`` and ``estimated_age`` (the
    age estimated on ``asof``); a written birth wins over an estimate. None: nothing known."""
    if birth:
        parts = [int(p) for p in birth.split("-")]
        year, month, day = [*parts, 0, 0][:3]
        return Birth(year, month or None, day or None, None, None, year, year)
    if estimated_age is not None:
        spread = uncertainty(estimated_age)
        born = asof.year - estimated_age
        return Birth(None, None, None, estimated_age, asof, born - 1 - spread, born + spread)
    return None


@dataclass(frozen=True, slots=True)
class BirthComparison:
    """How two births agree (a level of ``LEVELS``), said with a template and its values."""

    level: str
    template: str
    values: dict[str, str]


def _written(b: Birth) -> str:
    return "-".join(f"{v:02d}" if i else f"{v:04d}"
                    for i, v in enumerate((b.year, b.month, b.day)) if v is not None)


def compare_births(a: Birth, b: Birth) -> BirthComparison:
    """How two births agree."""
    if a.estimated or b.estimated:
        return _compare_ranges(a, b)
    ours, theirs = _written(a), _written(b)
    values = {"ours": ours, "theirs": theirs}
    if a.year == b.year:
        if a.month is not None and a.month == b.month:
            if a.day is not None and a.day == b.day:
                return BirthComparison(DATE, N_("birth: the same date, {ours}"), values)
            if a.day is None or b.day is None:
                return BirthComparison(MONTH, N_("birth: the same month, {ours} and {theirs}"),
                                       values)
            return BirthComparison(YEAR, N_("birth: the same year, {ours} and {theirs}"),
                                   values)
        return BirthComparison(YEAR, N_("birth: the same year, {ours} and {theirs}"), values)
    if abs((a.year or 0) - (b.year or 0)) == 1:
        return BirthComparison(NEAR, N_("birth: a year apart, {ours} and {theirs}"), values)
    return BirthComparison(DISAGREE, N_("birth: {ours} and {theirs} do not agree"), values)


def _compare_ranges(a: Birth, b: Birth) -> BirthComparison:
    overlap = a.lo <= b.hi and b.lo <= a.hi
    level = RANGE if overlap else DISAGREE
    if a.estimated and b.estimated:
        values = {"ours_age": str(a.age), "ours_when": str(a.asof.year if a.asof else ""),
                  "theirs_age": str(b.age), "theirs_when": str(b.asof.year if b.asof else "")}
        template = (N_("estimated {ours_age} in {ours_when} and {theirs_age} in {theirs_when}: "
                       "agrees") if overlap else
                    N_("estimated {ours_age} in {ours_when} and {theirs_age} in {theirs_when}: "
                       "does not agree"))
        return BirthComparison(level, template, values)
    written, guessed = (b, a) if a.estimated else (a, b)
    values = {"year": _written(written), "age": str(guessed.age),
              "when": str(guessed.asof.year if guessed.asof else "")}
    template = (N_("born {year}; estimated {age} in {when}: agrees") if overlap else
                N_("born {year}; estimated {age} in {when}: does not agree"))
    return BirthComparison(level, template, values)
