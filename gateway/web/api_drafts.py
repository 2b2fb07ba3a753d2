"""Documents to partners through a case: drafts, submission, four-eyes release."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.cases import drafts
from gateway.cases.commands import NewDraft
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.limits import DRAFT_BODY
from gateway.web.routing import LocalApiRoute, body_up_to
from gateway.web.views.drafts import Draft, DraftList, DraftSent, DraftState

router = APIRouter(prefix="/api", tags=["drafts"], route_class=LocalApiRoute)
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]


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
    openapi_extra=body_up_to(DRAFT_BODY),
    response_model=DraftState,
    response_model_exclude_unset=True,
    responses=answers(DraftState, 201, errors=(401, 403, 404, 409, 422)),
)
async def create(
    request: Request,
    case_id: Id,
    body: NewDraft,
    principal: Annotated[Principal, permit("drafts.write")],
) -> DraftState:
    """Save a draft on a case (it may be incomplete until it is submitted)."""
    cw = case_work(request)
    draft_id = await drafts.create_draft(cw, principal, case_id, body)
    return DraftState(id=draft_id, state="draft")


@router.get(
    "/drafts",
    response_model=DraftList,
    response_model_exclude_unset=True,
    responses=answers(DraftList),
)
async def queue(
    request: Request,
    principal: Annotated[Principal, permit("drafts.read")],
    state: Literal["draft", "submitted", "returned", "sent"] | None = None,
) -> DraftList:
    """Drafts of the user's unit; ``state=submitted`` is the release queue."""
    cw = case_work(request)
    return DraftList(drafts=await drafts.list_drafts(cw, principal, state))


@router.get(
    "/drafts/{draft_id}",
    response_model=Draft,
    response_model_exclude_unset=True,
    responses=answers(Draft, errors=(401, 403, 404, 422)),
)
async def read(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.read")]
) -> Draft:
    """A draft with its document (the release preview). Audited."""
    cw = case_work(request)
    return Draft.model_validate(await drafts.read_draft(cw, principal, draft_id))


@router.put(
    "/drafts/{draft_id}",
    openapi_extra=body_up_to(DRAFT_BODY),
    response_model=DraftState,
    response_model_exclude_unset=True,
    responses=answers(DraftState, errors=(401, 403, 404, 409, 422)),
)
async def update(
    request: Request,
    draft_id: Id,
    body: NewDraft,
    principal: Annotated[Principal, permit("drafts.write")],
) -> DraftState:
    """Change a draft (its author, before release)."""
    cw = case_work(request)
    await drafts.update_draft(cw, principal, draft_id, body)
    return DraftState(id=draft_id, state="draft")


@router.post(
    "/drafts/{draft_id}/submit",
    response_model=DraftSent,
    response_model_exclude_unset=True,
    responses=answers(DraftSent, errors=(401, 403, 404, 409, 422)),
)
async def submit(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.write")]
) -> DraftSent:
    """Validate fully and ask a supervisor to release; sent at once when no second person is
    needed (operational data only, or an immediate alert)."""
    cw = case_work(request)
    result = await drafts.submit_draft(cw, principal, draft_id)
    return DraftSent(id=draft_id, state=result.state, message_id=result.message_id)


@router.post(
    "/drafts/{draft_id}/release",
    response_model=DraftSent,
    response_model_exclude_unset=True,
    responses=answers(DraftSent, errors=(401, 403, 404, 409, 422)),
)
async def release(
    request: Request, draft_id: Id, principal: Annotated[Principal, permit("drafts.release")]
) -> DraftSent:
    """Release a submitted draft: sign, queue, move the case (supervisors, not the author)."""
    cw = case_work(request)
    message_id = await drafts.release_draft(cw, principal, draft_id)
    return DraftSent(id=draft_id, state="sent", message_id=message_id)


@router.post(
    "/drafts/{draft_id}/return",
    response_model=DraftState,
    response_model_exclude_unset=True,
    responses=answers(DraftState, errors=(401, 403, 404, 409, 422)),
)
async def send_back(
    request: Request,
    draft_id: Id,
    body: Reason,
    principal: Annotated[Principal, permit("drafts.release")],
) -> DraftState:
    """Send a submitted draft back to its author with a reason."""
    cw = case_work(request)
    await drafts.return_draft(cw, principal, draft_id, body.reason)
    return DraftState(id=draft_id, state="returned")
