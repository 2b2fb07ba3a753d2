"""The views of matching: a person's matches, with their reasons in the reader's language,
and a case's persons' matches."""

from __future__ import annotations

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_WHY: JsonObject = {"field": "name", "agreement": "accents", "weight": 9.412,
                        "words": "name: Nguyễn Thị Lan and NGUYEN THI LAN are the same once "
                                 "accents are removed"}
_MATCH: JsonObject = {"kind": "missing-person", "id": 7, "case_id": None,
                          "score": 0.9991, "suggested": True,
                          "why": [_WHY, {"field": "birth", "agreement": "range",
                                         "weight": 2.1,
                                         "words": "born 2011; estimated 16 in 2026: agrees"}]}


class Why(View):
    """What one field's comparison says: its level of agreement, its weight (log2 of the
    Bayes factor) and its words in the reader's language."""

    model_config = example(_WHY)
    field: str
    agreement: str
    weight: float
    words: str


class MatchView(View):
    """A record that may be the same person: a missing-person report or a case's person,
    the calibrated probability that it is, whether it is above the node's suggesting
    threshold, and why."""

    model_config = example(_MATCH)
    kind: str
    id: int
    case_id: int | None
    score: float
    suggested: bool
    why: list[Why]


class Matches(View):
    """A person's matches, best first."""

    model_config = example({"matches": [_MATCH]})
    matches: list[MatchView]


class PersonMatches(View):
    """A case's person and its matches, best first."""

    model_config = example({"person_id": 3, "matches": [_MATCH]})
    person_id: int
    matches: list[MatchView]


class CaseMatchesView(View):
    """Each person of a case with its matches (never the case's own persons)."""

    model_config = example({"persons": [{"person_id": 3, "matches": [_MATCH]}]})
    persons: list[PersonMatches]


class Decided(View):
    """A suggestion decided: its id and new state (``confirmed`` or ``rejected``)."""

    model_config = example({"id": 4, "state": "confirmed"})
    id: int
    state: str
