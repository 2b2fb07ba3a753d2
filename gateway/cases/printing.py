"""A stored message as its bilingual document (HTML or PDF): printed or exported, audited as
an export (``document.exported``, with the reason); shown on the console's screen only,
audited as a view (``document.viewed``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.catalog import catalogs
from gateway.documents.render import MessageHeader, Renderer
from gateway.protocol.envelope import parse_body, parse_envelope, parse_rfc3339_utc
from gateway.protocol.errors import N_
from gateway.store import case_messages
from gateway.store.messages import RAW_COLUMN
from gateway.store.transactions import writes


@dataclass(frozen=True)
class Printed:
    """A rendered message."""

    html: str
    doc_type: str
    langs: tuple[str, str]


def renderer(cw: CaseWork) -> Renderer:
    """The node's renderer (its schemas, the repository's catalogs)."""
    return Renderer(cw.forms, catalogs(cw.node.settings.translations_dir))


#: The language of each country's documents: the left column on its own nodes.
HOME_LANGUAGE = {"VN": "vi", "KH": "km", "LA": "lo"}


def partner_langs(cw: CaseWork, partner: str, reader: str | None) -> tuple[str, str]:
    """This node's language (Vietnamese on a Vietnamese node) beside the partner's first
    language, or beside the reader's choice; English when both would be the same."""
    own = HOME_LANGUAGE.get(cw.country, "en")
    found = cw.node.partners.get(partner)
    first = found.file.languages[0] if found and found.file.languages else "en"
    other = reader or (first if first in ("km", "lo", "en", "vi") else "en")
    return own, other if other != own else "en"


async def _render(conn: AsyncConnection, cw: CaseWork, message_id: str,
                  langs: tuple[str, str] | None, show_special: bool,
                  case_id: int | None, sender: str | None = None) -> Printed:
    """The message (of the case ``case_id``, of ``sender``, where given) rendered as its
    document. Outside a case, a message id more than one sender used needs the sender."""
    rows = await case_messages.stored_messages(conn, message_id, case_id, sender)
    if not rows:
        raise CaseError("not-found", N_("no message {message_id}"), message_id=message_id)
    senders = sorted({str(r.sender) for r in rows})
    if case_id is None and len(senders) > 1:
        raise CaseError("state-conflict", N_("more than one sender used the message id "
                                             "{message_id} ({senders}): say whose message it "
                                             "is (--from)"),
                        message_id=message_id, senders=", ".join(senders))
    row = rows[0]
    envelope = parse_envelope(parse_body(cw.sealer.open(bytes(row.raw), RAW_COLUMN)))
    bx = envelope.header.bx
    receipt = await case_messages.receipt_received(conn, row.id)
    partner = row.recipient if row.direction == "out" else row.sender
    chosen = langs if langs and langs[0] != langs[1] else partner_langs(cw, partner, None)
    names = {node: cw.node.names.names(node) for node in (bx.from_, bx.to)}
    header = MessageHeader(
        message_id=bx.id, sender=bx.from_, recipient=bx.to, conversation=bx.conversation,
        created=parse_rfc3339_utc(bx.created), priority=bx.priority, handling=bx.handling,
        receipt=datetime.fromisoformat(str(receipt).replace("Z", "+00:00")) if receipt
        else None, direction=row.direction,
        attachments=tuple((a.name, a.media_type, a.size, a.sha256)
                          for a in bx.attachments or []), names=names)
    html = renderer(cw).html(bx.type, bx.version, envelope.document, chosen, header,
                             show_special=show_special)
    return Printed(html, bx.type, chosen)


async def print_message(conn: AsyncConnection, cw: CaseWork, message_id: str, *, actor: str,
                        reason: str | None, via: str, fmt: str,
                        langs: tuple[str, str] | None = None, show_special: bool = False,
                        case_id: int | None = None, sender: str | None = None) -> Printed:
    """Render one stored message (of the case ``case_id``, where given) to take it away, as
    a file (``fmt``: html or pdf) or on paper; audited as an export (``document.exported``)
    with who, why, how (``via``: api, cli, console) and whether special data showed.

    The API and the command line ask for a reason; the console's print of the message its
    user is reading asks for none (``reason`` None) and records the reason of the session's
    grant where special data shows."""
    if via != "console" and len((reason or "").strip()) < 3:
        raise CaseError("invalid-request", N_("printing a document needs a reason"), "reason")
    printed = await _render(conn, cw, message_id, langs, show_special, case_id, sender)
    await audit.append(conn, cw.clock, actor, "document.exported", message_id,
                       {"type": printed.doc_type, "langs": list(printed.langs),
                        "special": show_special, "reason": reason.strip() if reason else None,
                        "via": via, "format": fmt})
    return printed


@writes
async def print_for_operator(conn: AsyncConnection, cw: CaseWork, message_id: str, *,
                             reason: str, fmt: str, langs: tuple[str, str] | None,
                             show_special: bool, sender: str | None = None) -> Printed:
    """``gateway render MESSAGE_ID [--from SENDER]``: a stored message printed by the
    operator at the host, audited as an export through the command line
    (:func:`print_message`)."""
    return await print_message(conn, cw, message_id, actor="operator", reason=reason,
                               via="cli", fmt=fmt, langs=langs, show_special=show_special,
                               sender=sender)


async def view_message(conn: AsyncConnection, cw: CaseWork, message_id: str, *, actor: str,
                       reason: str | None, show_special: bool, case_id: int) -> Printed:
    """Render one message of the case ``case_id`` for the console's screen only; audited as
    a view (``document.viewed``) with whether special data showed and the reason it was
    opened with (None when it was not)."""
    printed = await _render(conn, cw, message_id, None, show_special, case_id)
    await audit.append(conn, cw.clock, actor, "document.viewed", message_id,
                       {"type": printed.doc_type, "langs": list(printed.langs),
                        "special": show_special, "reason": reason})
    return printed
