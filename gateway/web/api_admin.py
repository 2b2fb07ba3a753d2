"""The node's administration and oversight: calendars, the partner directory, the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases.calendars import CalendarError
from gateway.exchange.outbox import outbox_stats
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.routing import LocalApiRoute
from gateway.web.views.node import (
    AuditEntries,
    Calendar,
    CalendarSaved,
    ChainVerdict,
    Day,
    PartnerList,
)

router = APIRouter(prefix="/api", tags=["administration"], route_class=LocalApiRoute)
Country = Annotated[str, Path(pattern=r"^[A-Z]{2}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]


class HolidayIn(BaseModel):
    """One public holiday."""

    model_config = ConfigDict(extra="forbid")
    date: date
    name: Annotated[str, Field(min_length=1, max_length=120)]


class CalendarIn(BaseModel):
    """Decreed changes to one country's year: days off added, weekend days worked (the public
    holidays themselves come from the holidays package)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"holidays": [{"date": "2026-09-03", "name": "Nghỉ bù"}],
                          "working_days": [{"date": "2026-08-22", "name": "Làm bù"}]}]
        },
    )
    holidays: list[HolidayIn] = Field(max_length=60)
    working_days: list[HolidayIn] = Field(default_factory=list, max_length=60)


@router.get(
    "/calendars/{country}/{year}",
    response_model=Calendar,
    response_model_exclude_unset=True,
    responses=answers(Calendar, errors=(401, 403, 422)),
)
async def read_calendar(
    request: Request,
    country: Country,
    year: Year,
    _: Annotated[Principal, permit("calendars.read")],
) -> Calendar:
    """A country's public holidays and make-up working days in a year, and where they come
    from."""
    cw = request.app.state.cases
    holidays, origin = cw.calendars.year(country, year)
    return Calendar(
        country=country,
        year=year,
        origin=origin,
        holidays=[Day(date=h.day.isoformat(), name=h.name) for h in holidays],
        working_days=[Day(date=w.day.isoformat(), name=w.name)
                      for w in cw.calendars.working_days(country, year)],
    )


@router.put(
    "/calendars/{country}/{year}",
    response_model=CalendarSaved,
    response_model_exclude_unset=True,
    responses=answers(CalendarSaved),
)
async def write_calendar(
    request: Request,
    country: Country,
    year: Year,
    body: CalendarIn,
    principal: Annotated[Principal, permit("calendars.write")],
) -> CalendarSaved:
    """Replace a year's decreed changes on this node (administrators)."""
    for what, days in (("holidays", body.holidays), ("working_days", body.working_days)):
        for index, holiday in enumerate(days, start=1):
            if holiday.date.year != year:
                raise CalendarError("{what}[{index}].date: a day of {year}", what=what,
                                    index=index, year=year)
    cw = case_work(request)
    cw.calendars.save(
        country,
        year,
        [{"date": h.date.isoformat(), "name": h.name} for h in body.holidays],
        [{"date": w.date.isoformat(), "name": w.name} for w in body.working_days],
    )
    await cw.node.audit(principal.actor, "calendar.saved", f"{country}/{year}",
                        holidays=len(body.holidays))
    return CalendarSaved(country=country, year=year, origin="local",
                         holidays=len(body.holidays))


@router.get(
    "/partners",
    response_model=PartnerList,
    response_model_exclude_unset=True,
    responses=answers(PartnerList, errors=(401, 403)),
)
async def partners(
    request: Request, _: Annotated[Principal, permit("partners.read")]
) -> PartnerList:
    """The partner directory with key states and delivery health."""
    cw = case_work(request)
    stats = {s.recipient: s for s in await outbox_stats(cw.node)}
    now = cw.clock()
    out = []
    for partner in cw.node.partners.all():
        stat = stats.get(partner.node_id)
        out.append(
            {
                "id": partner.node_id,
                "country": partner.file.country,
                "name": partner.file.name,
                "languages": partner.file.languages,
                "delivery": partner.file.delivery,
                "endpoint": partner.file.endpoint,
                "keys": [
                    {
                        "kid": kid,
                        "state": state,
                        "not_after": next(
                            (
                                k.not_after.isoformat()
                                for k in partner.file.keys
                                if k.kid == kid and k.not_after
                            ),
                            None,
                        ),
                    }
                    for kid, state in partner.key_states(now)
                ],
                "outbox_depth": int(stat.depth) if stat else 0,
                "oldest_undelivered": stat.oldest.isoformat() if stat and stat.oldest else None,
            }
        )
    return PartnerList(partners=out)


@router.get(
    "/audit",
    response_model=AuditEntries,
    response_model_exclude_unset=True,
    responses=answers(AuditEntries),
)
async def audit_log(
    request: Request,
    _: Annotated[Principal, permit("audit.read")],
    actor: Annotated[str | None, Query(max_length=120)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=120)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditEntries:
    """The audit log, newest first (auditors)."""
    cw = case_work(request)
    found = await audit.listed_entries(cw, actor=actor, action=action, subject=subject,
                                       before=before, limit=limit)
    return AuditEntries(entries=found)


@router.get(
    "/audit/verify",
    response_model=ChainVerdict,
    response_model_exclude_unset=True,
    responses=answers(ChainVerdict, errors=(401, 403)),
)
async def audit_verify(
    request: Request, _: Annotated[Principal, permit("audit.read")]
) -> ChainVerdict:
    """Re-compute the audit chain: intact, or the first entry altered or missing."""
    cw = case_work(request)
    verdict = await audit.verified_chain(cw)
    return ChainVerdict(intact=verdict.intact, entries=verdict.entries,
                        broken_at=verdict.broken_at, reason=verdict.reason)
