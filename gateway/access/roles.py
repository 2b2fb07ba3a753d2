"""Roles and the permission matrix: the one place that decides who may do what.

Every route of the local API and every page of the console names one action of
:data:`PERMISSIONS`; a test walks all routes with every role and checks the answers against
this table. Where a case is concerned, the action is also scoped to the user's unit
(:func:`sees_all_cases` lifts that for C02's overall view).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["hotline-operator", "blo-officer", "investigator", "supervisor", "admin",
               "auditor", "machine"]
#: The roles a person can hold; ``machine`` is the node's API token (automation on the host).
HUMAN_ROLES: Final[tuple[str, ...]] = tuple(r for r in get_args(Role) if r != "machine")
ALL_ROLES: Final[tuple[str, ...]] = get_args(Role)

_CASEWORK: Final = frozenset({"blo-officer", "investigator", "supervisor"})
_STAFF: Final = _CASEWORK | {"hotline-operator"}

#: action -> the roles allowed to take it.
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    # one's own session
    "session.self": frozenset(HUMAN_ROLES),
    # cases (scoped to the user's unit unless the role sees all)
    "cases.read": _STAFF,
    "cases.create": _STAFF,
    "cases.transition": _CASEWORK,
    "cases.best-interests": frozenset({"supervisor"}),
    "persons.write": _CASEWORK,
    "special.read": _CASEWORK,
    "tasks.write": _CASEWORK,
    "notes.write": _STAFF,
    "overdue.read": _STAFF,
    "investigations.read": frozenset({"investigator", "supervisor"}),
    "search": _STAFF,
    # documents to partners
    "drafts.write": _CASEWORK,
    "drafts.read": _CASEWORK,
    "drafts.release": frozenset({"supervisor"}),
    # hotline
    "tips.write": frozenset({"hotline-operator", "supervisor"}),
    "tips.read": frozenset({"hotline-operator", "supervisor"}),
    "tips.reporter.read": frozenset({"supervisor"}),
    # missing-person reports: a search notice for everyone on the node who takes people in
    # (the hotline, BLO officers, C02's investigators) and for automation on the host; every
    # read is audited. The reporter's identity, as for tips, is for supervisors only.
    "missing.write": _STAFF | {"machine"},
    "missing.read": _STAFF | {"machine"},
    "missing.reporter.read": frozenset({"supervisor"}),
    # matching (issue 25): a person's matches name and compare personal data, so only the
    # roles that may read special data, and automation on the host
    "matches.read": _CASEWORK | {"machine"},
    # a suggestion decided (the same person or not): a person of the case's unit, never a
    # script
    "matches.decide": _CASEWORK,
    # node operations
    "messages.read": frozenset({"supervisor", "admin", "machine"}),
    "messages.send-raw": frozenset({"machine"}),
    "messages.retry": frozenset({"supervisor", "admin", "machine"}),
    "partners.read": frozenset(ALL_ROLES) - {"auditor"},
    "partners.reload": frozenset({"admin", "machine"}),
    "partners.keys": frozenset({"admin", "machine"}),
    "users.manage": frozenset({"admin"}),
    "calendars.read": _STAFF | {"admin"},
    "calendars.write": frozenset({"admin"}),
    "audit.read": frozenset({"auditor"}),
    # reports: supervisors (the hotline chief is one), C02's investigators, auditors
    "reports.read": frozenset({"supervisor", "investigator", "auditor"}),
    "reports.send": frozenset({"supervisor"}),  # one submits, another releases
    # a proof bundle holds the message as exchanged: for those who answer for the case
    "proofs.export": frozenset({"supervisor", "investigator"}),
}


def allowed(role: str, action: str) -> bool:
    """True if ``role`` may take ``action``; an unknown action is refused (fail closed)."""
    return role in PERMISSIONS.get(action, frozenset())


def sees_all_cases(role: str) -> bool:
    """C02's investigators see every case of the node (joint investigations, overdue lists)."""
    return role == "investigator"
