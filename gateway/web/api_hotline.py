"""Hotline tips: intake, triage, escalation (with an alert to the partner), duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.cases import hotline
from gateway.web.auth import permit, use_case
from gateway.web.examples import MESSAGE, TIP, answers

router = APIRouter(prefix="/api", tags=["hotline"])
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]
Short = Annotated[str, Field(max_length=200)]
Action = Literal[
    "locate", "rescue", "intercept-at-border", "check-address", "provide-information", "other"
]


class TipPerson(BaseModel):
    """What the caller knows of a person at risk (minimal)."""

    model_config = ConfigDict(extra="forbid")
    name_native: Short | None = None
    name_latin: (
        Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z][A-Za-z '.\-]*$")] | None
    ) = None
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    estimated_age: Annotated[int, Field(ge=0, le=120)] | None = None
    age_uncertain: bool = False
    nationality: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class Location(BaseModel):
    """Where it happens (possibly abroad)."""

    model_config = ConfigDict(extra="forbid")
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    province: Short | None = None
    district: Short | None = None
    details: Annotated[str, Field(max_length=1000)] | None = None


class Reporter(BaseModel):
    """Who called: kept apart, shown to supervisors only."""

    model_config = ConfigDict(extra="forbid")
    name: Short | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None


class TipIn(BaseModel):
    """A tip as the operator takes it down."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel": "phone",
                    "reporter_relation": "parent",
                    "danger": "imminent",
                    "narrative": "Con gái 15 tuổi bị giữ ở nhà nghỉ tại Bavet, "
                    "sắp bị chuyển đi tối nay.",
                    "location": {"country": "KH", "province": "Svay Rieng", "district": "Bavet"},
                    "foreign_country": "KH",
                    "child_involved": True,
                    "persons": [
                        {
                            "name_latin": "LO Thi Suong",
                            "sex": "female",
                            "estimated_age": 15,
                            "age_uncertain": True,
                            "nationality": "VN",
                        }
                    ],
                    "reporter_identity": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"},
                }
            ]
        },
    )
    channel: Literal["phone", "sms", "chat", "email", "web", "walk-in", "other"]
    received_at: datetime | None = None
    last_seen_at: datetime | None = None
    reporter_relation: Literal[
        "self",
        "parent",
        "relative",
        "friend",
        "neighbour",
        "teacher",
        "employer",
        "official",
        "ngo-worker",
        "anonymous",
        "other",
    ]
    narrative: Annotated[str, Field(min_length=1, max_length=4000)]
    location: Location | None = None
    foreign_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    child_involved: bool = False
    danger: Literal["imminent", "not-imminent", "unknown"]
    indicators: list[Annotated[str, Field(pattern=r"^[a-z-]{1,40}$")]] = Field(
        default_factory=list, max_length=10
    )
    persons: list[TipPerson] = Field(default_factory=list, max_length=10)
    reporter_identity: Reporter | None = None


class Triage(BaseModel):
    """Classification and urgency."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"classification": "trafficking", "urgency": "immediate"}]},
    )
    classification: Literal["trafficking", "smuggling", "labour-dispute", "other", "duplicate"]
    urgency: Literal["immediate", "urgent", "routine"]
    duplicate_of: Id | None = None


class Escalation(BaseModel):
    """Open a case; with ``alert_to``, send an immediate alert to that partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "alert_to": "kh.ahtjp",
                    "duty_phone": "+84 24 3826 9111",
                    "requested_action": ["locate", "rescue"],
                }
            ]
        },
    )
    alert_to: Annotated[str, Field(max_length=48)] | None = None
    duty_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()\-]{6,30}$")] | None = None
    requested_action: list[Action] = Field(
        default_factory=lambda: list[Action](["locate", "rescue"]), min_length=1, max_length=6
    )
    situation: Annotated[str, Field(max_length=4000)] | None = None
    last_seen: datetime | None = None
    handling: Literal["H0", "H1", "H2", "H3"] = "H1"
    # Triage may come in the same call: one action for the operator.
    classification: Literal["trafficking", "smuggling", "labour-dispute", "other"] | None = None
    urgency: Literal["immediate", "urgent", "routine"] | None = None


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
    request: Request, body: TipIn, principal: Annotated[Principal, permit("tips.write")]
) -> dict[str, Any]:
    """Record a tip; starts the 24-hour (and for a child at imminent risk, 12-hour) clock."""
    async with use_case(request) as (cw, conn):
        return await hotline.record_tip(
            conn,
            cw,
            principal,
            {**body.model_dump(exclude_none=True), "received_at": body.received_at},
        )


@router.get("/tips", responses=answers({"tips": [TIP]}))
async def list_tips(
    request: Request,
    principal: Annotated[Principal, permit("tips.read")],
    status: Literal["new", "classified", "escalated", "resolved"] | None = None,
) -> dict[str, Any]:
    """The unit's tips with their clocks (without their content)."""
    async with use_case(request) as (cw, conn):
        return {"tips": await hotline.list_tips(conn, cw, principal, status)}


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
) -> dict[str, Any]:
    """One tip. Audited."""
    async with use_case(request) as (cw, conn):
        return await hotline.read_tip(conn, cw, principal, tip_id)


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
    async with use_case(request) as (cw, conn):
        return {"reporter": await hotline.reporter_of(conn, cw, principal, tip_id, reason)}


@router.post(
    "/tips/{tip_id}/triage",
    responses=answers({"id": 31, "classification": "trafficking"}, errors=(401, 403, 404, 422)),
)
async def triage(
    request: Request,
    tip_id: Id,
    body: Triage,
    principal: Annotated[Principal, permit("tips.write")],
) -> dict[str, Any]:
    """Classify a tip (``duplicate`` links it to the tip it repeats)."""
    async with use_case(request) as (cw, conn):
        await hotline.triage(conn, cw, principal, tip_id, body.model_dump())
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
) -> dict[str, Any]:
    """Open a case from the tip and, with ``alert_to``, send the partner an immediate alert,
    all in one transaction."""
    async with use_case(request) as (cw, conn):
        triage = body.model_dump() if body.classification and body.urgency else None
        result = await hotline.triage_and_escalate(
            conn, cw, principal, tip_id, triage, body.model_dump(exclude_none=True)
        )
    assert result is not None
    return {"id": tip_id, **result}


@router.post(
    "/tips/{tip_id}/resolve",
    responses=answers({"id": 31, "status": "resolved"}, errors=(401, 403, 404, 409, 422)),
)
async def resolve(
    request: Request, tip_id: Id, principal: Annotated[Principal, permit("tips.write")]
) -> dict[str, Any]:
    """Mark a classified tip resolved."""
    async with use_case(request) as (cw, conn):
        await hotline.resolve(conn, cw, principal, tip_id)
    return {"id": tip_id, "status": "resolved"}
