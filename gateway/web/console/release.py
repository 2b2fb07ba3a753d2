"""The release queue: drafts waiting for a supervisor, each with its bilingual preview;
release (four eyes) or send back with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.cases import drafts, printing
from gateway.cases.work import CaseError
from gateway.documents.render import DRAFT_SOURCE
from gateway.protocol.problems import Problem, status_of
from gateway.web.auth import case_work
from gateway.web.console.pages import (
    Redirect,
    Refused,
    document_response,
    page,
    posted,
    spoken,
    user,
)

router = APIRouter(include_in_schema=False)


@router.get("/release")
async def release_queue(request: Request) -> HTMLResponse:
    """Drafts waiting for a supervisor, each with its bilingual preview."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    queue = await cw.run(drafts.list_drafts, principal, "submitted")
    return page(request, "release.html", principal, queue=queue, error=None)


@router.get("/release/{draft_id}/preview")
async def release_preview(request: Request, draft_id: int) -> Response:
    """The bilingual preview of a draft (a read of its data: audited)."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    try:
        full = await cw.run(drafts.read_draft, principal, draft_id)
    except CaseError as exc:
        raise Refused("not-found") from exc
    try:
        xml = cw.forms.build(full["type"], full["version"], full["document"])
    except Problem as problem:
        return document_response(f"<p>{problem.detail}</p>".replace("<", "&lt;"))
    langs = printing.partner_langs(cw, full["to"], None)
    return document_response(printing.renderer(cw).html(
        full["type"], full["version"], xml, langs, show_special=True, source=DRAFT_SOURCE))


@router.post("/release/{draft_id}")
async def release(request: Request, draft_id: int) -> Response:
    """Release, or send back with a reason; the queue then says which was done."""
    principal = await user(request, "drafts.release")
    form = await posted(request, principal)
    cw = case_work(request)
    sending_back = form.get("action") == "return"
    try:
        if sending_back:
            await cw.run(drafts.return_draft, principal, draft_id, str(form.get("reason", "")))
        else:
            await cw.run(drafts.release_draft, principal, draft_id)
    except CaseError as exc:
        queue = await cw.run(drafts.list_drafts, principal, "submitted")
        return page(request, "release.html", principal, status_of(exc.code), queue=queue,
                    error={"draft": draft_id, "message": spoken(request, exc),
                           "reason": form.get("reason", "")})
    raise Redirect(f"/release?done={'returned' if sending_back else 'released'}")
