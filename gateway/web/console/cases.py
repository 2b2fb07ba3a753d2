"""Console pages of a case: the list and search, the case page with its next steps (persons,
notes, tasks done, the best-interests decision), and each message as its bilingual document,
with its special data and attachments opened on purpose, with a reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Final, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.access.sessions import Principal
from gateway.cases import commands, lifecycle, printing, service, special, views
from gateway.cases.effects import ANSWERS, WITHOUT_CASE
from gateway.cases.view_types import CaseDetailView, FoundView
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.render import html_to_pdf
from gateway.exchange import proofs
from gateway.protocol.envelope import PRIORITIES
from gateway.protocol.errors import N_
from gateway.protocol.problems import status_of
from gateway.store.cases import CaseFilters
from gateway.web.auth import case_work
from gateway.web.console.codelists import countries
from gateway.web.console.pages import (
    Label,
    PostedForm,
    Redirect,
    RowId,
    attachment_response,
    document_response,
    labelled,
    language,
    page,
    posted,
    spoken,
    texts,
    user,
)

router = APIRouter(include_in_schema=False)
#: Sexes a person may be recorded with (the command's code list).
SEXES: Final = get_args(commands.Sex)
#: What the move form says when no state was chosen, and when an ending lacks its reason.
_CHOOSE: Final = N_("Choose the state to move the case to.")
_WHY: Final = N_("Say why the case ends.")
#: The inputs of the case page's forms as the forms label them: a refusal names the input by
#: what the officer reads beside it (the catalogs hold each label already).
_LABELS: Final[dict[str, Label]] = {
    "role": ("text", "Role"), "name_native": ("text", "Name (native script)"),
    "name_latin": ("text", "Name (Latin script)"), "sex": ("field", "sex"),
    "nationality": ("field", "nationality"), "birth_year": ("text", "Year of birth"),
    "text": ("text", "New note"), "note": ("text", "Note (optional)"),
    "to": ("text", "Move to"), "reason": ("text", "Reason"),
    "decision": ("text", "Best-interests decision"), "kind": ("text", "Referred to"),
    "facility": ("text", "Facility or family"),
}
#: The best-interests form calls its note the reasons.
_DECISION_LABELS: Final[dict[str, Label]] = {**_LABELS, "note": ("text", "Reasons")}
#: "Found a person" and the new case form.
_NEW_CASE_LABELS: Final[dict[str, Label]] = {
    "kind": ("text", "New case"), "partner": ("text", "Partner"),
    "priority": ("text", "Priority"),
    **{f"person.{k}": v for k, v in _LABELS.items() if k in (
        "name_native", "name_latin", "sex", "nationality", "birth_year")},
    "person.estimated_age": ("field", "estimated-age"),
    "person.age_uncertain": ("field", "age-uncertain"),
}


def _partners(cw: CaseWork) -> list[str]:
    return [p.node_id for p in cw.node.partners.all()]


@router.get("/cases")
async def cases_page(request: Request, kind: str = "", state: str = "", partner: str = "",
                     unit: str = "", overdue: str = "", priority: str = "") -> HTMLResponse:
    """Cases with filters (no personal data in the URL: name searches are posted)."""
    principal = await user(request, "cases.read")
    cw = case_work(request)
    filters: CaseFilters = {
        "kind": kind or None, "state": state or None, "partner": partner or None,
        "unit": unit or None, "overdue": overdue == "1", "priority": priority or None}
    found = await views.case_list(cw, principal, filters)
    return page(request, "cases.html", principal, cases=found.cases, filters=filters,
                results=None, kinds=lifecycle.KINDS, states=_all_states(),
                partners=_partners(cw), priorities=PRIORITIES, query="", units=found.units)


def _all_states() -> list[str]:
    seen: dict[str, None] = {}
    for kind in lifecycle.KINDS:
        seen.update(dict.fromkeys(lifecycle.states_of(kind)))
    return list(seen)


@router.post("/cases/search")
async def search_page(request: Request) -> HTMLResponse:
    """Search by name, identifier, phone or reference (posted, audited)."""
    principal = await user(request, "search")
    form = await posted(request, principal)
    cw = case_work(request)
    query = str(form.get("q", "")).strip()
    results: list[FoundView] = []
    error = None
    try:
        results = await views.search(cw, principal, query)
    except CaseError as exc:
        error = spoken(request, exc)
    return page(request, "cases.html", principal, cases=[], filters={}, results=results,
                kinds=lifecycle.KINDS, states=_all_states(), partners=_partners(cw),
                priorities=PRIORITIES, query=query, error=error)


#: The person found, as the home page's "found a person" form posts them.
_PERSON_FIELDS: Final = ("name_native", "name_latin", "sex", "estimated_age", "birth_year",
                         "nationality", "age_uncertain")


def new_case_command(form: PostedForm) -> commands.NewCase:
    """The case (and the person found, if the form names one) of a posted form."""
    values: dict[str, object] = dict(texts(form, "kind", "partner", "priority"))
    person = {k: v for k, v in texts(form, *(f"person_{f}" for f in _PERSON_FIELDS)).items()
              if v}
    if form.get("found") and not (person.get("person_name_native")
                                  or person.get("person_name_latin")):
        raise CaseError("invalid-request", N_("say the name of the person found (as written "
                                              "or in Latin letters)"), "person_name_native")
    if person:
        found: dict[str, str | bool] = {"role": "victim", **{k.removeprefix("person_"): v
                                                            for k, v in person.items()}}
        if "age_uncertain" in found:
            found["age_uncertain"] = found["age_uncertain"] == "true"
        values["person"] = found
    return commands.parse(commands.NewCase, values)


@router.post("/cases/new")
async def new_case(request: Request) -> Response:
    """Open a case in the user's unit, with the person found where the form names one."""
    principal = await user(request, "cases.create")
    form = await posted(request, principal)
    cw = case_work(request)
    try:
        case_id = await service.open_case(cw, principal, new_case_command(form))
    except CaseError as exc:
        found = await views.list_cases(cw, principal, {})
        return page(request, "cases.html", principal, status_of(exc.code), cases=found,
                    filters={}, results=None, kinds=lifecycle.KINDS, states=_all_states(),
                    partners=_partners(cw), priorities=PRIORITIES, query="",
                    error=labelled(request, exc, _NEW_CASE_LABELS), values=form,
                    countries=countries(language(request)), sexes=SEXES)
    raise Redirect(f"/cases/{case_id}?done=case-opened")


