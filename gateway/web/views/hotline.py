"""The views of hotline tips: recorded, listed, read, triaged, escalated, resolved."""

from __future__ import annotations

from pydantic import JsonValue

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_TIP: JsonObject = {
    "id": 31, "reference": "VN-HOTLINE-111-2026-00031",
    "received_at": "2026-11-24T07:00:00+00:00", "last_seen_at": None, "resolved_at": None,
    "channel": "phone", "reporter_relation": "parent", "foreign_country": "KH",
    "child_involved": True, "danger": "imminent", "indicators": ["confinement"],
    "classification": None, "urgency": None, "status": "new", "duplicate_of": None,
    "case_id": None, "operator": "hoa.111", "classify_by": "2026-11-25T07:00:00+00:00",
    "emergency_by": "2026-11-24T19:00:00+00:00", "classification_overdue": False}


class TipRecorded(View):
    """A tip just recorded, with its clocks."""

    model_config = example({"id": 31, "reference": _TIP["reference"],
                            "classify_by": "2026-11-25T07:00:00+00:00",
                            "emergency_by": "2026-11-24T19:00:00+00:00"})
    id: int
    reference: str
    classify_by: str
    emergency_by: str | None


class TipLine(View):
    """A tip with its clocks, without its content."""

    model_config = example(_TIP)
    id: int
    reference: str
    received_at: str
    last_seen_at: str | None
    resolved_at: str | None
    channel: str | None
    reporter_relation: str | None
    foreign_country: str | None
    child_involved: bool
    danger: str | None
    indicators: list[str]
    classification: str | None
    urgency: str | None
    status: str
    duplicate_of: int | None
    case_id: int | None
    operator: str | None
    classify_by: str
    emergency_by: str | None
    classification_overdue: bool


class Tip(TipLine):
    """A tip with what was said (never who said it)."""

    model_config = example({
        **_TIP, "narrative": "Con gái 15 tuổi bị giữ ở Bavet.",
        "location": {"country": "KH", "province": "Svay Rieng"},
        "persons": [{"name_latin": "LO Thi Suong", "sex": "female", "estimated_age": 15}]})
    narrative: str | None
    location: JsonValue
    persons: list[JsonValue]


class TipList(View):
    """The unit's tips."""

    tips: list[TipLine]


class Reporter(View):
    """Who called, as they said it (None: not recorded)."""

    model_config = example({"reporter": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"}})
    reporter: JsonValue


class Triaged(View):
    """A tip and its classification now."""

    model_config = example({"id": 31, "classification": "trafficking"})
    id: int
    classification: str | None


class Escalated(View):
    """The case a tip opened, and the alert sent to the partner (if one was)."""

    model_config = example({"id": 31, "case_id": 8,
                            "message_id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"})
    id: int
    case_id: int | None
    message_id: str | None


class TipResolved(View):
    """A tip resolved."""

    model_config = example({"id": 31, "status": "resolved"})
    id: int
    status: str
