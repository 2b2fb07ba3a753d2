"""Sending through a case: drafts, four-eyes release, and the outbound path (MESSAGES.md,
handling rules).

An officer drafts a document as JSON; our code builds the XML and validates it against the
same schema a partner will. A draft carrying ``personal`` or ``special`` data waits for a
supervisor of the same unit, who cannot be its author. An ``alert`` with priority
``immediate`` is the exception: its author releases it alone and the unit's supervisors get a
task at once. Release, signing, queueing and the case's move happen in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import effects, notices, service, uploads
from gateway.cases import release_rules as rules
from gateway.cases.commands import DraftAttachment, NewDraft
from gateway.cases.view_types import DraftView
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.convert import highest_sensitivity, json_to_xml
from gateway.exchange.outbound import MessageTooLargeError, OutboundError, queue_message
from gateway.protocol.envelope import (
    Attachment,
    MessageDraft,
    new_message_id,
    sniff_media_type,
)
from gateway.protocol.errors import N_, Code
from gateway.protocol.problems import Problem
from gateway.store import case_messages
from gateway.store import drafts as draft_repo
from gateway.store.transactions import reads, writes

MAX_ATTACHMENT: Final = 5 * 1024 * 1024
ATTACHMENT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Submission:
    """What became of a draft submitted: ``submitted`` (waiting for a second person), or
    ``sent`` at once with its message id."""

    state: str
    message_id: str | None


def _attachments(items: list[DraftAttachment]) -> list[dict[str, str]]:
    """Check attachments (name, type by content, size) and keep them as base64."""
    names: set[str] = set()
    out = []
    for index, item in enumerate(items, start=1):
        where = f"attachments[{index}]"
        name, media_type = item.name, item.media_type
        if not ATTACHMENT_NAME.fullmatch(name) or name in names:
            raise CaseError("invalid-request", N_("{where}.name: a unique file name of letters, "
                                                  "digits, '.', '_' or '-'"),
                            f"{where}.name", where=where)
        try:
            data = base64.b64decode(item.data, validate=True)
        except binascii.Error as exc:
            raise CaseError("invalid-request", N_("{where}.data is not base64"),
                            f"{where}.data", where=where) from exc
        if not data or len(data) > MAX_ATTACHMENT:
            raise CaseError("invalid-request", N_("{where}: a file of 1 byte to 5 MiB"),
                            f"{where}.data", where=where)
        if sniff_media_type(data) != media_type:
            raise CaseError("invalid-request", N_("{where}: the content is not {media_type}"),
                            f"{where}.data", where=where, media_type=media_type)
        names.add(name)
        out.append({"name": name, "media_type": media_type,
                    "data": base64.b64encode(data).decode()})
    return out


class DraftColumns(rules.DraftAddress):
    """The columns a saved draft takes from its command: its address, its message's own
    fields, the sensitivity of its document and the document and attachments sealed."""

    version: str
    priority: str
    handling: str
    lang: str
    sensitivity: str
    document_sealed: bytes
    attachments_sealed: bytes


async def _values(conn: AsyncConnection, cw: CaseWork, case: Any, body: NewDraft
                  ) -> DraftColumns:
    doc_type, version = body.type, body.version
    if doc_type in effects.WITHOUT_CASE:  # system documents and reports: never a case's
        raise CaseError("invalid-request", N_("a {doc_type} is not a document of a case"),
                        "type", doc_type=Code(doc_type))
    try:
        model = cw.forms.model(doc_type, version)
    except Problem as exc:
        raise CaseError("invalid-request", exc.detail, "type") from exc
    document = body.document
    schema = cw.forms.registry.resolve(doc_type, version)
    json_to_xml(model, schema.namespace, document)  # shape only: a draft may be incomplete
    address: rules.DraftAddress = {"doc_type": doc_type, "recipient": body.to, "ref": body.ref}
    sensitivity = highest_sensitivity(model, document)
    await rules.check_rules(conn, cw, case, address)
    await rules.check_references(conn, cw, case, doc_type, version, document, body.ref)
    return {**address, "version": version, "priority": body.priority,
            "handling": body.handling, "lang": body.lang, "sensitivity": sensitivity,
            "document_sealed": cw.sealer.seal(json.dumps(document, ensure_ascii=False).encode(),
                                              "drafts.document"),
            "attachments_sealed": cw.sealer.seal(
                json.dumps(_attachments(body.attachments)).encode(), "drafts.attachments")}


@writes
async def create_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       case_id: int, body: NewDraft) -> int:
    """Save a draft on a case (its document may still be incomplete)."""
    case = await service.load_case(conn, principal, case_id)
    values = await _values(conn, cw, case, body)
    now = cw.clock()
    draft_id = await draft_repo.insert_draft(
        conn, case_id=case.id, state="draft", author=principal.actor,
        author_unit=principal.unit, created_at=now, updated_at=now, **values)
    await audit.append(conn, cw.clock, principal.actor, "draft.saved", case.reference,
                       {"draft": draft_id, "type": values["doc_type"],
                        "to": values["recipient"]})
    return draft_id


async def save_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     body: NewDraft, *, case_id: int | None = None,
                     draft_id: int | None = None, submit: bool = False
                     ) -> tuple[int, Submission | None]:
    """The author's one action: create a draft on a case (or change ``draft_id``) and, with
    ``submit``, ask for its release (or send it where no second person is needed). Answers
    the draft's id and the submission's result."""
    if draft_id is None:
        if case_id is None:
            raise CaseError("invalid-request", N_("a new draft needs its case"), "case")
        draft_id = await create_draft.within(conn, cw, principal, case_id, body)
    else:
        await update_draft.within(conn, cw, principal, draft_id, body)
    return draft_id, await submit_draft.within(conn, cw, principal, draft_id) if submit else None


async def save_with_held(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                         body: NewDraft, held: list[str], *, case_id: int | None = None,
                         draft_id: int | None = None, submit: bool = False
                         ) -> tuple[int, Submission | None]:
    """:func:`save_draft` from the console's form: the files held since an earlier try are
    in ``body`` and are let go in the same transaction."""
    saved = await save_draft(conn, cw, principal, body, case_id=case_id, draft_id=draft_id,
                             submit=submit)
    await uploads.release_held(conn, principal.actor, held)
    return saved


async def _load(conn: AsyncConnection, principal: Principal, draft_id: int, *,
                lock: bool = False) -> tuple[Any, Any]:
    """A draft of a case the principal may see, with its case; ``lock``: held until the
    transaction ends, so that two supervisors never release one draft twice."""
    row = await draft_repo.draft_row(conn, draft_id, lock=lock)
    if row is None:
        raise CaseError("not-found", N_("no draft {draft_id}"), draft_id=draft_id)
    case = await service.load_case(conn, principal, row.case_id)
    return row, case


@writes
async def update_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       draft_id: int, body: NewDraft) -> None:
    """Change a draft (its author, while it is a draft or was sent back)."""
    row, case = await _load(conn, principal, draft_id)
    if row.author != principal.actor:
        raise CaseError("forbidden", N_("only the author changes a draft"))
    if row.state not in ("draft", "returned"):
        raise CaseError("state-conflict", N_("the draft is {state}; it cannot change now"),
                        state=row.state)
    values = await _values(conn, cw, case, body)
    await draft_repo.update_draft(conn, row.id, state="draft", updated_at=cw.clock(), **values)
    await audit.append(conn, cw.clock, principal.actor, "draft.saved", case.reference,
                       {"draft": row.id})


def draft_view(cw: CaseWork, row: Any, *, with_content: bool) -> DraftView:
    """A draft for the API; the document and attachments only when asked (and audited)."""
    view: DraftView = {
        "id": row.id, "case_id": row.case_id, "type": row.doc_type, "version": row.version,
        "to": row.recipient, "ref": row.ref, "priority": row.priority,
        "handling": row.handling, "lang": row.lang, "sensitivity": row.sensitivity,
        "state": row.state, "author": row.author, "unit": row.author_unit,
        "released_by": row.released_by, "return_reason": row.return_reason,
        "message_id": row.message_id, "updated_at": row.updated_at.isoformat(),
        "attachments": [{"name": f["name"], "media_type": f["media_type"],
                         "size": len(f["data"]) * 3 // 4 - f["data"][-2:].count("=")}
                        for f in json.loads(cw.sealer.open(row.attachments_sealed,
                                                           "drafts.attachments"))]}
    if with_content:
        view["document"] = json.loads(cw.sealer.open(row.document_sealed, "drafts.document"))
    return view


@writes
async def read_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                     draft_id: int) -> DraftView:
    """A draft with its content (the release preview); audited as a read of its data."""
    row, case = await _load(conn, principal, draft_id)
    await audit.append(conn, cw.clock, principal.actor, "draft.read", case.reference,
                       {"draft": row.id, "sensitivity": row.sensitivity})
    return draft_view(cw, row, with_content=True)


async def read_view(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    draft_id: int) -> DraftView:
    """A draft's view without its content (state, unit, attachments' names and sizes):
    no data of the draft is read, nothing is audited."""
    row, _case = await _load(conn, principal, draft_id)
    return draft_view(cw, row, with_content=False)


async def draft_for_edit(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                         draft_id: int) -> tuple[DraftView, list[dict[str, str]]]:
    """A saved or returned draft opened by its author to go on with it: its view with the
    document, and its attachments (base64); audited as a read of its data."""
    row, case = await _load(conn, principal, draft_id)
    if row.author != principal.actor:
        raise CaseError("forbidden", N_("only the author changes a draft"))
    if row.state not in ("draft", "returned"):
        raise CaseError("state-conflict", N_("the draft is {state}; it cannot change now"),
                        state=row.state)
    await audit.append(conn, cw.clock, principal.actor, "draft.read", case.reference,
                       {"draft": row.id, "sensitivity": row.sensitivity})
    files: list[dict[str, str]] = json.loads(cw.sealer.open(row.attachments_sealed,
                                                            "drafts.attachments"))
    return draft_view(cw, row, with_content=True), files


async def draft_attachment(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                           draft_id: int, name: str) -> Attachment:
    """One attachment of a draft, as it will go (a photo or scan of a person: audited as a
    read of special data, with the draft and the name)."""
    row, case = await _load(conn, principal, draft_id)
    files = json.loads(cw.sealer.open(row.attachments_sealed, "drafts.attachments"))
    found = next((f for f in files if f["name"] == name), None)
    if found is None:
        raise CaseError("not-found", N_("no attachment {name!r} in draft {draft_id}"),
                        "name", name=name, draft_id=draft_id)
    await audit.append(conn, cw.clock, principal.actor, "attachment.read", case.reference,
                       {"draft": row.id, "name": name, "special": True})
    return Attachment(name, found["media_type"], base64.b64decode(found["data"]))


@reads
async def list_drafts(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                      state: str | None) -> list[DraftView]:
    """Drafts of the principal's unit (the release queue with ``state=submitted``)."""
    rows = await draft_repo.drafts_of_unit(conn, principal.unit, state)
    return [draft_view(cw, r, with_content=False) for r in rows]