async def _case_page(request: Request, principal: Principal, case_id: int, status: int = 200,
                     errors: dict[str, str] | None = None,
                     values: PostedForm | None = None,
                     confirm_move: dict[str, str] | None = None) -> HTMLResponse:
    cw = case_work(request)
    case = await views.case_detail(cw, principal, case_id)
    types = [t for t in cw.forms.registry.types() if t not in WITHOUT_CASE]
    suggested = suggested_types(case, types)
    return page(request, "case.html", principal, status, case=case,
                suggested=suggested, others=[t for t in types if t not in suggested],
                errors=errors or {}, values=values or {}, sexes=SEXES,
                countries=countries(language(request)),
                roles=lifecycle.PERSON_ROLES, special_reasons=special.REASONS,
                referral_kinds=lifecycle.REFERRAL_KINDS, confirm_move=confirm_move)


#: The documents that fit a case's state, first in the compose menu (repatriation and
#: verification cases share a lifecycle; the finding side proposes the return).
_FITTING: Final[dict[str, tuple[str, ...]]] = {
    "detected": ("verification-request",),
    "screening": ("verification-request",),
    "verified": ("repatriation-request", "case-closure"),
    "not-national": ("case-closure", "verification-request"),
    "unable-to-verify": ("verification-request", "case-closure"),
    "repatriation-planned": ("handover-record",),
    "handed-over": ("case-closure",),
    "received-and-referred": ("case-closure",),
    "follow-up": ("case-closure",),
}
_FITTING_OF_KIND: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("investigation", "open"): ("investigation-update", "suspect-notice"),
    ("investigation", "active"): ("investigation-update", "suspect-notice", "case-closure"),
    ("hotline", "detected"): ("alert",),
}


def suggested_types(case: CaseDetailView, types: list[str]) -> list[str]:
    """The document types offered first: answers to what was received and not yet answered,
    then what the case's kind and state call for; nothing for a closed case, and never a
    type already waiting on the case as a draft (it would be sent twice)."""
    if case["state"] in lifecycle.TERMINAL:
        return []
    out = [ANSWERS[t["title"]] for t in case["tasks"]
           if t["kind"] == "answer" and not t["done_at"] and t["title"] in ANSWERS]
    answered = {m["type"] for m in case["messages"] if m["direction"] == "out"}
    out.extend(ANSWERS[m["type"]] for m in case["messages"]  # news on an alert received
               if m["direction"] == "in" and m["type"] == "alert"
               and ANSWERS["alert"] not in answered)
    if (case["kind"], case["state"]) in _FITTING_OF_KIND:
        out.extend(_FITTING_OF_KIND[case["kind"], case["state"]])
    elif case["kind"] in ("repatriation", "verification"):
        fitting = _FITTING.get(case["state"], ())
        if case["home_side"]:  # the home side answers a proposal, it does not make one
            fitting = tuple(t for t in fitting if t != "repatriation-request")
        out.extend(fitting)
    waiting = {d["type"] for d in case["drafts"] if d["state"] in ("draft", "submitted")}
    return [t for t in dict.fromkeys(out) if t in types and t not in waiting]


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: RowId) -> HTMLResponse:
    """A case: state and next steps, persons, tasks, notes, drafts and the message timeline."""
    principal = await user(request, "cases.read")
    return await _case_page(request, principal, case_id)


