"""Cases, persons, tasks and notes; overdue lists, C02's investigations, and search."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as FastPath
from pydantic import Field

from gateway.access.sessions import Principal
from gateway.cases import flows, lifecycle, service, views
from gateway.cases import special as special_data
from gateway.cases.commands import (
    BestInterests,
    NewCase,
    NewNote,
    NewPerson,
    NewTask,
    Referral,
    SearchIn,
    TaskDone,
    Transition,
)
from gateway.cases.lifecycle import Kind
from gateway.documents.render import DOCUMENT_HEADERS, html_to_pdf
from gateway.exchange import proofs
from gateway.protocol.envelope import Priority
from gateway.store.cases import CaseFilters
from gateway.web.auth import case_work, permit
from gateway.web.examples import answers, file_answers
from gateway.web.routing import LocalApiRoute
from gateway.web.views.cases import (
    BestInterestsRecorded,
    CaseDetail,
    CaseList,
    Created,
    InvestigationList,
    Lifecycles,
    MessageDocument,
    Moved,
    OverdueList,
    PersonDetail,
    SearchResults,
    TaskFinished,
)

router = APIRouter(prefix="/api", tags=["cases"], route_class=LocalApiRoute)

CaseId = Annotated[int, Field(ge=1, le=2**31 - 1, examples=[1])]


@router.get(
    "/cases",
    response_model=CaseList,
    response_model_exclude_unset=True,
    responses=answers(CaseList),
)
async def list_cases(
    request: Request,
    principal: Annotated[Principal, permit("cases.read")],
    kind: Kind | None = None,
    state: str | None = None,
    partner: str | None = None,
    unit: str | None = None,
    overdue: bool = False,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> CaseList:
    """Cases of the user's unit (all for C02's investigators), filtered by codes and ids
    (names and numbers are searched with ``POST /api/search``, never in a URL)."""
    filters: CaseFilters = {
        "kind": kind,
        "state": state,
        "partner": partner,
        "unit": unit,
        "overdue": overdue,
        "priority": priority,
        "limit": limit,
    }
    cw = case_work(request)
    found = await views.list_cases(cw, principal, filters)
    return CaseList(cases=found)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseDetail,
    response_model_exclude_unset=True,
    responses=answers(CaseDetail, 201),
)
async def open_case(
    request: Request, body: NewCase, principal: Annotated[Principal, permit("cases.create")]
) -> CaseDetail:
    """Open a case owned by the user's unit."""
    cw = case_work(request)
    return CaseDetail.model_validate(await flows.open_case_and_read(cw, principal, body))


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    response_model_exclude_unset=True,
    responses=answers(CaseDetail, errors=(401, 403, 404, 422)),
)
async def read_case(
    request: Request, case_id: CaseId, principal: Annotated[Principal, permit("cases.read")]
) -> CaseDetail:
    """A case: state and next steps, persons (without special data), tasks, notes, story,
    drafts and messages. Audited."""
    cw = case_work(request)
    return CaseDetail.model_validate(await views.case_detail(cw, principal, case_id))


@router.post(
    "/cases/{case_id}/transitions",
    response_model=Moved,
    response_model_exclude_unset=True,
    responses=answers(Moved, errors=(401, 403, 404, 409, 422)),
)
async def move_case(
    request: Request,
    case_id: CaseId,
    body: Transition,
    principal: Annotated[Principal, permit("cases.transition")],
) -> Moved:
    """Move a case to another state, if its lifecycle allows it now."""
    cw = case_work(request)
    state = await service.transition(cw, principal, case_id, body)
    return Moved(id=case_id, state=state)


@router.post(
    "/cases/{case_id}/best-interests",
    response_model=BestInterestsRecorded,
    response_model_exclude_unset=True,
    responses=answers(BestInterestsRecorded, errors=(401, 403, 404, 422)),
)
async def best_interests(
    request: Request,
    case_id: CaseId,
    body: BestInterests,
    principal: Annotated[Principal, permit("cases.best-interests")],
) -> BestInterestsRecorded:
    """Record whether return is in the child's best interests, with reasons (supervisors);
    a case under review goes back where it was."""
    cw = case_work(request)
    await service.record_best_interests(cw, principal, case_id, body)
    return BestInterestsRecorded(id=case_id, best_interests=True)


