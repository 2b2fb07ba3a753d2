"""A match's score as the console says it: one decimal in the reader's digits, and the ends as
bounds, never a certainty the model cannot give (issue 25)."""

from __future__ import annotations

import pytest

from gateway.web.console.pages import probability


@pytest.mark.parametrize(("p", "lang", "said"), [
    (1.0, "en", "> 99.9 %"),
    (0.99951, "en", "> 99.9 %"),
    (0.9994, "en", "99.9 %"),
    (0.98765, "en", "98.8 %"),
    (0.98765, "vi", "98,8 %"),
    (0.5, "km", "50.0 %"),
    (0.0004, "lo", "< 0,1 %"),
    (0.0, "en", "< 0.1 %"),
])
def test_a_score_is_said_with_its_bounds(p: float, lang: str, said: str) -> None:
    assert probability(p, lang) == said
