"""Case use cases of several steps, each one door (one transaction), as Dispatch's
``flows.py`` beside its service: a case opened and read back, a draft opened again in its
form, and the console's compose form saved (files held, draft saved, submitted) at once.

The steps are the services' (:mod:`gateway.cases.service`, :mod:`~gateway.cases.drafts`,
:mod:`~gateway.cases.composing`, :mod:`~gateway.cases.uploads`); a flow only says in which
order they run and what a refusal leaves behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.cases import commands, composing, drafts, service, uploads, views
from gateway.cases.composing import NewDocument
from gateway.cases.effects import WITHOUT_CASE
from gateway.cases.view_types import CaseDetailView, DraftView
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.encoding import JsonObject
from gateway.protocol.errors import N_, Code
from gateway.protocol.problems import Problem
from gateway.store.transactions import writes

#: Builds a document of ``doc_type`` from the form's fields (the console's form parser).
DocumentOf = Callable[[str, dict[str, str]], JsonObject]


@writes
async def open_case_and_read(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                             body: commands.NewCase) -> CaseDetailView:
    """Open a case and answer it as :func:`views.case_detail` reads it (audited)."""
    case_id = await service.open_case.within(conn, cw, principal, body)
    return await views.case_detail.within(conn, cw, principal, case_id)


@dataclass(frozen=True)
class DraftForm:
    """A saved or returned draft opened again by its author: its view with the document,
    its attachments (base64) and what the compose page shows around it."""

    draft: DraftView
    files: list[dict[str, str]]
    new: NewDocument


@writes
async def draft_form(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     draft_id: int) -> DraftForm:
    """A draft in its form (audited as a read of its data)."""
    draft, files = await drafts.draft_for_edit(conn, cw, principal, draft_id)
    new = await composing.new_document.within(conn, cw, principal, draft["case_id"],
                                              draft["type"], fill=False)
    return DraftForm(draft, files, new)


class MessageFields(TypedDict):
    """The message's own fields of a compose form (the rest of the form is the document),
    as posted: :func:`commands.parse` validates them into the draft's command."""

    to: str
    priority: object
    handling: object
    lang: object
    ref: object


@dataclass(frozen=True)
class ComposeForm:
    """A posted compose form as the console parsed it: a new document of ``doc_type`` on
    ``case_id``, or a change of ``draft_id``; files chosen in this post (checked by their
    bytes: ``picked`` at the field that names them, ``chosen`` as attachments), files held
    since an earlier try (``held`` handles) and attachments of the draft to ``keep``."""

    case_id: int | None
    doc_type: str | None
    draft_id: int | None
    fields: dict[str, str]
    message: MessageFields
    keep: frozenset[str]
    held: list[str]
    picked: list[tuple[str, uploads.Upload]]
    chosen: list[uploads.Upload]
    submit: bool
    files_refused: bool = False


@dataclass
class ComposeOutcome:
    """What became of a compose form: saved (``state``: ``draft``, ``submitted`` or
    ``sent``), or refused (``refusal``; then ``waiting`` the files held for the next try,
    ``kept`` the draft's attachments kept, ``new`` what the form shows around it)."""

    case_id: int
    doc_type: str
    document: JsonObject
    named: dict[str, str]
    existing: DraftView | None = None
    state: str | None = None
    refusal: Problem | CaseError | None = None
    waiting: list[tuple[str, uploads.Upload]] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)
    new: NewDocument | None = None


@writes
async def save_compose_form(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                            form: ComposeForm, document_of: DocumentOf) -> ComposeOutcome:
    """The console's compose form, in one transaction: the draft saved (and submitted) with
    the files held since an earlier try let go; or, refused, nothing of the save kept and
    the files of this post held for the next try. A draft or type that cannot be composed
    is refused with ``not-found`` (raised)."""
    existing: DraftView | None = None
    files: list[dict[str, str]] = []
    case_id, doc_type = form.case_id, form.doc_type
    if form.draft_id is not None:
        existing, files = await drafts.draft_for_edit(conn, cw, principal, form.draft_id)
        case_id, doc_type = existing["case_id"], existing["type"]
    if case_id is None or doc_type is None or doc_type not in cw.forms.registry.types() \
            or doc_type in WITHOUT_CASE:
        raise CaseError("not-found", N_("a {doc_type} is not a document of a case"), "type",
                        doc_type=Code(str(doc_type)))
    held = await uploads.held(conn, cw, principal.actor, form.held)
    taken = {f["name"] for f in files if f["name"] in form.keep} | {u.name for _, u in held}
    picked = [(key, uploads.unique(upload, taken)) for key, upload in form.picked]
    named = {key: upload.name for key, upload in picked}
    document = document_of(doc_type, {**form.fields, **named})
    chosen = [upload for _, upload in picked] + [uploads.unique(u, taken) for u in form.chosen]
    outcome = ComposeOutcome(case_id, doc_type, document, named, existing)
    if not form.files_refused:
        attachments = [f for f in files if f["name"] in form.keep] + [
            u.as_attachment() for _, u in held] + [u.as_attachment() for u in chosen]
        try:
            async with conn.begin_nested():  # a refusal keeps nothing of the save
                command = commands.parse(commands.NewDraft, {
                    "type": doc_type, **form.message, "document": document,
                    "attachments": attachments})
                _, result = await drafts.save_with_held(
                    conn, cw, principal, command, form.held, case_id=case_id,
                    draft_id=form.draft_id, submit=form.submit)
            outcome.state = result.state if result else "draft"
            return outcome
        except (Problem, CaseError) as refusal:
            outcome.refusal = refusal
    handles = await uploads.hold(conn, cw, principal.actor, chosen,  # they wait with it
                                 [h for h, _ in held])
    outcome.waiting = held + list(zip(handles, chosen, strict=False))
    outcome.kept = [{"name": f["name"], "media_type": f["media_type"]} for f in files
                    if f["name"] in form.keep]
    outcome.new = await composing.new_document.within(conn, cw, principal, case_id, doc_type,
                                                      fill=False)
    return outcome
