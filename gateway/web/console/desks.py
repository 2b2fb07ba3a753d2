"""Console desks beyond a single case: hotline intake and triage, the investigator's desk
(open requests per partner, overdue items, joint investigations, suspect notices), the
partner directory with delivery health, and the audit log for auditors."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import export as audit_export
from gateway.audit.export import csv_bytes
from gateway.audit.log import EntryFilters
from gateway.cases import commands, hotline
from gateway.cases import investigator_desk as investigator_desk_use_case
from gateway.cases.work import CaseError
from gateway.exchange import health, keyrefresh
from gateway.localtime import LOCAL_TIME
from gateway.protocol.errors import N_
from gateway.protocol.problems import status_of
from gateway.web import forms
from gateway.web.auth import case_work
from gateway.web.console.auditwords import AuditWords
from gateway.web.console.codelists import countries
from gateway.web.console.pages import (
    FieldRefusal,
    PostedForm,
    Redirect,
    RowId,
    books,
    language,
    page,
    posted,
    spoken,
    user,
)
from gateway.web.console.vocabulary import AUDIT_ACTIONS

router = APIRouter(include_in_schema=False)


async def _hotline(request: Request, principal: Principal, status: int = 200,
                   values: PostedForm | None = None,
                   error: FieldRefusal | None = None) -> HTMLResponse:
    cw = case_work(request)
    found = await hotline.desk(cw, principal)
    return page(request, "hotline.html", principal, status, tips=found.tips,
                values=values or {}, error=error, reviews=found.reviews, missing=found.missing,
                relations=hotline.RELATIONS, channels=hotline.CHANNELS, dangers=hotline.DANGER,
                countries=countries(language(request)), own_country=cw.country, now=cw.clock())


@router.get("/hotline")
async def hotline_page(request: Request) -> HTMLResponse:
    """One screen: take a tip down, see the open ones with their clocks; the hotline chief
    also sees the alerts released without a second person, to review."""
    principal = await user(request, "tips.read")
    return await _hotline(request, principal)


def _time(form: PostedForm, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    return forms.local_to_utc(value) if value else None


def _tip_body(form: PostedForm) -> dict[str, object]:
    """The posted tip as the command takes it (validated by :func:`commands.parse`)."""
    person = {k: form.get(f"person_{k}") for k in ("name_native", "name_latin", "sex",
                                                   "nationality")}
    age = str(form.get("person_age") or "").strip()
    persons = []
    if any(person.values()) or age:
        entry: dict[str, object] = {k: v for k, v in person.items() if v}
        entry.setdefault("sex", "unknown")
        if age.isdigit():
            entry["estimated_age"] = int(age)
        entry["age_uncertain"] = form.get("person_age_uncertain") == "on"
        persons.append(entry)
    reporter = {k: form.get(f"reporter_{k}") for k in ("name", "phone") if form.get(
        f"reporter_{k}")}
    return {
        "channel": form.get("channel"), "reporter_relation": form.get("reporter_relation"),
        "danger": form.get("danger"), "narrative": str(form.get("narrative") or ""),
        "received_at": _time(form, "received_at"), "last_seen_at": _time(form, "last_seen_at"),
        "location": {k: form.get(f"location_{k}") for k in ("country", "province", "details")
                     if form.get(f"location_{k}")},
        "foreign_country": form.get("foreign_country") or None,
        "child_involved": form.get("child_involved") == "on", "persons": persons,
        "reporter_identity": reporter or None}


@router.post("/hotline")
async def record_tip(request: Request) -> Response:
    """Record a tip; bad input comes back beside its field, with what was typed."""
    principal = await user(request, "tips.write")
    form = await posted(request, principal)
    try:
        recorded = await hotline.record_tip(case_work(request), principal,
                                            commands.parse(commands.NewTip, _tip_body(form)))
    except CaseError as exc:
        return await _hotline(request, principal, status_of(exc.code), values=form,
                              error={"field": exc.field, "message": spoken(request, exc)})
    raise Redirect(f"/hotline/{recorded.id}?done=tip-recorded")


async def _tip_page(request: Request, principal: Principal, tip_id: int, status: int = 200,
                    error: FieldRefusal | None = None, reporter: Any = None
                    ) -> HTMLResponse:
    cw = case_work(request)
    tip = await hotline.read_tip(cw, principal, tip_id)
    return page(request, "tip.html", principal, status, tip=tip, error=error,
                reporter=reporter, partners=[p.node_id for p in cw.node.partners.all()],
                classifications=hotline.CLASSIFICATIONS, urgencies=hotline.URGENCIES,
                now=cw.clock())


@router.get("/hotline/{tip_id}")
async def tip_page(request: Request, tip_id: RowId) -> HTMLResponse:
    """One tip to read and go on with: classify, escalate, resolve (audited read)."""
    principal = await user(request, "tips.read")
    return await _tip_page(request, principal, tip_id)


@router.post("/hotline/{tip_id}")
async def triage_tip(request: Request, tip_id: RowId) -> Response:
    """Triage, and escalate (with an alert to a partner) in the same action; or resolve."""
    principal = await user(request, "tips.write")
    form = await posted(request, principal)
    cw = case_work(request)
    action = str(form.get("action") or "triage")
    body = {"classification": form.get("classification"), "urgency": form.get("urgency"),
            "duplicate_of": int(str(form["duplicate_of"])) if str(
                form.get("duplicate_of") or "").isdigit() else None}
    try:
        if action == "resolve":
            await hotline.resolve(cw, principal, tip_id)
            result = None
        else:
            triage = commands.parse(commands.TipTriage, body) if (
                body["classification"] or action != "escalate") else None
            escalation = commands.parse(commands.Escalation, {
                "alert_to": form.get("alert_to"), "duty_phone": form.get("duty_phone"),
                "last_seen": _time(form, "last_seen")}) if action == "escalate" else None
            result = await hotline.triage_and_escalate(cw, principal, tip_id, triage,
                                                       escalation)
    except CaseError as exc:
        return await _tip_page(request, principal, tip_id, status_of(exc.code),
                               error={"field": exc.field, "message": spoken(request, exc)})
    if result and result.case_id:
        raise Redirect(f"/cases/{result.case_id}?done=escalated")
    raise Redirect(f"/hotline/{tip_id}?done={'resolved' if action == 'resolve' else 'classified'}")


@router.post("/hotline/{tip_id}/reporter")
async def tip_reporter(request: Request, tip_id: RowId) -> HTMLResponse:
    """Who called: the hotline chief (a supervisor), with a reason; audited."""
    principal = await user(request, "tips.reporter.read")
    form = await posted(request, principal)
    try:
        identity = await hotline.reporter_of(case_work(request), principal, tip_id,
                                             str(form.get("reason") or ""))
    except CaseError as exc:
        if exc.code == "not-found":
            raise  # the refusal page
        return await _tip_page(request, principal, tip_id, status_of(exc.code),
                               error={"field": "reason", "message": spoken(request, exc)})
    return await _tip_page(request, principal, tip_id, reporter=identity or {})


@router.get("/partners")
async def partners_page(request: Request) -> HTMLResponse:
    """The partner directory: each key with its thumbprint, state and end (warned 30 days
    ahead), delivery health per partner, this node's own keys, and (for administrators) the
    partners' new keys waiting to be confirmed."""
    principal = await user(request, "partners.read")
    return await _partners(request, principal)


