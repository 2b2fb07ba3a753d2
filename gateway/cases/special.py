"""Opening a message's special-category data (MESSAGES.md): with a reason, by a role that may
read it, for one session and a while; every opening and every attachment read is audited with
that reason.

A grant belongs to the session that asked for it, is kept in the database (so that any
replica honours it) and lapses with :data:`GRANT_FOR` or the session. Roles that may not read
special data never get one, whatever they ask.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import printing, service
from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import parse_body, parse_envelope, sniff_media_type
from gateway.protocol.errors import N_
from gateway.store import special_grants
from gateway.store.case_messages import message_of_case
from gateway.store.messages import RAW_COLUMN
from gateway.store.transactions import reads, writes

#: The reasons offered in the console (codes, translated there); any other may be typed.
REASONS: Final = ("identity-verification", "return-planning", "victim-support",
                  "investigation", "court-proceedings")
#: The reason of the first action on an immediate alert received (MESSAGES.md: 2 hours),
#: offered first and chosen already on that alert's page, and on no other message's.
IMMEDIATE_ALERT: Final = "immediate-alert"
GRANT_FOR: Final = timedelta(minutes=30)


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment of a stored message, as exchanged."""

    name: str
    media_type: str
    data: bytes


def _check_reader(principal: Principal) -> None:
    if not allowed(principal.role, "special.read") or not principal.session_id:
        raise CaseError("forbidden", N_("your role may not read special-category data"))


@writes
async def grant(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                message_id: str, reason: str) -> None:
    """Open the special data of one message of a case for this session; audited."""
    _check_reader(principal)
    reason = reason.strip()
    if not 3 <= len(reason) <= 500:
        raise CaseError("invalid-request", N_("say why you open the special data (3 to 500 "
                                              "characters)"), "reason")
    row = await service.load_case(conn, principal, case_id)
    message = await message_of_case(conn, row.id, message_id)
    if message is None:
        raise CaseError("not-found", N_("no message {message_id} in case {case_id}"),
                        message_id=message_id, case_id=case_id)
    if reason == IMMEDIATE_ALERT and not immediate_alert(message):
        raise CaseError("invalid-request", N_("the reason 'immediate alert' is for an alert "
                                              "received with priority immediate"), "reason")
    now = cw.clock()
    await special_grants.insert_grant(
        conn, session_id=principal.session_id, message_id=message_id, reason=reason,
        granted_at=now, expires_at=now + GRANT_FOR)
    await audit.append(conn, cw.clock, principal.actor, "special.opened", row.reference,
                       {"message": message_id, "reason": reason})


def immediate_alert(message: Any) -> bool:
    """True for a stored message that is an ``alert`` received with priority ``immediate``."""
    return bool(message.direction == "in" and message.doc_type == "alert"
                and message.priority == "immediate")


def reasons_for(message: Any) -> tuple[tuple[str, ...], str | None]:
    """The reasons offered for opening a stored message's special data, and the one chosen
    already: an immediate alert received opens at once, for its first action."""
    if immediate_alert(message):
        return (IMMEDIATE_ALERT, *REASONS), IMMEDIATE_ALERT
    return REASONS, None


async def granted(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                  message_id: str) -> str | None:
    """The reason of this session's live grant on the message, or None."""
    if not allowed(principal.role, "special.read") or not principal.session_id:
        return None
    return await special_grants.live_reason(conn, principal.session_id, message_id,
                                            cw.clock())


@writes
async def attachment(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                     message_id: str, name: str) -> StoredAttachment:
    """One attachment of a message of the case, exactly as exchanged; needs a live grant
    (attachments are photos and scans of people) and is audited with its reason."""
    _check_reader(principal)
    row = await service.load_case(conn, principal, case_id)
    reason = await granted(conn, cw, principal, message_id)
    if reason is None:
        raise CaseError("forbidden",
                        N_("open the special data of this message first, with a reason"), "reason")
    message = await message_of_case(conn, row.id, message_id)
    if message is None:
        raise CaseError("not-found", N_("no message {message_id} in case {case_id}"),
                        message_id=message_id, case_id=case_id)
    found = exchanged_attachment(cw, message.raw, name)
    if found is None:
        raise CaseError("not-found", N_("no attachment {name!r} in message {message_id}"),
                        name=name, message_id=message_id)
    await audit.append(conn, cw.clock, principal.actor, "attachment.read", row.reference,
                       {"message": message_id, "name": name, "reason": reason})
    return found


