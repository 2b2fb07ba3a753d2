"""The shapes of what case work's read side answers: a case in a list and in full, its
persons, tasks, notes, story, drafts and messages; overdue tasks, investigations, search
results. They are plain dicts at run time (the console's templates and the API's models read
them as they are); the API's pydantic models in ``gateway/web/views/`` mirror them field by
field. Keys that are Python words (``from``, ``return``) need the functional form.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from gateway.protocol.encoding import JsonObject, JsonValue
from gateway.protocol.errors import Message


class PersonView(TypedDict):
    """A person of a case, without special data."""

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


class PersonDetailView(PersonView):
    """A person with the special data the documents carry."""

    details: JsonValue
    retention_until: str | None


class TaskView(TypedDict):
    """A task with its owner and due time; ``detail`` is what a document said that could
    not move its case (its codes, the refusal as a message)."""

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
    detail: JsonObject | None


class OverdueTaskView(TaskView):
    """A task past its due time, with its case."""

    case_reference: str | None
    case_kind: str | None
    hours_overdue: float


#: A message of a case's conversations, with its delivery state and receipt.
CaseMessageView = TypedDict("CaseMessageView", {
    "id": str, "direction": str, "from": str, "to": str, "type": str, "state": str,
    "created": str, "priority": str, "handling": str, "ref": str | None,
    "conversation": str | None, "receipt": str | None})


class NoteView(TypedDict):
    """A note on a case."""

    id: int
    author: str
    at: str | None
    text: str | None


#: A step of a case's story.
EventView = TypedDict("EventView", {
    "at": str | None, "actor": str, "event": str, "from": str | None, "to": str | None,
    "message_id": str | None})


class CaseDraftView(TypedDict):
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


class BestInterestsView(TypedDict):
    """The best-interests decision recorded on a case."""

    by: str | None
    at: str | None
    decision: str


class ReturnView(TypedDict):
    """The day and gate of a return."""

    date: str | None
    gate: str | None


class ClosureView(TypedDict):
    """How a case closed."""

    outcome: str | None
    reason: str | None


#: What the exchanged documents put on a case (MESSAGES.md, "Both sides keep one case").
SettledView = TypedDict("SettledView", {
    "partner_reference": str | None, "return": ReturnView | None, "refusal": JsonValue,
    "closure": ClosureView | None, "referral": JsonObject | None})


class CaseDetailView(SettledView):
    """A case: state and next steps, persons, tasks, notes, story, drafts and messages."""

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
    best_interests: BestInterestsView | None
    home_side: bool
    referral_suggested: str | None
    blocked: dict[str, Message]
    next_states: list[str]
    created_at: str | None
    updated_at: str | None
    persons: list[PersonView]
    tasks: list[TaskView]
    notes: list[NoteView]
    events: list[EventView]
    drafts: list[CaseDraftView]
    messages: list[CaseMessageView]
    linked_reports: list[LinkedReportView]
    suggestions_waiting: int


class LinkedReportView(TypedDict):
    """A missing-person report confirmed the same person as one of a case's."""

    id: int
    reference: str


class CaseSummaryView(TypedDict):
    """A case in a list."""

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


class SuspectView(TypedDict):
    """A suspect of an investigation, by reference."""

    id: int
    person_ref: str | None


class InvestigationView(TypedDict):
    """A joint investigation with its partners, requests and suspects."""

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
    suspects: list[SuspectView]


class FoundView(TypedDict):
    """A case a search found, with its persons."""

    id: int
    reference: str
    kind: str
    state: str
    partner: str | None
    owner_unit: str
    persons: list[PersonView]


class AttachmentView(TypedDict):
    """An attachment of a message, as exchanged."""

    name: str
    media_type: str
    size: int
    sha256: str


#: A message of a case with its document as JSON (``special`` fields redacted unless shown).
MessageDocumentView = TypedDict("MessageDocumentView", {
    "id": str, "direction": str, "from": str, "to": str, "type": str, "version": str,
    "conversation": str | None, "ref": str | None, "created": str, "priority": str,
    "handling": str, "state": str, "special_shown": bool, "document": JsonValue,
    "attachments": list[AttachmentView]})


class DraftAttachmentView(TypedDict):
    """An attachment of a draft: its name, type and size."""

    name: str
    media_type: str
    size: int


class DraftView(TypedDict):
    """A draft; its ``document`` only when it is read alone (audited), never in a list."""

    id: int
    case_id: int
    type: str
    version: str
    to: str | None
    ref: str | None
    priority: str | None
    handling: str | None
    lang: str | None
    sensitivity: str | None
    state: str
    author: str
    unit: str
    released_by: str | None
    return_reason: str | None
    message_id: str | None
    updated_at: str
    attachments: list[DraftAttachmentView]
    document: NotRequired[JsonValue]


class QueuedDraftView(DraftView):
    """A draft in the release queue, with what the supervisor has not opened yet
    (``unopened``: ``document`` for the preview, then attachment names)."""

    unopened: list[str]
    unopened_attachments: list[str]
