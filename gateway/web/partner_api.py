"""The partner API under ``/bx/v1`` (PROTOCOL.md §4). Thin: read, call one flow, answer."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from gateway.exchange import mailbox
from gateway.exchange.inbound import accept_message, record_rejection
from gateway.protocol.bearer import bearer_token
from gateway.protocol.envelope import MAX_MESSAGE_BYTES, MEDIA_TYPE
from gateway.protocol.errors import GatewayError
from gateway.protocol.problems import TooLargeError, problem_of
from gateway.runtime import stopping
from gateway.runtime.node import Node
from gateway.web.problems import refusal_response, unicode_response

router = APIRouter(prefix="/bx/v1")
MAX_RECEIPT_BYTES = 64 * 1024
#: The path of :func:`push`, served without the framework's routing (see there).
PUSH_PATH = "/bx/v1/messages"


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body; a :class:`TooLargeError` before it is read whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError("body of {size} bytes; the limit is {limit}", size=declared,
                            limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLargeError("body larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/messages")
async def post_message(request: Request,
                       authorization: Annotated[str | None, Header()] = None) -> Response:
    """Push: accept one message (202 with a receipt, 200 with the original receipt)."""
    node = _node(request)
    try:
        raw = await read_limited(request, MAX_MESSAGE_BYTES)
    except TooLargeError as refused:
        await record_rejection(node, problem_of(refused), None)
        raise
    acceptance = await accept_message(node, raw, bearer_token(authorization))
    return Response(acceptance.receipt, status_code=acceptance.status, media_type=MEDIA_TYPE)


async def push(scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /bx/v1/messages`` as plain ASGI, with :func:`post_message`'s answers (the
    route stays for the OpenAPI document): the busiest path skips the framework's routing,
    dependency solving and request object (bench/ingest.py). The app mounts it behind the
    same limits and headers as every route (``gateway.web.app``)."""
    node: Node = scope["app"].state.node
    authorization = next((value.decode("latin-1") for key, value in scope["headers"]
                          if key == b"authorization"), None)
    response: Response
    try:
        try:
            raw = await _body(scope, receive, MAX_MESSAGE_BYTES)
        except TooLargeError as refused:
            await record_rejection(node, problem_of(refused), None)
            raise
        acceptance = await accept_message(node, raw, bearer_token(authorization))
    except GatewayError as refused:
        response = refusal_response(refused)
    except UnicodeError:
        response = unicode_response()
    else:
        response = Response(acceptance.receipt, status_code=acceptance.status,
                            media_type=MEDIA_TYPE)
    await response(scope, receive, send)


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """:func:`read_limited` over ASGI messages."""
    declared = next((value.decode("latin-1") for key, value in scope["headers"]
                     if key == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError("body of {size} bytes; the limit is {limit}", size=declared,
                            limit=limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLargeError("body larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


@router.get("/messages")
async def get_messages(request: Request, limit: Annotated[
                           int, Query(ge=1, le=mailbox.MAX_PULL)] = mailbox.DEFAULT_PULL,
                       authorization: Annotated[str | None, Header()] = None) -> Response:
    """Pull: the caller's waiting messages, oldest first."""
    body = await mailbox.pull(_node(request), bearer_token(authorization), limit)
    return Response(body, media_type="application/json")


@router.post("/receipts", status_code=204)
async def post_receipt(request: Request,
                       authorization: Annotated[str | None, Header()] = None) -> Response:
    """Pull: acknowledge one message with a receipt (204, also when repeated)."""
    raw = await read_limited(request, MAX_RECEIPT_BYTES)
    await mailbox.acknowledge(_node(request), bearer_token(authorization), raw)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    """This node's public keys (no auth)."""
    return JSONResponse(_node(request).keystore.jwks())


@router.get("/.well-known/jwks.jws")
async def signed_jwks(request: Request) -> Response:
    """This node's JWK Set signed by the key that signs now (PROTOCOL.md §2: partners pin a
    next key on the word of a key they trust). No auth."""
    body = await asyncio.to_thread(_node(request).keystore.signed_jwks)
    return Response(body, media_type="application/jose+json",
                    headers={"Cache-Control": "no-cache"})


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Liveness (no auth). 503 ``stopping`` while the process drains before it stops
    (``BX_STOP_DRAIN_S``): a load balancer sends its requests elsewhere."""
    if stopping.stopping():
        return JSONResponse({"status": "stopping", "node": _node(request).node_id,
                             "protocol": [1]}, status_code=503)
    return JSONResponse({"status": "ok", "node": _node(request).node_id, "protocol": [1]})
