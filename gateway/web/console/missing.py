"""Console pages of missing-person reports: the form and the open list (``/missing``, reached
from the hotline desk, the home page and the investigator's desk), a report's page (an
audited read) with its photo, closing a report with a confirmation, and the reporter for a
supervisor of the recording unit.

The form's inputs are named by the command's own paths (``person.name_latin``,
``last_seen.place.province``), so that a refusal lands beside the input it names."""

from __future__ import annotations

import base64
import itertools
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from gateway.access.sessions import Principal
from gateway.cases import commands, missing
from gateway.cases.missing_commands import (
    CLOSE_REASONS,
    MAX_PHOTO,
    CloseReport,
    NewMissingPerson,
    PaperKind,
)
from gateway.cases.work import CaseError
from gateway.protocol.encoding import JsonObject, JsonValue
from gateway.protocol.envelope import sniff_media_type
from gateway.protocol.errors import N_
from gateway.protocol.problems import status_of
from gateway.web import forms
from gateway.web.auth import case_work
from gateway.web.console.pages import (
    FieldRefusal,
    PostedForm,
    Redirect,
    attachment_response,
    beside,
    page,
    posted,
    spoken,
    user,
)

router = APIRouter(include_in_schema=False)
#: A report's number as the path gives it (beyond the database's integers: refused, not a
#: server error).
ReportId = Annotated[int, Path(ge=1, le=2**31 - 1)]

SEXES: Final = ("female", "male", "unknown")
PAPER_KINDS: Final[tuple[str, ...]] = get_args(PaperKind)
#: The form's text inputs, by the command's paths.
_TEXTS: Final = (
    "person.name_latin", "person.name_native", "person.sex", "person.nationality",
    "person.home.country", "person.home.province", "person.home.district",
    "person.home.commune", "person.papers.0.kind", "person.papers.0.number",
    "person.papers.0.country", "last_seen.place.country", "last_seen.place.province",
    "last_seen.place.district", "last_seen.place.details", "reporter_relation", "narrative",
    "reporter.name", "reporter.phone")


def _put(target: JsonObject, path: str, value: JsonValue) -> None:
    """``value`` at the dotted ``path`` of nested dicts (a number makes a list's place)."""
    names = path.split(".")
    here: JsonValue = target
    for name, after in itertools.pairwise(names):
        if isinstance(here, list):
            while len(here) <= int(name):
                here.append({})
            here = here[int(name)]
        elif isinstance(here, dict):
            here = here.setdefault(name, [] if after.isdigit() else {})
        else:
            raise TypeError(f"{path}: {name} is under a value, not a group")
    if isinstance(here, list):
        here.append(value)
    elif isinstance(here, dict):
        here[names[-1]] = value
    else:
        raise TypeError(f"{path} is under a value, not a group")


async def _photo(form: PostedForm) -> JsonObject | None:
    """The chosen photo as the command takes it (its type as its bytes show; a file that is
    no image is left for the command to refuse beside the input)."""
    chosen = form.get("photo")
    if not isinstance(chosen, UploadFile) or not chosen.filename:
        return None
    data = await chosen.read(MAX_PHOTO + 1)  # one byte more than allowed: refused by size
    shown = sniff_media_type(data)
    return {"media_type": shown if shown in ("image/jpeg", "image/png") else "image/jpeg",
            "data": base64.b64encode(data).decode()}


async def report_body(form: PostedForm) -> JsonObject:
    """The posted form as the command's JSON (empty inputs and groups left out)."""
    body: JsonObject = {}
    for name in _TEXTS:
        value = str(form.get(name) or "").strip()
        if value:
            _put(body, name, value)
    birth = str(form.get("birth_date") or form.get("birth_year") or "").strip()
    if birth:
        _put(body, "person.birth", birth)
    age = str(form.get("person.estimated_age") or "").strip()
    if age:
        _put(body, "person.estimated_age", int(age) if age.isdigit() else age)
    phones: list[JsonValue] = [p.strip() for p in str(form.get("person.phones") or "").split(",")
                               if p.strip()]
    if phones:
        _put(body, "person.phones", phones)
    seen = str(form.get("last_seen.time") or "").strip()
    if seen:
        _put(body, "last_seen.time", forms.local_to_utc(seen))
    photo = await _photo(form)
    if photo:
        body["photo"] = photo
    body.setdefault("person", {})
    return body


