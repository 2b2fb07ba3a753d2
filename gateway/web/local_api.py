"""The node's message operations under ``/api/messages``: the outbox and its dead letters.

Raw XML goes out only with the node's API token (role ``machine``: scripts on the host, like
the CLI's ``gateway send``); people send through cases, where drafts need a second person.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Request
from fastapi import Path as FastPath
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.exchange import keyrefresh, outbox
from gateway.exchange.outbound import retry_dead_letter, send_message
from gateway.protocol.envelope import MAX_MESSAGE_BYTES, Attachment, Handling, MessageDraft
from gateway.protocol.errors import N_
from gateway.protocol.keyset import OfferedKey
from gateway.protocol.problems import InvalidRequestError, NotFoundError
from gateway.runtime.node import Node
from gateway.web.auth import permit
from gateway.web.examples import answers
from gateway.web.routing import LocalApiRoute, body_up_to
from gateway.web.views.node import (
    KeyDecided,
    KeysRefreshed,
    MessageList,
    PartnerKey,
    Queued,
    Reloaded,
    WaitingKeys,
)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


router = APIRouter(prefix="/api", tags=["messages"], route_class=LocalApiRoute)
#: A document and its attachments in base64 for one message (at most 20 MiB as signed, its
#: attachments in base64 within it), with room for the document's text in JSON escapes.
SEND_BODY: Final = MAX_MESSAGE_BYTES + 12 * 1024 * 1024


class AttachmentIn(BaseModel):
    """An attachment to send, base64 encoded."""

    model_config = ConfigDict(extra="forbid")
    name: str
    media_type: Literal["image/jpeg", "image/png", "application/pdf"]
    data: str


class SendRequest(BaseModel):
    """A document to sign and queue."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "kh.blo-bavet",
                    "type": "case-closure",
                    "document": '<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<case-closure xmlns="urn:bx:doc:case-closure:1">...</case-closure>',
                    "priority": "routine",
                    "handling": "H1",
                }
            ]
        },
    )
    to: str
    type: str
    version: str = "1.0"
    document: str = Field(description="The XML document, UTF-8 text")
    conversation: str | None = None
    ref: str | None = None
    priority: Literal["routine", "urgent", "immediate"] = "routine"
    handling: Handling = "H0"
    lang: Literal["vi", "km", "lo", "en"] = "vi"
    attachments: list[AttachmentIn] = Field(default_factory=list)


@router.post(
    "/messages",
    status_code=202,
    openapi_extra=body_up_to(SEND_BODY),
    response_model=Queued,
    response_model_exclude_unset=True,
    responses=answers(Queued, 202),
)
async def send(
    request: Request,
    body: SendRequest,
    principal: Annotated[Principal, permit("messages.send-raw")],
) -> Queued:
    """Validate, sign, store and queue a document; answers its message id."""
    try:
        files = [
            Attachment(a.name, a.media_type, base64.b64decode(a.data, validate=True))
            for a in body.attachments
        ]
    except ValueError as exc:  # binascii.Error, or text that is not even ASCII
        raise InvalidRequestError("attachments: data is not base64: {error}",
                                  error=str(exc)) from exc
    draft = MessageDraft(
        type=body.type,
        version=body.version,
        to=body.to,
        conversation=body.conversation,
        ref=body.ref,
        priority=body.priority,
        handling=body.handling,
        lang=body.lang,
    )
    message_id = await send_message(
        _node(request), draft, body.document.encode(), files, actor=principal.actor
    )
    return Queued(id=message_id)


@router.get(
    "/messages",
    response_model=MessageList,
    response_model_exclude_unset=True,
    responses=answers(MessageList),
)
async def list_messages(
    request: Request,
    _: Annotated[Principal, permit("messages.read")],
    status: Literal["queued", "waiting", "delivered", "dead", "accepted"] | None = None,
    partner: str | None = None,
    test: bool | None = None,
) -> MessageList:
    """Messages in and out with their delivery state, newest first; ``test``: only a
    conformance probe's test messages (PROTOCOL.md §3.1), or none of them."""
    rows = await outbox.list_messages(_node(request), status, partner, test)
    return MessageList(messages=[
                {
                    "id": r.id,
                    "direction": r.direction,
                    "from": r.sender,
                    "to": r.recipient,
                    "type": r.doc_type,
                    "state": r.state,
                    "attempts": r.attempts,
                    "created": r.created,
                    "priority": r.priority,
                    "error": r.error,
                    "test": r.test,
                }
                for r in rows
            ])


