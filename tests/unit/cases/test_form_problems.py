"""How a form's refusal is worded (:func:`gateway.cases.commands.parse`): in the catalogs'
words, naming the field, and a date that is no day of the calendar said so."""

from __future__ import annotations

from datetime import date
from gettext import translation

import pytest
from pydantic import BaseModel, ConfigDict

from gateway.cases.commands import parse
from gateway.cases.work import CaseError
from gateway.settings import REPOSITORY


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")
    born: date | None = None


def refusal(value: str) -> CaseError:
    with pytest.raises(CaseError) as refused:
        parse(_Form, {"born": value})
    return refused.value


@pytest.mark.parametrize("value", ["2011-02-30", "2011-13-01", "2023-02-29"])
def test_a_date_that_is_no_day_of_the_calendar_is_said_so(value: str) -> None:
    error = refusal(value)
    assert str(error) == f"born: {value} is not a day of the calendar"
    assert error.field == "born"
    vi = translation("messages", REPOSITORY / "translations", ["vi"])
    spoken = error.speak(vi.gettext)
    assert value in spoken
    assert spoken != str(error)  # in Vietnamese, not in English


@pytest.mark.parametrize("value", ["30/02/2011", "soon", "2011-2-3"])
def test_what_is_not_in_the_form_of_a_date_asks_for_one(value: str) -> None:
    assert str(refusal(value)) == "born: a date (year-month-day)"


def test_a_very_long_input_is_not_echoed_whole() -> None:
    error = refusal("2011-02-30" + "9" * 500)
    assert len(str(error)) < 100
