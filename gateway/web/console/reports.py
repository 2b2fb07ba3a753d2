"""The reports page: a period picked, the indicators beside the plans' targets, the charts,
and the exports (PDF, XLSX, CSV), each audited with the user's reason (docs/reports.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.documents.periodic_report import PERSON_INDICATORS
from gateway.localtime import LOCAL_TIME
from gateway.protocol.errors import N_
from gateway.protocol.problems import status_of
from gateway.reports import exporting, release
from gateway.reports.charts import charts
from gateway.reports.exports import FORMATS, MEDIA_TYPES, figure, shown_tables
from gateway.reports.indicators import Report
from gateway.reports.labels import GROUPS, TARGETS, label
from gateway.reports.overview import collects_reports, reports_view
from gateway.reports.periods import (
    Period,
    ReportError,
    current_periods,
    due_next,
    parse_period,
)
from gateway.reports.service import checked_reason
from gateway.reports.tables import TOTAL
from gateway.web.auth import case_work
from gateway.web.console.pages import books, language, page, posted, spoken, user

router = APIRouter(include_in_schema=False)
#: What the page offers to download (HTML is the page itself).
DOWNLOADS = tuple(f for f in FORMATS if f != "html")


def today_at_border(request: Request) -> date:
    """Today's date at the border (UTC+7): the reporting windows are days there."""
    return case_work(request).clock().astimezone(LOCAL_TIME).date()


def _chosen(source: Any, today: date) -> tuple[str, Period | None, ReportError | None]:
    """The period asked for: a named one, or a range of two days; else the one whose report
    is due next (:func:`due_next`). Returns what was asked, the period, and a refusal if
    any."""
    first, last = str(source.get("from") or ""), str(source.get("to") or "")
    asked = str(source.get("period") or "").strip()
    if not asked and (first or last):
        asked = f"{first}..{last}"
    if not asked:
        asked = due_next(today).name
    try:
        return asked, parse_period(asked), None
    except ReportError as exc:
        return asked, None, exc


async def _page(request: Request, principal: Principal, source: Any, status: int = 200,
                error: Any = None) -> HTMLResponse:
    cw = case_work(request)
    today = today_at_border(request)
    asked, period, refused = _chosen(source, today)
    context: dict[str, Any] = {"asked": asked, "periods": current_periods(today),
                               "formats": DOWNLOADS, "groups": GROUPS, "targets": TARGETS,
                               "report": None, "charts": {}, "tables": {},
                               "error": error or (spoken(request, refused) if refused else None)}
    submitter = allowed(principal.role, "reports.send") and release.collector_of(cw.node)
    view = await reports_view(cw.node, period, principal.unit if submitter else None)
    if view.report is not None:
        report = view.report
        words = books(request).get(language(request))
        overdue = report.table("overdue")
        context.update(report=report, tables=shown_tables(report),
                       charts=charts(report, lambda key: label(words, key)),
                       figure=lambda key: figure(report, key),
                       label=lambda key: label(words, key),
                       target_text=lambda key: words.pgettext("report", TARGETS[key]),
                       met=targets_met(report),
                       overdue_open=overdue.count(TOTAL, "open-at-end"))
    if view.submissions is not None:
        context["collector"] = release.collector_of(cw.node)
        context["submissions"] = view.submissions
    if view.collection is not None:
        context["collection"] = view.collection
        context["persons"] = PERSON_INDICATORS
    return page(request, "reports.html", principal,
                status if not refused else status_of("invalid-request"), **context)


def targets_met(report: Report) -> dict[str, bool]:
    """Whether each figure meets the plans' target: every tip classified (and within 24 h),
    over 90 % resolved, nothing overdue at the end of the period (met when there were no
    tips at all)."""
    shares = report.durations
    resolved = shares.get("tips.resolved.share")
    return {"tips.classified-24h.share": shares.get("tips.classified-24h.share") in (None, 1),
            "tips.classified.share": shares.get("tips.classified.share") in (None, 1),
            "tips.resolved.share": resolved is None or resolved > 0.9,
            "overdue": report.table("overdue").count(TOTAL, "open-at-end") == 0}


@router.get("/reports")
async def reports_page(request: Request) -> HTMLResponse:
    """This unit's report for a period: the figures against the targets, the charts, the
    tables with small counts hidden, and the exports."""
    principal = await user(request, "reports.read")
    return await _page(request, principal, request.query_params)


@router.post("/reports/export")
async def export_report(request: Request) -> Response:
    """The report as PDF, XLSX or CSV, with the user's reason (audited)."""
    principal = await user(request, "reports.read")
    form = await posted(request, principal)
    cw = case_work(request)
    fmt = str(form.get("format") or "")
    _, period, refused = _chosen(form, today_at_border(request))
    if period is None or fmt not in DOWNLOADS:
        return await _page(request, principal, form, status_of("invalid-request"),
                           error=spoken(request, refused) if refused else
                           books(request).text(language(request), N_("Pick a format.")))
    try:
        reason = checked_reason(str(form.get("reason") or ""))
    except ReportError as exc:
        return await _page(request, principal, form, status_of("invalid-request"),
                           error=spoken(request, exc))
    lang = language(request)
    book = books(request)
    stem = period.name.replace("..", "_")
    if form.get("scope") == "national":
        if not collects_reports(cw.node):
            return await _page(request, principal, form, status_of("not-permitted"),
                               error=books(request).text(lang, N_(
                                   "Only the collecting node has a national table.")))
        data = await exporting.export_national(cw.node, principal.actor, period, fmt, reason,
                                               book.get(lang), book.get("en"), lang)
        name = f"national-{stem}.{fmt}"
    else:
        data = await exporting.export_report(cw.node, principal.actor, period, fmt, reason,
                                             book.get(lang), book.get("en"), lang)
        name = f"report-{cw.node.node_id}-{stem}.{fmt}"
    return Response(data, media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/reports/submit")
async def submit_report(request: Request) -> Response:
    """A supervisor submits the period's report as it stands; another supervisor of the
    unit releases it from the release queue (/release)."""
    principal = await user(request, "reports.send")
    form = await posted(request, principal)
    cw = case_work(request)
    _, period, refused = _chosen(form, today_at_border(request))
    try:
        if refused is not None or period is None:
            raise refused or ReportError(N_("Pick a period."), "period")
        await release.submit_period(cw.node, principal, period)
    except ReportError as exc:
        return await _page(request, principal, form, status_of(exc.code),
                           error=spoken(request, exc))
    return RedirectResponse(f"/reports?period={period.name}&done=report-submitted",
                            status_code=303)
