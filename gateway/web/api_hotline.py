"""Hotline tips: intake, triage, escalation (with an alert to the partner), duplicates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from gateway.access.sessions import Principal
from gateway.cases import hotline
from gateway.cases.commands import Escalation, NewTip, TipTriage
from gateway.cases.tip_views import Escalated, TipRecorded, TipView
from gateway.web.auth import case_work, permit
from gateway.web.examples import MESSAGE, TIP, answers

router = APIRouter(prefix="/api", tags=["hotline"])
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]
Short = Annotated[str, Field(max_length=200)]
Action = Literal[
    "locate", "rescue", "intercept-at-border", "check-address", "provide-information", "other"
]


@router.post(
    "/tips",
    status_code=201,
    responses=answers(
        {
            "id": 31,
            "reference": TIP["reference"],
            "classify_by": "2026-11-25T07:00:00+00:00",
            "emergency_by": "2026-11-24T19:00:00+00:00",
        },
        201,
    ),
)
async def record(
    request: Request, body: NewTip, principal: Annotated[Principal, permit("tips.write")]
) -> TipRecorded:
    """Record a tip; starts the 24-hour (and for a child at imminent risk, 12-hour) clock."""
    return await hotline.record_tip(case_work(request), principal, body)


@router.get("/tips", responses=answers({"tips": [TIP]}))
async def list_tips(
    request: Request,
    principal: Annotated[Principal, permit("tips.read")],
    status: Literal["new", "classified", "escalated", "resolved"] | None = None,
) -> dict[str, Any]:
    """The unit's tips with their clocks (without their content)."""
    return {"tips": await hotline.list_tips(case_work(request), principal, status)}


@router.get(
    "/tips/{tip_id}",
    responses=answers(
        {
            **TIP,
            "narrative": "Con gái 15 tuổi bị giữ ở Bavet.",
            "location": {"country": "KH", "province": "Svay Rieng"},
            "persons": [{"name_latin": "LO Thi Suong", "sex": "female", "estimated_age": 15}],
        },
        errors=(401, 403, 404, 422),
    ),
)
async def read(
    request: Request, tip_id: Id, principal: Annotated[Principal, permit("tips.read")]
) -> TipView:
    """One tip. Audited."""
    return await hotline.read_tip(case_work(request), principal, tip_id)


@router.get(
    "/tips/{tip_id}/reporter",
    responses=answers(
        {"reporter": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"}},
        errors=(401, 403, 404, 422),
    ),
)
async def reporter(
    request: Request,
    tip_id: Id,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    principal: Annotated[Principal, permit("tips.reporter.read")],
) -> dict[str, Any]:
    """Who called (supervisors, with a reason). Audited."""
    return {"reporter": await hotline.reporter_of(case_work(request), principal, tip_id, reason)}


@router.post(
    "/tips/{tip_id}/triage",
    responses=answers({"id": 31, "classification": "trafficking"}, errors=(401, 403, 404, 422)),
)
async def triage(
    request: Request,
    tip_id: Id,
    body: TipTriage,
    principal: Annotated[Principal, permit("tips.write")],
) -> dict[str, Any]:
    """Classify a tip (``duplicate`` links it to the tip it repeats)."""
    await hotline.triage(case_work(request), principal, tip_id, body)
    return {"id": tip_id, "classification": body.classification}


@router.post(
    "/tips/{tip_id}/escalate",
    responses=answers(
        {"id": 31, "case_id": 8, "message_id": MESSAGE["id"]}, errors=(401, 403, 404, 409, 422)
    ),
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
    return result


@router.post(
    "/tips/{tip_id}/resolve",
    responses=answers({"id": 31, "status": "resolved"}, errors=(401, 403, 404, 409, 422)),
)
async def resolve(
    request: Request, tip_id: Id, principal: Annotated[Principal, permit("tips.write")]
) -> dict[str, Any]:
    """Mark a classified tip resolved."""
    await hotline.resolve(case_work(request), principal, tip_id)
    return {"id": tip_id, "status": "resolved"}
