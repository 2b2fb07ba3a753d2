"""The node's message operations under ``/api/messages``: the outbox and its dead letters.

Raw XML goes out only with the node's API token (role ``machine``: scripts on the host, like
the CLI's ``gateway send``); people send through cases, where drafts need a second person.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.access.sessions import Principal
from gateway.exchange.node import Node
from gateway.exchange.outbound import OutboundError, retry_dead_letter, send_message
from gateway.protocol.envelope import Attachment, MessageDraft
from gateway.protocol.problems import Problem
from gateway.store import messages as repo
from gateway.store.database import reading
from gateway.web.auth import permit
from gateway.web.examples import MESSAGE, answers


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


router = APIRouter(prefix="/api", tags=["messages"])


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
    handling: Literal["H0", "H1", "H2", "H3"] = "H0"
    lang: Literal["vi", "km", "lo", "en"] = "vi"
    attachments: list[AttachmentIn] = Field(default_factory=list)


@router.post("/messages", status_code=202, responses=answers({"id": MESSAGE["id"]}, 202))
async def send(
    request: Request,
    body: SendRequest,
    principal: Annotated[Principal, permit("messages.send-raw")],
) -> JSONResponse:
    """Validate, sign, store and queue a document; answers its message id."""
    try:
        files = [
            Attachment(a.name, a.media_type, base64.b64decode(a.data, validate=True))
            for a in body.attachments
        ]
    except ValueError as exc:  # binascii.Error, or text that is not even ASCII
        raise Problem("invalid-request", f"attachments: data is not base64: {exc}") from exc
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
    try:
        message_id = await send_message(
            _node(request), draft, body.document.encode(), files, actor=principal.actor
        )
    except OutboundError as exc:
        raise Problem("invalid-request", str(exc)) from exc
    except ValueError as exc:  # a header value the protocol refuses (e.g. a bad ref)
        raise Problem("invalid-request", str(exc)) from exc
    return JSONResponse({"id": message_id}, status_code=202)


@router.get(
    "/messages",
    responses=answers(
        {
            "messages": [
                {
                    "id": MESSAGE["id"],
                    "direction": "out",
                    "from": "vn.blo-mocbai",
                    "to": "kh.blo-bavet",
                    "type": "verification-request",
                    "state": "delivered",
                    "attempts": 1,
                    "created": "2026-11-24T08:00:00Z",
                    "priority": "urgent",
                    "error": None,
                }
            ]
        }
    ),
)
async def list_messages(
    request: Request,
    _: Annotated[Principal, permit("messages.read")],
    status: Literal["queued", "waiting", "delivered", "dead", "accepted"] | None = None,
    partner: str | None = None,
) -> JSONResponse:
    """Messages in and out with their delivery state, newest first."""
    node = _node(request)
    async with reading(node.engine) as conn:
        rows = await repo.list_messages(conn, status, partner)
    return JSONResponse(
        {
            "messages": [
                {
                    "id": r.message_id,
                    "direction": r.direction,
                    "from": r.sender,
                    "to": r.recipient,
                    "type": r.doc_type,
                    "state": r.state,
                    "attempts": r.attempts,
                    "created": r.created,
                    "priority": r.priority,
                    "error": r.last_error,
                }
                for r in rows
            ]
        }
    )


@router.post(
    "/messages/{message_id}/retry",
    status_code=202,
    responses=answers({"id": MESSAGE["id"], "state": "queued"}, 202),
)
async def retry(
    request: Request, message_id: str, principal: Annotated[Principal, permit("messages.retry")]
) -> JSONResponse:
    """Re-queue a dead letter."""
    try:
        await retry_dead_letter(_node(request), message_id, actor=principal.actor)
    except OutboundError as exc:
        raise Problem("invalid-request", str(exc)) from exc
    return JSONResponse({"id": message_id, "state": "queued"}, status_code=202)


@router.post(
    "/admin/partners/reload",
    responses=answers({"partners": ["kh.blo-bavet", "vn.c02"], "problems": []}, errors=(401, 403)),
)
async def reload_partners(
    request: Request, principal: Annotated[Principal, permit("partners.reload")]
) -> JSONResponse:
    """Re-read the partner files now (as SIGHUP does)."""
    node = _node(request)
    problems = node.reload_partners()
    await node.audit(principal.actor, "partners.reloaded", None, problems=len(problems))
    return JSONResponse(
        {"partners": [p.node_id for p in node.partners.all()], "problems": problems}
    )
