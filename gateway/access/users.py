"""Local users: accounts, passwords (Argon2id), lock-out after repeated failures.

Passwords are hashed with argon2-cffi's defaults (Argon2id, memory-hard). An unknown user
name costs the same hash as a wrong password, so the answer time does not tell which.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import HUMAN_ROLES
from gateway.audit import log as audit
from gateway.audit.context import Audited
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.ids import NODE_ID
from gateway.store import login_throttle
from gateway.store import sessions as session_rows
from gateway.store import users as repo
from gateway.store.transactions import HasDatabase, reads, writes

MIN_PASSWORD: Final = 12
USERNAME: Final = re.compile(r"[a-z][a-z0-9._-]{2,63}")
UNIT: Final = re.compile(r"[a-z]{2}\.[a-z0-9-]{2,40}")
#: Who acts when no person does, as the audit log names them: never a person's name.
RESERVED: Final = frozenset({"system", "operator", "delivery", "machine", "unknown", "demo"})

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown names (same cost as a real one); made on first
    use, not at import."""
    return _hasher.hash("not a password of anyone")


class UserError(GatewayError):
    """A refused account operation; the message says why (for the CLI and the API)."""

    code = "invalid-request"


class UnknownUserError(UserError):
    """No account of that name."""

    code = "not-found"


class LoginRefused(UserError):  # noqa: N818 - reads as the refusal it is
    """A wrong user name or password (the same answer for both, and for a disabled
    account)."""

    code = "unauthenticated"


@dataclass(frozen=True)
class User:
    """An account as the rest of the code sees it (no hash)."""

    id: int
    username: str
    display_name: str
    role: str
    unit: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> User:
        """From a ``users`` row."""
        return cls(row.id, row.username, row.display_name, row.role, row.unit,
                   bool(row.disabled), row.locked_until, row.created_at)


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing."""
    if len(password) < MIN_PASSWORD:
        raise UserError(N_("password must have at least {minimum} characters"),
                        minimum=MIN_PASSWORD)


@writes
async def add_user(conn: AsyncConnection, ctx: Audited, actor: str, *, username: str,
                   display_name: str, role: str, unit: str, password: str) -> User:
    """Create an account; refuses a taken name, an unknown role, a short password."""
    if username in RESERVED or NODE_ID.fullmatch(username):
        raise UserError(N_("username: {username} is how the log names the node itself or a "
                           "partner; choose a person's name"), username=username)
    if not USERNAME.fullmatch(username):
        raise UserError(N_("username: 3-64 lower-case letters, digits, '.', '_' or '-', starting "
                           "with a letter"))
    if role not in HUMAN_ROLES:
        raise UserError(N_("role must be one of: {roles}"), roles=', '.join(HUMAN_ROLES))
    if not UNIT.fullmatch(unit):
        raise UserError(N_("unit must look like a node id, e.g. vn.blo-mocbai or vn.hotline-111"))
    if not display_name.strip():
        raise UserError(N_("display name is required"))
    check_password(password)
    if await find(conn, username) is not None:
        raise UserError(N_("user {username} exists already"), username=username)
    now = ctx.clock()
    user_id = await repo.add(
        conn, username=username, display_name=display_name.strip(), role=role, unit=unit,
        password_hash=_hasher.hash(password), created_at=now, password_set_at=now,
        disabled=False, failed_logins=0)
    await audit.append(conn, ctx.clock, actor, "user.added", username,
                       {"role": role, "unit": unit})
    user = await find(conn, username)
    assert user is not None
    assert user.id == user_id
    return user


async def find(conn: AsyncConnection, username: str) -> User | None:
    """An account by name."""
    row = await repo.find(conn, username)
    return User.of(row) if row else None


@reads
async def list_users(conn: AsyncConnection, _ctx: HasDatabase) -> list[User]:
    """All accounts, by name."""
    return [User.of(r) for r in await repo.all_by_name(conn)]


@writes
async def set_disabled(conn: AsyncConnection, ctx: Audited, actor: str, username: str,
                       disabled: bool = True) -> None:
    """Disable (or enable) an account; a disabled account's sessions end at once."""
    user = await find(conn, username)
    if user is None:
        raise UnknownUserError(N_("no user {username}"), username=username)
    await repo.set_disabled(conn, user.id, disabled)
    if disabled:
        await session_rows.end_all_of(conn, user.id, ctx.clock())
    await audit.append(conn, ctx.clock, actor, "user.disabled" if disabled else "user.enabled",
                       username, {})


