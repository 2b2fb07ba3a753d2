"""Documents to partners through a case: drafts, submission, four-eyes release."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.cases import drafts
from gateway.web.auth import permit, use_case
from gateway.web.examples import DRAFT, MESSAGE, answers

router = APIRouter(prefix="/api", tags=["drafts"])
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]


class DraftAttachment(BaseModel):
    """A file to send with the document (base64; JPEG, PNG or PDF up to 5 MiB)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    media_type: Literal["image/jpeg", "image/png", "application/pdf"]
    data: Annotated[str, Field(max_length=7 * 1024 * 1024)]


class DraftIn(BaseModel):
    """A document as JSON: the same fields as its XML schema (see docs/operations.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "case-closure",
                    "to": "kh.blo-bavet",
                    "priority": "routine",
                    "handling": "H1",
                    "lang": "vi",
                    "document": {
                        "case-reference": "VN-BLO-MOCBAI-2026-00001",
                        "outcome": "reintegrated",
                        "closure-reason": "follow-up-complete",
                        "closed-on": "2026-12-20",
                        "officer": {
                            "name": {"latin": "TRAN Van Nam"},
                            "unit": {"name": [{"@lang": "vi", "#text": "BLO Mộc Bài"}]},
                        },
                    },
                }
            ]
        },
    )
    type: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[str, Field(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}$")] = "1.0"
    to: Annotated[str, Field(min_length=1, max_length=48)]
    ref: Annotated[str, Field(max_length=36)] | None = None
    priority: Literal["routine", "urgent", "immediate"] = "routine"
    handling: Literal["H0", "H1", "H2", "H3"] = "H0"
    lang: Literal["vi", "km", "lo", "en"] = "vi"
    document: dict[str, Any]
    attachments: list[DraftAttachment] = Field(default_factory=list, max_length=10)


class Reason(BaseModel):
    """Why a draft goes back to its author."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Add the consent record before this goes out."}]
        },
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post(
    "/cases/{case_id}/drafts",
    status_code=201,
    responses=answers({"id": 4, "state": "draft"}, 201, errors=(401, 403, 404, 409, 422)),
)
async def create(
    request: Request,
    case_id: Id,
    body: DraftIn,
    principal: Annotated[Principal, permit("drafts.write")],
) -> dict[str, Any]:
    """Save a draft on a case (it may be incomplete until it is submitted)."""
    async with use_case(request) as (cw, conn):
        draft_id = await drafts.create_draft(
            conn, cw, principal, case_id, body.model_dump(mode="json")
        )
    return {"id": draft_id, "state": "draft"}


@router.get("/drafts", responses=answers({"drafts": [DRAFT]}))
async def queue(
    request: Request,
    principal: Annotated[Principal, permit("drafts.read")],
    state: Literal["draft", "submitted", "returned", "sent"] | None = None,
) -> dict[str, Any]:
    """Drafts of the user's unit; ``state=submitted`` is the release queue."""
    async with use_case(request) as (cw, conn):
        return {"drafts": await drafts.list_drafts(conn, cw, principal, state)}


@router.get(
    "/drafts/{draft_id}",
    responses=answers(
        {
            **DRAFT,
            "document": {"case-reference": "VN-BLO-MOCBAI-2026-00007"},
            "attachments": [{"name": "p1-photo.jpg", "media_type": "image/jpeg", "size": 48213}],
        },
        errors=(401, 403, 404, 422),
    ),
)
async def read(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.read")]
) -> dict[str, Any]:
    """A draft with its document (the release preview). Audited."""
    async with use_case(request) as (cw, conn):
        return await drafts.read_draft(conn, cw, principal, draft_id)


@router.put(
    "/drafts/{draft_id}",
    responses=answers({"id": 4, "state": "draft"}, errors=(401, 403, 404, 409, 422)),
)
async def update(
    request: Request,
    draft_id: Id,
    body: DraftIn,
    principal: Annotated[Principal, permit("drafts.write")],
) -> dict[str, Any]:
    """Change a draft (its author, before release)."""
    async with use_case(request) as (cw, conn):
        await drafts.update_draft(conn, cw, principal, draft_id, body.model_dump(mode="json"))
    return {"id": draft_id, "state": "draft"}


@router.post(
    "/drafts/{draft_id}/submit",
    responses=answers(
        {"id": 4, "state": "submitted", "message_id": None}, errors=(401, 403, 404, 409, 422)
    ),
)
async def submit(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.write")]
) -> dict[str, Any]:
    """Validate fully and ask a supervisor to release; sent at once when no second person is
    needed (operational data only, or an immediate alert)."""
    async with use_case(request) as (cw, conn):
        result = await drafts.submit_draft(conn, cw, principal, draft_id)
    return {"id": draft_id, **result}


@router.post(
    "/drafts/{draft_id}/release",
    responses=answers(
        {"id": 4, "state": "sent", "message_id": MESSAGE["id"]}, errors=(401, 403, 404, 409, 422)
    ),
)
async def release(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.release")]
) -> dict[str, Any]:
    """Release a submitted draft: sign, queue, move the case (supervisors, not the author)."""
    async with use_case(request) as (cw, conn):
        message_id = await drafts.release_draft(conn, cw, principal, draft_id)
    return {"id": draft_id, "state": "sent", "message_id": message_id}


@router.post(
    "/drafts/{draft_id}/return",
    responses=answers({"id": 4, "state": "returned"}, errors=(401, 403, 404, 409, 422)),
)
async def send_back(
    request: Request,
    draft_id: Id,
    body: Reason,
    principal: Annotated[Principal, permit("drafts.release")],
) -> dict[str, Any]:
    """Send a submitted draft back to its author with a reason."""
    async with use_case(request) as (cw, conn):
        await drafts.return_draft(conn, cw, principal, draft_id, body.reason)
    return {"id": draft_id, "state": "returned"}
