"""The release queue's review of a draft: a supervisor releases what she has seen
(MESSAGES.md, handling rules: a second person releases what crosses the border).

What she opens of a submitted draft in the queue is noted (its bilingual preview, each of
its attachments, each opening audited as a read); the console's release refuses a draft
until she has opened its preview and every attachment since it last changed, and the queue
shows what she has not opened yet. The release itself stays :func:`drafts.release_draft`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.cases import drafts
from gateway.cases.view_types import DraftView, QueuedDraftView
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.envelope import Attachment
from gateway.protocol.errors import N_
from gateway.store import draft_views
from gateway.store.transactions import writes

#: The item noted when the draft's preview is opened (an attachment's is ``attachment/NAME``).
PREVIEW: Final = "document"


def attachment_item(name: str) -> str:
    """The item noted when an attachment is opened."""
    return f"attachment/{name}"


def _in_queue(view: DraftView, principal: Principal) -> None:
    """Only a submitted draft of the supervisor's own unit is reviewed here."""
    if view["unit"] != principal.unit:
        raise CaseError("forbidden", N_("only a supervisor of the author's unit releases"))
    if view["state"] != "submitted":
        raise CaseError("state-conflict", N_("the draft is {state}, not submitted"),
                        state=view["state"])


@writes
async def preview(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                  draft_id: int) -> DraftView:
    """A submitted draft with its content, for its preview (audited as a read of its
    data by :func:`drafts.read_draft`); noted as seen."""
    view = await drafts.read_draft.within(conn, cw, principal, draft_id)
    _in_queue(view, principal)
    await draft_views.record(conn, draft_id, principal.actor, PREVIEW, cw.clock())
    return view


@writes
async def open_attachment(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                          draft_id: int, name: str) -> Attachment:
    """One attachment of a submitted draft as it will go (audited as a read of special
    data); noted as seen."""
    _in_queue(await drafts.read_view(conn, cw, principal, draft_id), principal)
    found = await drafts.draft_attachment(conn, cw, principal, draft_id, name)
    await draft_views.record(conn, draft_id, principal.actor, attachment_item(name),
                             cw.clock())
    return found


def _not_opened(view: DraftView, opened: dict[str, datetime]) -> list[str]:
    """What of the draft was not opened since it last changed: ``document`` for the
    preview, then the attachments' names."""
    since = datetime.fromisoformat(view["updated_at"])
    wanted = [(PREVIEW, PREVIEW)] + [(attachment_item(a["name"]), a["name"])
                                     for a in view["attachments"]]
    return [said for item, said in wanted
            if (at := opened.get(item)) is None or at < since]


async def queue(conn: AsyncConnection, cw: CaseWork, principal: Principal
                ) -> list[QueuedDraftView]:
    """The unit's submitted drafts, each with what the principal has not opened yet
    (``unopened``: ``document`` for the preview, then attachment names)."""
    found = await drafts.list_drafts.within(conn, cw, principal, "submitted")
    opened = await draft_views.opened(conn, [d["id"] for d in found], principal.actor)
    queued: list[QueuedDraftView] = []
    for view in found:
        unopened = _not_opened(view, opened[view["id"]])
        queued.append({**view, "unopened": unopened,
                       "unopened_attachments": [n for n in unopened if n != PREVIEW]})
    return queued


@writes
async def release_seen(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       draft_id: int) -> str:
    """Release a draft from the queue (four eyes, :func:`drafts.release_draft`) once the
    supervisor has opened its preview and each of its attachments since it last changed;
    otherwise refuse, naming what she has not opened. Returns the message id."""
    view = await drafts.read_view(conn, cw, principal, draft_id)
    _in_queue(view, principal)
    opened = await draft_views.opened(conn, [draft_id], principal.actor)
    missing = _not_opened(view, opened[draft_id])
    if missing and view["author"] != principal.actor:  # the author is refused below
        names = [n for n in missing if n != PREVIEW]
        if PREVIEW in missing and not names:
            raise CaseError("state-conflict", N_("open the draft's preview before you release "
                                                 "it"), "release")
        raise CaseError("state-conflict", N_("open every attachment before you release the "
                                             "draft; not opened yet: {names}"), "release",
                        names=", ".join(names) or "-")
    return await drafts.release_draft.within(conn, cw, principal, draft_id)