@writes
async def set_password(conn: AsyncConnection, ctx: Audited, actor: str, username: str,
                       password: str) -> None:
    """Set a new password, clear any lock-out and end the user's sessions."""
    check_password(password)
    user = await find(conn, username)
    if user is None:
        raise UnknownUserError(N_("no user {username}"), username=username)
    now = ctx.clock()
    await repo.set_password(conn, user.id, _hasher.hash(password), now)
    await session_rows.end_all_of(conn, user.id, now)
    await audit.append(conn, ctx.clock, actor, "user.password-set", username, {})


#: After this many failures for one name from one address, each try waits longer ...
PAIR_FREE_FAILURES: Final = 5
#: ... and after this many from one address, whatever the names.
ADDRESS_FREE_FAILURES: Final = 20
MAX_DELAY: Final = timedelta(minutes=15)
#: Failures older than this are forgotten.
THROTTLE_WINDOW: Final = timedelta(hours=1)


class LoginThrottled(LoginRefused):
    """Too many failures from this address (for this name): wait, then try again. The same
    answer for every name, known or not."""

    code = "rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts from here; try again in {retry_after} s")
        self.retry_after = retry_after


def _throttle_keys(username: str, source: str) -> tuple[str, str]:
    return f"pair:{username[:64]}:{source[:64]}", f"addr:{source[:64]}"


async def _blocked_for(conn: AsyncConnection, now: datetime, keys: tuple[str, ...]) -> int:
    until = await login_throttle.blocked_until(conn, keys, now)
    return max((int((u - now).total_seconds()) + 1 for u in until), default=0)


async def _fail(conn: AsyncConnection, now: datetime, key: str, free: int) -> None:
    row = await login_throttle.find(conn, key)
    failures = 1 if row is None or now - row.last_failure_at > THROTTLE_WINDOW \
        else row.failures + 1
    blocked = now + min(MAX_DELAY, timedelta(seconds=2 ** min(failures - free, 20))) \
        if failures >= free else None
    values = {"failures": failures, "last_failure_at": now, "blocked_until": blocked}
    if row is None:
        await login_throttle.add(conn, key, **values)
    else:
        await login_throttle.replace(conn, key, **values)


async def authenticate(conn: AsyncConnection, clock: Callable[[], datetime], username: str,
                       password: str, source: str = "unknown") -> User:
    """The account if the password is right.

    Known and unknown names, disabled accounts and wrong passwords get the same answer after
    the same work (one Argon2 verification, off the event loop). Failures slow the next try
    from the same address for the same name, then from the same address for any name, by a
    delay that doubles up to 15 minutes (:class:`LoginThrottled`, the same for every name);
    nobody elsewhere is locked out, and the right password from another address still opens
    the account.
    """
    now = clock()
    keys = _throttle_keys(username, source)
    wait = await _blocked_for(conn, now, keys)
    if wait:
        await audit.append(conn, clock, "unknown", "login.failed", None, {"reason": "throttled"})
        raise LoginThrottled(wait)
    row = await repo.find(conn, username)
    stored = row.password_hash if row is not None else _dummy_hash()
    right = await asyncio.to_thread(_verify, stored, password)
    if row is None or row.disabled or not right:
        await _fail(conn, now, keys[0], PAIR_FREE_FAILURES)
        await _fail(conn, now, keys[1], ADDRESS_FREE_FAILURES)
        reason = "credentials" if row is None or not right else "disabled"
        await audit.append(conn, clock, username if row is not None else "unknown",
                           "login.failed", None, {"reason": reason})
        raise LoginRefused(N_("user name or password is wrong"))
    await login_throttle.clear(conn, keys[0])
    if _hasher.check_needs_rehash(row.password_hash):
        await repo.rehash(conn, row.id, await asyncio.to_thread(_hasher.hash, password))
    return User.of(row)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False

