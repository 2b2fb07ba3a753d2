"""The BX/1 message: protected header model, parsing of the flattened JWS, and composing one.

PROTOCOL.md §3. Parsing here checks structure only (JSON, members, types); whether a message
may be trusted is decided by :func:`gateway.protocol.inbound.verify_message`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gateway.protocol import ids
from gateway.protocol.encoding import (
    EncodingError,
    b64url_decode,
    b64url_encode,
    canonical_json,
    strict_json_loads,
)
from gateway.protocol.jose import SigningKey, flattened_jws
from gateway.protocol.problems import Problem

MESSAGE_TYP: Final = "bx+jws"
MESSAGE_CTY: Final = "application/xml"
MEDIA_TYPE: Final = "application/jose+json"
MAX_DOCUMENT_BYTES: Final = 1024 * 1024
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
MAX_MESSAGE_BYTES: Final = 20 * 1024 * 1024

Priority = Literal["routine", "urgent", "immediate"]
Handling = Literal["H0", "H1", "H2", "H3"]
Lang = Literal["vi", "km", "lo", "en"]
AttachmentType = Literal["image/jpeg", "image/png", "application/pdf"]
#: The values of each, in order, for forms and checks elsewhere (one place, PROTOCOL.md §3.1).
PRIORITIES: Final[tuple[str, ...]] = get_args(Priority)
HANDLING_CODES: Final[tuple[str, ...]] = get_args(Handling)
LANGS: Final[tuple[str, ...]] = get_args(Lang)
ATTACHMENT_MEDIA_TYPES: Final[tuple[str, ...]] = get_args(AttachmentType)
#: The first bytes of each attachment media type (PROTOCOL.md §3.4).
_SIGNATURES: Final = (("image/jpeg", b"\xff\xd8\xff"), ("image/png", b"\x89PNG\r\n\x1a\n"),
                      ("application/pdf", b"%PDF-"))


#: The file name extensions of each attachment media type, the usual one first.
ATTACHMENT_SUFFIXES: Final = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",),
                              "application/pdf": (".pdf",)}
#: The extension of bytes that are none of the attachment media types.
UNKNOWN_SUFFIX: Final = ".bin"


def sniff_media_type(data: bytes) -> str | None:
    """The attachment media type the bytes themselves show (not their name), or None."""
    return next((media for media, magic in _SIGNATURES if data.startswith(magic)), None)


def file_name_for(name: str, media_type: str | None) -> str:
    """``name`` as a file of ``media_type`` (what the bytes show; None: none of the three):
    letters, digits, ``.``, ``_`` and ``-`` only, ending in an extension of that type. A
    name that ends in another (``scan.html`` for a PDF) has it replaced (``scan.pdf``); a
    name without one gets it (``scan`` to ``scan.pdf``). Saved, the file opens as what its
    bytes are, whatever name its sender chose."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip(".") or "attachment"
    suffixes = ATTACHMENT_SUFFIXES.get(media_type or "", (UNKNOWN_SUFFIX,))
    if cleaned.lower().endswith(suffixes):
        return cleaned
    stem, dot, _ = cleaned.rpartition(".")
    return (stem if dot and stem else cleaned) + suffixes[0]

_Uuid = Annotated[str, StringConstraints(pattern=f"^{ids.UUID.pattern}$")]
_NodeId = Annotated[str, StringConstraints(pattern=f"^{ids.NODE_ID.pattern}$")]
_Created = Annotated[str, StringConstraints(pattern=f"^{ids.RFC3339_UTC.pattern}$")]
#: Attachment names become file names in bundles and exports: no paths, no surprises.
_VERSION = r"^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$"
_AttachmentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class AttachmentInfo(BaseModel):
    """One entry of ``bx.attachments``: what the sender signed about an attachment."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: _AttachmentName
    media_type: Literal["image/jpeg", "image/png", "application/pdf"]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class BxHeader(BaseModel):
    """The ``bx`` member of the protected header (PROTOCOL.md §3.1)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    v: Annotated[int, Field(strict=True, ge=1, le=1)]
    id: _Uuid
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,63}$")]
    version: Annotated[str, StringConstraints(pattern=_VERSION)]
    from_: _NodeId = Field(alias="from")
    to: _NodeId
    created: _Created
    conversation: _Uuid
    ref: _Uuid | None = None
    priority: Priority
    handling: Handling
    lang: Lang
    attachments: list[AttachmentInfo] | None = None
    #: A conformance probe's message (PROTOCOL.md §3.1): verified, receipted and deduplicated
    #: as any other, filed apart from casework, never counted in a report. "boolean,
    #: optional": absent, or ``true`` or ``false``; ``null`` is refused (the strictest reading:
    #: a message that says nothing of it does not become casework by default).
    test: bool = False

    @property
    def is_test(self) -> bool:
        """True for a message marked ``test: true``."""
        return self.test

    @property
    def major(self) -> int:
        """The major part of the document schema version."""
        return int(self.version.split(".", 1)[0])

    @property
    def created_at(self) -> datetime:
        """``created`` as an aware UTC datetime."""
        return parse_rfc3339_utc(self.created)


