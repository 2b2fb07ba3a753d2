"""The console: server-rendered pages for BLO officers, C02 investigators, hotline operators,
supervisors, administrators and auditors (no build step, no CDN: every asset is served here).

Pages call the same case services as the local API, with the same permission matrix. Every
form carries the session's CSRF token; the session lives in an HttpOnly, SameSite=Strict
cookie; the Content-Security-Policy allows nothing but this node. Personal data never goes in a
URL: searches are posted.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.access import sessions, users
from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import drafts, hotline, lifecycle, printing, service, views
from gateway.cases.calendars import LOCAL_TIME
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.catalog import C_, LOCALES, Catalogs, catalogs
from gateway.documents.render import DRAFT_SOURCE
from gateway.protocol.problems import N_, Problem
from gateway.store import messages as repo
from gateway.web import forms
from gateway.web.auth import COOKIE, case_work

#: Values the console shows as codes (states, kinds, tasks, deliveries), for the catalogs.
CONSOLE_CODES: Final = (
    C_("code", "active"),
    C_("code", "best-interests-review"),
    C_("code", "closed"),
    C_("code", "detected"),
    C_("code", "follow-up"),
    C_("code", "handed-over"),
    C_("code", "not-national"),
    C_("code", "on-hold-proceedings"),
    C_("code", "open"),
    C_("code", "received-and-referred"),
    C_("code", "repatriation-planned"),
    C_("code", "screening"),
    C_("code", "unable-to-verify"),
    C_("code", "verification-requested"),
    C_("code", "verified"),
    C_("code", "victim-objects"),
    C_("code", "withdrawn"),
    C_("code", "repatriation"),
    C_("code", "verification"),
    C_("code", "investigation"),
    C_("code", "hotline"),
    C_("code", "answer"),
    C_("code", "await-answer"),
    C_("code", "alert-first-action"),
    C_("code", "child-emergency"),
    C_("code", "classify-tip"),
    C_("code", "first-check"),
    C_("code", "review-immediate-release"),
    C_("code", "task"),
    C_("code", "queued"),
    C_("code", "waiting"),
    C_("code", "delivered"),
    C_("code", "dead"),
    C_("code", "accepted"),
    C_("code", "draft"),
    C_("code", "submitted"),
    C_("code", "returned"),
    C_("code", "sent"),
    C_("code", "unverified"),
    C_("code", "victim"),
    C_("code", "suspect"),
    C_("code", "witness"),
    C_("code", "relative"),
)
#: Sentences and values the console translates by key.
CONSOLE_TEXTS: Final = (
    N_("User name or password is wrong"),
    N_("Account locked after repeated failures; try again later or ask an administrator"),
    N_("This field is required"),
    N_("Not a valid date (YYYY-MM-DD)"),
    N_("Choose one of the listed values"),
    N_("Not in the expected form"),
    N_("Too long or too short"),
    N_("Not a field of this document"),
    N_("Contains characters that cannot be sent"),
    N_("This value is not valid"),
    N_("phone"),
    N_("sms"),
    N_("chat"),
    N_("email"),
    N_("web"),
    N_("walk-in"),
    N_("other"),
    N_("new"),
    N_("classified"),
    N_("escalated"),
    N_("resolved"),
    N_("trafficking"),
    N_("received"),
    N_("personal"),
    N_("operational"),
    N_("Times are in UTC+7"),
    N_("smuggling"),
    N_("labour-dispute"),
    N_("duplicate"),
    N_("valid"),
    N_("revoked"),
    N_("expired"),
    N_("not-yet-valid"),
)
LANG_COOKIE: Final = "bx_lang"
HERE: Final = __import__("pathlib").Path(__file__).parent
router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                   trim_blocks=True, lstrip_blocks=True)


class Redirect(Exception):  # noqa: N818 - control flow: send the browser elsewhere
    """Answer with a redirect (to the login page, or after a form)."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class Refused(Exception):  # noqa: N818 - control flow: render the refusal page
    """The user may not see this page."""


def language(request: Request) -> str:
    """The user's language: the cookie, else Vietnamese."""
    chosen = request.cookies.get(LANG_COOKIE, "vi")
    return chosen if chosen in LOCALES else "vi"


