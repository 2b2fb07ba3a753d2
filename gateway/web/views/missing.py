"""The views of missing-person reports: recorded, listed, read, closed, and their reporter."""

from __future__ import annotations

from pydantic import JsonValue

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_LINE: JsonObject = {
    "id": 7, "reference": "VN-HOTLINE-111-2026-MP-00007", "state": "open",
    "unit": "vn.hotline-111", "recorded_by": "hoa.111",
    "created_at": "2026-11-24T07:00:00+00:00", "sex": "female", "nationality": "VN",
    "presumed_child": True, "reporter_relation": "parent",
    "last_seen_at": "2026-11-02T11:30:00+00:00", "has_photo": True, "case_id": None,
    "closed_at": None, "close_reason": None, "days_missing": 22, "own_unit": True}


class MissingRecorded(View):
    """A report just recorded: its id (and its reference, for people)."""

    model_config = example({"id": 7, "reference": _LINE["reference"]})
    id: int
    reference: str


class MissingLine(View):
    """A report in the list: its state and what the list needs, nothing that names anyone."""

    model_config = example(_LINE)
    id: int
    reference: str
    state: str
    unit: str
    recorded_by: str
    created_at: str
    sex: str
    nationality: str | None
    presumed_child: bool
    reporter_relation: str
    last_seen_at: str | None
    has_photo: bool
    case_id: int | None
    closed_at: str | None
    close_reason: str | None
    days_missing: int
    own_unit: bool


class MissingList(View):
    """The node's reports (of the state asked for), newest first."""

    reports: list[MissingLine]


class PhotoInfo(View):
    """The report's photo: its type and size (the console shows it; its bytes are a read of
    their own)."""

    media_type: str
    size: int


class MissingReport(MissingLine):
    """A report read whole (an audited read of special data); never who reported it."""

    model_config = example({
        **_LINE,
        "person": {"name_latin": "NGUYEN Thi Lan", "name_native": "Nguyễn Thị Lan",
                   "sex": "female", "birth": "2011-03", "estimated_age": None,
                   "nationality": "VN",
                   "home": {"country": "VN", "province": "Tây Ninh", "district": "Bến Cầu",
                            "commune": "Long Thuận"},
                   "papers": [{"kind": "national-id", "number": "072311000123",
                               "country": "VN"}],
                   "phones": ["+84 98 765 4321"]},
        "last_seen": {"time": "2026-11-02T11:30:00+00:00",
                      "place": {"country": "VN", "province": "Tây Ninh",
                                "details": "Mộc Bài border gate, the market"}},
        "narrative": "Left with a woman who promised work in a restaurant in Phnom Penh.",
        "photo": {"media_type": "image/jpeg", "size": 48211},
        "linked_at": None, "closed_by": None, "close_note": None, "case_reference": None})
    person: JsonValue
    last_seen: JsonValue
    narrative: str | None
    photo: PhotoInfo | None
    linked_at: str | None
    closed_by: str | None
    close_note: str | None
    #: The linked case's reference, for a reader who may open that case (None otherwise).
    case_reference: str | None = None


class MissingReporter(View):
    """Who reported the person missing, as they said it (None: not recorded)."""

    model_config = example({"reporter": {"name": "Nguyễn Văn Hùng",
                                         "phone": "+84 98 765 4321"}})
    reporter: JsonValue