class ProtectedHeader(BaseModel):
    """The JWS protected header of a message. Unknown JOSE members are ignored (RFC 7515)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    alg: str
    kid: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    typ: Literal["bx+jws"]
    cty: Literal["application/xml"]
    bx: BxHeader


@dataclass(frozen=True)
class Envelope:
    """A structurally valid message, with the members exactly as received."""

    protected: str
    payload: str
    signature: bytes
    document: bytes
    header: ProtectedHeader
    attachments: dict[str, str]  # name -> base64url data, as received

    @property
    def signing_input(self) -> bytes:
        """``protected + "." + payload`` as ASCII bytes, exactly as received."""
        return f"{self.protected}.{self.payload}".encode("ascii")

    @functools.cached_property
    def digest(self) -> str:
        """``sha256:<hex>`` of the signing input: what receipts prove (PROTOCOL.md §4.3)."""
        return "sha256:" + hashlib.sha256(self.signing_input).hexdigest()


def parse_rfc3339_utc(text: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` to an aware datetime; raises ValueError otherwise."""
    if not ids.RFC3339_UTC.fullmatch(text):
        raise ValueError(f"not an RFC 3339 UTC time with Z: {text!r}")
    # the pattern has placed every digit: the fields are read where they stand (strptime
    # cost 5 µs a time, several times a message); datetime refuses a day or an hour that
    # does not exist, as strptime did
    frac = text[20:-1]
    return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                    int(text[14:16]), int(text[17:19]),
                    int(frac[:6].ljust(6, "0")) if frac else 0, tzinfo=UTC)


