"""Composing documents in the console: a form generated from the type's schema, filled in
from the case, the directory and the user (:mod:`gateway.cases.composing`), with pickers in
words wherever a field refers to something the case holds, and every error of the document
in one round beside its field; saved drafts and drafts sent back open again in the same form,
with their attachments.

Chosen files are checked by their bytes and travel byte for byte; when the form is refused
for another field they are held on the server (sealed) and come back with it.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from gateway.access.sessions import Principal
from gateway.cases import composing, flows, uploads
from gateway.cases.composing import NewDocument
from gateway.cases.effects import WITHOUT_CASE
from gateway.cases.view_types import DraftView
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.catalog import Catalogs
from gateway.documents.fielderrors import field_errors, normal_key
from gateway.protocol.envelope import HANDLING_CODES, PRIORITIES
from gateway.protocol.errors import Message
from gateway.protocol.problems import Problem, status_of
from gateway.web import forms
from gateway.web.auth import case_work
from gateway.web.console.codelists import countries, languages
from gateway.web.console.pages import (
    Redirect,
    Refused,
    RowId,
    books,
    language,
    page,
    posted,
    spoken,
    user,
)

router = APIRouter(include_in_schema=False)
#: A file input chosen at the field that names it: ``file:<the field's key>``.
_FILE_PREFIX: Final = "file:"
#: Form inputs that are the message's, not the document's.
_MESSAGE_KEYS: Final = frozenset({"csrf", "to", "priority", "handling", "lang", "action",
                                  "ref", "held", "keep", "files", "person"})


@router.get("/cases/{case_id}/compose")
async def choose_type(request: Request, case_id: RowId, type: str = "") -> Response:  # noqa: A002
    """The compose menu of the case page lands here."""
    await user(request, "drafts.write")
    cw = case_work(request)
    known = type in cw.forms.registry.types() and type not in WITHOUT_CASE
    raise Redirect(f"/cases/{case_id}/compose/{type}" if known else f"/cases/{case_id}")


def _form(request: Request, principal: Principal, cw: CaseWork, new: NewDocument,
          doc_type: str, values: dict[str, str], errors: dict[str, list[str]], *,
          status: int = 200, message: str | None = None, draft: DraftView | None = None,
          held: list[tuple[str, uploads.Upload]] | None = None,
          kept: list[dict[str, str]] | None = None) -> HTMLResponse:
    if doc_type not in cw.forms.registry.types() or doc_type in WITHOUT_CASE:
        raise Refused("not-found")
    model = cw.forms.model(doc_type)
    lang = language(request)
    case = new.case
    action = f"/drafts/{draft['id']}" if draft else f"/cases/{case['id']}/compose/{doc_type}"
    return page(request, "compose.html", principal, status, case=case, doc_type=doc_type,
                fields=forms.form_fields(model, values=values), values=values, errors=errors,
                partners=[p.node_id for p in cw.node.partners.all()], message=message,
                action=action, draft=draft, held=held or [], kept=kept or [],
                priorities=PRIORITIES, handling_codes=HANDLING_CODES,
                countries=countries(lang), languages=languages(lang),
                language_names=dict(languages(lang)),
                persons=new.persons, received=new.received, confirmations=new.confirmations,
                blocked=new.blocked,
                nodes=[cw.node.node_id, *(p.node_id for p in cw.node.partners.all())],
                victims=[p for p in new.persons if p.role == "victim"],
                # the fields to correct: a refusal of the whole document is said at the top
                field_errors={k: v for k, v in errors.items() if k not in ("", "type")},
                filled=lambda prefix: any(k.startswith(prefix) and v for k, v in values.items()),
                errors_under=lambda prefix: any(k.startswith(prefix) for k in errors))


def _say(book: Catalogs, lang: str, reason: str) -> str:
    """A sentence of :func:`field_errors` in ``lang`` (a :class:`Message` with its values)."""
    if isinstance(reason, Message):
        return reason.error.speak(lambda text: book.text(lang, text))
    return book.text(lang, reason)


@router.get("/cases/{case_id}/compose/{doc_type}")
async def compose_page(request: Request, case_id: RowId, doc_type: str,
                       person: str | None = None) -> HTMLResponse:
    """A new document on a case, filled in from what the case, the directory and the user
    know; ``person`` picks whom it is about where the case holds several."""
    principal = await user(request, "drafts.write")
    cw = case_work(request)
    if doc_type not in cw.forms.registry.types() or doc_type in WITHOUT_CASE:
        raise Refused("not-found")
    try:
        new = await composing.new_document(cw, principal, case_id, doc_type, person)
    except CaseError as exc:
        raise Refused("not-found") from exc
    values = forms.form_values(cw.forms.model(doc_type), new.document)
    values.update(to=new.to or "", priority=new.priority, ref=new.ref or "",
                  lang=language(request), handling="H1", person=person or "")
    return _form(request, principal, cw, new, doc_type, values, {})


@router.get("/drafts/{draft_id}")
async def draft_page(request: Request, draft_id: RowId) -> HTMLResponse:
    """A saved or returned draft in its form, with its values, attachments and the reason it
    came back."""
    principal = await user(request, "drafts.write")
    cw = case_work(request)
    opened = await flows.draft_form(cw, principal, draft_id)
    draft, files, new = opened.draft, opened.files, opened.new
    model = cw.forms.model(draft["type"], draft["version"])
    values = forms.form_values(model, draft["document"])
    values.update(to=draft["to"] or "", priority=draft["priority"] or "",
                  handling=draft["handling"] or "", lang=draft["lang"] or "",
                  ref=draft["ref"] or "")
    kept = [{"name": f["name"], "media_type": f["media_type"]} for f in files]
    return _form(request, principal, cw, new, draft["type"], values, {}, draft=draft,
                 kept=kept)


async def _uploads(raw_form: Any) -> list[uploads.Upload]:
    """The files chosen in this post, each checked by its bytes."""
    return [uploads.check_upload(value.filename, await value.read(), "attachments")
            for value in raw_form.getlist("files")
            if isinstance(value, UploadFile) and value.filename]


async def _picked(raw_form: Any, errors: dict[str, list[str]], request: Request
                  ) -> list[tuple[str, uploads.Upload]]:
    """Files chosen right at the field that names them (a photo, a scan): the field takes
    the file's name, nobody types it. A refused file is said beside its field."""
    out = []
    for name, value in raw_form.multi_items():
        if not (name.startswith(_FILE_PREFIX) and isinstance(value, UploadFile)
                and value.filename):
            continue
        key = name.removeprefix(_FILE_PREFIX)
        try:
            out.append((key, uploads.check_upload(value.filename, await value.read(), key)))
        except CaseError as exc:
            errors[normal_key(key)] = [spoken(request, exc)]
    return out