def books(request: Request) -> Catalogs:
    """The catalogs of this node."""
    return catalogs(case_work(request).node.settings.translations_dir)


def when(value: Any) -> str:
    """A stored UTC time as the border reads it: UTC+7, to the minute."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def page(request: Request, template: str, principal: Principal | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a console page in the user's language."""
    lang = language(request)
    book = books(request)
    html = _env.get_template(template).render(
        request=request, user=principal, lang=lang, locales=LOCALES,
        _=lambda message: book.text(lang, message),
        field=lambda name: book.field(lang, name), code=lambda value: book.code(lang, value),
        can=lambda action: principal is not None and allowed(principal.role, action),
        csrf=principal.csrf if principal else "", idle=int(sessions.IDLE.total_seconds()),
        when=when,
        **context)
    return HTMLResponse(html, status_code=status)


async def user(request: Request, action: str) -> Principal:
    """The logged-in user allowed to take ``action``; redirect to log in, or refuse."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise Redirect("/login")
    cw = case_work(request)
    try:
        async with cw.node.engine.begin() as conn:
            principal = await sessions.resolve(conn, cw.clock, cw.sealer.session_key, token)
    except sessions.SessionError as exc:
        raise Redirect("/login?expired=1") from exc
    if not allowed(principal.role, action):
        async with cw.node.engine.begin() as conn:
            await audit.append(conn, cw.clock, principal.actor, "access.denied", None,
                               {"action": action, "role": principal.role, "via": "console"})
        raise Refused(action)
    request.state.principal = principal
    return principal


async def posted(request: Request, principal: Principal) -> dict[str, Any]:
    """The posted form, after checking its CSRF token."""
    form = await request.form()
    token = str(form.get("csrf", ""))
    import hmac  # noqa: PLC0415

    if not principal.csrf or not hmac.compare_digest(token.encode(), principal.csrf.encode()):
        raise Refused("csrf")
    return dict(form)


def install(app: FastAPI) -> None:
    """Mount the console and its error pages on the app."""
    from fastapi.staticfiles import StaticFiles  # noqa: PLC0415

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)

    async def _redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Redirect)
        return RedirectResponse(exc.to, status_code=303)

    async def _refused(request: Request, _exc: Exception) -> Response:
        return page(request, "refused.html", getattr(request.state, "principal", None), 403)

    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(Refused, _refused)
    app.middleware("http")(_headers)


async def _headers(request: Request, call_next: Any) -> Response:
    """The console's security headers (the API and the partner API set their own)."""
    response: Response = await call_next(request)
    if request.url.path.startswith(("/api", "/bx/")):
        return response
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
            "object-src 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = ("public, max-age=86400"
                                         if request.url.path.startswith("/static/")
                                         else "no-store")
    return response


