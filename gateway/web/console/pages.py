"""Rendering and sessions of the console: the user's language, the page, the logged-in user,
the posted form with its CSRF check, and the answers a page gives instead of itself.

A page answers a refusal in one of two ways. A refused *form* comes back beside its fields:
the page catches the refusal of its one use case and renders itself again with the message
and what was typed (``except CaseError`` around the call, then the page with
``status_of(exc.code)``). Any other refusal, a :class:`GatewayError` with a code (a case not
visible to the user, :class:`Refused`), reaches the console's one handler,
:func:`refusal_page`, through ``web.problems``. :class:`Redirect` stays apart from the error
tree: it is control flow, not a refusal."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, TypedDict

from babel.numbers import format_percent
from fastapi import Path as PathParameter
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile

from gateway.access import sessions
from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import notices
from gateway.cases.work import CaseError
from gateway.documents.catalog import LOCALES, Catalogs, catalogs
from gateway.documents.render import DOCUMENT_HEADERS
from gateway.localtime import as_local
from gateway.protocol.envelope import file_name_for, sniff_media_type
from gateway.protocol.errors import GatewayError, Message
from gateway.protocol.problems import status_of
from gateway.trust.names import home_language
from gateway.web.auth import COOKIE, case_work
from gateway.web.console.codelists import countries, country_name

LANG_COOKIE: Final = "bx_lang"
TEMPLATES: Final = Path(__file__).resolve().parent.parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                   trim_blocks=True, lstrip_blocks=True)

#: The number of a row (a case, draft, task, tip...) in a console path: beyond the database's
#: integers it is refused as any wrong path is, never a server error.
RowId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


#: A posted form: its text fields, and the files it carries.
PostedForm = dict[str, str | UploadFile]


class FieldRefusal(TypedDict):
    """A refusal said beside the input it names, in the reader's language."""

    field: str | None
    message: str


class Redirect(Exception):  # noqa: N818 - control flow: send the browser elsewhere
    """Answer with a redirect (to the login page, or after a form)."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class Refused(GatewayError):  # noqa: N818 - reads as the answer the page gives
    """The user may not see this page (or it does not exist for them): the refusal page."""

    code = "forbidden"


#: Refusals that read as "not for you": a page that does not exist and a page the user may not
#: see answer the same, so that the console tells nobody what exists in another unit.
_NOT_FOR_YOU: Final = frozenset({"not-found", "forbidden"})


async def refusal_page(request: Request, error: GatewayError) -> HTMLResponse:
    """The console's one answer to a refusal no page answered itself: the refusal page, in
    the status of the error's code (403 for a page not found or not allowed)."""
    status = 403 if error.code in _NOT_FOR_YOU else status_of(error.code)
    return page(request, "refused.html", await maybe_user(request), status, missing=False)


def language(request: Request) -> str:
    """The user's language: the one chosen (a cookie), else the language of this node's
    country (a Cambodian node speaks Khmer first, a Lao node Lao)."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LOCALES:
        return chosen
    home = home_language(case_work(request).node.node_id)
    return home if home in LOCALES else "en"


def books(request: Request) -> Catalogs:
    """The catalogs of this node."""
    return catalogs(case_work(request).node.settings.translations_dir)


when = as_local  # templates call it ``when``


def spoken(request: Request, said: GatewayError | str) -> str:
    """A refusal (or a message kept from one) in the user's language."""
    lang, book = language(request), books(request)
    error = said.error if isinstance(said, Message) else said
    if isinstance(error, GatewayError):
        return error.speak(book.get(lang).gettext, lambda value: book.code(lang, value))
    return book.text(lang, str(error))


def beside(request: Request, error: CaseError) -> str:
    """A refusal shown beside the input it names, in the user's language, without the
    input's path it starts with for an API's reader (``person.name_latin: required``)."""
    message = spoken(request, error)
    rest = _after_where(message, error)
    if error.field and error.values.get("where") == error.field and rest is not None:
        return rest
    return message


def _after_where(message: str, error: GatewayError) -> str | None:
    """What ``message`` (``error`` spoken) says after the input's path it starts with
    (``{where}: ``, first in every language), or None when it does not start so."""
    where = error.values.get("where")
    lead = f"{where}: "
    return message[len(lead):] if where is not None and message.startswith(lead) else None


#: How a form shows one of its inputs: ``("field", name)`` by a document field's label,
#: ``("text", msgid)`` by a sentence of the catalogs.
Label = tuple[str, str]


def labelled(request: Request, error: GatewayError, labels: Mapping[str, Label]) -> str:
    """A refusal of a form in the user's language, naming the input it refused by the label
    the form shows it with (``Year of birth: at most 2100``), never by its key for an API's
    reader (``birth_year: at most 2100``)."""
    message = spoken(request, error)
    label = labels.get(str(error.values.get("where")))
    rest = _after_where(message, error)
    if label is None or rest is None:
        return message
    lang, book = language(request), books(request)
    kind, name = label
    said = book.field(lang, name) if kind == "field" else book.text(lang, name)
    return f"{said}: {rest}"


