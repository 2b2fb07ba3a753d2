"""Console desks beyond a single case: hotline intake and triage, the investigator's desk
(open requests per partner, overdue items, joint investigations, suspect notices), the
partner directory with delivery health, and the audit log for auditors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.audit import log as audit
from gateway.cases import hotline, views
from gateway.cases.work import CaseError
from gateway.store import messages as repo
from gateway.web.auth import case_work
from gateway.web.console.pages import Redirect, page, posted, user

router = APIRouter(include_in_schema=False)


@router.get("/hotline")
async def hotline_page(request: Request) -> HTMLResponse:
    """One screen: take a tip down, see the open ones with their clocks."""
    principal = await user(request, "tips.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        tips = await hotline.list_tips(conn, cw, principal, None)
    return page(request, "hotline.html", principal, tips=tips, values={}, error=None,
                partners=[p.node_id for p in cw.node.partners.all()])


def _tip_body(form: dict[str, Any]) -> dict[str, Any]:
    person = {k: form.get(f"person_{k}") for k in ("name_native", "name_latin", "sex",
                                                   "nationality")}
    age = str(form.get("person_age") or "").strip()
    persons = []
    if any(person.values()) or age:
        entry = {k: v for k, v in person.items() if v}
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
    cw = case_work(request)
    try:
        async with cw.node.engine.begin() as conn:
            await hotline.record_tip(conn, cw, principal, _tip_body(form))
    except CaseError as exc:
        async with cw.node.engine.begin() as conn:
            tips = await hotline.list_tips(conn, cw, principal, None)
        return page(request, "hotline.html", principal, 422, tips=tips, values=form,
                    error={"field": exc.field, "message": str(exc)},
                    partners=[p.node_id for p in cw.node.partners.all()])
    raise Redirect("/hotline")


@router.post("/hotline/{tip_id}")
async def triage_tip(request: Request, tip_id: int) -> Response:
    """Triage, and escalate (with an alert to a partner) in the same action."""
    principal = await user(request, "tips.write")
    form = await posted(request, principal)
    cw = case_work(request)
    body = {"classification": form.get("classification"), "urgency": form.get("urgency"),
            "duplicate_of": int(str(form["duplicate_of"])) if str(
                form.get("duplicate_of") or "").isdigit() else None}
    case_id = None
    try:
        async with cw.node.engine.begin() as conn:
            await hotline.triage(conn, cw, principal, tip_id, body)
            if form.get("action") == "escalate":
                result = await hotline.escalate(conn, cw, principal, tip_id, {
                    "alert_to": form.get("alert_to") or None,
                    "duty_phone": form.get("duty_phone") or None,
                    "requested_action": ["locate", "rescue"]})
                case_id = result["case_id"]
    except CaseError as exc:
        async with cw.node.engine.begin() as conn:
            tips = await hotline.list_tips(conn, cw, principal, None)
        return page(request, "hotline.html", principal, 422, tips=tips, values={},
                    error={"field": exc.field, "message": str(exc), "tip": tip_id},
                    partners=[p.node_id for p in cw.node.partners.all()])
    cw.node.outbox_signal.set()
    raise Redirect(f"/cases/{case_id}" if case_id else "/hotline")


@router.get("/partners")
async def partners_page(request: Request) -> HTMLResponse:
    """The partner directory: keys and their state, delivery health per partner."""
    principal = await user(request, "partners.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        stats = {s.recipient: s for s in await repo.outbox_stats(conn)}
        last = await repo.last_receipts(conn)
    now = cw.clock()
    rows = [{"id": p.node_id, "name": p.file.name, "country": p.file.country,
             "delivery": p.file.delivery, "key_states": p.key_states(now),
             "expiry": {k.kid: k.not_after for k in p.file.keys},
             "depth": int(stats[p.node_id].depth) if p.node_id in stats else 0,
             "oldest": stats[p.node_id].oldest if p.node_id in stats else None,
             "last_receipt": last.get(p.node_id)} for p in cw.node.partners.all()]
    return page(request, "partners.html", principal, partners=rows)


@router.get("/audit")
async def audit_page(request: Request, actor: str = "", action: str = "",
                     subject: str = "") -> HTMLResponse:
    """The audit log with filters, and whether the chain is intact."""
    principal = await user(request, "audit.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        entries = await audit.entries(conn, actor=actor or None, action=action or None,
                                      subject=subject or None, limit=200)
        verdict = await audit.verify_chain(conn)
    return page(request, "audit.html", principal, entries=entries, verdict=verdict,
                filters={"actor": actor, "action": action, "subject": subject})


@router.get("/desk")
async def investigator_desk(request: Request) -> HTMLResponse:
    """C02's desk: open requests per partner with their age, overdue items across the node,
    joint investigations with their last exchange and open tasks, suspect notices."""
    principal = await user(request, "investigations.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        desk = await views.investigator_desk(conn, cw, principal)
    return page(request, "desk.html", principal, **desk)
