"""Case kinds, origins and lifecycles as an explicit state machine (MESSAGES.md, cases).

Pure: no I/O. :func:`check_transition` says whether a case may move to a state and why not;
the services call it before every change, whether a user asks for it or a message causes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from gateway.protocol.errors import N_, Code, GatewayError, Message

#: The kinds of case, where a case comes from, and the roles of its persons: the one
#: definition of each code list (commands and the API take the types, pages the tuples).
Kind = Literal["repatriation", "verification", "investigation", "hotline"]
Origin = Literal["hotline", "blo", "partner", "investigation"]
Role = Literal["victim", "suspect", "witness", "relative"]
KINDS: Final[tuple[str, ...]] = get_args(Kind)
ORIGINS: Final[tuple[str, ...]] = get_args(Origin)
PERSON_ROLES: Final[tuple[str, ...]] = get_args(Role)
IDENTITY_STATUSES: Final = ("unverified", "verified", "not-national", "unable-to-verify")
#: Where a person received back is referred (the code list of a repatriation-response's
#: ``onward-referral``; a test holds it to the schema).
REFERRAL_KINDS: Final = ("social-protection-centre", "shelter", "hospital", "family", "other")

#: The repatriation lifecycle (also used by verification and hotline cases).
MAIN_STATES: Final = ("detected", "screening", "verification-requested", "verified",
                      "not-national", "unable-to-verify", "repatriation-planned", "handed-over",
                      "received-and-referred", "follow-up", "closed")
#: Side states: entered from any open state, left back to where the case was.
SIDE_STATES: Final = ("on-hold-proceedings", "best-interests-review", "victim-objects")
TERMINAL: Final = frozenset({"closed", "withdrawn"})
#: Joint investigations have a shorter life.
INVESTIGATION_STATES: Final = ("open", "active", "on-hold-proceedings", "closed", "withdrawn")

_FORWARD: Final[dict[str, frozenset[str]]] = {
    "detected": frozenset({"screening"}),
    "screening": frozenset({"verification-requested", "closed"}),
    "verification-requested": frozenset({"verified", "not-national", "unable-to-verify"}),
    "verified": frozenset({"repatriation-planned", "closed"}),
    "not-national": frozenset({"screening", "closed"}),
    "unable-to-verify": frozenset({"verification-requested", "closed"}),
    # a refused return sends the case back to verified (MESSAGES.md, "Both sides keep one
    # case"); the side that handed the person over closes after the handover, the side that
    # received them records the referral first
    "repatriation-planned": frozenset({"handed-over", "verified"}),
    "handed-over": frozenset({"received-and-referred", "closed"}),
    "received-and-referred": frozenset({"follow-up", "closed"}),
    "follow-up": frozenset({"closed"}),
    "closed": frozenset(),
    "withdrawn": frozenset(),
}
_INVESTIGATION: Final[dict[str, frozenset[str]]] = {
    "open": frozenset({"active", "on-hold-proceedings", "closed", "withdrawn"}),
    "active": frozenset({"on-hold-proceedings", "closed", "withdrawn"}),
    "on-hold-proceedings": frozenset({"active", "closed", "withdrawn"}),
    "closed": frozenset(),
    "withdrawn": frozenset(),
}


def is_home_side(origin: str, kind: str) -> bool:
    """The home side of a return (the person is to come back here) is the case a partner's
    verification or return request opened; every other case is the finding side's, whatever
    a partner sends into its conversation later (MESSAGES.md: the best-interests decision is
    the finding side's gate)."""
    return origin == "partner" and kind in ("verification", "repatriation")


def initial_state(kind: str) -> str:
    """Where a new case of ``kind`` starts."""
    return "open" if kind == "investigation" else "detected"


def states_of(kind: str) -> tuple[str, ...]:
    """Every state a case of ``kind`` can be in."""
    if kind == "investigation":
        return INVESTIGATION_STATES
    return (*MAIN_STATES, *SIDE_STATES, "withdrawn")


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about a case."""

    kind: str
    state: str
    resume_state: str | None = None
    presumed_child: bool = False
    best_interests_recorded: bool = False  # return is in the child's best interests
    verified_victims: int = 0
    best_interests_decided: bool = False  # either way: the review may end
    #: the side the person returns to (it received the verification or return request); the
    #: other is the finding side, whose gate the best-interests decision is
    home_side: bool = False
    referral_recorded: bool = False


class TransitionRefused(GatewayError):  # noqa: N818 - a refusal, as the API reports it
    """The move is not allowed; the message says why."""


def next_states(facts: CaseFacts) -> list[str]:
    """The states a case may move to now (the rules of :func:`check_transition` applied)."""
    out = []
    for state in states_of(facts.kind):
        try:
            check_transition(facts, state)
        except TransitionRefused:
            continue
        out.append(state)
    return out


def blocked_states(facts: CaseFacts) -> dict[str, Message]:
    """The next steps of the case's own path that it cannot take now, each with why: the
    case page explains them instead of leaving them to the audit log."""
    if facts.kind == "investigation" or facts.state in TERMINAL:
        return {}
    path = _FORWARD.get(facts.resume_state or facts.state, frozenset())
    out = {}
    for state in sorted(path):
        try:
            check_transition(facts, state)
        except TransitionRefused as exc:
            out[state] = exc.message()
    return out


def check_transition(facts: CaseFacts, to: str) -> None:
    """Raise :class:`TransitionRefused` unless ``facts.state -> to`` is allowed now."""
    if to not in states_of(facts.kind):
        raise TransitionRefused(N_("{to!r} is not a state of a {kind} case"),
                                to=Code(to), kind=Code(facts.kind))
    if facts.state in TERMINAL:
        raise TransitionRefused(N_("the case is {state}; it cannot change any more"),
                                state=Code(facts.state))
    if to == facts.state:
        raise TransitionRefused(N_("the case is already {to}"), to=Code(to))
    if facts.kind == "investigation":
        if to not in _INVESTIGATION[facts.state]:
            raise TransitionRefused(N_("an investigation cannot go from {state} to {to}"),
                                    state=Code(facts.state), to=Code(to))
        return
    if to == "withdrawn":
        return
    if facts.state in SIDE_STATES:
        _leave_side_state(facts, to)
    elif to in SIDE_STATES:
        if to == "best-interests-review" and not facts.presumed_child:
            raise TransitionRefused(N_("a best-interests review is for a (presumed) child"))
    elif to not in _FORWARD[facts.state]:
        raise TransitionRefused(N_("a case cannot go from {state} to {to}"),
                                state=Code(facts.state), to=Code(to))
    _requirements(facts, to)


def _leave_side_state(facts: CaseFacts, to: str) -> None:
    if facts.state == "on-hold-proceedings" and to == "closed":
        raise TransitionRefused(N_("the case is on hold for legal proceedings: it is resumed "
                                   "before it is closed"))
    if facts.state == "best-interests-review" and not (
            facts.best_interests_decided or facts.best_interests_recorded):
        raise TransitionRefused(N_("a supervisor must first record the best-interests decision"))
    allowed = {facts.resume_state, "closed"} - {None}
    if facts.resume_state is not None:
        allowed |= _FORWARD.get(facts.resume_state, frozenset())
    if facts.state == "victim-objects":
        allowed.discard("verification-requested")
    if to not in allowed:
        if facts.resume_state is None:
            raise TransitionRefused(N_("from {state} the case can return to its previous state, "
                                       "be closed or withdrawn"), state=Code(facts.state))
        raise TransitionRefused(N_("from {state} the case can return to {resume}, be closed or "
                                   "withdrawn"), state=Code(facts.state),
                                resume=Code(facts.resume_state))


def _requirements(facts: CaseFacts, to: str) -> None:
    if to == "closed" and facts.state == "handed-over" and facts.home_side:
        raise TransitionRefused(N_("the person was received here: record the referral "
                                   "before the case is closed"))
    if to == "received-and-referred" and not facts.home_side:
        raise TransitionRefused(N_("the person was handed over to the partner, who records "
                                   "the referral"))
    if to == "received-and-referred" and not facts.referral_recorded:
        raise TransitionRefused(N_("record where the person was referred: the case then "
                                   "moves on by itself"))
    if to == "repatriation-planned":
        if facts.verified_victims < 1:
            raise TransitionRefused(N_("repatriation needs a victim whose identity is verified"))
        # the finding side's gate only: a received document never opens a review at home
        if facts.presumed_child and not facts.home_side and not facts.best_interests_recorded:
            raise TransitionRefused(N_("a (presumed) child: a supervisor must first record that "
                                       "return is in the child's best interests"))


def after(facts: CaseFacts, to: str) -> tuple[str, str | None]:
    """The new ``(state, resume_state)`` once a move to ``to`` is allowed."""
    if to in SIDE_STATES and facts.state not in SIDE_STATES and facts.kind != "investigation":
        return to, facts.state
    return to, None