async def _save(request: Request, case_id: int | None, doc_type: str | None,
                draft_id: int | None) -> Response:
    """Parse the posted form (files checked by their bytes), then save it in one use case
    (:func:`flows.save_compose_form`); a refusal comes back in the form, every error beside
    its field."""
    principal = await user(request, "drafts.write")
    form = await posted(request, principal)
    raw_form = await request.form()
    cw = case_work(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, list[str]] = {}
    picked = await _picked(raw_form, errors, request)
    chosen: list[uploads.Upload] = []
    try:
        chosen = await _uploads(raw_form)
    except CaseError as exc:
        errors["attachments"] = [spoken(request, exc)]
    compose_form = flows.ComposeForm(
        case_id=case_id, doc_type=doc_type, draft_id=draft_id,
        fields={k: v for k, v in values.items() if k not in _MESSAGE_KEYS},
        message={"to": str(form.get("to", "")), "priority": form.get("priority"),
                 "handling": form.get("handling"), "lang": form.get("lang") or "vi",
                 "ref": form.get("ref") or None},
        keep=frozenset(str(v) for v in raw_form.getlist("keep")),
        held=[str(v) for v in raw_form.getlist("held")], picked=picked, chosen=chosen,
        submit=form.get("action") == "submit", files_refused=bool(errors))
    try:
        outcome = await flows.save_compose_form(
            cw, principal, compose_form,
            lambda doc_type, fields: forms.document_from_form(cw.forms.model(doc_type), fields))
    except CaseError as exc:
        raise Refused("not-found") from exc
    values.update(outcome.named)
    if outcome.new is None:
        done = {"sent": "sent", "submitted": "submitted"}.get(outcome.state or "",
                                                              "draft-saved")
        raise Redirect(f"/cases/{outcome.case_id}?done={done}")
    book, lang = books(request), language(request)
    code, message = "invalid-request", None
    refusal = outcome.refusal
    if isinstance(refusal, Problem):
        code = refusal.code
        errors = {k: [_say(book, lang, r) for r in v] for k, v in field_errors(
            cw.forms.model(outcome.doc_type), outcome.document, list(refusal.errors),
            outcome.doc_type).items()}
        message = book.text(lang, "The document is not complete: see the fields marked.")
    elif isinstance(refusal, CaseError):
        code = refusal.code
        errors = {normal_key(refusal.field or ""): [spoken(request, refusal)]}
        message = spoken(request, refusal)
    return _form(request, principal, cw, outcome.new, outcome.doc_type, values, errors,
                 status=status_of(code),
                 message=message or book.text(
                     lang, "The document is not complete: see the fields marked."),
                 draft=outcome.existing, held=outcome.waiting, kept=outcome.kept)


@router.post("/cases/{case_id}/compose/{doc_type}")
async def compose(request: Request, case_id: RowId, doc_type: str) -> Response:
    """Save the form as a draft and, if asked, submit it for release."""
    return await _save(request, case_id, doc_type, None)


@router.post("/drafts/{draft_id}")
async def save_draft(request: Request, draft_id: RowId) -> Response:
    """Save a changed draft and, if asked, submit it again."""
    return await _save(request, None, None, draft_id)
