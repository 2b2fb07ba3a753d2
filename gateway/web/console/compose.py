"""Composing documents in the console: a form generated from the type's schema, filled in
from the case and the user, with every error of the document in one round beside its field;
saved drafts and drafts sent back open again in the same form, with their attachments.

Chosen files are checked by their bytes and travel byte for byte; when the form is refused
for another field they are held on the server (sealed) and come back with it.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from gateway.access.sessions import Principal
from gateway.cases import commands, deadlines, drafts, uploads, views
from gateway.cases.effects import WITHOUT_CASE
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.fielderrors import field_errors, normal_key
from gateway.documents.model import Field
from gateway.protocol.envelope import HANDLING_CODES, PRIORITIES
from gateway.protocol.problems import Problem, status_of
from gateway.web import forms
from gateway.web.auth import case_work
from gateway.web.console.countries import countries
from gateway.web.console.pages import (
    Redirect,
    Refused,
    books,
    directory_name,
    language,
    page,
    posted,
    spoken,
    user,
)

router = APIRouter(include_in_schema=False)
#: Form inputs that are the message's, not the document's.
_MESSAGE_KEYS: Final = frozenset({"csrf", "to", "priority", "handling", "lang", "action",
                                  "ref", "held", "keep", "files"})


@router.get("/cases/{case_id}/compose")
async def choose_type(request: Request, case_id: int, type: str = "") -> Response:  # noqa: A002
    """The compose menu of the case page lands here."""
    await user(request, "drafts.write")
    cw = case_work(request)
    known = type in cw.forms.registry.types() and type not in WITHOUT_CASE
    raise Redirect(f"/cases/{case_id}/compose/{type}" if known else f"/cases/{case_id}")


def prefill(model: Field, case: dict[str, Any], principal: Principal, unit_name: str,
            country: str, lang: str) -> dict[str, str]:
    """What the form can know before the officer types: the case reference, the person the
    case is about, the officer, the unit and the country (only keys the form has)."""
    victim = next((p for p in case["persons"] if p["role"] == "victim"), None)
    # only fields the document needs anyway: filling an optional group would make its own
    # required fields missing
    keys = {item.key for item in _flatten(forms.form_fields(model)) if item.required}
    values: dict[str, str] = {}

    def put(key: str, value: str | None) -> None:
        if value and key in keys:
            values[key] = value

    put("case-reference", case["reference"])
    for person in ("person", "subject", "victim.0", "person.0"):
        if victim:
            put(f"{person}.@person-id", victim["person_ref"])
            put(f"{person}.name.native", victim["name_native"])
            put(f"{person}.name.latin", victim["name_latin"])
            put(f"{person}.sex", victim["sex"] if victim["sex"] != "unknown" else None)
            put(f"{person}.claimed-nationality", victim["nationality"])
            put(f"{person}.nationality", victim["nationality"])
    for key in keys:
        if key.endswith(("officer.name.latin", "decided-by.name.latin")):
            put(key, principal.display_name or principal.username)
        elif key.endswith("unit.name.0.#text"):
            put(key, unit_name)
        elif key.endswith("unit.name.0.@lang"):
            put(key, lang)
        elif key.endswith("place.country"):
            put(key, country)
    return values


def _flatten(fields: list[forms.FormField]) -> list[forms.FormField]:
    out = []
    for item in fields:
        out.append(item)
        out.extend(_flatten(item.children))
    return out


def _form(request: Request, principal: Principal, cw: CaseWork, case: dict[str, Any],
          doc_type: str, values: dict[str, Any], errors: dict[str, list[str]], *,
          status: int = 200, message: str | None = None, draft: dict[str, Any] | None = None,
          held: list[tuple[str, uploads.Upload]] | None = None,
          kept: list[dict[str, Any]] | None = None) -> HTMLResponse:
    if doc_type not in cw.forms.registry.types() or doc_type in WITHOUT_CASE:
        raise Refused("not-found")
    model = cw.forms.model(doc_type)
    lang = language(request)
    action = f"/drafts/{draft['id']}" if draft else f"/cases/{case['id']}/compose/{doc_type}"
    return page(request, "compose.html", principal, status, case=case, doc_type=doc_type,
                fields=forms.form_fields(model), values=values, errors=errors,
                partners=[p.node_id for p in cw.node.partners.all()], message=message,
                action=action, draft=draft, held=held or [], kept=kept or [],
                priorities=PRIORITIES, handling_codes=HANDLING_CODES,
                countries=countries(lang),
                filled=lambda prefix: any(k.startswith(prefix) and v for k, v in values.items()),
                errors_under=lambda prefix: any(k.startswith(prefix) for k in errors))


async def _case(cw: CaseWork, principal: Principal, case_id: int) -> dict[str, Any]:
    try:
        return await cw.run(views.case_detail, principal, case_id)
    except CaseError as exc:
        raise Refused("not-found") from exc


@router.get("/cases/{case_id}/compose/{doc_type}")
async def compose_page(request: Request, case_id: int, doc_type: str) -> HTMLResponse:
    """A new document on a case, filled in from what the case and the user already know."""
    principal = await user(request, "drafts.write")
    cw = case_work(request)
    case = await _case(cw, principal, case_id)
    if doc_type not in cw.forms.registry.types() or doc_type in WITHOUT_CASE:
        raise Refused("not-found")
    lang = language(request)
    values = prefill(cw.forms.model(doc_type), case, principal,
                     directory_name(request, principal.unit, "vi"), cw.country,
                     "vi" if cw.country == "VN" else "en")
    values.setdefault("to", case["partner"] or "")
    values.setdefault("lang", lang)
    answered = answered_message(case, doc_type)
    if answered is not None:  # an answer refers to what it answers (PROTOCOL.md ``ref``)
        values.update(ref=answered["id"], to=answered["from"])
    return _form(request, principal, cw, case, doc_type, values, {})


def answered_message(case: dict[str, Any], doc_type: str) -> dict[str, Any] | None:
    """The newest received message of the case that a document of ``doc_type`` answers."""
    wanted = next((q for q, a in deadlines.ANSWERED_BY.items() if a == doc_type), None)
    received = [m for m in case["messages"] if m["direction"] == "in" and m["type"] == wanted]
    return received[-1] if received else None


@router.get("/drafts/{draft_id}")
async def draft_page(request: Request, draft_id: int) -> HTMLResponse:
    """A saved or returned draft in its form, with its values, attachments and the reason it
    came back."""
    principal = await user(request, "drafts.write")
    cw = case_work(request)
    try:
        draft, files = await cw.run(drafts.draft_for_edit, principal, draft_id)
    except CaseError as exc:
        raise Refused("not-found") from exc
    case = await _case(cw, principal, draft["case_id"])
    model = cw.forms.model(draft["type"], draft["version"])
    values = forms.form_values(model, draft["document"])
    values.update({k: draft[k] or "" for k in ("to", "priority", "handling", "lang", "ref")})
    kept = [{"name": f["name"], "media_type": f["media_type"]} for f in files]
    return _form(request, principal, cw, case, draft["type"], values, {}, draft=draft,
                 kept=kept)


async def _uploads(raw_form: Any) -> list[uploads.Upload]:
    """The files chosen in this post, each checked by its bytes."""
    return [uploads.check_upload(value.filename, await value.read(), "attachments")
            for value in raw_form.getlist("files")
            if isinstance(value, UploadFile) and value.filename]


async def _save(request: Request, case_id: int | None, doc_type: str | None,  # noqa: PLR0915
                draft_id: int | None) -> Response:
    principal = await user(request, "drafts.write")
    form = await posted(request, principal)
    raw_form = await request.form()
    cw = case_work(request)
    existing: dict[str, Any] | None = None
    files: list[dict[str, str]] = []
    if draft_id is not None:
        try:
            found, files = await cw.run(drafts.draft_for_edit, principal, draft_id)
        except CaseError as exc:
            raise Refused("not-found") from exc
        existing = found
        case_id, doc_type = found["case_id"], found["type"]
    assert case_id is not None
    assert doc_type is not None
    case = await _case(cw, principal, case_id)
    if doc_type not in cw.forms.registry.types():
        raise Refused("not-found")
    model = cw.forms.model(doc_type)
    texts = {k: v for k, v in form.items() if isinstance(v, str) and k not in _MESSAGE_KEYS}
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    keep = {str(v) for v in raw_form.getlist("keep")}
    handles = [str(v) for v in raw_form.getlist("held")]
    document = forms.document_from_form(model, texts)
    book, lang = books(request), language(request)
    errors: dict[str, list[str]] = {}
    chosen: list[uploads.Upload] = []
    try:
        chosen = await _uploads(raw_form)
    except CaseError as exc:
        errors["attachments"] = [spoken(request, exc)]
    held = await cw.run(uploads.held, principal.actor, handles)
    attachments = [f for f in files if f["name"] in keep] + [
        u.as_attachment() for _, u in held] + [u.as_attachment() for u in chosen]
    body = {"type": doc_type, "to": str(form.get("to", "")), "priority": form.get("priority"),
            "handling": form.get("handling"), "lang": form.get("lang") or "vi",
            "ref": form.get("ref") or None, "document": document,
            "attachments": attachments}
    result: dict[str, Any] | None = None
    message = None
    code = "invalid-request"
    if not errors:
        try:
            command = commands.parse(commands.NewDraft, body)
            draft_id, result = await cw.run(
                drafts.save_with_held, principal, command, [h for h, _ in held], case_id=case_id,
                draft_id=draft_id, submit=form.get("action") == "submit")
        except Problem as problem:
            code = problem.code
            errors = {k: [book.text(lang, r) for r in v] for k, v in field_errors(
                model, document, list(problem.errors), doc_type).items()}
            message = book.text(lang, "The document is not complete: see the fields marked.")
        except CaseError as exc:
            code = exc.code
            errors = {normal_key(exc.field or ""): [spoken(request, exc)]}
            message = spoken(request, exc)
    if errors:
        new = await cw.run(uploads.hold, principal.actor, chosen)  # they wait with the form
        waiting = held + list(zip(new, chosen, strict=True))
        kept = [{"name": f["name"], "media_type": f["media_type"]} for f in files
                if f["name"] in keep]
        return _form(request, principal, cw, case, doc_type, values, errors,
                     status=status_of(code),
                     message=message or book.text(
                         lang, "The document is not complete: see the fields marked."),
                     draft=existing, held=waiting, kept=kept)
    done = {"sent": "sent", "submitted": "submitted"}.get(
        (result or {}).get("state", ""), "draft-saved")
    raise Redirect(f"/cases/{case_id}?done={done}")


@router.post("/cases/{case_id}/compose/{doc_type}")
async def compose(request: Request, case_id: int, doc_type: str) -> Response:
    """Save the form as a draft and, if asked, submit it for release."""
    return await _save(request, case_id, doc_type, None)


@router.post("/drafts/{draft_id}")
async def save_draft(request: Request, draft_id: int) -> Response:
    """Save a changed draft and, if asked, submit it again."""
    return await _save(request, None, None, draft_id)
