"""The views of the node's own operations: messages in and out, partners and their keys,
calendars, the audit log."""

from __future__ import annotations

from pydantic import Field, JsonValue

from gateway.web.views import View, example

_MESSAGE_ID = "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"


class Queued(View):
    """A message signed and queued (or queued again)."""

    model_config = example({"id": _MESSAGE_ID, "state": "queued"})
    id: str
    state: str | None = None


class MessageLine(View):
    """A message in or out, with its delivery state."""

    model_config = example({
        "id": _MESSAGE_ID, "direction": "out", "from": "vn.blo-mocbai", "to": "kh.blo-bavet",
        "type": "verification-request", "state": "delivered", "attempts": 1,
        "created": "2026-11-24T08:00:00Z", "priority": "urgent", "error": None,
        "test": False})
    id: str
    direction: str
    sender: str = Field(alias="from")
    to: str
    type: str
    state: str
    attempts: int
    created: str
    priority: str
    error: str | None
    #: A conformance probe's test message (PROTOCOL.md §3.1): filed apart from casework.
    test: bool = False


class MessageList(View):
    """Messages in and out, newest first."""

    messages: list[MessageLine]


class Reloaded(View):
    """The partner directory as re-read, and what it refused."""

    model_config = example({"partners": ["kh.blo-bavet", "vn.c02"], "problems": []})
    partners: list[str]
    problems: list[str]


class PartnerKey(View):
    """A partner's key, by id and thumbprint."""

    kid: str
    thumbprint: str


class KeysRefreshed(View):
    """What one refresh of a partner's signed key set did."""

    model_config = example({
        "partner": "kh.ahtjp", "vouched_by": "kh.ahtjp#2026-11", "known": 1, "pinned": [],
        "pending": [{"kid": "kh.ahtjp#2027-05", "thumbprint": "Qm9u..."}], "ignored": [],
        "refused": [], "withheld": [], "narrowed": []})
    partner: str
    vouched_by: str | None
    known: int
    pinned: list[PartnerKey]
    pending: list[PartnerKey]
    ignored: list[PartnerKey]
    #: Keys that contradict what is pinned (a kid with another key, a key under another kid,
    #: a key pinned for checkpoints only offered for every use): the set vouches for nothing.
    refused: list[PartnerKey]
    #: New keys of a refused set: neither pinned nor offered.
    withheld: list[PartnerKey] = Field(default_factory=list)
    #: Pinned keys now marked for checkpoints only (PROTOCOL.md §4.8).
    narrowed: list[PartnerKey] = Field(default_factory=list)


class WaitingKey(View):
    """A partner's new key vouched for by a pinned key, waiting for an administrator."""

    model_config = example({
        "id": 1, "partner": "kh.ahtjp", "kid": "kh.ahtjp#2027-05", "thumbprint": "Qm9u...",
        "vouched_by": "kh.ahtjp#2026-11", "offered_at": "2026-11-30T04:00:00+00:00"})
    id: int
    partner: str
    kid: str
    thumbprint: str
    vouched_by: str | None
    offered_at: str


class WaitingKeys(View):
    """Keys waiting for an administrator, oldest first."""

    pending: list[WaitingKey]


class KeyDecided(View):
    """A waiting key accepted (pinned) or rejected."""

    model_config = example({"id": 1, "partner": "kh.ahtjp", "kid": "kh.ahtjp#2027-05",
                            "state": "accepted"})
    id: int
    partner: str
    kid: str
    state: str


class Day(View):
    """A public holiday, or a weekend day worked."""

    date: str
    name: str


class Calendar(View):
    """A country's public holidays and make-up working days in a year, and their origin."""

    model_config = example({
        "country": "VN", "year": 2026, "origin": "package+shipped",
        "holidays": [{"date": "2026-09-02", "name": "Quốc khánh"}],
        "working_days": [{"date": "2026-08-22", "name": "Làm bù"}]})
    country: str
    year: int
    origin: str
    holidays: list[Day]
    working_days: list[Day]


class CalendarSaved(View):
    """A year's decreed changes saved on this node."""

    model_config = example({"country": "VN", "year": 2026, "origin": "local", "holidays": 11})
    country: str
    year: int
    origin: str
    holidays: int


class KeyState(View):
    """A partner key's state now."""

    kid: str
    state: str
    not_after: str | None


class Partner(View):
    """A partner with its key states and delivery health."""

    model_config = example({
        "id": "kh.blo-bavet", "country": "KH", "name": {"en": "Border Liaison Office Bavet"},
        "languages": ["km", "en"], "delivery": "push",
        "endpoint": "https://bavet.example.kh/bx/v1",
        "keys": [{"kid": "kh.blo-bavet#2026-11", "state": "valid", "not_after": None}],
        "outbox_depth": 0, "oldest_undelivered": None})
    id: str
    country: str
    name: dict[str, str]
    languages: list[str]
    delivery: str
    endpoint: str | None
    keys: list[KeyState]
    outbox_depth: int
    oldest_undelivered: str | None


class PartnerList(View):
    """The partner directory."""

    partners: list[Partner]


class AuditEntry(View):
    """An entry of the audit log."""

    model_config = example({
        "seq": 412, "at": "2026-11-24T08:01:12Z", "actor": "lan", "action": "special.read",
        "subject": "VN-BLO-MOCBAI-2026-00007",
        "detail": {"person": 12, "role": "victim", "reason": "prepare the interview"}})
    seq: int
    at: str
    actor: str
    action: str
    subject: str | None
    detail: JsonValue


class AuditEntries(View):
    """The audit log, newest first."""

    entries: list[AuditEntry]


class ChainVerdict(View):
    """The audit chain re-computed: intact, or the first entry altered or missing."""

    model_config = example({"intact": True, "entries": 412, "broken_at": None, "reason": None})
    intact: bool
    entries: int
    broken_at: int | None
    reason: str | None
