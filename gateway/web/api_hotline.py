"""Hotline tips: intake, triage, escalation (with an alert to the partner), duplicates."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from gateway.access.sessions import Principal
from gateway.cases import hotline
from gateway.cases.commands import Escalation, NewTip, TipTriage
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.routing import LocalApiRoute
from gateway.web.views.hotline import (
    Escalated,
    Reporter,
    Tip,
    TipLine,
    TipList,
    TipRecorded,
    TipResolved,
    Triaged,
)

router = APIRouter(prefix="/api", tags=["hotline"], route_class=LocalApiRoute)
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]
Short = Annotated[str, Field(max_length=200)]
Action = Literal[
    "locate", "rescue", "intercept-at-border", "check-address", "provide-information", "other"
]


@router.post(
    "/tips",
    status_code=201,
    response_model=TipRecorded,
    response_model_exclude_unset=True,
    responses=answers(TipRecorded, 201),
)
async def record(
    request: Request, body: NewTip, principal: Annotated[Principal, permit("tips.write")]
) -> TipRecorded:
    """Record a tip; starts the 24-hour (and for a child at imminent risk, 12-hour) clock."""
    recorded = await hotline.record_tip(case_work(request), principal, body)
    return TipRecorded.model_validate(recorded.model_dump())


@router.get(
    "/tips",
    response_model=TipList,
    response_model_exclude_unset=True,
    responses=answers(TipList),
)
async def list_tips(
    request: Request,
    principal: Annotated[Principal, permit("tips.read")],
    status: Literal["new", "classified", "escalated", "resolved"] | None = None,
) -> TipList:
    """The unit's tips with their clocks (without their content)."""
    found = await hotline.list_tips(case_work(request), principal, status)
    return TipList(tips=[TipLine.model_validate(t.model_dump()) for t in found])


@router.get(
    "/tips/{tip_id}",
    response_model=Tip,
    response_model_exclude_unset=True,
    responses=answers(Tip, errors=(401, 403, 404, 422)),
)
async def read(
    request: Request, tip_id: Id, principal: Annotated[Principal, permit("tips.read")]
) -> Tip:
    """One tip. Audited."""
    return Tip.model_validate(
        (await hotline.read_tip(case_work(request), principal, tip_id)).model_dump())


@router.get(
    "/tips/{tip_id}/reporter",
    response_model=Reporter,
    response_model_exclude_unset=True,
    responses=answers(Reporter, errors=(401, 403, 404, 422)),
)
async def reporter(
    request: Request,
    tip_id: Id,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    principal: Annotated[Principal, permit("tips.reporter.read")],
) -> Reporter:
    """Who called (supervisors, with a reason). Audited."""
    return Reporter(reporter=await hotline.reporter_of(case_work(request), principal, tip_id,
                                                       reason))


@router.post(
    "/tips/{tip_id}/triage",
    response_model=Triaged,
    response_model_exclude_unset=True,
    responses=answers(Triaged, errors=(401, 403, 404, 422)),
)
async def triage(
    request: Request,
    tip_id: Id,
    body: TipTriage,
    principal: Annotated[Principal, permit("tips.write")],
) -> Triaged:
    """Classify a tip (``duplicate`` links it to the tip it repeats)."""
    await hotline.triage(case_work(request), principal, tip_id, body)
    return Triaged(id=tip_id, classification=body.classification)


@router.post(
    "/tips/{tip_id}/escalate",
    response_model=Escalated,
    response_model_exclude_unset=True,
    responses=answers(Escalated, errors=(401, 403, 404, 409, 422)),
)
async def escalate(
    request: Request,
    tip_id: Id,
    body: Escalation,
    principal: Annotated[Principal, permit("tips.write")],
) -> Escalated:
    """Open a case from the tip and, with ``alert_to``, send the partner an immediate alert,
    all in one transaction."""
    triage = TipTriage(classification=body.classification, urgency=body.urgency) if (
        body.classification and body.urgency) else None
    result = await hotline.triage_and_escalate(case_work(request), principal, tip_id, triage,
                                               body)
    assert result is not None
    return Escalated.model_validate(result.model_dump())


@router.post(
    "/tips/{tip_id}/resolve",
    response_model=TipResolved,
    response_model_exclude_unset=True,
    responses=answers(TipResolved, errors=(401, 403, 404, 409, 422)),
)
async def resolve(
    request: Request, tip_id: Id, principal: Annotated[Principal, permit("tips.write")]
) -> TipResolved:
    """Mark a classified tip resolved."""
    await hotline.resolve(case_work(request), principal, tip_id)
    return TipResolved(id=tip_id, status="resolved")