@router.post(
    "/cases/{case_id}/referral",
    response_model=Moved,
    response_model_exclude_unset=True,
    responses=answers(Moved, errors=(401, 403, 404, 409, 422)),
)
async def record_referral(
    request: Request,
    case_id: CaseId,
    body: Referral,
    principal: Annotated[Principal, permit("cases.transition")],
) -> Moved:
    """Record where the person handed over to this side was referred (MESSAGES.md: the home
    side's case then moves to ``received-and-referred``)."""
    cw = case_work(request)
    state = await service.record_referral(cw, principal, case_id, body)
    return Moved(id=case_id, state=state)


@router.post(
    "/cases/{case_id}/persons",
    status_code=201,
    response_model=Created,
    response_model_exclude_unset=True,
    responses=answers(Created, 201, errors=(401, 403, 404, 422)),
)
async def add_person(
    request: Request,
    case_id: CaseId,
    body: NewPerson,
    principal: Annotated[Principal, permit("persons.write")],
) -> Created:
    """Add a person to a case."""
    cw = case_work(request)
    person_id = await service.add_person_by_hand(cw, principal, case_id, body)
    return Created(id=person_id)


@router.get(
    "/cases/{case_id}/persons/{person_id}",
    response_model=PersonDetail,
    response_model_exclude_unset=True,
    responses=answers(PersonDetail, errors=(401, 403, 404, 422)),
)
async def read_person(
    request: Request,
    case_id: CaseId,
    person_id: CaseId,
    reason: Annotated[
        str, Query(min_length=3, max_length=500, description="Why you need it (audited)")
    ],
    principal: Annotated[Principal, permit("special.read")],
) -> PersonDetail:
    """A person with the special data the documents carry; needs a reason, audited."""
    cw = case_work(request)
    return PersonDetail.model_validate(
        await views.person_detail(cw, principal, case_id, person_id, reason))


@router.get(
    "/cases/{case_id}/messages/{message_id}",
    response_model=MessageDocument,
    response_model_exclude_unset=True,
    responses=answers(MessageDocument, errors=(401, 403, 404, 422)),
)
async def read_message(
    request: Request,
    case_id: CaseId,
    message_id: Annotated[str, FastPath(max_length=36)],
    principal: Annotated[Principal, permit("cases.read")],
    reason: Annotated[str | None, Query(min_length=3, max_length=500)] = None,
) -> MessageDocument:
    """A message of the case as JSON; special fields only with a reason (audited)."""
    cw = case_work(request)
    return MessageDocument.model_validate(
        await views.message_document(cw, principal, case_id, message_id, reason))


@router.get(
    "/cases/{case_id}/messages/{message_id}/print",
    responses=file_answers("The bilingual document, as a PDF (A4) or an HTML page",
                           {"application/pdf": "%PDF-1.7 ...", "text/html": "<!DOCTYPE html>..."},
                           errors=(401, 403, 404, 422)),
)
async def print_document(
    request: Request,
    case_id: CaseId,
    message_id: Annotated[str, FastPath(max_length=36)],
    principal: Annotated[Principal, permit("cases.read")],
    reason: Annotated[
        str, Query(min_length=3, max_length=500, description="Why it is printed (audited)")
    ],
    format: Literal["pdf", "html"] = "pdf",  # noqa: A002 - the query parameter's name
    lang: Literal["km", "lo", "en"] | None = None,
    special: bool = False,
) -> Response:
    """A message of the case as its bilingual document: Vietnamese beside the partner's
    language (or ``lang``). Special fields only with ``special=true`` for a role that may
    read them. Every print is audited as an export, with the reason."""
    printed = await special_data.print_of_case(case_work(request), principal, case_id,
                                           message_id, reason, lang, special, format)
    if format == "html":
        return Response(printed.html, media_type="text/html; charset=utf-8",
                        headers=DOCUMENT_HEADERS)
    pdf = await asyncio.to_thread(html_to_pdf, printed.html)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{printed.doc_type}-{message_id}.pdf"'},
    )


