"""Reports: this unit's indicators for a period, small counts hidden (docs/reports.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.documents.periodic_report import PERSON_INDICATORS
from gateway.localtime import LOCAL_TIME
from gateway.reports import release
from gateway.reports.exports import to_json
from gateway.reports.overview import reports_view
from gateway.reports.periods import due_next, parse_period
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.routing import LocalApiRoute
from gateway.web.views.reports import (
    Collection,
    Report,
    Reported,
    ReportReleased,
    ReportReturned,
    Submitted,
)

router = APIRouter(prefix="/api", tags=["reports"], route_class=LocalApiRoute)


@router.get(
    "/reports",
    response_model=Report,
    response_model_exclude_unset=True,
    responses=answers(Report, errors=(401, 403, 422)),
)
async def report(
    request: Request,
    period: Annotated[str, Query(max_length=40, examples=["2026-H1"])],
    _: Annotated[Principal, permit("reports.read")],
) -> Report:
    """This unit's indicators for ``2026-H1``, ``2026`` or ``FROM..TO``; counts of 1 to 4
    persons read "< 5", and a count that would give one away reads "x". On the collecting
    node (C02), also the units' periodic reports for the period and the national sums."""
    chosen = parse_period(period)
    view = await reports_view(case_work(request).node, chosen)
    assert view.report is not None  # a period was chosen
    answer = Report.model_validate(to_json(view.report))
    if view.collection is not None:
        found = view.collection
        answer.collection = Collection(
            reported=[Reported(unit=unit, received=at.isoformat(), late=late)
                      for unit, at, late in found.reported],
            missing=found.missing,
            national=[{**{k: v for k, v in vars(where).items() if v is not None},
                       "value": cell.text(where.indicator in PERSON_INDICATORS)}
                      for where, cell in found.national.items()],
        )
    return answer


class Submission(BaseModel):
    """A period whose report a supervisor submits for a second one to release (left out:
    the period whose report is due next)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"period": "2026-H1"}]})
    period: Annotated[str | None, Field(max_length=40)] = None


class SendBack(BaseModel):
    """Why a submitted report goes back to its submitter."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"reason": "The May handovers are not recorded yet"}]})
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post(
    "/reports/submissions",
    status_code=201,
    response_model=Submitted,
    response_model_exclude_unset=True,
    responses=answers(Submitted, 201, errors=(401, 403, 422)),
)
async def submit_report(
    request: Request, body: Submission, principal: Annotated[Principal, permit("reports.send")],
) -> Submitted:
    """Submit this unit's periodic report for a period (by default the one due next) as it
    stands now; another supervisor of the unit releases it (four eyes). A submission of the
    same period still waiting is withdrawn."""
    node = case_work(request).node
    today = node.clock().astimezone(LOCAL_TIME).date()
    period = parse_period(body.period) if body.period else due_next(today)
    release_id = await release.submit_period(node, principal, period)
    return Submitted(id=release_id, period=period.name, to=release.collector_of(node))


@router.post(
    "/reports/submissions/{release_id}/release",
    response_model=ReportReleased,
    response_model_exclude_unset=True,
    responses=answers(ReportReleased, errors=(401, 403, 404, 409)),
)
async def release_report(
    request: Request, release_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, permit("reports.send")],
) -> ReportReleased:
    """Release a submitted report of one's unit (not one's own): signed and queued for
    C02."""
    node = case_work(request).node
    message_id = await release.release(node, principal, release_id)
    return ReportReleased(message_id=message_id)


@router.post(
    "/reports/submissions/{release_id}/return",
    response_model=ReportReturned,
    response_model_exclude_unset=True,
    responses=answers(ReportReturned, errors=(401, 403, 404, 409, 422)),
)
async def send_back_report(
    request: Request, release_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: SendBack,
    principal: Annotated[Principal, permit("reports.send")],
) -> ReportReturned:
    """Send a submitted report of one's unit back to its submitter with a reason; nothing
    is sent."""
    node = case_work(request).node
    await release.send_back(node, principal, release_id, body.reason)
    return ReportReturned(id=release_id, state="returned")
