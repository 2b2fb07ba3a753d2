"""Logging in and out, the language, the home page of each role, and the user's notices (the
list, marking read, and the count the header polls)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gateway.access import sessions, users
from gateway.cases import home as home_use_case
from gateway.cases import notices
from gateway.documents.catalog import LOCALES
from gateway.protocol.problems import status_of
from gateway.web.auth import COOKIE, case_work, same_origin, source_of
from gateway.web.console.pages import LANG_COOKIE, Redirect, page, posted, user

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page(request: Request, expired: int = 0) -> HTMLResponse:
    """The login form, in the chosen language."""
    return page(request, "login.html", None, expired=bool(expired), error=None, username="")


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    """Switch the console's language (a cookie), then go back."""
    target = request.headers.get("referer", "/")
    safe = target if target.startswith(str(request.base_url)) else "/"
    response = RedirectResponse(safe, status_code=303)
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict",
                            httponly=True)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password; open a session (cookie) or show the form again with the error.
    Only this node's own login page may post here (login CSRF: another site must not log a
    browser into an account of its choosing)."""
    if not same_origin(request):
        return page(request, "login.html", None, status_of("forbidden"), expired=False,
                    error="This form must be sent from this node's own login page.",
                    username="")
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    cw = case_work(request)
    outcome = await sessions.log_in(cw, cw.sealer.session_key, username, password,
                                    source_of(request))
    if isinstance(outcome, users.UserError):
        throttled = isinstance(outcome, users.LoginThrottled)
        key = ("Too many failed attempts from here; wait a few minutes and try again"
               if throttled else "User name or password is wrong")
        return page(request, "login.html", None, status_of(outcome.code), expired=False,
                    error=key, username=username)
    _found, opened = outcome
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https" or str(cw.node.settings.public_url).startswith(
        "https")
    response.set_cookie(COOKIE, opened.token, httponly=True, samesite="strict", secure=secure,
                        max_age=int(sessions.ABSOLUTE.total_seconds()), path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    principal = await user(request, "session.self")
    await posted(request, principal)
    cw = case_work(request)
    await sessions.end_session(cw, principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
async def home(request: Request) -> HTMLResponse:
    """What needs the user now: what is new, overdue items, urgent alerts, my drafts sent
    back, drafts to release, failed deliveries."""
    principal = await user(request, "session.self")
    cw = case_work(request)
    context = await cw.run(home_use_case.what_needs_me, principal)
    return page(request, "home.html", principal, **context)


@router.get("/notices")
async def notices_page(request: Request) -> HTMLResponse:
    """The user's notices, newest (and urgent) first."""
    principal = await user(request, "session.self")
    cw = case_work(request)
    found = await cw.node.run(notices.list_for, principal)
    return page(request, "notices.html", principal, notices=found)


@router.post("/notices/read")
async def mark_read(request: Request) -> Response:
    """Mark one notice (``id``) or all of them read."""
    principal = await user(request, "session.self")
    form = await posted(request, principal)
    cw = case_work(request)
    chosen = str(form.get("id") or "")
    await cw.run(notices.mark_read, principal, [int(chosen)] if chosen.isdigit() else None)
    raise Redirect(_own_page(str(form.get("next") or "")))


def _own_page(target: str) -> str:
    """``target`` if it is a path of this node, else the notices: browsers read ``//host``,
    ``/\\host`` and ``/<tab>/host`` as another site, so none may follow a form (an open
    redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not any(ord(c) < 32 for c in target):
        return target
    return "/notices"


@router.get("/notices/count")
async def notice_count(request: Request) -> JSONResponse:
    """How many notices are unread (and urgent): the header polls this."""
    await user(request, "session.self", touch=False)
    unread, urgent = getattr(request.state, "unread", (0, 0))
    return JSONResponse({"unread": unread, "urgent": urgent},
                        headers={"Cache-Control": "no-store"})