@router.post(
    "/cases/{case_id}/messages/{message_id}/proof",
    responses=file_answers("The proof bundle (PROTOCOL.md §4.8), a zip file that "
                           "tools/bxproof.py checks offline", {"application/zip": "PK..."},
                           errors=(401, 403, 404, 409, 422)),
)
async def proof_bundle(
    request: Request,
    case_id: CaseId,
    message_id: Annotated[str, FastPath(max_length=36)],
    principal: Annotated[Principal, permit("proofs.export")],
    reason: Annotated[
        str, Query(min_length=3, max_length=500, description="Why it is made (audited)")
    ],
) -> Response:
    """The proof bundle of a message of the case: the message as exchanged, its receipt,
    its audit entry and its inclusion under a checkpoint cosigned by the partner, and the
    keys. 409 while the partner has not cosigned a checkpoint that covers it yet (one was
    just sent: ask again shortly). Audited with the reason."""
    cw = case_work(request)
    _, row, _ = await special_data.message_with_grant(cw, principal, case_id, message_id)
    data = await proofs.export_bundle(cw.node, message_id, principal.actor, reason,
                                      within_case=True, sender=row.sender)  # the case's own
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="proof-{message_id}.zip"'})


@router.post(
    "/cases/{case_id}/tasks",
    status_code=201,
    response_model=Created,
    response_model_exclude_unset=True,
    responses=answers(Created, 201, errors=(401, 403, 404, 422)),
)
async def add_task(
    request: Request,
    case_id: CaseId,
    body: NewTask,
    principal: Annotated[Principal, permit("tasks.write")],
) -> Created:
    """A task with an owner and a due date."""
    cw = case_work(request)
    task_id = await service.user_task(cw, principal, case_id, body.title, body.due,
                           body.owner_user)
    return Created(id=task_id)


@router.post(
    "/tasks/{task_id}/done",
    response_model=TaskFinished,
    response_model_exclude_unset=True,
    responses=answers(TaskFinished, errors=(401, 403, 404, 409, 422)),
)
async def task_done(
    request: Request,
    task_id: CaseId,
    principal: Annotated[Principal, permit("tasks.write")],
    body: TaskDone = TaskDone(),  # noqa: B008 - an empty body is a task done without a note
) -> TaskFinished:
    """Mark a task done (who and when are recorded; a note may say how); its deadline
    closes."""
    cw = case_work(request)
    await service.complete_task(cw, principal, task_id, body)
    return TaskFinished(id=task_id, done=True)


@router.post(
    "/cases/{case_id}/notes",
    status_code=201,
    response_model=Created,
    response_model_exclude_unset=True,
    responses=answers(Created, 201, errors=(401, 403, 404, 422)),
)
async def add_note(
    request: Request,
    case_id: CaseId,
    body: NewNote,
    principal: Annotated[Principal, permit("notes.write")],
) -> Created:
    """A note on a case."""
    cw = case_work(request)
    note_id = await service.add_note(cw, principal, case_id, body)
    return Created(id=note_id)


@router.get(
    "/overdue",
    response_model=OverdueList,
    response_model_exclude_unset=True,
    responses=answers(OverdueList),
)
async def overdue(
    request: Request,
    principal: Annotated[Principal, permit("overdue.read")],
    scope: Literal["unit", "all"] = "unit",
) -> OverdueList:
    """Deadlines passed: the unit's, or every unit's (C02)."""
    cw = case_work(request)
    items = await views.overdue_items(cw, principal, scope)
    return OverdueList(overdue=items)


@router.get(
    "/investigations",
    response_model=InvestigationList,
    response_model_exclude_unset=True,
    responses=answers(InvestigationList, errors=(401, 403)),
)
async def investigations(
    request: Request, principal: Annotated[Principal, permit("investigations.read")]
) -> InvestigationList:
    """Joint investigations with partners: requests open, answers, overdue, suspects."""
    cw = case_work(request)
    return InvestigationList(investigations=await views.investigations(cw, principal))


@router.post(
    "/search",
    response_model=SearchResults,
    response_model_exclude_unset=True,
    responses=answers(SearchResults),
)
async def search(
    request: Request, body: SearchIn, principal: Annotated[Principal, permit("search")]
) -> SearchResults:
    """Cases and persons by name (any script, accents ignored), identifier, phone number or
    case reference. Posted, so that no name or number is in a URL (proxies and logs keep
    URLs); every search is audited, what it found or not."""
    cw = case_work(request)
    return SearchResults(results=await views.search(cw, principal, body.q))


@router.get(
    "/lifecycles",
    response_model=Lifecycles,
    response_model_exclude_unset=True,
    responses=answers(Lifecycles, errors=(401, 403)),
)
async def lifecycles(_: Annotated[Principal, permit("cases.read")]) -> Lifecycles:
    """The states of each kind of case."""
    return Lifecycles.model_validate(
        {kind: list(lifecycle.states_of(kind)) for kind in lifecycle.KINDS})