async def _missing_page(request: Request, principal: Principal, status: int = 200,
                        values: dict[str, str] | None = None,
                        error: FieldRefusal | None = None) -> HTMLResponse:
    state = request.query_params.get("state", "open")
    shown = state if state in missing.STATES else "open"
    reports = await missing.list_reports(case_work(request), principal, shown)
    return page(request, "missing.html", principal, status, reports=reports, state=shown,
                states=missing.STATES, values=values or {}, error=error, sexes=SEXES,
                relations=missing.RELATIONS, paper_kinds=PAPER_KINDS)


@router.get("/missing")
async def missing_page(request: Request) -> HTMLResponse:
    """The reports of the node (the open ones first) and the form to record one."""
    principal = await user(request, "missing.read")
    return await _missing_page(request, principal)


@router.post("/missing")
async def record_report(request: Request) -> Response:
    """Record a report; bad input comes back beside its field, with what was typed."""
    principal = await user(request, "missing.write")
    form = await posted(request, principal)
    try:
        command = commands.parse(NewMissingPerson, await report_body(form))
        recorded = await missing.record(case_work(request), principal, command)
    except CaseError as exc:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        chosen = form.get("photo")  # a browser never fills a file input again: say so
        if isinstance(chosen, UploadFile) and chosen.filename:
            values["photo_again"] = "yes"
        return await _missing_page(request, principal, status_of(exc.code), values=values,
                                   error={"field": exc.field, "message": beside(request, exc)})
    raise Redirect(f"/missing/{recorded.id}?done=missing-recorded")


async def _report_page(request: Request, principal: Principal, report_id: int,
                       status: int = 200, error: FieldRefusal | None = None,
                       reporter: Any = None, values: dict[str, str] | None = None
                       ) -> HTMLResponse:
    report = await missing.read_report(case_work(request), principal, report_id)
    return page(request, "missing_report.html", principal, status, report=report,
                error=error, reporter=reporter, reasons=CLOSE_REASONS, values=values or {})


@router.get("/missing/{report_id}")
async def report_page(request: Request, report_id: ReportId) -> HTMLResponse:
    """One report, whole (an audited read), to close or to go on with."""
    principal = await user(request, "missing.read")
    return await _report_page(request, principal, report_id)


@router.get("/missing/{report_id}/photo")
async def report_photo(request: Request, report_id: ReportId) -> Response:
    """A report's photo as its bytes show it (an audited read of its own)."""
    principal = await user(request, "missing.read")
    found = await missing.photo(case_work(request), principal, report_id)
    return attachment_response(f"{found.reference}.jpg", found.data)


@router.post("/missing/{report_id}/close")
async def close_report(request: Request, report_id: ReportId) -> Response:
    """Close a report: a reason, and a box ticked to confirm (a closed report is matched no
    more)."""
    principal = await user(request, "missing.write")
    form = await posted(request, principal)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        command = commands.parse(CloseReport, {"reason": form.get("reason"),
                                               "note": str(form.get("note") or "").strip()})
        if form.get("confirm") != "yes":
            raise CaseError("invalid-request", N_("Tick the box to confirm that the report "
                                                  "is closed."), "confirm")
        await missing.close(case_work(request), principal, report_id, command)
    except CaseError as exc:
        if exc.code == "not-found":
            raise  # the refusal page
        return await _report_page(request, principal, report_id, status_of(exc.code),
                                  error={"field": exc.field, "message": beside(request, exc)},
                                  values=values)
    raise Redirect("/missing?done=missing-closed")


@router.post("/missing/{report_id}/reporter")
async def report_reporter(request: Request, report_id: ReportId) -> HTMLResponse:
    """Who reported the person missing: a supervisor of the recording unit, with a reason;
    audited."""
    principal = await user(request, "missing.reporter.read")
    form = await posted(request, principal)
    try:
        identity = await missing.reporter_of(case_work(request), principal, report_id,
                                             str(form.get("reason") or ""))
    except CaseError as exc:
        if exc.code == "not-found":
            raise
        return await _report_page(request, principal, report_id, status_of(exc.code),
                                  error={"field": "reason", "message": spoken(request, exc)})
    return await _report_page(request, principal, report_id, reporter=identity or {})
