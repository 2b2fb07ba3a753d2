"""The release queue: what waits for a supervisor's four eyes. Drafts of the unit, each with
its bilingual preview and its attachments (each opened on purpose, audited; a draft is
released once she has opened its preview and every attachment); the unit's periodic reports,
each with a preview read back from the bytes that will be signed. Release, or send back
with a reason."""

from __future__ import annotations

from typing import TypedDict

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from gateway.access.sessions import Principal
from gateway.cases import drafts, printing, review
from gateway.cases.work import CaseError
from gateway.documents.render import DRAFT_SOURCE
from gateway.protocol.problems import Problem, status_of
from gateway.reports import release as reports_release
from gateway.reports.periods import ReportError
from gateway.reports.preview import preview_html
from gateway.web.auth import case_work
from gateway.web.console.pages import (
    Redirect,
    Refused,
    RowId,
    attachment_response,
    books,
    directory_name,
    document_response,
    language,
    page,
    posted,
    spoken,
    user,
)

router = APIRouter(include_in_schema=False)


class QueueRefusal(TypedDict, total=False):
    """A refused release or send-back, said beside the draft or report it is about, with the
    reason that was typed."""

    draft: int
    report: int
    message: str
    reason: str | UploadFile


def _refusal(code: str) -> Exception:
    """What a refused read answers: the page not found (404), or not allowed (403)."""
    return HTTPException(404) if code == "not-found" else Refused(code)


async def _queue(request: Request, principal: Principal, status: int = 200,
                 error: QueueRefusal | None = None) -> HTMLResponse:
    cw = case_work(request)
    found = await reports_release.waiting(cw, principal)
    return page(request, "release.html", principal, status, queue=found["drafts"],
                reports=found["reports"], error=error)


@router.get("/release")
async def release_queue(request: Request) -> HTMLResponse:
    """Drafts and periodic reports waiting for a supervisor, each with its preview."""
    principal = await user(request, "drafts.release")
    return await _queue(request, principal)


@router.get("/release/{draft_id}/preview")
async def release_preview(request: Request, draft_id: RowId) -> Response:
    """The bilingual preview of a draft (a read of its data: audited; noted as seen)."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    try:
        full = await review.preview(cw, principal, draft_id)
    except CaseError as exc:
        raise _refusal(exc.code) from exc
    try:
        xml = cw.forms.build(full["type"], full["version"], full["document"])
    except Problem as problem:
        return document_response(f"<p>{problem.detail}</p>".replace("<", "&lt;"))
    langs = printing.partner_langs(cw, full["to"] or "", None)
    return document_response(printing.renderer(cw).html(
        full["type"], full["version"], xml, langs, show_special=True, source=DRAFT_SOURCE))


@router.get("/release/{draft_id}/attachments/{name}")
async def release_attachment(request: Request, draft_id: RowId, name: str) -> Response:
    """An attachment of a draft as it will go (a photo or scan of a person): images shown,
    PDFs downloaded, never cached; audited as a read of special data, noted as seen."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    try:
        found = await review.open_attachment(cw, principal, draft_id, name)
    except CaseError as exc:
        raise _refusal(exc.code) from exc
    return attachment_response(found.name, found.data)


@router.post("/release/{draft_id}")
async def release(request: Request, draft_id: RowId) -> Response:
    """Release (once the preview and every attachment were opened), or send back with a
    reason; the queue then says which was done."""
    principal = await user(request, "drafts.release")
    form = await posted(request, principal)
    cw = case_work(request)
    sending_back = form.get("action") == "return"
    try:
        if sending_back:
            await drafts.return_draft(cw, principal, draft_id,
                         str(form.get("reason", "")))
        else:
            await review.release_seen(cw, principal, draft_id)
    except CaseError as exc:
        return await _queue(request, principal, status_of(exc.code), error={
            "draft": draft_id, "message": spoken(request, exc),
            "reason": form.get("reason", "")})
    raise Redirect(f"/release?done={'returned' if sending_back else 'released'}")


@router.get("/release/reports/{release_id}/preview")
async def report_preview(request: Request, release_id: RowId) -> Response:
    """A submitted periodic report, read back from the bytes that will be signed, in the
    reader's language with English beneath."""
    principal = await user(request, "reports.send")
    cw = case_work(request)
    try:
        period, document = await reports_release.submitted_document(cw.node, principal,
                                                                    release_id)
    except ReportError as exc:
        raise _refusal(exc.code) from exc
    lang, book = language(request), books(request)
    return document_response(preview_html(
        document, book.get(lang), book.get("en"), lang, period,
        lambda node_id: directory_name(request, node_id, lang)))


@router.post("/release/reports/{release_id}")
async def release_report(request: Request, release_id: RowId) -> Response:
    """A second supervisor of the unit releases a submitted report (signed and queued for
    C02), or sends it back to its submitter with a reason."""
    principal = await user(request, "reports.send")
    form = await posted(request, principal)
    cw = case_work(request)
    sending_back = form.get("action") == "return"
    try:
        if sending_back:
            await reports_release.send_back(cw.node, principal, release_id,
                                            str(form.get("reason", "")))
        else:
            await reports_release.release(cw.node, principal, release_id)
    except ReportError as exc:
        return await _queue(request, principal, status_of(exc.code), error={
            "report": release_id, "message": spoken(request, exc),
            "reason": form.get("reason", "")})
    raise Redirect(f"/release?done={'report-returned' if sending_back else 'report-released'}")