def format_rfc3339_utc(when: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with ``Z`` (milliseconds when present)."""
    when = when.astimezone(UTC)
    text = (f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:"
            f"{when.minute:02d}:{when.second:02d}")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


def describe_validation_error(where: str, exc: ValidationError) -> str:
    """One line naming the first offending member, e.g. ``bx.priority: Input should be ...``."""
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{where}: {loc}: {first['msg']}"


def _malformed(detail: str) -> Problem:
    return Problem("malformed", detail)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The outer JSON object of a message; raises ``malformed``."""
    try:
        body = strict_json_loads(raw)
    except EncodingError as exc:
        raise _malformed(f"body: {exc}") from exc
    if not isinstance(body, dict):
        raise _malformed("body: not a JSON object")
    return body


def parse_envelope(body: dict[str, Any]) -> Envelope:
    """Check the flattened JWS structure and the protected header; raises ``malformed``.

    The algorithm is not judged here: that is a signature question (``bad-signature``).
    """
    if "signatures" in body:
        raise _malformed("body: general JWS serialization is not allowed; use flattened")
    if "header" in body:
        raise _malformed("body: unprotected header is not allowed")
    members = {}
    for name in ("protected", "payload", "signature"):
        value = body.get(name)
        if not isinstance(value, str):
            raise _malformed(f"body: member {name!r} missing or not a string")
        members[name] = value
    try:
        header_bytes = b64url_decode(members["protected"])
        document = b64url_decode(members["payload"])
        signature = b64url_decode(members["signature"])
    except EncodingError as exc:
        raise _malformed(f"body: {exc}") from exc
    try:
        header_json = strict_json_loads(header_bytes)
    except EncodingError as exc:
        raise _malformed(f"protected header: {exc}") from exc
    if not isinstance(header_json, dict):
        raise _malformed("protected header: not a JSON object")
    if "crit" in header_json:
        raise _malformed("protected header: 'crit' names extensions this node does not support")
    try:
        header = ProtectedHeader.model_validate(header_json)
    except ValidationError as exc:
        raise _malformed(describe_validation_error("protected header", exc)) from exc
    try:
        header.bx.created_at  # noqa: B018 - a pattern-valid but impossible date
    except ValueError as exc:
        raise _malformed(f"protected header: bx.created: {exc}") from exc
    declared = header.bx.attachments or []
    if len({a.name for a in declared}) != len(declared):
        raise _malformed("protected header: bx.attachments: names must be unique")
    return Envelope(protected=members["protected"], payload=members["payload"],
                    signature=signature, document=document, header=header,
                    attachments=_parse_attachments(body.get("attachments")))


def _parse_attachments(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _malformed("body: 'attachments' is not an array")
    result: dict[str, str] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not isinstance(item.get("data"), str):
            raise _malformed(f"body: attachments[{index}] needs string 'name' and 'data'")
        if item["name"] in result:
            raise Problem("attachment-mismatch", f"attachment {item['name']!r} appears twice")
        result[item["name"]] = item["data"]
    return result


@dataclass(frozen=True)
class Attachment:
    """An attachment to send: its name, media type and bytes."""

    name: str
    media_type: str
    data: bytes

    def info(self) -> dict[str, Any]:
        """The signed ``bx.attachments`` entry."""
        return {"name": self.name, "media_type": self.media_type, "size": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest()}


@dataclass(frozen=True)
class MessageDraft:
    """Everything the sender decides about a message (the ``bx`` member), before signing."""

    type: str
    version: str
    to: str
    conversation: str | None = None
    ref: str | None = None
    priority: Priority = "routine"
    handling: Handling = "H0"
    lang: Lang = "vi"
    #: Mark the message ``bx.test: true`` (PROTOCOL.md §3.1): a conformance probe's.
    test: bool = False


def new_message_id() -> str:
    """A fresh message id: a random UUID in canonical lower-case form."""
    return str(uuid.uuid4())


def compose_message(key: SigningKey, sender: str, draft: MessageDraft, document: bytes,
                    attachments: Sequence[Attachment] = (), *, created: datetime,
                    message_id: str | None = None) -> bytes:
    """Sign a document into a BX/1 message and return its exact bytes.

    The header is checked against :class:`ProtectedHeader` before signing, so that this node
    never signs what it would itself refuse.
    """
    message_id = message_id or new_message_id()
    bx: dict[str, Any] = {
        "v": 1, "id": message_id, "type": draft.type, "version": draft.version,
        "from": sender, "to": draft.to, "created": format_rfc3339_utc(created),
        "conversation": draft.conversation or message_id, "priority": draft.priority,
        "handling": draft.handling, "lang": draft.lang,
    }
    if draft.ref:
        bx["ref"] = draft.ref
    if attachments:
        bx["attachments"] = [a.info() for a in attachments]
    if draft.test:
        bx["test"] = True
    header = {"typ": MESSAGE_TYP, "cty": MESSAGE_CTY, "bx": bx}
    ProtectedHeader.model_validate({**header, "alg": key.alg, "kid": key.kid})
    body: dict[str, Any] = dict(flattened_jws(key, header, document))
    if attachments:
        body["attachments"] = [{"name": a.name, "data": b64url_encode(a.data)}
                               for a in attachments]
    return canonical_json(body)


_MAILBOX_START = re.compile(r'\s*\{\s*"messages"\s*:\s*\[')


def mailbox_body(raws: Sequence[bytes]) -> bytes:
    """The answer to a pull: ``{"messages": [...]}`` with each message's bytes as stored."""
    return b'{"messages":[' + b",".join(raws) + b"]}"


def mailbox_messages(body: bytes) -> list[bytes]:
    """The messages of a pull answer, each exactly as the partner sent its bytes.

    The array is walked with the JSON decoder's positions, so every message is cut out of the
    answer unchanged (bytes are sacred); the whole answer is also checked as strict JSON.
    """
    parsed = strict_json_loads(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("messages"), list):
        raise EncodingError("a pull answer is {\"messages\": [...]}")
    text = body.decode("utf-8")
    start = _MAILBOX_START.match(text)
    if start is None:
        raise EncodingError("a pull answer must start with {\"messages\": [")
    decoder, position, result = json.JSONDecoder(), start.end(), []
    for _ in parsed["messages"]:
        while text[position] in " \t\r\n,":
            position += 1
        _, end = decoder.raw_decode(text, position)
        result.append(text[position:end].encode("utf-8"))
        position = end
    return result