def exchanged_attachment(cw: CaseWork, raw: bytes, name: str) -> StoredAttachment | None:
    """The attachment ``name`` of a stored message (its sealed bytes), as exchanged; None when
    the message has none of that name. Bytes that no longer match what was signed (their
    digest or their type) are refused, never shown."""
    envelope = parse_envelope(parse_body(cw.sealer.open(bytes(raw), RAW_COLUMN)))
    info = next((a for a in envelope.header.bx.attachments or [] if a.name == name), None)
    encoded = envelope.attachments.get(name)
    if info is None or encoded is None:
        return None
    data = b64url_decode(encoded)
    if hashlib.sha256(data).hexdigest() != info.sha256 or \
            sniff_media_type(data) != info.media_type:
        raise CaseError("state-conflict", N_("attachment {name!r} does not match what was signed"),
                        name=name)
    return StoredAttachment(name, info.media_type, data)


@dataclass(frozen=True)
class DeclaredAttachment:
    """An attachment as a message declares it, for a page: its name, type and size."""

    name: str
    media_type: str
    size: int


def attachment_names(envelope: Any) -> list[DeclaredAttachment]:
    """The attachments a message declares (name, type, size) for a page."""
    return [DeclaredAttachment(a.name, a.media_type, a.size)
            for a in envelope.header.bx.attachments or []]


@reads
async def message_with_grant(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                             case_id: int, message_id: str) -> tuple[Any, Any, str | None]:
    """The use case behind a message's page: the case (one the principal may see), the
    stored message of that case, and the reason of this session's grant to its special data
    (None without one)."""
    case = await service.load_case(conn, principal, case_id)
    row = await message_of_case(conn, case.id, message_id)
    if row is None:
        raise CaseError("not-found", N_("no message {message_id} in case {case_id}"),
                        message_id=message_id, case_id=case_id)
    return case, row, await granted(conn, cw, principal, message_id)


@dataclass(frozen=True)
class MessagePage:
    """What a message's page shows: the case, the message's header and attachments, this
    session's grant, and the reasons offered to open its special data (an immediate alert
    received has its own, chosen already, so that it opens in one step)."""

    case: Any
    message_id: str
    #: Whose message it is: ids are unique per sender only (PROTOCOL.md §3.1).
    sender: str
    bx: Any
    attachments: list[DeclaredAttachment]
    reason: str | None
    special_reasons: tuple[str, ...]
    chosen_reason: str | None
    immediate: bool


@reads
async def message_page(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                       case_id: int, message_id: str) -> MessagePage:
    """The message of the case as its page shows it (:class:`MessagePage`)."""
    case, row, reason = await message_with_grant.within(conn, cw, principal, case_id,
                                                        message_id)
    envelope = parse_envelope(parse_body(cw.sealer.open(bytes(row.raw), RAW_COLUMN)))
    reasons, chosen = reasons_for(row)
    return MessagePage(case, message_id, row.sender, envelope.header.bx,
                       attachment_names(envelope),
                       reason, reasons, chosen, immediate_alert(row))


@writes
async def view_under_grant(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                           case_id: int, message_id: str) -> printing.Printed:
    """A message of the case shown on the console's screen: special data only under this
    session's grant; audited as a view, with the grant's reason where special data shows."""
    case = await service.load_case(conn, principal, case_id)
    reason = await granted(conn, cw, principal, message_id)
    return await printing.view_message(conn, cw, message_id, actor=principal.actor,
                                       reason=reason, show_special=reason is not None,
                                       case_id=case.id)


@writes
async def print_under_grant(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                            case_id: int, message_id: str) -> printing.Printed:
    """A message of the case printed (as a PDF) from the console: special data only under
    this session's grant; audited as an export, with the grant's reason where special data
    shows."""
    case = await service.load_case(conn, principal, case_id)
    reason = await granted(conn, cw, principal, message_id)
    return await printing.print_message(
        conn, cw, message_id, actor=principal.actor, reason=reason, via="console", fmt="pdf",
        show_special=reason is not None, case_id=case.id)


@writes
async def print_of_case(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                        message_id: str, reason: str, lang: str | None,
                        show_special: bool, fmt: str = "pdf") -> printing.Printed:
    """A message of the case printed through the API: with the caller's reason, beside the
    language asked for, special data only where asked by a role that may read it."""
    if show_special and not allowed(principal.role, "special.read"):
        raise CaseError("forbidden", N_("your role may not print special-category data"))
    case = await service.load_case(conn, principal, case_id)
    return await printing.print_message(
        conn, cw, message_id, actor=principal.actor, reason=reason, via="api", fmt=fmt,
        langs=printing.partner_langs(cw, case.partner or "", lang) if lang else None,
        show_special=show_special, case_id=case.id)
