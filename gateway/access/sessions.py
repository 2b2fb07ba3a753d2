"""Sessions: a short-lived signed token (cookie for the console, bearer for the API) over a
revocable row that carries the idle clock.

The token is a JWT (HS256, PyJWT) under the session key derived from the node's secret key;
it names the session row and expires at the absolute time-out. The row ends at logout, at a
password change or when the account is disabled, and lapses after :data:`IDLE` without use.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import jwt
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.users import User, UserError, authenticate, set_password
from gateway.audit import log as audit
from gateway.audit.context import Audited
from gateway.protocol.errors import GatewayError
from gateway.store import sessions as repo
from gateway.store.transactions import writes

IDLE: Final = timedelta(minutes=30)
ABSOLUTE: Final = timedelta(hours=12)
#: The idle clock is written at most this often, not on every request.
TOUCH_EVERY: Final = timedelta(seconds=60)
_ALG: Final = "HS256"


class SessionError(GatewayError):
    """No valid session: expired, ended, forged or absent."""

    code = "unauthenticated"


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user through a session, or the node's own API token."""

    username: str
    role: str
    unit: str
    session_id: str | None = None
    csrf: str | None = None
    display_name: str = ""

    @property
    def actor(self) -> str:
        """The name written in the audit log."""
        return self.username


@dataclass(frozen=True)
class Opened:
    """A new session: the token to hand out and its times."""

    token: str
    session_id: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class PasswordRefused:
    """Why one's own password was not changed: ``field`` names the password refused (the
    current one, wrong; or the new one)."""

    field: Literal["current_password", "password"]
    error: UserError


@writes
async def log_in(conn: AsyncConnection, ctx: Audited, key: bytes, username: str,
                 password: str, source: str) -> tuple[User, Opened] | UserError:
    """The login use case: the account and its new session, or why not. A refusal is
    answered, not raised, so that its failure count and audit line are committed with the
    transaction (raising would roll them back)."""
    try:
        user = await authenticate(conn, ctx.clock, username, password, source)
    except UserError as exc:
        return exc
    return user, await open_session(conn, ctx.clock, key, user)


@writes
async def change_own_password(conn: AsyncConnection, ctx: Audited, username: str,
                              current: str, password: str, source: str
                              ) -> PasswordRefused | None:
    """A user's change of their own password, given the current one (every session of the
    user ends). A wrong current password is counted and audited like a failed login, and
    committed (see :func:`log_in`); so it is answered, not raised."""
    try:
        await authenticate(conn, ctx.clock, username, current, source)
    except UserError as exc:
        return PasswordRefused("current_password", exc)
    try:
        await set_password.within(conn, ctx, username, username, password)
    except UserError as exc:  # refused before it wrote anything
        return PasswordRefused("password", exc)
    return None


async def open_session(conn: AsyncConnection, clock: Callable[[], datetime], key: bytes,
                       user: User) -> Opened:
    """Start a session for an authenticated user."""
    now = clock()
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + ABSOLUTE
    await repo.add(conn, id=session_id, user_id=user.id, created_at=now, last_seen_at=now,
                   expires_at=expires, csrf=csrf)
    await audit.append(conn, clock, user.username, "login", user.username,
                       {"role": user.role, "unit": user.unit})
    token = jwt.encode({"sid": session_id, "sub": user.username, "iat": int(now.timestamp()),
                        "exp": int(expires.timestamp())}, key, algorithm=_ALG)
    return Opened(token, session_id, csrf, expires)


def _session_id(token: str, keys: bytes | Sequence[bytes], now: datetime) -> str:
    """The session a token names, if one of ``keys`` signed it (the current key first; the
    old one while a secret rotation finishes, so that nobody is logged out by it)."""
    claims = None
    for key in [keys] if isinstance(keys, bytes) else keys:
        try:
            claims = jwt.decode(token, key, algorithms=[_ALG], options={
                "require": ["sid", "sub", "exp", "iat"], "verify_exp": False,
                "verify_iat": False, "verify_nbf": False})  # times: the injected clock, below
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise SessionError("session token not valid") from exc
    if claims is None:
        raise SessionError("session token not valid")
    if int(claims["exp"]) <= int(now.timestamp()):
        raise SessionError("session expired")
    return str(claims["sid"])


@writes
async def resolve(conn: AsyncConnection, ctx: Audited, key: bytes | Sequence[bytes],
                  token: str, *, touch: bool = True) -> Principal:
    """The principal of a token, touching its idle clock (unless ``touch`` is false: a page's
    background polling is not the user being active); :class:`SessionError` if none. A step
    of another use case calls ``resolve.within``."""
    clock = ctx.clock
    now = clock()
    session_id = _session_id(token, key, now)
    row = await repo.with_user(conn, session_id)
    if row is None or row.ended_at is not None or row.disabled:
        raise SessionError("session ended")
    if row.expires_at <= now:
        raise SessionError("session expired")
    if now - row.last_seen_at > IDLE:
        await repo.end(conn, session_id, now)
        await audit.append(conn, clock, row.username, "session.idle-timeout", row.username, {})
        raise SessionError("session timed out after inactivity")
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        await repo.touch(conn, session_id, now)
    return Principal(row.username, row.role, row.unit, session_id, row.csrf, row.display_name)


@writes
async def end_session(conn: AsyncConnection, ctx: Audited, principal: Principal) -> None:
    """Log out."""
    await repo.end(conn, principal.session_id, ctx.clock())
    await audit.append(conn, ctx.clock, principal.username, "logout", principal.username, {})