# -- log in and out ----------------------------------------------------------------------

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
    """Check the password; open a session (cookie) or show the form again with the error."""
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    cw = case_work(request)
    failure: users.UserError | None = None
    async with cw.node.engine.begin() as conn:
        try:
            found = await users.authenticate(conn, cw.clock, username, password)
        except users.UserError as exc:
            failure = exc
        else:
            opened = await sessions.open_session(conn, cw.clock, cw.sealer.session_key, found)
    if failure is not None:
        key = ("Account locked after repeated failures; try again later or ask an "
               "administrator" if isinstance(failure, users.AccountLocked)
               else "User name or password is wrong")
        return page(request, "login.html", None, 401, expired=False, error=key,
                    username=username)
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
    async with cw.node.engine.begin() as conn:
        await sessions.end_session(conn, cw.clock, principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- home ---------------------------------------------------------------------------------

@router.get("/")
async def home(request: Request) -> HTMLResponse:
    """What needs the user now: overdue items, urgent alerts, drafts to release, failures."""
    principal = await user(request, "session.self")
    cw = case_work(request)
    context: dict[str, Any] = {"overdue": [], "alerts": [], "queue": [], "undelivered": []}
    async with cw.node.engine.begin() as conn:
        if allowed(principal.role, "overdue.read"):
            scope = "all" if sees_all_cases(principal.role) else "unit"
            context["overdue"] = await views.overdue_items(conn, cw, principal, scope)
        if allowed(principal.role, "cases.read"):
            context["alerts"] = [c for c in await views.list_cases(
                conn, cw, principal, {"priority": "immediate", "limit": 20})
                if c["state"] not in lifecycle.TERMINAL]
        if allowed(principal.role, "drafts.release"):
            context["queue"] = await drafts.list_drafts(conn, cw, principal, "submitted")
        if allowed(principal.role, "messages.read"):
            context["undelivered"] = [m for m in await repo.list_messages(conn, None, None)
                                      if m.state in ("queued", "dead")][:50]
        if allowed(principal.role, "tips.read"):
            context["tips"] = await hotline.list_tips(conn, cw, principal, "new")
    return page(request, "home.html", principal, **context)


# -- cases --------------------------------------------------------------------------------

@router.get("/cases")
async def cases_page(request: Request, kind: str = "", state: str = "", partner: str = "",
                     unit: str = "", overdue: str = "", priority: str = "") -> HTMLResponse:
    """Cases with filters (no personal data in the URL: name searches are posted)."""
    principal = await user(request, "cases.read")
    cw = case_work(request)
    filters = {"kind": kind or None, "state": state or None, "partner": partner or None,
               "unit": unit or None, "overdue": overdue == "1", "priority": priority or None}
    async with cw.node.engine.begin() as conn:
        found = await views.list_cases(conn, cw, principal, filters)
    return page(request, "cases.html", principal, cases=found, filters=filters, results=None,
                kinds=lifecycle.KINDS, partners=[p.node_id for p in cw.node.partners.all()],
                query="")


@router.post("/cases/search")
async def search_page(request: Request) -> HTMLResponse:
    """Search by name, identifier, phone or reference (posted, audited)."""
    principal = await user(request, "search")
    form = await posted(request, principal)
    cw = case_work(request)
    query = str(form.get("q", "")).strip()
    results: list[dict[str, Any]] = []
    error = None
    async with cw.node.engine.begin() as conn:
        try:
            results = await views.search(conn, cw, principal, query)
        except CaseError as exc:
            error = str(exc)
    return page(request, "cases.html", principal, cases=[], filters={}, results=results,
                kinds=lifecycle.KINDS, partners=[p.node_id for p in cw.node.partners.all()],
                query=query, error=error)


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: int) -> HTMLResponse:
    """A case: state and next steps, persons, tasks, drafts and the message timeline."""
    principal = await user(request, "cases.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        try:
            case = await views.case_detail(conn, cw, principal, case_id)
        except CaseError as exc:
            raise Refused("not-found") from exc
    return page(request, "case.html", principal, case=case,
                doc_types=cw.forms.registry.types(), move_error=None, values={})


@router.post("/cases/{case_id}/move")
async def move_case(request: Request, case_id: int) -> Response:
    """Move a case to one of its allowed next states."""
    principal = await user(request, "cases.transition")
    form = await posted(request, principal)
    cw = case_work(request)
    try:
        async with cw.node.engine.begin() as conn:
            await service.transition(conn, cw, principal, case_id, str(form.get("to", "")),
                                     str(form.get("reason", "")) or None)
    except CaseError as exc:
        return await _case_with_error(request, principal, case_id, str(exc), form)
    raise Redirect(f"/cases/{case_id}")


async def _case_with_error(request: Request, principal: Principal, case_id: int,
                           error: str, values: dict[str, Any]) -> HTMLResponse:
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        case = await views.case_detail(conn, cw, principal, case_id)
    return page(request, "case.html", principal, 409, case=case,
                doc_types=cw.forms.registry.types(), move_error=error, values=values)


@router.get("/cases/{case_id}/messages/{message_id}")
async def document_page(request: Request, case_id: int, message_id: str) -> Response:
    """A message as its bilingual document (special data withheld; print it for more)."""
    principal = await user(request, "cases.read")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        row = await service.load_case(conn, principal, case_id)
        try:
            printed = await printing.print_message(
                conn, cw, message_id, actor=principal.actor, reason="viewed in the console",
                where=_in_case(row.id))
        except CaseError as exc:
            raise Refused("not-found") from exc
    return document_response(printed.html)


#: A rendered document has its own inline style and no script at all.
DOCUMENT_CSP: Final = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                       "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def document_response(html: str) -> HTMLResponse:
    """A bilingual document page, under its own (script-free) policy."""
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})