@writes
async def submit_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       draft_id: int) -> Submission:
    """Validate a draft fully and ask for release; sends at once where no second person is
    needed (operational data only, or an immediate alert)."""
    row, case = await _load(conn, principal, draft_id)
    if row.author != principal.actor:
        raise CaseError("forbidden", N_("only the author submits a draft"))
    if row.state not in ("draft", "returned"):
        raise CaseError("state-conflict", N_("the draft is {state}"), state=row.state)
    document = json.loads(cw.sealer.open(row.document_sealed, "drafts.document"))
    cw.forms.build(row.doc_type, row.version, document)  # schema-invalid with paths
    rules.check_times(cw, row.doc_type, document)
    await rules.check_rules(conn, cw, case, {"doc_type": row.doc_type, "recipient": row.recipient,
                                        "ref": row.ref})
    await rules.check_references(conn, cw, case, row.doc_type, row.version, document, row.ref)
    await rules.check_move(conn, case, row.doc_type, document)
    rules.check_size(cw, row, document)
    alone = row.sensitivity == "operational" or (
        row.doc_type == "alert" and row.priority == "immediate")
    if alone:
        message_id = await _send(conn, cw, row, case, principal)
        if row.sensitivity != "operational":
            due = cw.clock() + timedelta(hours=2)
            task_id = await service.add_task(conn, cw, kind="review-immediate-release",
                                             owner_unit=row.author_unit, case_id=case.id,
                                             due_at=due, message_id=message_id,
                                             title=row.doc_type)
            told = await notices.notify_supervisors(conn, cw, notices.Notice(
                "released-alone", unit=row.author_unit, case_id=case.id, task_id=task_id,
                message_id=message_id, doc_type=row.doc_type, urgent=True, due_at=due),
                besides=principal.actor)
            await audit.append(conn, cw.clock, principal.actor, "supervisors.notified",
                               case.reference, {"draft": row.id, "message": message_id,
                                                "task": task_id, "supervisors": told})
        return Submission("sent", message_id)
    await draft_repo.update_draft(conn, row.id, state="submitted", updated_at=cw.clock(),
                                  return_reason=None)
    await audit.append(conn, cw.clock, principal.actor, "draft.submitted", case.reference,
                       {"draft": row.id})
    await notices.notify_supervisors(conn, cw, notices.Notice(  # a second person is needed
        "draft-submitted", unit=row.author_unit, case_id=case.id, draft_id=row.id,
        doc_type=row.doc_type, urgent=row.priority != "routine"), besides=row.author)
    return Submission("submitted", None)


