"""The console's suggested matches of a case: both persons side by side with the reasons and
their photos, and "Same person" / "Not the same person" with a confirmation (issue 25)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.cases import matcher
from gateway.cases.work import CaseError
from gateway.matching.model import Reason
from gateway.protocol.problems import status_of
from gateway.web.auth import case_work
from gateway.web.console.codelists import country_name
from gateway.web.console.pages import (
    Redirect,
    RowId,
    attachment_response,
    books,
    language,
    page,
    posted,
    spoken,
    texts,
    user,
)

router = APIRouter()


def _said(found: list[matcher.SuggestionView], translate: Callable[[str], str], lang: str
          ) -> list[tuple[matcher.SuggestionView, list[tuple[Reason, str]]]]:
    """Each suggestion with its reasons in the reader's words (countries by their names)."""
    return [(s, [(r, r.words(translate, lambda code: country_name(code, lang)))
                 for r in s.reasons]) for s in found]


async def _page(request: Request, case_id: int, status: int = 200, **context: object
                ) -> HTMLResponse:
    principal = await user(request, "matches.read")
    found = await matcher.case_suggestions(case_work(request), principal, case_id)
    translate = books(request).get(language(request)).gettext
    return page(request, "matches.html", principal, status, case_id=case_id,
                suggestions=_said(found, translate, language(request)),
                **context)


@router.get("/missing/{report_id}/matches")
async def report_matches_page(request: Request, report_id: RowId) -> HTMLResponse:
    """A report's suggestions still to decide, with the cases the reader may see (each shown
    is an audited read); decided on the case's page of suggestions."""
    principal = await user(request, "matches.read")
    found = await matcher.report_suggestions(case_work(request), principal, report_id)
    translate = books(request).get(language(request)).gettext
    return page(request, "matches.html", principal, report_id=report_id,
                suggestions=_said(found, translate, language(request)))


@router.get("/cases/{case_id}/matches")
async def matches_page(request: Request, case_id: RowId) -> HTMLResponse:
    """A case's suggestions still to decide (each shown is an audited read)."""
    return await _page(request, case_id)


@router.get("/cases/{case_id}/matches/{suggestion_id}/photo")
async def person_photo(request: Request, case_id: RowId, suggestion_id: RowId) -> Response:
    """The photo of a suggestion's case person, beside the report's (an audited read)."""
    principal = await user(request, "matches.read")
    found = await matcher.person_photo(case_work(request), principal, case_id, suggestion_id)
    return attachment_response(found.name, found.data)


@router.post("/cases/{case_id}/matches/{suggestion_id}")
async def decide(request: Request, case_id: RowId, suggestion_id: RowId) -> Response:
    """Decide a suggestion; the page asks to confirm first, and only the confirmed form
    decides."""
    principal = await user(request, "matches.decide")
    form = texts(await posted(request, principal), "decision", "confirmed")
    if form["decision"] not in matcher.DECISIONS:
        return await _page(request, case_id, status_of("invalid-request"))
    if form["confirmed"] != "yes":
        return await _page(request, case_id, confirm=(suggestion_id, form["decision"]))
    try:
        await matcher.decide(case_work(request), principal, suggestion_id, form["decision"])
    except CaseError as exc:
        return await _page(request, case_id, status_of(exc.code), error=spoken(request, exc))
    if form["decision"] == "confirm":
        raise Redirect(f"/cases/{case_id}/matches?done=match-confirmed")
    raise Redirect(f"/cases/{case_id}/matches?done=match-rejected")
