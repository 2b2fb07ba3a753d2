"""The views of cases: a case in a list and in full, its persons, tasks, notes, story,
drafts and messages; overdue tasks, C02's investigations, search results."""

from __future__ import annotations

from typing import Any

from pydantic import Field, JsonValue, RootModel

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_MESSAGE_ID = "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"
_PERSON: JsonObject = {
        "id": 12, "person_ref": "P1", "role": "victim", "name_native": "Nguyễn Thị Hoa",
        "name_latin": "NGUYEN Thi Hoa", "sex": "female", "nationality": "VN",
        "presumed_child": True, "identity_status": "unverified", "purged": False}


class Created(View):
    """What was just made: its number."""

    model_config = example({"id": 12})
    id: int


class CaseSummary(View):
    """A case in a list."""

    model_config = example({
        "id": 7, "reference": "VN-BLO-MOCBAI-2026-00007", "kind": "repatriation",
        "origin": "blo", "state": "verification-requested", "partner": "kh.blo-bavet",
        "priority": "urgent", "owner_unit": "vn.blo-mocbai", "presumed_child": True,
        "updated_at": "2026-11-24T08:00:00+00:00", "overdue": 0})
    id: int
    reference: str
    kind: str
    origin: str
    state: str
    partner: str | None
    priority: str
    owner_unit: str
    presumed_child: bool
    updated_at: str | None
    overdue: int


class CaseList(View):
    """Cases of the user's unit."""

    cases: list[CaseSummary]


class Person(View):
    """A person of a case, without special data."""

    model_config = example(_PERSON)
    id: int
    person_ref: str | None
    role: str
    name_native: str | None
    name_latin: str | None
    sex: str | None
    nationality: str | None
    presumed_child: bool
    identity_status: str | None
    purged: bool


class PersonDetail(Person):
    """A person with the special data the documents carry."""

    model_config = example({
        **_PERSON,
        "details": {"@person-id": "P1", "birth": {"@age-uncertain": True, "estimated-age": 15}},
        "retention_until": "2031-11-20"})
    details: JsonValue
    retention_until: str | None


class Task(View):
    """A task with its owner and due time."""

    model_config = example({
        "id": 3, "case_id": 7, "tip_id": None, "kind": "await-answer",
        "title": "verification-request", "owner_unit": "vn.blo-mocbai", "owner_user": None,
        "partner": "kh.blo-bavet", "message_id": _MESSAGE_ID,
        "due_at": "2026-12-01T16:59:59+00:00", "done_at": None, "done_by": None,
        "overdue": False, "detail": None})
    id: int
    case_id: int | None
    tip_id: int | None
    kind: str
    title: str | None
    owner_unit: str | None
    owner_user: str | None
    partner: str | None
    message_id: str | None
    due_at: str | None
    done_at: str | None
    done_by: str | None
    overdue: bool
    detail: dict[str, Any] | None


class OverdueTask(Task):
    """A task past its due time, with its case."""

    model_config = example({
        "id": 3, "case_id": 7, "tip_id": None, "kind": "await-answer",
        "title": "verification-request", "owner_unit": "vn.blo-mocbai", "owner_user": None,
        "partner": "kh.blo-bavet", "message_id": _MESSAGE_ID,
        "due_at": "2026-11-23T05:29:59+00:00", "done_at": None, "done_by": None,
        "overdue": True, "detail": None, "case_reference": "VN-BLO-MOCBAI-2026-00007",
        "case_kind": "repatriation", "hours_overdue": 26.5})
    case_reference: str | None
    case_kind: str | None
    hours_overdue: float


class OverdueList(View):
    """Deadlines passed."""

    overdue: list[OverdueTask]


class LinkedReport(View):
    """A missing-person report linked to the case (the same person, confirmed)."""

    model_config = example({"id": 3, "reference": "VN-HOTLINE-111-2026-MP-00003"})
    id: int
    reference: str


class CaseMessage(View):
    """A message of a case's conversations, with its delivery state and receipt."""

    model_config = example({
        "id": _MESSAGE_ID, "direction": "out", "from": "vn.blo-mocbai", "to": "kh.blo-bavet",
        "type": "verification-request", "state": "delivered", "created": "2026-11-24T08:00:00Z",
        "priority": "urgent", "handling": "H1", "ref": None,
        "conversation": "9a0e3f5c-1d2b-4e6f-8a7b-0c1d2e3f4a5b",
        "receipt": "2026-11-24T08:00:01Z"})
    id: str
    direction: str
    sender: str = Field(alias="from")
    to: str
    type: str
    state: str
    created: str
    priority: str
    handling: str
    ref: str | None
    conversation: str | None
    receipt: str | None


class Note(View):
    """A note on a case."""

    id: int
    author: str
    at: str | None
    text: str | None


class Event(View):
    """A step of a case's story."""

    at: str | None
    actor: str
    event: str
    from_state: str | None = Field(alias="from")
    to: str | None
    message_id: str | None


class CaseDraft(View):
    """A draft of a case, in the case's list."""

    id: int
    type: str
    to: str | None
    state: str
    author: str
    priority: str | None
    message_id: str | None
    return_reason: str | None
    updated_at: str | None


class BestInterests(View):
    """The best-interests decision recorded on a case."""

    by: str | None
    at: str | None
    decision: str


class Return(View):
    """The day and gate of a return."""

    date: str | None
    gate: str | None


class Closure(View):
    """How a case closed."""

    outcome: str | None
    reason: str | None