@router.post("/partners/keys/{offer_id}")
async def decide_partner_key(request: Request, offer_id: RowId) -> Response:
    """An administrator pins, or refuses, a partner's new key (audited)."""
    principal = await user(request, "partners.keys")
    form = await posted(request, principal)
    action = form.get("action")
    if action not in ("accept", "reject"):
        return await _partners(request, principal, status_of("invalid-request"),
                               error=spoken(request, N_("Choose to pin the key or to refuse it.")))
    accept = action == "accept"
    try:
        await keyrefresh.decide(case_work(request).node, offer_id, accept, principal.actor)
    except keyrefresh.KeyRefreshError as exc:
        return await _partners(request, principal, status_of("state-conflict"),
                               error=spoken(request, exc))
    raise Redirect(f"/partners?done={'key-pinned' if accept else 'key-refused'}")


async def _partners(request: Request, principal: Principal, status: int = 200,
                    error: str | None = None) -> HTMLResponse:
    node = case_work(request).node
    found = await health.directory_health(node)
    offered = await keyrefresh.pending(node) if allowed(principal.role,
                                                        "partners.keys") else []
    return page(request, "partners.html", principal, status, offered=offered, error=error,
                **vars(found))


#: Entries per page of the audit log; the export takes all that match, up to its cap.
AUDIT_PAGE: Final = 100
AUDIT_EXPORT_CAP: Final = 100_000


