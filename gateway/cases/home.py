"""The home page's use case: what needs the user now, by what the user's role may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.cases import drafts, hotline, lifecycle, missing, notices, views
from gateway.cases.notices import NoticeLine
from gateway.cases.tip_views import TipSummary
from gateway.cases.work import CaseWork
from gateway.store import messages as repo
from gateway.store import report_releases
from gateway.store.transactions import reads


@dataclass
class WhatNeedsMe:
    """The home page: each list holds only what the user's role may read (``tips`` is None
    for a role that reads no tips). The items are the views of the lists they come from
    (overdue items, cases, drafts, reports, messages)."""

    new: list[NoticeLine]
    overdue: Sequence[object] = field(default_factory=list)
    alerts: Sequence[object] = field(default_factory=list)
    mine: Sequence[object] = field(default_factory=list)
    queue: Sequence[object] = field(default_factory=list)
    reports: Sequence[object] = field(default_factory=list)
    reports_returned: Sequence[object] = field(default_factory=list)
    undelivered: Sequence[object] = field(default_factory=list)
    tips: list[TipSummary] | None = None
    #: Open missing-person reports of the node (None for a role that may not list them).
    missing_open: int | None = None


@reads
async def what_needs_me(conn: AsyncConnection, cw: CaseWork, principal: Principal
                        ) -> WhatNeedsMe:
    """What is new for the user, overdue items, urgent alerts, the user's drafts (sent back
    ones first), drafts and periodic reports to release (not the user's own report), the
    user's periodic reports sent back, failed deliveries, new tips and the open missing-person
    reports: each only where the user's role may read it."""
    found = WhatNeedsMe(new=await notices.list_for.within(conn, cw, principal,
                                                          unread_only=True, limit=10))
    if allowed(principal.role, "overdue.read"):
        scope = "all" if sees_all_cases(principal.role) else "unit"
        found.overdue = await views.overdue_items.within(conn, cw, principal, scope)
    if allowed(principal.role, "cases.read"):
        found.alerts = [c for c in await views.list_cases.within(
            conn, cw, principal, {"priority": "immediate", "limit": 20})
            if c["state"] not in lifecycle.TERMINAL]
    if allowed(principal.role, "drafts.write"):
        found.mine = [d for d in await drafts.list_drafts.within(conn, cw, principal, None)
                      if d["author"] == principal.actor
                      and d["state"] in ("draft", "returned")]
    if allowed(principal.role, "drafts.release"):
        found.queue = [d for d in await drafts.list_drafts.within(conn, cw, principal,
                                                                  "submitted")
                       if d["author"] != principal.actor]  # not one's own draft
    if allowed(principal.role, "reports.send"):
        found.reports = [r for r in await report_releases.pending(conn, principal.unit)
                         if r["submitted_by"] != principal.actor]
        found.reports_returned = await report_releases.returned_to(conn, principal.actor)
    if allowed(principal.role, "messages.read"):
        found.undelivered = [m for m in await repo.list_messages(conn, None, None)
                             if m.state in ("queued", "dead")][:50]
    if allowed(principal.role, "tips.read"):
        found.tips = await hotline.list_tips.within(conn, cw, principal, "new")
    if allowed(principal.role, "missing.read"):
        found.missing_open = await missing.open_count.within(conn, cw, principal)
    return found
