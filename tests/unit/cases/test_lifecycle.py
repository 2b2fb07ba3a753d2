"""The repatriation lifecycle as a state machine: allowed moves, requirements, side states."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cases import lifecycle
from gateway.cases.lifecycle import CaseFacts, TransitionRefused, check_transition


def facts(state: str, **more: object) -> CaseFacts:
    return CaseFacts(kind="repatriation", state=state, **more)  # type: ignore[arg-type]


def test_the_happy_path_of_a_repatriation_on_the_home_side() -> None:
    """The side the person returns to: no best-interests gate of its own (a presumed child
    included), the referral recorded before the case moves on."""
    path = ["detected", "screening", "verification-requested", "verified",
            "repatriation-planned", "handed-over", "received-and-referred", "follow-up",
            "closed"]
    for here, there in itertools.pairwise(path):
        check_transition(facts(here, verified_victims=1, home_side=True, presumed_child=True,
                               referral_recorded=True), there)
    with pytest.raises(TransitionRefused, match="record where the person was referred"):
        check_transition(facts("handed-over", home_side=True), "received-and-referred")
    with pytest.raises(TransitionRefused, match="record the referral before"):
        check_transition(facts("handed-over", home_side=True), "closed")


def test_the_happy_path_of_a_repatriation_on_the_finding_side() -> None:
    """The side that found the person closes after the handover; the partner refers."""
    path = ["detected", "screening", "verification-requested", "verified",
            "repatriation-planned", "handed-over", "closed"]
    for here, there in itertools.pairwise(path):
        check_transition(facts(here, verified_victims=1), there)
    with pytest.raises(TransitionRefused, match="who records the referral"):
        check_transition(facts("handed-over", referral_recorded=True), "received-and-referred")


def test_a_refused_return_goes_back_to_verified() -> None:
    check_transition(facts("repatriation-planned", verified_victims=1), "verified")


def test_a_case_under_proceedings_is_resumed_before_it_closes() -> None:
    on_hold = facts("on-hold-proceedings", resume_state="verified", verified_victims=1)
    with pytest.raises(TransitionRefused, match="legal proceedings"):
        check_transition(on_hold, "closed")
    check_transition(on_hold, "withdrawn")


@pytest.mark.parametrize(("state", "to", "why"), [
    ("detected", "verified", "cannot go from detected to verified"),
    ("verified", "repatriation-planned", "verified"),
    ("closed", "screening", "cannot change any more"),
    ("withdrawn", "closed", "cannot change any more"),
    ("screening", "screening", "already"),
    ("screening", "best-interests-review", "child"),
    ("screening", "open", "not a state"),
])
def test_refused_moves_say_why(state: str, to: str, why: str) -> None:
    with pytest.raises(TransitionRefused, match=why):
        check_transition(facts(state), to)


def test_a_presumed_child_needs_the_best_interests_record() -> None:
    """The finding side's gate (MESSAGES.md); the home side never has one of its own."""
    child = facts("verified", verified_victims=1, presumed_child=True)
    with pytest.raises(TransitionRefused, match="best interests"):
        check_transition(child, "repatriation-planned")
    check_transition(facts("verified", verified_victims=1, presumed_child=True,
                           home_side=True), "repatriation-planned")
    check_transition(facts("verified", verified_victims=1, presumed_child=True,
                           best_interests_recorded=True), "repatriation-planned")


def test_side_states_return_where_the_case_was() -> None:
    on_hold = facts("on-hold-proceedings", resume_state="verified", verified_victims=1)
    check_transition(on_hold, "verified")
    check_transition(on_hold, "repatriation-planned")
    with pytest.raises(TransitionRefused):
        check_transition(on_hold, "handed-over")
    objects = facts("victim-objects", resume_state="screening")
    with pytest.raises(TransitionRefused):
        check_transition(objects, "verification-requested")
    check_transition(objects, "screening")
    review = facts("best-interests-review", resume_state="verified", presumed_child=True)
    with pytest.raises(TransitionRefused, match="supervisor"):
        check_transition(review, "verified")
    assert lifecycle.after(facts("screening"), "victim-objects") == ("victim-objects",
                                                                    "screening")


def test_investigations_have_their_own_life() -> None:
    check_transition(CaseFacts("investigation", "open"), "active")
    with pytest.raises(TransitionRefused):
        check_transition(CaseFacts("investigation", "open"), "verified")


STATES = lifecycle.states_of("repatriation")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(STATES), st.booleans(), st.booleans(),
                          st.integers(0, 2)), max_size=40), st.booleans())
def test_no_walk_reaches_a_planned_return_without_its_requirements(
        steps: list[tuple[str, bool, bool, int]], child: bool) -> None:
    """Whatever the sequence of requested moves: a return is planned only for a verified
    victim, and for a child only after the best-interests record; closed stays closed."""
    state, resume = "detected", None
    for to, record, _noise, verified in steps:
        current = CaseFacts("repatriation", state, resume, child, record, verified)
        try:
            check_transition(current, to)
        except TransitionRefused:
            continue
        if to == "repatriation-planned":
            assert verified >= 1
            assert record or not child
        assert state not in lifecycle.TERMINAL
        state, resume = lifecycle.after(current, to)
    assert state in STATES


def test_next_states_are_exactly_the_allowed_moves() -> None:
    here = facts("verified", verified_victims=1)
    allowed = lifecycle.next_states(here)
    assert "repatriation-planned" in allowed
    assert "handed-over" not in allowed
    for state in allowed:
        check_transition(here, state)