@writes
async def release_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        draft_id: int) -> str:
    """A supervisor of the author's unit, not the author, releases: sign, queue, move."""
    row, case = await _load(conn, principal, draft_id, lock=True)
    if row.state != "submitted":
        raise CaseError("state-conflict", N_("the draft is {state}, not submitted"),
                        state=row.state)
    if row.author == principal.actor:
        raise CaseError("forbidden", N_("four eyes: the author cannot release their own draft"))
    if row.author_unit != principal.unit:
        raise CaseError("forbidden", N_("only a supervisor of the author's unit releases"))
    await rules.check_rules(conn, cw, case, {"doc_type": row.doc_type, "recipient": row.recipient,
                                        "ref": row.ref})
    await rules.check_move(conn, case, row.doc_type,
                      json.loads(cw.sealer.open(row.document_sealed, "drafts.document")))
    return await _send(conn, cw, row, case, principal)


@writes
async def return_draft(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       draft_id: int, reason: str) -> None:
    """Send a submitted draft back to its author with a reason."""
    if not reason.strip():
        raise CaseError("invalid-request", N_("say why the draft goes back"), "reason")
    row, case = await _load(conn, principal, draft_id)
    if row.state != "submitted":
        raise CaseError("state-conflict", N_("the draft is {state}, not submitted"),
                        state=row.state)
    if row.author_unit != principal.unit:
        raise CaseError("forbidden", N_("only a supervisor of the author's unit sends it back"))
    await draft_repo.update_draft(conn, row.id, state="returned",
                                  return_reason=reason.strip()[:500], updated_at=cw.clock())
    await audit.append(conn, cw.clock, principal.actor, "draft.returned", case.reference,
                       {"draft": row.id})
    await notices.notify(conn, cw, notices.Notice("draft-returned", username=row.author,
                                                  case_id=case.id, draft_id=row.id,
                                                  doc_type=row.doc_type))


