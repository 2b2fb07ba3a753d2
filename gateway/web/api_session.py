"""Logging in and out, and the accounts of the node (``/api/session``, ``/api/users``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.access import sessions, users
from gateway.access.roles import HUMAN_ROLES
from gateway.access.sessions import Principal
from gateway.protocol.problems import Problem
from gateway.web.auth import COOKIE, case_work, permit, public, source_of
from gateway.web.examples import answers

router = APIRouter(prefix="/api", tags=["session and users"])


class Login(BaseModel):
    """A user name and password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"username": "lan.nguyen", "password": "correct horse battery"}]
        },
    )
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class NewUser(BaseModel):
    """An account to create."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "lan.nguyen",
                    "display_name": "Nguyễn Thị Lan",
                    "role": "blo-officer",
                    "unit": "vn.blo-mocbai",
                    "password": "a long pass phrase",
                }
            ]
        },
    )
    username: Annotated[str, Field(min_length=1, max_length=64)]
    display_name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Annotated[str, Field(json_schema_extra={"enum": list(HUMAN_ROLES)})]
    unit: Annotated[str, Field(min_length=1, max_length=48)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class NewPassword(BaseModel):
    """A new password (an administrator's reset)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "another long pass phrase"}]}
    )
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class OwnPassword(BaseModel):
    """One's own new password, with the current one: a session alone changes nothing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": "a long pass phrase", "password": "another long pass phrase"}
            ]
        },
    )
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _user(user: users.User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "unit": user.unit,
        "disabled": user.disabled,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
    }


@router.post(
    "/session",
    dependencies=[public()],
    responses=answers(
        {
            "token": "eyJhbGciOiJIUzI1NiJ9…",
            "csrf": "q3V…",
            "expires_at": "2026-11-24T20:00:00+00:00",
            "idle_timeout_seconds": 1800,
            "user": {
                "username": "lan",
                "display_name": "Nguyễn Thị Lan",
                "role": "blo-officer",
                "unit": "vn.blo-mocbai",
                "disabled": False,
                "locked_until": None,
            },
        },
        errors=(401, 422, 429),
    ),
)
async def login(request: Request, body: Login) -> JSONResponse:
    """Log in: answers a session token (and sets the console's cookie)."""
    cw = case_work(request)
    outcome = await sessions.log_in(cw, cw.sealer.session_key, body.username, body.password,
                                    source_of(request))
    if isinstance(outcome, users.LoginThrottled):
        raise Problem("rate-limited", str(outcome), retry_after=outcome.retry_after)
    if isinstance(outcome, users.UserError):
        raise Problem("unauthenticated", str(outcome))
    user, opened = outcome
    response = JSONResponse(
        {
            "token": opened.token,
            "csrf": opened.csrf,
            "expires_at": opened.expires_at.isoformat(),
            "idle_timeout_seconds": int(sessions.IDLE.total_seconds()),
            "user": _user(user),
        }
    )
    secure = request.url.scheme == "https" or str(cw.node.settings.public_url).startswith("https")
    response.set_cookie(
        COOKIE,
        opened.token,
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=int(sessions.ABSOLUTE.total_seconds()),
        path="/",
    )
    return response


@router.get(
    "/session",
    responses=answers(
        {
            "username": "lan",
            "display_name": "Nguyễn Thị Lan",
            "role": "blo-officer",
            "unit": "vn.blo-mocbai",
        },
        errors=(401, 403),
    ),
)
async def who_am_i(principal: Annotated[Principal, permit("session.self")]) -> dict[str, Any]:
    """The logged-in user."""
    return {
        "username": principal.username,
        "display_name": principal.display_name,
        "role": principal.role,
        "unit": principal.unit,
    }


@router.delete("/session", responses=answers({"ended": True}, errors=(401, 403)))
async def logout(
    request: Request, principal: Annotated[Principal, permit("session.self")]
) -> JSONResponse:
    """Log out (the token stops working at once)."""
    cw = case_work(request)
    await sessions.end_session(cw, principal)
    response = JSONResponse({"ended": True})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/session/password", responses=answers({"changed": True}))
async def change_password(
    request: Request, body: OwnPassword, principal: Annotated[Principal, permit("session.self")]
) -> dict[str, Any]:
    """Change one's own password, giving the current one (every session of the user ends)."""
    cw = case_work(request)
    refused = await sessions.change_own_password(cw, principal.username, body.current_password,
                                                 body.password, source_of(request))
    if refused is not None:
        code = "unauthenticated" if refused.field == "current_password" else "invalid-request"
        raise Problem(code, f"{refused.field}: {refused.error}")
    return {"changed": True}


@router.get(
    "/users",
    responses=answers(
        {
            "users": [
                {
                    "username": "lan",
                    "display_name": "Nguyễn Thị Lan",
                    "role": "blo-officer",
                    "unit": "vn.blo-mocbai",
                    "disabled": False,
                    "locked_until": None,
                }
            ]
        },
        errors=(401, 403),
    ),
)
async def list_users(
    request: Request, _: Annotated[Principal, permit("users.manage")]
) -> dict[str, Any]:
    """Every account of the node."""
    cw = case_work(request)
    found = await users.list_users(cw)
    return {"users": [_user(u) for u in found]}


@router.post(
    "/users",
    status_code=201,
    responses=answers(
        {
            "username": "lan",
            "display_name": "Nguyễn Thị Lan",
            "role": "blo-officer",
            "unit": "vn.blo-mocbai",
            "disabled": False,
            "locked_until": None,
        },
        201,
    ),
)
async def add_user(
    request: Request, body: NewUser, principal: Annotated[Principal, permit("users.manage")]
) -> dict[str, Any]:
    """Create an account."""
    cw = case_work(request)
    try:
        user = await users.add_user(cw, principal.actor, **body.model_dump())
    except users.UserError as exc:
        raise Problem("invalid-request", str(exc)) from exc
    return _user(user)


@router.post(
    "/users/{username}/disable",
    responses=answers({"username": "lan", "disabled": True}, errors=(401, 403, 404)),
)
async def disable_user(
    request: Request, username: str, principal: Annotated[Principal, permit("users.manage")]
) -> dict[str, Any]:
    """Disable an account; its sessions end at once."""
    cw = case_work(request)
    try:
        await users.set_disabled(cw, principal.actor, username)
    except users.UserError as exc:
        raise Problem("not-found", str(exc)) from exc
    return {"username": username, "disabled": True}


@router.post(
    "/users/{username}/password",
    responses=answers({"username": "lan", "reset": True}, errors=(401, 403, 404, 422)),
)
async def reset_password(
    request: Request,
    username: str,
    body: NewPassword,
    principal: Annotated[Principal, permit("users.manage")],
) -> dict[str, Any]:
    """Set a user's password (clears a lock-out, ends the user's sessions)."""
    cw = case_work(request)
    try:
        await users.set_password(cw, principal.actor, username, body.password)
    except users.UserError as exc:
        code = "not-found" if str(exc).startswith("no user") else "invalid-request"
        raise Problem(code, str(exc)) from exc
    return {"username": username, "reset": True}