@router.post("/cases/new")
async def new_case(request: Request) -> Response:
    """Open a case in the user's unit."""
    principal = await user(request, "cases.create")
    form = await posted(request, principal)
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        case_id = await service.create_case(
            conn, cw, principal.actor, kind=str(form.get("kind", "")),
            origin="hotline" if principal.role == "hotline-operator" else "blo",
            owner_unit=principal.unit, partner=str(form.get("partner") or "") or None,
            priority=str(form.get("priority") or "routine"))
    raise Redirect(f"/cases/{case_id}")


@router.get("/cases/{case_id}/compose")
async def choose_type(request: Request, case_id: int, type: str = "") -> Response:  # noqa: A002
    """The compose menu of the case page lands here."""
    await user(request, "drafts.write")
    raise Redirect(f"/cases/{case_id}/compose/{type}" if _TYPE.fullmatch(type) else
                   f"/cases/{case_id}")


def _in_case(case_id: int) -> Any:
    import sqlalchemy as sa  # noqa: PLC0415

    from gateway.store.case_tables import case_conversations  # noqa: PLC0415
    from gateway.store.tables import messages  # noqa: PLC0415

    return messages.c.conversation.in_(sa.select(case_conversations.c.conversation).where(
        case_conversations.c.case_id == case_id))


# -- compose ------------------------------------------------------------------------------

_TYPE: Final = re.compile(r"[a-z][a-z0-9-]{1,63}")


@router.get("/cases/{case_id}/compose/{doc_type}")
async def compose_page(request: Request, case_id: int, doc_type: str) -> HTMLResponse:
    """A form for one document type, generated from its schema."""
    principal = await user(request, "drafts.write")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        case = await views.case_detail(conn, cw, principal, case_id)
    return _compose(request, principal, cw, case, doc_type, {}, {})


def _compose(request: Request, principal: Principal, cw: CaseWork, case: dict[str, Any],
             doc_type: str, values: dict[str, Any], errors: dict[str, list[str]],
             status: int = 200, message: str | None = None) -> HTMLResponse:
    if not _TYPE.fullmatch(doc_type) or doc_type not in cw.forms.registry.types():
        raise Refused("not-found")
    model = cw.forms.model(doc_type)
    partners = [p.node_id for p in cw.node.partners.all()]
    return page(request, "compose.html", principal, status, case=case, doc_type=doc_type,
                fields=forms.form_fields(model), values=values, errors=errors,
                partners=partners, message=message,
                filled=lambda prefix: any(k.startswith(prefix) and v for k, v in values.items()),
                errors_under=lambda prefix: any(k.startswith(prefix) for k in errors))


@router.post("/cases/{case_id}/compose/{doc_type}")
async def compose(request: Request, case_id: int, doc_type: str) -> Response:
    """Save the form as a draft and, if asked, submit it for release; errors beside fields."""
    principal = await user(request, "drafts.write")
    form = await posted(request, principal)
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        case = await views.case_detail(conn, cw, principal, case_id)
    if doc_type not in cw.forms.registry.types():
        raise Refused("not-found")
    model = cw.forms.model(doc_type)
    texts = {k: v for k, v in form.items() if isinstance(v, str) and k not in (
        "csrf", "to", "priority", "handling", "lang", "action", "ref")}
    attachments = []
    for key, value in form.items():
        if key.startswith("file.") and isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            attachments.append({"name": re.sub(r"[^A-Za-z0-9._-]", "-", value.filename)[:100],
                                "media_type": value.content_type or "",
                                "data": base64.b64encode(data).decode()})
    body = {"type": doc_type, "to": str(form.get("to", "")), "priority": form.get("priority"),
            "handling": form.get("handling"), "lang": form.get("lang") or "vi",
            "ref": form.get("ref") or None,
            "document": forms.document_from_form(model, texts), "attachments": attachments}
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        async with cw.node.engine.begin() as conn:
            draft_id = await drafts.create_draft(conn, cw, principal, case_id, body)
            result = None
            if form.get("action") == "submit":
                result = await drafts.submit_draft(conn, cw, principal, draft_id)
    except Problem as problem:
        book, lang = books(request), language(request)
        errors: dict[str, list[str]] = {}
        for error in problem.errors:
            key, reason = _locate(forms.error_key(error.path, doc_type), error.message)
            errors.setdefault(_normal(key), []).append(book.text(lang, reason))
        return _compose(request, principal, cw, case, doc_type, values, errors, 422,
                        book.text(lang, "The document is not complete: see the fields marked."))
    except CaseError as exc:
        errors = {_normal(exc.field or ""): [str(exc)]}
        return _compose(request, principal, cw, case, doc_type, values, errors, 422, str(exc))
    if result and result["message_id"]:
        cw.node.outbox_signal.set()
    raise Redirect(f"/cases/{case_id}")


