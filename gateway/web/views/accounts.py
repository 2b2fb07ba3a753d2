"""The views of sessions and accounts."""

from __future__ import annotations

from gateway.protocol.encoding import JsonObject
from gateway.web.views import View, example

_USER: JsonObject = {
    "username": "lan", "display_name": "Nguyễn Thị Lan", "role": "blo-officer",
    "unit": "vn.blo-mocbai", "disabled": False, "locked_until": None}


class Account(View):
    """An account (never its password)."""

    model_config = example(_USER)
    username: str
    display_name: str
    role: str
    unit: str
    disabled: bool
    locked_until: str | None


class OpenedSession(View):
    """A session just opened: its token (also set as the console's cookie) and its user."""

    model_config = example({
        "token": "eyJhbGciOiJIUzI1NiJ9…", "csrf": "q3V…",
        "expires_at": "2026-11-24T20:00:00+00:00", "idle_timeout_seconds": 1800,
        "user": _USER})
    token: str
    csrf: str
    expires_at: str
    idle_timeout_seconds: int
    user: Account


class Me(View):
    """The logged-in user."""

    model_config = example({k: _USER[k] for k in ("username", "display_name", "role", "unit")})
    username: str
    display_name: str
    role: str
    unit: str


class Ended(View):
    """A session ended."""

    model_config = example({"ended": True})
    ended: bool


class PasswordChanged(View):
    """One's own password changed."""

    model_config = example({"changed": True})
    changed: bool


class AccountList(View):
    """Every account of the node."""

    model_config = example({"users": [_USER]})
    users: list[Account]


class AccountDisabled(View):
    """An account disabled."""

    model_config = example({"username": "lan", "disabled": True})
    username: str
    disabled: bool


class PasswordReset(View):
    """An account's password set by an administrator."""

    model_config = example({"username": "lan", "reset": True})
    username: str
    reset: bool