#: One case action: the door it calls, given the case work, the user and the posted form.
Action = Callable[[CaseWork, Principal, PostedForm], Awaitable[object]]


async def _act(request: Request, action: str, case_id: int, form_field: str, then: str,
               work: Action, asked: tuple[Principal, PostedForm] | None = None,
               labels: dict[str, Label] = _LABELS) -> Response:
    """Run one case action (one use case, its own transaction), then go to ``then`` (the
    case page, saying what was done); a refusal comes back beside its form. ``asked``: the
    user and the posted form when the caller has read them already."""
    if asked is None:
        principal = await user(request, action)
        form = await posted(request, principal)
    else:
        principal, form = asked
    try:
        await work(case_work(request), principal, form)
    except CaseError as exc:
        return await _case_page(request, principal, case_id, status_of(exc.code),
                                errors={form_field: labelled(request, exc, labels)},
                                values=form)
    raise Redirect(then)


@router.post("/cases/{case_id}/move")
async def move_case(request: Request, case_id: RowId) -> Response:
    """Move a case to one of its allowed next states. Closing or withdrawing it (after which
    it never changes again) is a second step: the page asks to confirm, with a reason, and
    only the confirmed form moves the case."""
    principal = await user(request, "cases.transition")
    form = await posted(request, principal)
    chosen = texts(form, "to", "reason", "confirmed")
    if not chosen["to"]:
        return await _case_page(request, principal, case_id, status_of("invalid-request"),
                                errors={"move": spoken(request, _CHOOSE)}, values=form)
    if chosen["to"] in lifecycle.TERMINAL and not (
            chosen["confirmed"] == "yes" and chosen["reason"]):
        unsaid = chosen["confirmed"] == "yes"  # confirmed, but without a reason
        return await _case_page(
            request, principal, case_id, status_of("invalid-request") if unsaid else 200,
            errors={"confirm": spoken(request, _WHY)} if unsaid else None, values=form,
            confirm_move=chosen)
    return await _act(request, "cases.transition", case_id, "move",
                      f"/cases/{case_id}?done=moved",
                      lambda cw, who, form: service.transition(
                          cw, who, case_id, commands.parse(commands.Transition,
                                                           texts(form, "to", "reason"))),
                      (principal, form))


@router.post("/cases/{case_id}/persons")
async def add_person(request: Request, case_id: RowId) -> Response:
    """Add a person by hand (victim, suspect, witness, relative)."""
    return await _act(request, "persons.write", case_id, "person",
                      f"/cases/{case_id}?done=person-added",
                      lambda cw, who, form: service.add_person_by_hand(
                          cw, who, case_id, commands.parse(commands.NewPerson, texts(
                              form, "role", "name_native", "name_latin", "sex",
                              "nationality", "birth_year", "person_ref"))))


@router.post("/cases/{case_id}/notes")
async def add_note(request: Request, case_id: RowId) -> Response:
    """A note on the case (sealed)."""
    return await _act(request, "notes.write", case_id, "note",
                      f"/cases/{case_id}?done=note-added",
                      lambda cw, who, form: service.add_note(
                          cw, who, case_id,
                          commands.parse(commands.NewNote, {"text": form.get("text")})))


@router.post("/cases/{case_id}/tasks/{task_id}/done")
async def task_done(request: Request, case_id: RowId, task_id: RowId) -> Response:
    """Mark a task done (who and when are recorded; a note may say how)."""
    return await _act(request, "tasks.write", case_id, f"task-{task_id}",
                      f"/cases/{case_id}?done=task-done",
                      lambda cw, who, form: service.complete_task_of_case(
                          cw, who, case_id, task_id,
                          commands.parse(commands.TaskDone, texts(form, "note"))))


@router.post("/cases/{case_id}/best-interests")
async def best_interests(request: Request, case_id: RowId) -> Response:
    """A supervisor's best-interests decision for a child, with reasons."""
    return await _act(request, "cases.best-interests", case_id, "best-interests",
                      f"/cases/{case_id}?done=best-interests-recorded",
                      lambda cw, who, form: service.record_best_interests(
                          cw, who, case_id, commands.parse(commands.BestInterests,
                                                           texts(form, "note", "decision"))),
                      labels=_DECISION_LABELS)


@router.post("/cases/{case_id}/referral")
async def referral(request: Request, case_id: RowId) -> Response:
    """The home side records where the person it received was referred; the case moves on."""
    return await _act(request, "cases.transition", case_id, "referral",
                      f"/cases/{case_id}?done=referral-recorded",
                      lambda cw, who, form: service.record_referral(
                          cw, who, case_id, commands.parse(
                              commands.Referral, texts(form, "kind", "facility", "note"))))


