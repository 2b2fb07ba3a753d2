"""The views of drafts: a draft in the queue and in full, and where it went."""

from __future__ import annotations

from typing import Any

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_DRAFT: JsonObject = {
    "id": 4, "case_id": 7, "type": "verification-request", "version": "1.0",
    "to": "kh.blo-bavet", "ref": None, "priority": "urgent", "handling": "H1", "lang": "vi",
    "sensitivity": "special", "state": "submitted", "author": "lan", "unit": "vn.blo-mocbai",
    "released_by": None, "return_reason": None, "message_id": None,
    "updated_at": "2026-11-24T07:58:00+00:00",
    "attachments": [{"name": "p1-photo.jpg", "media_type": "image/jpeg", "size": 48213}]}


class DraftAttachment(View):
    """An attachment of a draft: its name, type and size."""

    name: str
    media_type: str
    size: int


class Draft(View):
    """A draft; its ``document`` only when it is read alone (audited), never in a list."""

    model_config = example({**_DRAFT, "document": {"case-reference": "VN-BLO-MOCBAI-2026-00007"}})
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
    attachments: list[DraftAttachment]
    document: dict[str, Any] | None = None


class DraftList(View):
    """Drafts of the user's unit."""

    model_config = example({"drafts": [_DRAFT]})
    drafts: list[Draft]


class DraftState(View):
    """A draft and its state now."""

    model_config = example({"id": 4, "state": "draft"})
    id: int
    state: str


class DraftSent(View):
    """A draft submitted (or sent at once), with its message once it went."""

    model_config = example({"id": 4, "state": "sent",
                            "message_id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"})
    id: int
    state: str
    message_id: str | None
