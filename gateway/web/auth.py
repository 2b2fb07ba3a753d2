"""Who is calling, and may they: the session dependencies of the local API and the console.

A caller is a user with a session (``Authorization: Bearer <session token>`` for the API, the
``bx_session`` cookie for the console) or the node's own API token (role ``machine``, for
automation on the host, like the CLI). Every route names one action of the permission matrix
through :func:`permit`; a test checks that no route under ``/api`` is left without one.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from fastapi import Depends, Request

from gateway.access import sessions
from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases.work import CaseWork
from gateway.protocol.bearer import bearer_token
from gateway.protocol.errors import Code
from gateway.protocol.problems import ForbiddenError

COOKIE: Final = "bx_session"
CSRF_HEADER: Final = "X-CSRF-Token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def source_of(request: Request) -> str:
    """The caller's address (the login throttle's key): the address that connected, or,
    when that is one of ``BX_TRUSTED_PROXIES``, the client address that proxy passed on in
    ``X-Forwarded-For`` (``gateway serve`` believes it from them only; docs/operations.md)."""
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """The request comes from this node's own pages: its ``Origin`` (or, without one, its
    ``Referer``) is this node. A browser sends one of them with every form it posts."""
    own = str(request.base_url).rstrip("/")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.rstrip("/") == own
    referer = request.headers.get("referer", "")
    return referer == own or referer.startswith(own + "/")


def case_work(request: Request) -> CaseWork:
    """The node's case work (built in the app's lifespan)."""
    cw: CaseWork = request.app.state.cases
    return cw


async def current_principal(request: Request) -> Principal:
    """The caller; else a :class:`~gateway.access.sessions.SessionError`
    (``unauthenticated``), or a :class:`ForbiddenError` for a cookie without its CSRF token."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    cw = case_work(request)
    presented = bearer_token(request.headers.get("authorization"))
    via_cookie = False
    if presented is None:
        presented = request.cookies.get(COOKIE)
        via_cookie = presented is not None
    if not presented:
        raise sessions.SessionError("log in first (POST /api/session)")
    expected: str = request.app.state.api_token
    if hmac.compare_digest(presented.encode(), expected.encode()):
        principal = Principal("machine", "machine", cw.node.node_id)
    else:
        try:
            principal = await sessions.resolve(cw, cw.sealer.session_keys, presented)
        except sessions.SessionError as exc:  # the same refusal, saying what to do
            raise sessions.SessionError("{error}; log in again", error=exc) from exc
        if via_cookie and request.method not in _SAFE_METHODS:
            token = request.headers.get(CSRF_HEADER, "")
            if not principal.csrf or not hmac.compare_digest(token.encode(),
                                                             principal.csrf.encode()):
                raise ForbiddenError("missing or wrong {header} header",
                                     header=CSRF_HEADER)
    request.state.principal = principal
    return principal


def permit(action: str) -> Any:
    """A dependency that lets through only roles allowed to take ``action``."""

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not allowed(principal.role, action):
            cw = case_work(request)
            await audit.record(cw, principal.actor, "access.denied", None,
                               {"action": action, "role": principal.role})
            raise ForbiddenError("the role {role} may not do this ({action})",
                                 role=Code(principal.role), action=action)
        return principal

    dependency.action = action  # type: ignore[attr-defined]
    return Depends(dependency)


def public() -> Any:
    """Marks a route that needs no session (logging in)."""

    async def dependency() -> None:
        return None

    dependency.action = None  # type: ignore[attr-defined]
    return Depends(dependency)