def _audit_filters(source: Any) -> dict[str, str]:
    return {k: str(source.get(k) or "").strip()[:120] for k in (
        "actor", "action", "subject", "from", "to")}


def _day(text: str, end: bool = False) -> datetime | None:
    """A day picked in the node's zone as the UTC time it starts (or, for ``end``, the time
    the next day starts)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    start = datetime.combine(day, time(0), LOCAL_TIME)
    return (start + timedelta(days=1) if end else start).astimezone(UTC)


def _audit_query(filters: dict[str, str]) -> EntryFilters:
    """The auditor's filters as :func:`audit.entries` takes them (days in the node's zone)."""
    return {"actor": filters["actor"] or None, "action": filters["action"] or None,
            "subject": filters["subject"] or None, "since": _day(filters["from"]),
            "until": _day(filters["to"], end=True)}


def _audit_words(request: Request) -> AuditWords:
    """The audit log in this reader's words (units named by the node's name book)."""
    return AuditWords(books(request), language(request), case_work(request).node.names.name)


async def _audit_page(request: Request, principal: Principal, before: int | None,
                      filters: dict[str, str], status: int = 200,
                      error: str | None = None) -> HTMLResponse:
    cw = case_work(request)
    entries, verdict = await audit_export.browse(cw, _audit_query(filters), before,
                                                 AUDIT_PAGE + 1)
    older = entries[AUDIT_PAGE - 1]["seq"] if len(entries) > AUDIT_PAGE else None
    query = urlencode({k: v for k, v in filters.items() if v})
    words = _audit_words(request)
    actions = sorted(AUDIT_ACTIONS, key=words.action)
    return page(request, "audit.html", principal, status,
                lines=[words.line(e) for e in entries[:AUDIT_PAGE]], verdict=verdict,
                filters=filters, older=older if error is None else None,
                query=query, actions=[(a, words.action(a)) for a in actions], error=error)


@router.get("/audit")
async def audit_page(request: Request, before: int | None = None) -> HTMLResponse:
    """The audit log in the reader's words: filters by who, what, subject and dates (the
    node's zone), paging, and whether the chain is intact."""
    principal = await user(request, "audit.read")
    return await _audit_page(request, principal, before, _audit_filters(request.query_params))


@router.post("/audit/export")
async def export_audit(request: Request) -> Response:
    """The entries that match the filters as CSV in the reader's words, each followed by the
    entry as stored (codes, for machines), with the auditor's reason (audited)."""
    principal = await user(request, "audit.read")
    form = await posted(request, principal)
    cw = case_work(request)
    filters = _audit_filters(form)
    reason = str(form.get("reason") or "").strip()
    if not 3 <= len(reason) <= 500:
        return await _audit_page(
            request, principal, None, filters, status_of("invalid-request"),
            N_("Say why you export the audit log (3 to 500 characters)."))
    entries = await audit_export.exported(cw, principal.actor, reason, _audit_query(filters),
                                          {k: v for k, v in filters.items() if v},
                                          AUDIT_EXPORT_CAP)
    words = _audit_words(request)
    body = csv_bytes((*words.header(), *audit_export.STORED_COLUMNS), (
        (*words.cells(e), *audit_export.stored_cells(e)) for e in reversed(entries)))
    stamp = cw.clock().astimezone(LOCAL_TIME).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-{cw.node.node_id}-{stamp}.csv"'})


@router.get("/desk")
async def investigator_desk(request: Request) -> HTMLResponse:
    """C02's desk: open requests per partner with their age, overdue items across the node,
    joint investigations with their last exchange and open tasks, suspect notices."""
    principal = await user(request, "investigations.read")
    desk = await investigator_desk_use_case.investigator_desk(case_work(request), principal)
    return page(request, "desk.html", principal, **vars(desk))
