"""Births compared as ranges: dates, years, months and ages estimated on a day."""

from __future__ import annotations

from datetime import date

from gateway.matching.dates import (
    DATE,
    DISAGREE,
    MONTH,
    NEAR,
    RANGE,
    YEAR,
    birth_of,
    compare_births,
    uncertainty,
)

ASOF = date(2026, 3, 1)


def compare(a: tuple[str | None, int | None], b: tuple[str | None, int | None],
            asof_a: date = ASOF, asof_b: date = ASOF) -> str:
    x, y = birth_of(*a, asof_a), birth_of(*b, asof_b)
    assert x is not None
    assert y is not None
    return compare_births(x, y).level


def test_written_births() -> None:
    assert compare(("2011-03-05", None), ("2011-03-05", None)) == DATE
    assert compare(("2011-03-05", None), ("2011-03", None)) == MONTH
    assert compare(("2011-03-05", None), ("2011-07-05", None)) == YEAR
    assert compare(("2011-03-05", None), ("2011", None)) == YEAR
    assert compare(("2011", None), ("2012-01-01", None)) == NEAR
    assert compare(("2011", None), ("2013", None)) == DISAGREE


def test_estimated_16_in_2026_agrees_with_born_2011() -> None:
    compared = compare_births(birth_of("2011", None, ASOF),  # type: ignore[arg-type]
                              birth_of(None, 16, ASOF))  # type: ignore[arg-type]
    assert compared.level == RANGE
    assert compared.template.format(**compared.values) == (
        "born 2011; estimated 16 in 2026: agrees")


def test_an_age_that_does_not_fit() -> None:
    assert compare(("2011", None), (None, 25)) == DISAGREE
    assert compare((None, 16), ("2000-01-01", None)) == DISAGREE


def test_the_day_of_the_estimate_counts() -> None:
    # 16 in 2020 is born about 2004: not 2011; 16 in 2027 is.
    assert compare(("2011", None), (None, 16), asof_b=date(2020, 1, 1)) == DISAGREE
    assert compare(("2011", None), (None, 16), asof_b=date(2027, 1, 1)) == RANGE


def test_two_estimates_overlap_or_not() -> None:
    assert compare((None, 15), (None, 17)) == RANGE
    assert compare((None, 15), (None, 30)) == DISAGREE


def test_an_adults_age_is_more_uncertain() -> None:
    assert uncertainty(10) == 2
    assert uncertainty(40) == 4
    assert compare(("1986", None), (None, 44)) == RANGE  # 2026 - 44 = 1982, within 4 + 1


def test_a_written_birth_wins_over_an_estimate() -> None:
    made = birth_of("2011", 30, ASOF)
    assert made is not None
    assert (made.lo, made.hi, made.estimated) == (2011, 2011, False)
    assert birth_of(None, None, ASOF) is None