# -- a message as its document ------------------------------------------------------------

async def _message(request: Request, principal: Principal, case_id: int,
                   message_id: str) -> dict[str, object]:
    """What the message page shows (:class:`special.MessagePage`), as the template's
    values."""
    shown = await special.message_page(case_work(request), principal, case_id, message_id)
    return {f.name: getattr(shown, f.name) for f in fields(shown)}


@router.get("/cases/{case_id}/messages/{message_id}")
async def message_page(request: Request, case_id: RowId, message_id: str) -> HTMLResponse:
    """A message of the case: its document in the console's frame, with the way back, the
    print, its attachments and (for roles that may) the special data opened with a reason."""
    principal = await user(request, "cases.read")
    shown = await _message(request, principal, case_id, message_id)
    return page(request, "message.html", principal, 200, error=None, **shown)


async def _rendered(request: Request, case_id: int, message_id: str, *,
                    printing_it: bool) -> printing.Printed:
    """A message of the case rendered for this session: special data only under its grant;
    audited as a view on the screen, or as an export when it is printed."""
    principal = await user(request, "cases.read")
    use_case = special.print_under_grant if printing_it else special.view_under_grant
    return await use_case(case_work(request), principal, case_id, message_id)


@router.get("/cases/{case_id}/messages/{message_id}/document")
async def document_page(request: Request, case_id: RowId, message_id: str) -> Response:
    """The bilingual document itself (framed by the message page); special data shows only
    under this session's grant. Every view is audited as a view."""
    printed = await _rendered(request, case_id, message_id, printing_it=False)
    return document_response(printed.html)


@router.get("/cases/{case_id}/messages/{message_id}/pdf")
async def document_pdf(request: Request, case_id: RowId, message_id: str) -> Response:
    """The document as a PDF, with special data only under this session's grant; audited as
    an export."""
    printed = await _rendered(request, case_id, message_id, printing_it=True)
    pdf = await asyncio.to_thread(html_to_pdf, printed.html)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{printed.doc_type}-{message_id}.pdf"'})


@router.post("/cases/{case_id}/messages/{message_id}/special")
async def open_special(request: Request, case_id: RowId, message_id: str) -> Response:
    """Open the special data of one message, with a reason (audited)."""
    principal = await user(request, "special.read")
    form = await posted(request, principal)
    chosen = str(form.get("reason") or "").strip()
    typed = str(form.get("reason_text") or "").strip()
    reason = typed if chosen in ("", "other") else chosen
    cw = case_work(request)
    try:
        await special.grant(cw, principal, case_id, message_id, reason)
    except CaseError as exc:
        if exc.code == "not-found":
            raise  # the refusal page
        shown = await _message(request, principal, case_id, message_id)
        return page(request, "message.html", principal, status_of(exc.code),
                    error=spoken(request, exc), **shown)
    raise Redirect(f"/cases/{case_id}/messages/{message_id}?done=special-opened")


@router.post("/cases/{case_id}/messages/{message_id}/proof")
async def proof_bundle(request: Request, case_id: RowId, message_id: str) -> Response:
    """The proof bundle of a message of the case (PROTOCOL.md §4.8), with a reason
    (audited): from the case, so an H2 message's proof stays with the case's authorities."""
    principal = await user(request, "proofs.export")
    form = await posted(request, principal)
    reason = " ".join(str(form.get("reason") or "").split())
    cw = case_work(request)
    shown = await _message(request, principal, case_id, message_id)
    error: str | None = None
    if not reason or len(reason) > 500:
        error = spoken(request, N_("Say why the proof is made (at most 500 characters)."))
    else:
        try:
            data = await proofs.export_bundle(cw.node, message_id, principal.actor, reason,
                                              within_case=True, sender=str(shown["sender"]))
        except proofs.ProofError as exc:
            error = spoken(request, exc)
        else:
            return Response(data, media_type="application/zip", headers={
                "Content-Disposition": f'attachment; filename="proof-{message_id}.zip"'})
    return page(request, "message.html", principal, status_of("state-conflict"), error=None,
                proof_error=error, **shown)


@router.get("/cases/{case_id}/messages/{message_id}/attachments/{name}")
async def attachment(request: Request, case_id: RowId, message_id: str, name: str) -> Response:
    """An attachment as exchanged: images shown, PDFs downloaded; audited with the reason."""
    principal = await user(request, "special.read")
    cw = case_work(request)
    try:
        found = await special.attachment(cw, principal, case_id, message_id, name)
    except CaseError as exc:
        if exc.code == "forbidden":
            raise Redirect(f"/cases/{case_id}/messages/{message_id}") from exc
        raise  # the refusal page
    return attachment_response(found.name, found.data)

