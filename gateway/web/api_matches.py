"""Matching: a found person's matches (``POST /api/matches``) and a case's persons' matches
(``GET /api/cases/{id}/matches``), each with its reasons in the reader's language
(``Accept-Language``, else the console's language cookie, else the node's own language).

Bodies are read strictly (:mod:`gateway.web.jsonbody`). Every call is audited as a read of
special data, with ids and counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from gateway.access.sessions import Principal
from gateway.cases import matcher, matching
from gateway.cases.missing_commands import MatchQuery
from gateway.documents.catalog import LOCALES, catalogs
from gateway.matching.person import Person
from gateway.trust.names import home_language
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers
from gateway.web.jsonbody import strict_json
from gateway.web.routing import LocalApiRoute
from gateway.web.views.matches import (
    CaseMatchesView,
    Decided,
    Matches,
    MatchView,
    PersonMatches,
    Why,
)

router = APIRouter(prefix="/api", tags=["matching"], route_class=LocalApiRoute)
Id = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[7])]
_LANG_COOKIE = "bx_lang"


def reader_language(request: Request) -> str:
    """The reader's language: the first of ``Accept-Language`` the node speaks, else the
    console's choice, else the node's country's language, else English."""
    for part in request.headers.get("accept-language", "").split(",")[:8]:
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    chosen = request.cookies.get(_LANG_COOKIE, "")
    if chosen in LOCALES:
        return chosen
    home = home_language(case_work(request).node.node_id)
    return home if home in LOCALES else "en"


def _translator(request: Request) -> Callable[[str], str]:
    book = catalogs(case_work(request).node.settings.translations_dir)
    return book.get(reader_language(request)).gettext


def _view(found: matching.Found, translate: Callable[[str], str]) -> MatchView:
    return MatchView(kind=found.kind, id=found.id, case_id=found.case_id, score=found.score,
                     suggested=found.suggested,
                     why=[Why(field=r.field, agreement=r.agreement, weight=r.weight,
                              words=r.words(translate)) for r in found.reasons])


@router.post(
    "/matches",
    response_model=Matches,
    responses=answers(Matches, errors=(401, 403, 422)),
    openapi_extra=strict_json(),
)
async def match(
    request: Request,
    body: MatchQuery,
    principal: Annotated[Principal, permit("matches.read")],
) -> Matches:
    """The missing-person reports and case persons most likely the same person as the one
    given (PERSON), best first: ``score`` is a calibrated probability, ``suggested`` says it
    is above the node's threshold, ``why`` says field by field what agreed. Audited."""
    person = Person.from_json(body.person.model_dump(mode="json"))
    found = await matching.match_person(case_work(request), principal, person, body.limit)
    translate = _translator(request)
    return Matches(matches=[_view(f, translate) for f in found])


@router.get(
    "/cases/{case_id}/matches",
    response_model=CaseMatchesView,
    responses=answers(CaseMatchesView, errors=(401, 403, 404, 422)),
)
async def case_matches(
    request: Request,
    case_id: Id,
    principal: Annotated[Principal, permit("matches.read")],
    limit: Annotated[int, Query(ge=1, le=matching.MAX_LIMIT)] = 10,
) -> CaseMatchesView:
    """Each person of a case with the open reports and other cases' persons most likely the
    same person (never the case's own). Audited."""
    found = await matching.match_case(case_work(request), principal, case_id, limit)
    translate = _translator(request)
    return CaseMatchesView(persons=[
        PersonMatches(person_id=p.person_id, matches=[_view(f, translate) for f in p.matches])
        for p in found])


@router.post(
    "/matches/{suggestion_id}/{decision}",
    response_model=Decided,
    responses=answers(Decided, errors=(401, 403, 404, 409, 422)),
)
async def decide(
    request: Request,
    suggestion_id: Id,
    decision: Literal["confirm", "reject"],
    principal: Annotated[Principal, permit("matches.decide")],
) -> Decided:
    """Decide a suggestion of the caller's unit's case: ``confirm`` (the same person: the
    report is linked to the case and leaves the open list, its recording unit is told) or
    ``reject`` (the pair is never suggested again). Audited."""
    state = await matcher.decide(case_work(request), principal, suggestion_id, decision)
    return Decided(id=suggestion_id, state=state)
