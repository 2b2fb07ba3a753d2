"""Missing-person reports: record, list, read (audited), close, and the reporter (supervisors).

Bodies are read strictly (:mod:`gateway.web.jsonbody`: a member given twice or nested too deep
is refused with its path); a report with its photo may be up to :data:`REPORT_BODY`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from gateway.access.sessions import Principal
from gateway.cases import missing
from gateway.cases.missing_commands import MAX_PHOTO_TEXT, CloseReport, NewMissingPerson
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.jsonbody import strict_json
from gateway.web.routing import LocalApiRoute, body_up_to
from gateway.web.views.missing import (
    MissingLine,
    MissingList,
    MissingRecorded,
    MissingReport,
    MissingReporter,
)

router = APIRouter(prefix="/api", tags=["missing persons"], route_class=LocalApiRoute)
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[7])]
#: A report with a photo of 5 MiB (in base64) and the rest of its fields.
REPORT_BODY: Final = MAX_PHOTO_TEXT + 256 * 1024


@router.post(
    "/missing-persons",
    status_code=201,
    response_model=MissingRecorded,
    response_model_exclude_unset=True,
    responses=answers(MissingRecorded, 201, errors=(401, 403, 413, 422)),
    openapi_extra={**body_up_to(REPORT_BODY), **strict_json()},
)
async def record(
    request: Request,
    body: NewMissingPerson,
    principal: Annotated[Principal, permit("missing.write")],
) -> MissingRecorded:
    """Record a missing-person report in the caller's unit (open at once). The person is the
    PERSON of docs/missing-persons.md; the reporter's identity, if given, is kept apart."""
    recorded = await missing.record(case_work(request), principal, body)
    return MissingRecorded.model_validate(recorded.model_dump())


@router.get(
    "/missing-persons",
    response_model=MissingList,
    response_model_exclude_unset=True,
    responses=answers(MissingList),
)
async def list_reports(
    request: Request,
    principal: Annotated[Principal, permit("missing.read")],
    state: Literal["open", "linked", "closed"] | None = "open",
) -> MissingList:
    """The node's reports of ``state`` (open by default), newest first, without names."""
    found = await missing.list_reports(case_work(request), principal, state)
    return MissingList(reports=[MissingLine.model_validate(r.model_dump()) for r in found])


@router.get(
    "/missing-persons/{report_id}",
    response_model=MissingReport,
    response_model_exclude_unset=True,
    responses=answers(MissingReport, errors=(401, 403, 404, 422)),
)
async def read(
    request: Request, report_id: Id, principal: Annotated[Principal, permit("missing.read")]
) -> MissingReport:
    """One report, whole. Audited as a read of special data."""
    return MissingReport.model_validate(
        (await missing.read_report(case_work(request), principal, report_id)).model_dump())


@router.post(
    "/missing-persons/{report_id}/close",
    response_model=MissingLine,
    response_model_exclude_unset=True,
    responses=answers(MissingLine, errors=(401, 403, 404, 409, 422)),
    openapi_extra=strict_json(),
)
async def close(
    request: Request,
    report_id: Id,
    body: CloseReport,
    principal: Annotated[Principal, permit("missing.write")],
) -> MissingLine:
    """Close a report with a reason (the recording unit, or C02); ``other`` needs a note."""
    closed = await missing.close(case_work(request), principal, report_id, body)
    return MissingLine.model_validate(closed.model_dump())


@router.get(
    "/missing-persons/{report_id}/reporter",
    response_model=MissingReporter,
    response_model_exclude_unset=True,
    responses=answers(MissingReporter, errors=(401, 403, 404, 422)),
)
async def reporter(
    request: Request,
    report_id: Id,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    principal: Annotated[Principal, permit("missing.reporter.read")],
) -> MissingReporter:
    """Who reported the person missing (a supervisor of the recording unit, with a reason).
    Audited."""
    return MissingReporter(reporter=await missing.reporter_of(case_work(request), principal,
                                                              report_id, reason))