async def missing_page(request: Request) -> HTMLResponse:
    """The console's page for an address that names no page ("page not found", 404)."""
    return page(request, "refused.html", await maybe_user(request), 404, missing=True)


def directory_name(request: Request, node_id: str | None, lang: str) -> str:
    """A node or unit as people call it, in ``lang`` (else English, else its id)."""
    if not node_id:
        return ""
    return case_work(request).node.names.name(node_id, lang) or node_id


def who(request: Request, actor: str | None, lang: str) -> str:
    """Who did something, as people read it: a user by their name (the login name if the
    account is unknown here), "the gateway" for the node itself, a partner or unit by its
    name in ``lang``."""
    if not actor:
        return ""
    if actor == "system":
        return books(request).text(lang, "the gateway")
    people: dict[str, str] = getattr(request.state, "people", {})
    return people.get(actor) or directory_name(request, actor, lang)


def probability(p: float, lang: str) -> str:
    """A probability as a percentage with one decimal in ``lang``'s digits and signs; the
    ends are said as bounds ("> 99.9 %", "< 0.1 %"), never as a certainty the model cannot
    give."""
    def shown(value: float) -> str:
        return format_percent(value, "#,##0.0 %", locale=lang)

    if p >= 0.9995:
        return f"> {shown(0.999)}"
    if p < 0.0005:
        return f"< {shown(0.001)}"
    return shown(p)


def page(request: Request, template: str, principal: Principal | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a console page in the user's language."""
    lang = language(request)
    book = books(request)
    here = case_work(request).node.node_id
    flash = request.query_params.get("done", "")
    html = _env.get_template(template).render(
        request=request, user=principal, lang=lang, locales=LOCALES,
        _=lambda message: book.text(lang, message),
        speak=lambda said: spoken(request, said),
        field=lambda name: book.field(lang, name), code=lambda value: book.code(lang, value),
        name=lambda node_id: directory_name(request, node_id, lang),
        who=lambda actor: who(request, actor, lang),
        country=lambda code: country_name(code, lang),
        all_countries=lambda: countries(lang),
        partner_ids=lambda: [p.node_id for p in case_work(request).node.partners.all()],
        can=lambda action: principal is not None and allowed(principal.role, action),
        csrf=principal.csrf if principal else "", idle=int(sessions.IDLE.total_seconds()),
        when=when, percent=lambda p: probability(p, lang), here=here,
        unread=getattr(request.state, "unread", (0, 0)),
        flash=flash if flash.isascii() and len(flash) < 40 else "",
        **context)
    return HTMLResponse(html, status_code=status)


async def user(request: Request, action: str, *, touch: bool = True) -> Principal:
    """The logged-in user allowed to take ``action``; redirect to log in, or refuse.
    ``touch=False`` for background polling, which must not keep an idle session alive."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise Redirect("/login")
    cw = case_work(request)
    try:
        check = await notices.page_check(cw, token, touch)
        principal, request.state.unread = check.principal, check.unread
        request.state.principal, request.state.people = principal, check.people
    except sessions.SessionError as exc:
        raise Redirect("/login?expired=1") from exc
    if not allowed(principal.role, action):
        await audit.record(cw, principal.actor, "access.denied", None,
                           {"action": action, "role": principal.role, "via": "console"})
        raise Refused(action)
    return principal


async def maybe_user(request: Request) -> Principal | None:
    """The logged-in user if there is one (for error pages: their menu), else None."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal) or not request.cookies.get(COOKIE):
        return found
    try:
        return await user(request, "session.self", touch=False)
    except (Redirect, Refused):
        return None


async def posted(request: Request, principal: Principal) -> PostedForm:
    """The posted form, after checking its CSRF token."""
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not principal.csrf or not hmac.compare_digest(token.encode(), principal.csrf.encode()):
        raise Refused("csrf")
    return dict(form)


def texts(form: PostedForm, *names: str) -> dict[str, str]:
    """The named fields of a posted form as stripped text ('' when absent)."""
    return {n: str(form.get(n) or "").strip() for n in names}


def document_response(html: str) -> HTMLResponse:
    """A bilingual document page, under its own (script-free) policy."""
    return HTMLResponse(html, headers=DOCUMENT_HEADERS)


def attachment_response(name: str, data: bytes) -> Response:
    """An attachment (a partner's, or one of a draft) as its bytes show it to be, whatever
    its name or its declared type say: served as the media type sniffed from its first
    bytes, under a file name with that type's extension (``scan.html`` holding a PDF is
    saved as ``scan.pdf``, and opens as a PDF, never as a page), ``nosniff``, sandboxed and
    never cached. Images are shown; anything else is downloaded."""
    media_type = sniff_media_type(data)
    disposition = "inline" if media_type in ("image/jpeg", "image/png") else "attachment"
    return Response(data, media_type=media_type or "application/octet-stream", headers={
        "Content-Disposition": f'{disposition}; filename="{file_name_for(name, media_type)}"',
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
