"""Limits on every request, before any route sees it: header size, body size per path, and
a body that must keep arriving (an idle gap of 15 s, or less than 1 KiB/s after 30 s, ends
it). The body is read here, within the limits, and handed to the route as it came, so that
nothing downstream can be made to wait on a slow sender or to hold more than the limit.

The local API (``/api/``) is the exception: its bodies are read by the route itself
(:mod:`gateway.web.routing`), within the same rules and the route's own limit, only once the
caller is known and allowed: a stranger costs the node no more than the headers. Here, its
declared size is only held against the largest any of its routes takes.

Slow request headers are the front proxy's to cut (docs/operations.md): the application is
only called once they are complete.

Every refusal here is audited (``request.rejected``, with its code and the path, never the
body) and counted in ``/metrics``, as the routes' own refusals are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.requests import HTTPConnection

from gateway.access import sessions
from gateway.protocol.envelope import MAX_MESSAGE_BYTES
from gateway.protocol.errors import GatewayError
from gateway.protocol.problems import (
    PROBLEM_MEDIA_TYPE,
    ClientGoneError,
    Problem,
    SlowBodyError,
    TooLargeError,
)
from gateway.web.auth import COOKIE

log = logging.getLogger("gateway.web")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_HEADER_BYTES: Final = 32 * 1024
MiB: Final = 1024 * 1024
#: A login, the API's or the console's: a name and a password of at most 64 and 1,024
#: characters, even written as JSON ``\u`` escapes or percent-encoded UTF-8.
LOGIN_BODY: Final = 16 * 1024
#: A local API call that carries no files (the default of :mod:`gateway.web.routing`).
API_BODY: Final = 1 * MiB
#: A draft with ten 5 MiB attachments in base64, and its document: the most any local API
#: route takes.
DRAFT_BODY: Final = 72 * MiB
#: The largest body per path prefix (first match); the partner API's own limits apply after.
MAX_BODY: Final = (("/bx/v1/messages", MAX_MESSAGE_BYTES + 64 * 1024),
                   ("/bx/v1/", 64 * 1024),
                   ("/api/", DRAFT_BODY),  # each route's own limit applies in the route
                   ("/", 48 * MiB))        # console forms with their files
#: Paths whose body is parsed before anyone is known: their own small limits.
EXACT_BODY: Final = {"/login": LOGIN_BODY}
#: The prefix of the paths whose bodies their routes read (after the caller is known).
READ_BY_ROUTE: Final = "/api/"
IDLE_S: Final = 15.0
GRACE_S: Final = 30.0
MIN_RATE: Final = 1024  # bytes per second, after the grace period


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may send."""
    exact = EXACT_BODY.get(path)
    if exact is not None:
        return exact
    return next(limit for prefix, limit in MAX_BODY if path.startswith(prefix))


_REFUSALS: Final[dict[str, type[GatewayError]]] = {
    "too-large": TooLargeError, "timeout": SlowBodyError, "malformed": ClientGoneError}


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, read within the limits of this module; else its refusal
    (:class:`TooLargeError`, :class:`SlowBodyError`, :class:`ClientGoneError`)."""
    body, refusal = await _read(receive, limit)
    if refusal is not None:
        code, detail = refusal
        raise _REFUSALS[code](detail)
    return body


class RequestLimits:
    """ASGI middleware applying the limits of this module."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            await _refuse(scope, send, "headers-too-large", "request headers larger than 32 KiB")
            return
        path = str(scope.get("path", ""))
        limit = body_limit(path)
        if limit > LOGIN_BODY and _console_form(scope, path) and not await _has_session(scope):
            limit = LOGIN_BODY  # a stranger has nothing to post to the console but a login
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, "too-large",
                          f"body of {int(declared)} bytes; the limit is {limit}")
            return
        if path.startswith(READ_BY_ROUTE):  # read by the route, once the caller is known
            await self.app(scope, receive, send)
            return
        body, refusal = await _read(receive, limit)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)


_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _console_form(scope: Scope, path: str) -> bool:
    """A request with a body to a console path (the local API's routes and the partner API
    check their callers themselves)."""
    return (scope.get("method") not in _SAFE and path not in EXACT_BODY
            and not path.startswith((READ_BY_ROUTE, "/bx/")))


async def _has_session(scope: Scope) -> bool:
    """Whether the request's session cookie names a live session (read only, never touched).
    Checked before a console form's body is read: a caller without one may send no more than
    a login, and costs the node no more than that (the route checks the CSRF token and the
    permission after). Fails closed: no node to ask is no session."""
    cw = getattr(getattr(scope.get("app"), "state", None), "cases", None)
    token = HTTPConnection(scope).cookies.get(COOKIE)
    if cw is None or not token:
        return False
    try:
        await sessions.resolve(cw, cw.sealer.session_keys, token, touch=False)
    except sessions.SessionError:
        return False
    return True


async def _read(receive: Receive, limit: int) -> tuple[bytes, tuple[str, str] | None]:
    chunks: list[bytes] = []
    size, started = 0, time.monotonic()
    while True:
        try:
            message = await asyncio.wait_for(receive(), IDLE_S)
        except TimeoutError:
            return b"", ("timeout", f"no body bytes for {IDLE_S:.0f} s")
        if message["type"] == "http.disconnect":
            return b"", ("malformed", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", ("too-large", f"body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None
        elapsed = time.monotonic() - started
        if elapsed > GRACE_S and size / elapsed < MIN_RATE:
            return b"", ("timeout", "body arriving slower than 1 KiB/s")


async def _refuse(scope: Scope, send: Send, code: str, detail: str) -> None:
    problem = Problem(code, detail)
    body = problem.to_json()
    await send({"type": "http.response.start", "status": problem.status, "headers": [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"connection", b"close"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    await audit_refusal(scope, code)


async def audit_refusal(scope: Scope, code: str) -> None:
    """The refusal's audit line and count (once the answer is sent: a slow database must not
    keep a refused client waiting)."""
    app = scope.get("app")
    node = getattr(getattr(app, "state", None), "node", None)
    if node is None:  # not started yet, or a bare ASGI app in a test
        return
    path = str(scope.get("path", ""))[:80]
    node.metrics.rejections.labels(code).inc()
    try:
        await node.audit("unknown", "request.rejected", None, code=code, path=path,
                         method=str(scope.get("method", "")))
    except Exception:  # the refusal stands; the log says the line is missing
        log.exception("request refusal not audited", extra={"code": code})
