"""Reports: this unit's indicators for a period, small counts hidden (docs/reports.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.localtime import LOCAL_TIME
from gateway.protocol.problems import Problem
from gateway.reports import release
from gateway.reports.collection import PERSON_INDICATORS
from gateway.reports.exports import to_json
from gateway.reports.overview import reports_view
from gateway.reports.periods import ReportError, due_next, parse_period
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers

router = APIRouter(prefix="/api", tags=["reports"])


@router.get(
    "/reports",
    responses=answers(
        {
            "unit": "vn.c02",
            "period": {"name": "2026-H1", "kind": "six-month", "first": "2025-11-16",
                       "last": "2026-05-15"},
            "made_at": "2026-05-25T00:00:00+00:00",
            "tables": {"victims-received": {"rows": ["kh.ahtjp", "total"],
                                            "columns": ["female-child", "total"],
                                            "cells": [["< 5", "x"], [12, 31]]}},
            "figures": {"tips.classified.share": 0.97},
        },
        errors=(401, 403, 422),
    ),
)
async def report(
    request: Request,
    period: Annotated[str, Query(max_length=40, examples=["2026-H1"])],
    _: Annotated[Principal, permit("reports.read")],
) -> dict[str, Any]:
    """This unit's indicators for ``2026-H1``, ``2026`` or ``FROM..TO``; counts of 1 to 4
    persons read "< 5", and a count that would give one away reads "x". On the collecting
    node (C02), also the units' periodic reports for the period and the national sums."""
    try:
        chosen = parse_period(period)
    except ReportError as exc:
        raise _refused(exc) from exc
    view = await reports_view(case_work(request).node, chosen)
    assert view.report is not None  # a period was chosen
    answer: dict[str, Any] = to_json(view.report)
    if view.collection is not None:
        found = view.collection
        answer["collection"] = {
            "reported": [{"unit": unit, "received": at.isoformat(), "late": late}
                         for unit, at, late in found.reported],
            "missing": found.missing,
            "national": [{**{k: v for k, v in vars(where).items() if v is not None},
                          "value": cell.text(where.indicator in PERSON_INDICATORS)}
                         for where, cell in found.national.items()],
        }
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


def _refused(exc: ReportError) -> Problem:
    return Problem(exc.problem, f"{exc.field}: {exc}" if exc.field else str(exc))


@router.post("/reports/submissions", status_code=201,
             responses=answers({"id": 3, "period": "2026-H1", "to": "vn.c02"}, 201,
                               errors=(401, 403, 422)))
async def submit_report(
    request: Request, body: Submission, principal: Annotated[Principal, permit("reports.send")],
) -> dict[str, Any]:
    """Submit this unit's periodic report for a period (by default the one due next) as it
    stands now; another supervisor of the unit releases it (four eyes). A submission of the
    same period still waiting is withdrawn."""
    node = case_work(request).node
    today = node.clock().astimezone(LOCAL_TIME).date()
    try:
        period = parse_period(body.period) if body.period else due_next(today)
        release_id = await release.submit_period(node, principal, period)
    except ReportError as exc:
        raise _refused(exc) from exc
    return {"id": release_id, "period": period.name, "to": release.collector_of(node)}


@router.post("/reports/submissions/{release_id}/release",
             responses=answers({"message_id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"},
                               errors=(401, 403, 404, 409)))
async def release_report(
    request: Request, release_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, permit("reports.send")],
) -> dict[str, Any]:
    """Release a submitted report of one's unit (not one's own): signed and queued for
    C02."""
    node = case_work(request).node
    try:
        message_id = await release.release(node, principal, release_id)
    except ReportError as exc:
        raise _refused(exc) from exc
    return {"message_id": message_id}


@router.post("/reports/submissions/{release_id}/return",
             responses=answers({"id": 3, "state": "returned"},
                               errors=(401, 403, 404, 409, 422)))
async def send_back_report(
    request: Request, release_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: SendBack,
    principal: Annotated[Principal, permit("reports.send")],
) -> dict[str, Any]:
    """Send a submitted report of one's unit back to its submitter with a reason; nothing
    is sent."""
    node = case_work(request).node
    try:
        await release.send_back(node, principal, release_id, body.reason)
    except ReportError as exc:
        raise _refused(exc) from exc
    return {"id": release_id, "state": "returned"}