_EXPECTED: Final = re.compile(r"Expected is(?: one of)? \( (?:\{[^}]*\})?([a-z][a-z0-9-]*)")
#: Schema messages (libxml2, English) as the sentence the user reads, from the catalogs.
_REASONS: Final = (
    ("Missing child element", "This field is required"),
    ("is not a valid value of the atomic type 'xs:date'", "Not a valid date (YYYY-MM-DD)"),
    ("is not an element of the set", "Choose one of the listed values"),
    ("is not accepted by the pattern", "Not in the expected form"),
    ("length", "Too long or too short"),
    ("is not a field of this document", "Not a field of this document"),
    ("control character", "Contains characters that cannot be sent"),
)


def _locate(key: str, message: str) -> tuple[str, str]:
    """Where a schema error belongs in the form, and what to tell the user there."""
    reason = next((said for found, said in _REASONS if found in message),
                  "This value is not valid")
    expected = _EXPECTED.search(message)
    if expected and "Missing child" in message:  # the error sits on the parent
        return (f"{key}.{expected[1]}" if key else expected[1]), "This field is required"
    if expected and "not expected" in message:  # on the next sibling: the gap is before it
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        return (f"{parent}.{expected[1]}" if parent else expected[1]), "This field is required"
    return key, reason


def _normal(key: str) -> str:
    return re.sub(r"\.0(?=\.|$)", "", key)


# -- release ------------------------------------------------------------------------------

@router.get("/release")
async def release_queue(request: Request) -> HTMLResponse:
    """Drafts waiting for a supervisor, each with its bilingual preview."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        queue = await drafts.list_drafts(conn, cw, principal, "submitted")
    previews = {item["id"]: True for item in queue}
    return page(request, "release.html", principal, queue=queue, previews=previews)


@router.get("/release/{draft_id}/preview")
async def release_preview(request: Request, draft_id: int) -> Response:
    """The bilingual preview of a draft (read of its data: audited)."""
    principal = await user(request, "drafts.release")
    cw = case_work(request)
    async with cw.node.engine.begin() as conn:
        try:
            full = await drafts.read_draft(conn, cw, principal, draft_id)
        except CaseError as exc:
            raise Refused("not-found") from exc
    try:
        xml = cw.forms.build(full["type"], full["version"], full["document"])
    except Problem as problem:
        return document_response(f"<p>{problem.detail}</p>".replace("<", "&lt;"))
    langs = printing.partner_langs(cw, full["to"], None)
    return document_response(printing.renderer(cw).html(full["type"], full["version"], xml,
                                                        langs, show_special=True,
                                                        source=DRAFT_SOURCE))


@router.post("/release/{draft_id}")
async def release(request: Request, draft_id: int) -> Response:
    """Release, or send back with a reason."""
    principal = await user(request, "drafts.release")
    form = await posted(request, principal)
    cw = case_work(request)
    try:
        async with cw.node.engine.begin() as conn:
            if form.get("action") == "return":
                await drafts.return_draft(conn, cw, principal, draft_id,
                                          str(form.get("reason", "")))
            else:
                await drafts.release_draft(conn, cw, principal, draft_id)
    except CaseError as exc:
        async with cw.node.engine.begin() as conn:
            queue = await drafts.list_drafts(conn, cw, principal, "submitted")
        return page(request, "release.html", principal, 409 if exc.code != "invalid-request"
                    else 422, queue=queue, previews={item["id"]: True for item in queue},
                    error={"draft": draft_id, "message": str(exc),
                           "reason": form.get("reason", "")})
    cw.node.outbox_signal.set()
    raise Redirect("/release")