@router.post(
    "/messages/{message_id}/retry",
    status_code=202,
    response_model=Queued,
    response_model_exclude_unset=True,
    responses=answers(Queued, 202),
)
async def retry(
    request: Request, message_id: str, principal: Annotated[Principal, permit("messages.retry")]
) -> Queued:
    """Re-queue a dead letter."""
    await retry_dead_letter(_node(request), message_id, actor=principal.actor)
    return Queued(id=message_id, state="queued")


@router.post(
    "/admin/partners/reload",
    response_model=Reloaded,
    response_model_exclude_unset=True,
    responses=answers(Reloaded, errors=(401, 403)),
)
async def reload_partners(
    request: Request, principal: Annotated[Principal, permit("partners.reload")]
) -> Reloaded:
    """Re-read the partner files now (as SIGHUP does)."""
    node = _node(request)
    problems = node.reload_partners()
    await node.audit(principal.actor, "partners.reloaded", None, problems=len(problems))
    return Reloaded(partners=[p.node_id for p in node.partners.all()], problems=problems)


class RefreshIn(BaseModel):
    """Thumbprints handed over out of band: keys matching them are pinned whatever the
    partner file's ``key_continuity``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "thumbprints": ["kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"]}]})
    thumbprints: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$")]] = Field(
        default_factory=list, max_length=8)


def _keys(keys: list[OfferedKey]) -> list[PartnerKey]:
    return [PartnerKey(kid=k.kid, thumbprint=k.thumbprint) for k in keys]


@router.post(
    "/admin/partners/{partner_id}/refresh",
    response_model=KeysRefreshed,
    response_model_exclude_unset=True,
    responses=answers(KeysRefreshed, errors=(401, 403, 404, 422)),
)
async def refresh_partner_keys(
    request: Request,
    partner_id: Annotated[str, FastPath(pattern=r"^[a-z]{2}\.[a-z0-9-]{2,40}$")],
    principal: Annotated[Principal, permit("partners.keys")],
    body: RefreshIn = RefreshIn(),  # noqa: B008 - an empty body is a plain refresh
) -> KeysRefreshed:
    """Re-read the partner's signed key set now and pin what key continuity allows
    (PROTOCOL.md §2; as the node does daily)."""
    node = _node(request)
    if node.partners.get(partner_id) is None:
        raise NotFoundError(N_("{partner_id} is not in the partner directory"),
                            partner_id=partner_id)
    outcome = await keyrefresh.refresh(node, request.app.state.client, partner_id,
                                       thumbprints=body.thumbprints, actor=principal.actor)
    return KeysRefreshed(partner=outcome.partner, vouched_by=outcome.vouched_by,
                         known=outcome.known, pinned=_keys(outcome.pinned),
                         pending=_keys(outcome.pending), ignored=_keys(outcome.ignored),
                         refused=_keys(outcome.refused), withheld=_keys(outcome.withheld),
                         narrowed=_keys(outcome.narrowed))


@router.get(
    "/admin/partner-keys",
    response_model=WaitingKeys,
    response_model_exclude_unset=True,
    responses=answers(WaitingKeys, errors=(401, 403)),
)
async def pending_partner_keys(
    request: Request, _: Annotated[Principal, permit("partners.keys")]
) -> WaitingKeys:
    """Partners' new keys vouched for by a pinned key, waiting for an administrator."""
    rows = await keyrefresh.pending(_node(request))
    return WaitingKeys(pending=[{**asdict(r), "offered_at": r.offered_at.isoformat()}
                                for r in rows])


@router.post(
    "/admin/partner-keys/{offer_id}/{decision}",
    response_model=KeyDecided,
    response_model_exclude_unset=True,
    responses=answers(KeyDecided, errors=(401, 403, 409, 422)),
)
async def decide_partner_key(
    request: Request,
    offer_id: Annotated[int, FastPath(ge=1, le=2**31 - 1)],
    decision: Literal["accept", "reject"],
    principal: Annotated[Principal, permit("partners.keys")],
) -> KeyDecided:
    """Pin (``accept``) or refuse (``reject``) a waiting key; audited."""
    done = await keyrefresh.decide(_node(request), offer_id, decision == "accept",
                                   principal.actor)
    return KeyDecided.model_validate(asdict(done))