async def _conversation(conn: AsyncConnection, case_id: int, partner: str) -> str:
    found = await case_messages.first_conversation(conn, case_id, partner)
    return found or new_message_id()


async def _send(conn: AsyncConnection, cw: CaseWork, row: Any, case: Any,
                releaser: Principal) -> str:
    document = json.loads(cw.sealer.open(row.document_sealed, "drafts.document"))
    files = json.loads(cw.sealer.open(row.attachments_sealed, "drafts.attachments"))
    xml = cw.forms.build(row.doc_type, row.version, document)
    conversation = await _conversation(conn, case.id, row.recipient)
    draft = MessageDraft(type=row.doc_type, version=row.version, to=row.recipient,
                         conversation=conversation, ref=row.ref, priority=row.priority,
                         handling=row.handling, lang=row.lang)
    attachments = [Attachment(f["name"], f["media_type"], base64.b64decode(f["data"]))
                   for f in files]
    try:
        envelope = await queue_message(conn, cw.node, draft, xml, attachments,
                                       actor=releaser.actor)
    except MessageTooLargeError as exc:
        raise CaseError.of("invalid-request", exc, "attachments") from exc
    except OutboundError as exc:
        raise CaseError.of("invalid-request", exc, "to") from exc
    message_id = envelope.header.bx.id
    await case_messages.link_conversation(conn, case.id, conversation, row.recipient)
    facts = effects.MessageFacts("out", message_id, row.doc_type, row.recipient, row.priority,
                                 row.handling, row.ref, conversation, document)
    # The gates were checked before release (above); a move the lifecycle refuses now
    # leaves the owner a task with the document's words (MESSAGES.md).
    await effects.apply(conn, cw, case, facts, actor=releaser.actor)
    await draft_repo.update_draft(conn, row.id, state="sent", released_by=releaser.actor,
                                  released_at=cw.clock(), message_id=message_id,
                                  updated_at=cw.clock())
    await audit.append(conn, cw.clock, releaser.actor, "draft.released", case.reference,
                       {"draft": row.id, "message": message_id, "author": row.author})
    if releaser.actor != row.author:
        await notices.notify(conn, cw, notices.Notice(
            "draft-released", username=row.author, case_id=case.id, draft_id=row.id,
            message_id=message_id, doc_type=row.doc_type))
    return message_id
