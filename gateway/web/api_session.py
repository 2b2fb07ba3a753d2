"""Logging in and out, and the accounts of the node (``/api/session``, ``/api/users``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.access import sessions, users
from gateway.access.roles import HUMAN_ROLES
from gateway.access.sessions import Principal
from gateway.web.auth import COOKIE, case_work, permit, public, source_of
from gateway.web.examples import answers
from gateway.web.limits import LOGIN_BODY
from gateway.web.routing import LocalApiRoute, body_up_to
from gateway.web.views.accounts import (
    Account,
    AccountDisabled,
    AccountList,
    Ended,
    Me,
    OpenedSession,
    PasswordChanged,
    PasswordReset,
)

router = APIRouter(prefix="/api", tags=["session and users"],
                   route_class=LocalApiRoute)


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


def _user(user: users.User) -> Account:
    return Account(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit=user.unit,
        disabled=user.disabled,
        locked_until=user.locked_until.isoformat() if user.locked_until else None,
    )


@router.post(
    "/session",
    dependencies=[public()],
    openapi_extra=body_up_to(LOGIN_BODY),  # anyone may post here: a login's few bytes only
    response_model=OpenedSession,
    response_model_exclude_unset=True,
    responses=answers(OpenedSession, errors=(401, 422, 429)),
)
async def login(request: Request, body: Login) -> JSONResponse:
    """Log in: answers a session token (and sets the console's cookie)."""
    cw = case_work(request)
    outcome = await sessions.log_in(cw, cw.sealer.session_key, body.username, body.password,
                                    source_of(request))
    if isinstance(outcome, users.UserError):  # refused (or throttled): its code says how
        raise outcome
    user, opened = outcome
    answer = OpenedSession(
        token=opened.token,
        csrf=opened.csrf,
        expires_at=opened.expires_at.isoformat(),
        idle_timeout_seconds=int(sessions.IDLE.total_seconds()),
        user=_user(user),
    )
    response = JSONResponse(answer.model_dump(mode="json"))
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
    response_model=Me,
    response_model_exclude_unset=True,
    responses=answers(Me, errors=(401, 403)),
)
async def who_am_i(principal: Annotated[Principal, permit("session.self")]) -> Me:
    """The logged-in user."""
    return Me(username=principal.username, display_name=principal.display_name,
              role=principal.role, unit=principal.unit)


@router.delete(
    "/session",
    response_model=Ended,
    response_model_exclude_unset=True,
    responses=answers(Ended, errors=(401, 403)),
)
async def logout(
    request: Request, principal: Annotated[Principal, permit("session.self")]
) -> JSONResponse:
    """Log out (the token stops working at once)."""
    cw = case_work(request)
    await sessions.end_session(cw, principal)
    response = JSONResponse({"ended": True})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post(
    "/session/password",
    response_model=PasswordChanged,
    response_model_exclude_unset=True,
    responses=answers(PasswordChanged),
)
async def change_password(
    request: Request, body: OwnPassword, principal: Annotated[Principal, permit("session.self")]
) -> PasswordChanged:
    """Change one's own password, giving the current one (every session of the user ends)."""
    cw = case_work(request)
    refused = await sessions.change_own_password(cw, principal.username, body.current_password,
                                                 body.password, source_of(request))
    if refused is not None:  # the same refusal, naming the field
        if refused.field == "current_password":
            raise users.LoginRefused("current_password: {error}", error=refused.error)
        raise users.UserError("password: {error}", error=refused.error)
    return PasswordChanged(changed=True)


@router.get(
    "/users",
    response_model=AccountList,
    response_model_exclude_unset=True,
    responses=answers(AccountList, errors=(401, 403)),
)
async def list_users(
    request: Request, _: Annotated[Principal, permit("users.manage")]
) -> AccountList:
    """Every account of the node."""
    cw = case_work(request)
    found = await users.list_users(cw)
    return AccountList(users=[_user(u) for u in found])


@router.post(
    "/users",
    status_code=201,
    response_model=Account,
    response_model_exclude_unset=True,
    responses=answers(Account, 201),
)
async def add_user(
    request: Request, body: NewUser, principal: Annotated[Principal, permit("users.manage")]
) -> Account:
    """Create an account."""
    cw = case_work(request)
    user = await users.add_user(cw, principal.actor, **body.model_dump())
    return _user(user)


@router.post(
    "/users/{username}/disable",
    response_model=AccountDisabled,
    response_model_exclude_unset=True,
    responses=answers(AccountDisabled, errors=(401, 403, 404)),
)
async def disable_user(
    request: Request, username: str, principal: Annotated[Principal, permit("users.manage")]
) -> AccountDisabled:
    """Disable an account; its sessions end at once."""
    cw = case_work(request)
    await users.set_disabled(cw, principal.actor, username)
    return AccountDisabled(username=username, disabled=True)


@router.post(
    "/users/{username}/password",
    response_model=PasswordReset,
    response_model_exclude_unset=True,
    responses=answers(PasswordReset, errors=(401, 403, 404, 422)),
)
async def reset_password(
    request: Request,
    username: str,
    body: NewPassword,
    principal: Annotated[Principal, permit("users.manage")],
) -> PasswordReset:
    """Set a user's password (clears a lock-out, ends the user's sessions)."""
    cw = case_work(request)
    await users.set_password(cw, principal.actor, username, body.password)
    return PasswordReset(username=username, reset=True)