class CaseDetail(View):
    """A case: state and next steps, persons (without special data), tasks, notes, story,
    drafts and messages; what the exchanged documents put on it."""

    model_config = example({
        "id": 7, "reference": "VN-BLO-MOCBAI-2026-00007", "kind": "repatriation",
        "origin": "blo", "state": "verification-requested", "resume_state": None,
        "owner_unit": "vn.blo-mocbai", "partner": "kh.blo-bavet", "priority": "urgent",
        "summary": "Found at the Bavet checkpoint", "presumed_child": True,
        "best_interests": None, "home_side": True, "partner_reference": None, "return": None,
        "refusal": None, "closure": None, "referral": None, "referral_suggested": None,
        "blocked": {}, "next_states": ["verified", "not-national", "unable-to-verify",
                                       "on-hold-proceedings", "withdrawn"],
        "created_at": "2026-11-24T07:40:00+00:00", "updated_at": "2026-11-24T08:00:00+00:00",
        "persons": [_PERSON],
        "tasks": [], "notes": [{"id": 1, "author": "lan", "at": "2026-11-24T07:45:00+00:00",
                                "text": "Interpreter booked."}],
        "events": [{"at": "2026-11-24T07:40:00+00:00", "actor": "lan", "event": "opened",
                    "from": None, "to": "detected", "message_id": None}],
        "drafts": [], "messages": [],
        "linked_reports": [{"id": 3, "reference": "VN-HOTLINE-111-2026-MP-00003"}],
        "suggestions_waiting": 0})
    id: int
    reference: str
    kind: str
    origin: str
    state: str
    resume_state: str | None
    owner_unit: str
    partner: str | None
    priority: str
    summary: str | None
    presumed_child: bool
    best_interests: BestInterests | None
    home_side: bool
    partner_reference: str | None
    return_: Return | None = Field(alias="return")
    refusal: JsonValue
    closure: Closure | None
    referral: JsonValue
    referral_suggested: str | None
    blocked: dict[str, str]
    next_states: list[str]
    created_at: str | None
    updated_at: str | None
    persons: list[Person]
    tasks: list[Task]
    notes: list[Note]
    events: list[Event]
    drafts: list[CaseDraft]
    messages: list[CaseMessage]
    #: The missing-person reports confirmed the same person as one of the case's.
    linked_reports: list[LinkedReport]
    #: How many suggested matches wait for a decision.
    suggestions_waiting: int


class Moved(View):
    """A case and the state it is in now."""

    model_config = example({"id": 7, "state": "screening"})
    id: int
    state: str


class BestInterestsRecorded(View):
    """A case whose best-interests decision is recorded."""

    model_config = example({"id": 7, "best_interests": True})
    id: int
    best_interests: bool


class TaskFinished(View):
    """A task done."""

    model_config = example({"id": 3, "done": True})
    id: int
    done: bool


class Attachment(View):
    """An attachment of a message, as exchanged."""

    name: str
    media_type: str
    size: int
    sha256: str


class MessageDocument(View):
    """A message of a case with its document as JSON (special fields redacted unless
    asked for with a reason)."""

    model_config = example({
        "id": _MESSAGE_ID, "direction": "out", "from": "vn.blo-mocbai", "to": "kh.blo-bavet",
        "type": "verification-request", "version": "1.0",
        "conversation": "9a0e3f5c-1d2b-4e6f-8a7b-0c1d2e3f4a5b", "ref": None,
        "created": "2026-11-24T08:00:00Z", "priority": "urgent", "handling": "H1",
        "state": "delivered", "special_shown": False,
        "document": {"case-reference": "VN-BLO-MOCBAI-2026-00007",
                     "person": {"redacted": "special"}},
        "attachments": [{"name": "p1-photo.jpg", "media_type": "image/jpeg", "size": 48213,
                         "sha256": "9f2c…"}]})
    id: str
    direction: str
    sender: str = Field(alias="from")
    to: str
    type: str
    version: str
    conversation: str | None
    ref: str | None
    created: str
    priority: str
    handling: str
    state: str
    special_shown: bool
    document: dict[str, Any]
    attachments: list[Attachment]


class Suspect(View):
    """A suspect of an investigation, by reference."""

    id: int
    person_ref: str | None


class Investigation(View):
    """A joint investigation with its partners, requests and suspects."""

    model_config = example({
        "id": 2, "reference": "VN-C02-2026-00002", "state": "active", "owner_unit": "vn.c02",
        "partners": ["kh.ahtjp", "la.atd"], "messages_sent": 4, "answers_received": 3,
        "last_exchange": "2026-11-24T08:00:00Z", "open_requests": 1, "overdue_tasks": 0,
        "suspects": [{"id": 9, "person_ref": "S-1450-1"}]})
    id: int
    reference: str
    state: str
    owner_unit: str
    partners: list[str]
    messages_sent: int
    answers_received: int
    last_exchange: str | None
    open_requests: int
    overdue_tasks: int
    suspects: list[Suspect]


class InvestigationList(View):
    """C02's joint investigations."""

    investigations: list[Investigation]


class Found(View):
    """A case a search found, with its persons."""

    model_config = example({
        "id": 7, "reference": "VN-BLO-MOCBAI-2026-00007", "kind": "repatriation",
        "state": "verified", "partner": "kh.blo-bavet", "owner_unit": "vn.blo-mocbai",
        "persons": [_PERSON]})
    id: int
    reference: str
    kind: str
    state: str
    partner: str | None
    owner_unit: str
    persons: list[Person]


class SearchResults(View):
    """What a search found."""

    results: list[Found]


class Lifecycles(RootModel[dict[str, list[str]]]):
    """The states of each kind of case."""

    model_config = example(
        {"investigation": ["open", "active", "on-hold-proceedings", "closed", "withdrawn"]})
