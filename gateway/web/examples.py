"""What the OpenAPI document says a route answers: an example of its success, and its errors
as ``application/problem+json`` (RFC 9457), so that every route is documented the same way."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.protocol.problems import PROBLEM_MEDIA_TYPE


class FieldProblem(BaseModel):
    """Where a request was wrong."""

    line: int
    column: int
    path: str
    message: str


class ProblemDetails(BaseModel):
    """An error (RFC 9457): ``type`` is ``urn:bx:problem:<code>``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:bx:problem:invalid-request",
                    "title": "Request not valid",
                    "status": 422,
                    "detail": "body.kind: Input should be 'repatriation', 'verification', "
                    "'investigation' or 'hotline'",
                    "errors": [
                        {
                            "line": 1,
                            "column": 1,
                            "path": "body.kind",
                            "message": "Input should be 'repatriation', ...",
                        }
                    ],
                }
            ]
        }
    )
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


_ERRORS: dict[int, str] = {
    401: "No session, or it ended (log in again)",
    403: "The role may not do this (or a handling rule forbids it)",
    404: "Not found, or not visible to the user's unit",
    409: "Not allowed in the current state",
    422: "The request is not valid: the problem names the field",
    429: "Too many failed attempts from this address: wait for Retry-After",
}


def answers(
    example: Any, status: int = 200, errors: tuple[int, ...] = (401, 403, 422)
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: its success with ``example``, and its problems."""
    out: dict[int | str, dict[str, Any]] = {
        status: {"description": "Done", "content": {"application/json": {"example": example}}}
    }
    for code in sorted({*errors, 422}):  # any parameter can be wrong
        out[code] = {
            "description": _ERRORS[code],
            "model": ProblemDetails,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
    return out


CASE_SUMMARY: dict[str, Any] = {
    "id": 7,
    "reference": "VN-BLO-MOCBAI-2026-00007",
    "kind": "repatriation",
    "origin": "blo",
    "state": "verification-requested",
    "partner": "kh.blo-bavet",
    "priority": "urgent",
    "owner_unit": "vn.blo-mocbai",
    "presumed_child": True,
    "updated_at": "2026-11-24T08:00:00+00:00",
    "overdue": 0,
}
PERSON: dict[str, Any] = {
    "id": 12,
    "person_ref": "P1",
    "role": "victim",
    "name_native": "Nguyễn Thị Hoa",
    "name_latin": "NGUYEN Thi Hoa",
    "sex": "female",
    "nationality": "VN",
    "presumed_child": True,
    "identity_status": "unverified",
    "purged": False,
}
TASK: dict[str, Any] = {
    "id": 3,
    "case_id": 7,
    "tip_id": None,
    "kind": "await-answer",
    "title": "verification-request",
    "owner_unit": "vn.blo-mocbai",
    "owner_user": None,
    "partner": "kh.blo-bavet",
    "message_id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11",
    "due_at": "2026-12-01T16:59:59+00:00",
    "done_at": None,
    "overdue": False,
}
MESSAGE: dict[str, Any] = {
    "id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11",
    "direction": "out",
    "from": "vn.blo-mocbai",
    "to": "kh.blo-bavet",
    "type": "verification-request",
    "state": "delivered",
    "created": "2026-11-24T08:00:00Z",
    "priority": "urgent",
    "handling": "H1",
    "ref": None,
    "conversation": "9a0e3f5c-1d2b-4e6f-8a7b-0c1d2e3f4a5b",
    "receipt": "2026-11-24T08:00:01Z",
}
CASE_DETAIL: dict[str, Any] = {
    **CASE_SUMMARY,
    "resume_state": None,
    "summary": "Found at the Bavet checkpoint",
    "best_interests": None,
    "next_states": [
        "verified",
        "not-national",
        "unable-to-verify",
        "on-hold-proceedings",
        "best-interests-review",
        "victim-objects",
        "withdrawn",
    ],
    "created_at": "2026-11-24T07:40:00+00:00",
    "persons": [PERSON],
    "tasks": [TASK],
    "notes": [
        {"id": 1, "author": "lan", "at": "2026-11-24T07:45:00+00:00", "text": "Interpreter booked."}
    ],
    "events": [
        {
            "at": "2026-11-24T07:40:00+00:00",
            "actor": "lan",
            "event": "opened",
            "from": None,
            "to": "detected",
            "message_id": None,
        }
    ],
    "drafts": [
        {
            "id": 4,
            "type": "verification-request",
            "to": "kh.blo-bavet",
            "state": "sent",
            "author": "lan",
            "priority": "urgent",
            "message_id": MESSAGE["id"],
            "updated_at": "2026-11-24T08:00:00+00:00",
        }
    ],
    "messages": [MESSAGE],
}
DRAFT: dict[str, Any] = {
    "id": 4,
    "case_id": 7,
    "type": "verification-request",
    "version": "1.0",
    "to": "kh.blo-bavet",
    "ref": None,
    "priority": "urgent",
    "handling": "H1",
    "lang": "vi",
    "sensitivity": "special",
    "state": "submitted",
    "author": "lan",
    "unit": "vn.blo-mocbai",
    "released_by": None,
    "return_reason": None,
    "message_id": None,
    "updated_at": "2026-11-24T07:58:00+00:00",
}
TIP: dict[str, Any] = {
    "id": 31,
    "reference": "VN-HOTLINE-111-2026-00031",
    "received_at": "2026-11-24T07:00:00+00:00",
    "channel": "phone",
    "reporter_relation": "parent",
    "foreign_country": "KH",
    "child_involved": True,
    "danger": "imminent",
    "indicators": ["confinement"],
    "classification": None,
    "urgency": None,
    "status": "new",
    "duplicate_of": None,
    "case_id": None,
    "operator": "hoa.111",
    "classify_by": "2026-11-25T07:00:00+00:00",
    "classification_overdue": False,
}
