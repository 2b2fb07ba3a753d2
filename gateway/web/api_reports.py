"""Reports: this unit's indicators for a period, small counts hidden (docs/reports.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from gateway.access.sessions import Principal
from gateway.protocol.inbound import REPORT_COLLECTORS
from gateway.protocol.problems import Problem
from gateway.reports.collection import PERSON_INDICATORS, collect
from gateway.reports.exports import to_json
from gateway.reports.periods import ReportError, parse_period
from gateway.reports.service import make_report
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
        raise Problem("invalid-request", f"period: {exc}") from exc
    node = case_work(request).node
    answer: dict[str, Any] = to_json(await make_report(node, chosen))
    if node.node_id in REPORT_COLLECTORS.values():
        found = await collect(node, chosen)
        answer["collection"] = {
            "reported": [{"unit": unit, "received": at.isoformat(), "late": late}
                         for unit, at, late in found.reported],
            "missing": found.missing,
            "national": [{**{k: v for k, v in vars(where).items() if v is not None},
                          "value": cell.text(where.indicator in PERSON_INDICATORS)}
                         for where, cell in found.national.items()],
        }
    return answer
