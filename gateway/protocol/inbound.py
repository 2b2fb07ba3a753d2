"""The inbound checks of PROTOCOL.md §4.2 as one pure function, :func:`verify_message`.

The checks run in the order the protocol fixes and stop at the first failure; each raises a
:class:`~gateway.protocol.problems.Problem` with the code of the protocol's table. Nothing here
stores anything: the caller stores a :class:`VerifiedMessage` only after this returns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from gateway.protocol import ids
from gateway.protocol.bearer import BearerClaims, ReplayCache, verify_bearer
from gateway.protocol.encoding import EncodingError, b64url_decode, b64url_decoded_length
from gateway.protocol.envelope import (
    MAX_ATTACHMENT_BYTES,
    MAX_DOCUMENT_BYTES,
    MAX_MESSAGE_BYTES,
    Envelope,
    ProtectedHeader,
    parse_body,
    parse_envelope,
    sniff_media_type,
)
from gateway.protocol.jose import ALLOWED_ALGS, PinnedKey, verify_bytes
from gateway.protocol.problems import Problem

FUTURE_TOLERANCE = timedelta(seconds=300)
#: The national standing agency that collects each country's periodic reports (MESSAGES.md):
#: a unit sends its ``periodic-report`` there and nowhere else; no partner abroad gets one.
REPORT_COLLECTORS: Final = {"VN": "vn.c02"}
#: The system documents of PROTOCOL.md §4.8: made and answered by the node itself.
SYSTEM_TYPES: Final = frozenset({"checkpoint", "cosignature"})
DEFAULT_MAX_AGE = timedelta(days=30)


@dataclass(frozen=True)
class PartnerPolicy:
    """What this node accepts from one partner: pinned keys, permitted types, maximum age."""

    node_id: str
    keys: Mapping[str, PinnedKey]
    may_send: frozenset[str]
    max_age: timedelta = DEFAULT_MAX_AGE

    def key(self, kid: str) -> PinnedKey | None:
        """The pinned key ``kid``, or None."""
        return self.keys.get(kid)


class DocumentChecker(Protocol):
    """The document schemas this node knows (implemented by ``gateway.documents``)."""

    def supports(self, doc_type: str, major: int) -> bool:
        """True if ``doc_type`` with this major version can be validated."""

    def check(self, doc_type: str, version: str, document: bytes) -> None:
        """Parse safely and validate; raise ``Problem('schema-invalid', ...)`` otherwise."""


@dataclass(frozen=True)
class InboundContext:
    """Everything :func:`verify_message` needs from the outside world."""

    node_id: str
    partners: Callable[[str], PartnerPolicy | None]
    documents: DocumentChecker
    replay: ReplayCache
    clock: Callable[[], datetime]
    #: Called with the authenticated caller right after the JWT; raises ``rate-limited``.
    rate_limit: Callable[[str], None] | None = None

    def pinned(self, node_id: str, kid: str) -> PinnedKey | None:
        """A partner's pinned key, for bearer and receipt verification."""
        partner = self.partners(node_id)
        return partner.key(kid) if partner else None


@dataclass(frozen=True)
class VerifiedMessage:
    """A message that passed every check, with its bytes exactly as received."""

    raw: bytes
    envelope: Envelope
    document: bytes
    attachments: dict[str, bytes]
    received: datetime
    bearer: BearerClaims | None = field(default=None)

    @property
    def header(self) -> ProtectedHeader:
        """The protected header."""
        return self.envelope.header

    @property
    def message_id(self) -> str:
        """``bx.id``."""
        return self.envelope.header.bx.id

    @property
    def sender(self) -> str:
        """``bx.from``."""
        return self.envelope.header.bx.from_

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the signing input as received."""
        return self.envelope.digest


def verify_message(raw: bytes, bearer: str | None, ctx: InboundContext, *,
                   bundle: bool = False) -> VerifiedMessage:
    """Run the checks of PROTOCOL.md §4.2 in order; return the verified message.

    ``bundle=True`` is the offline-bundle import of §4.6: every check but the JWT.
    """
    received = ctx.clock()
    if len(raw) > MAX_MESSAGE_BYTES:  # step 1: the bytes; nothing is parsed before the JWT
        raise Problem("too-large", f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    claims = None if bundle else verify_bearer(
        bearer, ctx.node_id, ctx.pinned, ctx.replay, ctx.clock,
        known=lambda node: ctx.partners(node) is not None)
    if claims is not None and ctx.rate_limit is not None:
        ctx.rate_limit(claims.issuer)
    body = parse_body(raw)  # malformed: not JSON, too deep, not an object
    _check_sizes(body)
    envelope = parse_envelope(body)
    try:
        return _verify_envelope(raw, envelope, claims, ctx, received)
    except Problem as problem:  # parsed already: the audit line names what it claimed
        problem.claimed = (envelope.header.bx.from_, envelope.header.bx.id)
        raise


def _verify_envelope(raw: bytes, envelope: Envelope, claims: BearerClaims | None,
                     ctx: InboundContext, received: datetime) -> VerifiedMessage:
    """Steps 3 to 9, once the envelope is parsed."""
    bx = envelope.header.bx
    if envelope.header.alg not in ALLOWED_ALGS:
        raise Problem("bad-signature", f"algorithm {envelope.header.alg!r} is not allowed")
    if claims is not None and claims.issuer != bx.from_:
        raise Problem("unauthenticated",
                      f"bearer token of {claims.issuer} cannot carry a message from {bx.from_}")
    partner = _check_sender(envelope, ctx)
    _check_signature(envelope, partner, received)
    if bx.to != ctx.node_id:
        raise Problem("wrong-recipient", f"message is addressed to {bx.to}, this is {ctx.node_id}")
    _check_time(envelope, partner, received)
    attachments = _check_attachments(envelope)
    ctx.documents.check(bx.type, bx.version, envelope.document)
    return VerifiedMessage(raw=raw, envelope=envelope, document=envelope.document,
                           attachments=attachments, received=received, bearer=claims)


def _check_sizes(body: dict[str, Any]) -> None:
    """Step 3: once the body is parsed, the sizes the document and each attachment decode
    to (before anything is decoded)."""
    payload = body.get("payload")
    if isinstance(payload, str) and b64url_decoded_length(payload) > MAX_DOCUMENT_BYTES:
        raise Problem("too-large", f"document is larger than {MAX_DOCUMENT_BYTES} bytes")
    attachments = body.get("attachments")
    for item in attachments if isinstance(attachments, list) else []:
        data = item.get("data") if isinstance(item, dict) else None
        if isinstance(data, str) and b64url_decoded_length(data) > MAX_ATTACHMENT_BYTES:
            raise Problem("too-large", f"an attachment is larger than {MAX_ATTACHMENT_BYTES} bytes")


def _check_sender(envelope: Envelope, ctx: InboundContext) -> PartnerPolicy:
    """Step 4: the sender is a partner, the type is known, and the partner may send it here."""
    bx = envelope.header.bx
    partner = ctx.partners(bx.from_)
    if partner is None:
        raise Problem("unknown-sender", f"{bx.from_} is not in this node's partner directory")
    if not ctx.documents.supports(bx.type, bx.major):
        raise Problem("unsupported-type",
                      f"document type {bx.type!r} version {bx.version} is not supported here")
    if bx.type not in partner.may_send:
        raise Problem("not-permitted", f"{bx.from_} may not send {bx.type!r} to this node")
    collector = REPORT_COLLECTORS.get(ids.node_country(bx.from_))
    if bx.type == "periodic-report" and ctx.node_id != collector:
        raise Problem("not-permitted", f"a periodic report goes to {collector or 'no node'} "
                                       "only (MESSAGES.md)")
    return partner


def _check_signature(envelope: Envelope, partner: PartnerPolicy, received: datetime) -> None:
    """Steps 5 and 6: the key is pinned, valid, not revoked and not a key for checkpoints
    only; the signature verifies."""
    kid = envelope.header.kid
    if ids.kid_node(kid) != partner.node_id:
        raise Problem("bad-signature", f"key {kid!r} is not a key of the sender {partner.node_id}")
    pinned = partner.key(kid)
    if pinned is None:
        raise Problem("bad-signature", f"key {kid!r} is not pinned for {partner.node_id}")
    if pinned.checkpoints_only:
        raise Problem("bad-signature", f"key {kid!r} signs checkpoints and cosignatures only; "
                                       "it signs no message (PROTOCOL.md §4.8)")
    if not pinned.usable_at(received):
        raise Problem("bad-signature", f"key {kid!r} is revoked or outside its validity window")
    if pinned.alg != envelope.header.alg:
        raise Problem("bad-signature", f"key {kid!r} does not sign with {envelope.header.alg}")
    if not verify_bytes(pinned.public_key, pinned.alg, envelope.signing_input, envelope.signature):
        raise Problem("bad-signature", "signature does not verify")


def _check_time(envelope: Envelope, partner: PartnerPolicy, received: datetime) -> None:
    """Step 8: ``created`` at most 300 s ahead and no older than the partner's maximum age."""
    created = envelope.header.bx.created_at
    if created > received + FUTURE_TOLERANCE:
        raise Problem("future", f"created {envelope.header.bx.created} is more than 300 s ahead")
    if created < received - partner.max_age:
        raise Problem("stale", f"created {envelope.header.bx.created} is older than "
                               f"{partner.max_age.days} days")


def _check_attachments(envelope: Envelope) -> dict[str, bytes]:
    """Step 9: exactly the declared attachments, each with the signed size and digest."""
    declared = {a.name: a for a in envelope.header.bx.attachments or []}
    sent = envelope.attachments
    missing = sorted(set(declared) - set(sent))
    extra = sorted(set(sent) - set(declared))
    if missing or extra:
        raise Problem("attachment-mismatch",
                      f"attachments missing: {missing or 'none'}; not declared: {extra or 'none'}")
    result: dict[str, bytes] = {}
    for name, info in declared.items():
        try:
            data = b64url_decode(sent[name])
        except EncodingError as exc:
            raise Problem("attachment-mismatch", f"attachment {name!r}: {exc}") from exc
        if len(data) != info.size:
            raise Problem("attachment-mismatch",
                          f"attachment {name!r} is {len(data)} bytes, signed size {info.size}")
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise Problem("attachment-mismatch", f"attachment {name!r} digest does not match")
        if sniff_media_type(data) != info.media_type:  # the bytes, not the word, decide
            raise Problem("attachment-mismatch",
                          f"attachment {name!r} is not the {info.media_type} it declares")
        result[name] = data
    return result


def check_duplicate(message: VerifiedMessage, accepted_digest: str | None) -> bool:
    """Decide what an id seen before means (PROTOCOL.md §4.2).

    Returns False for a new message and True for a repeat of one accepted before with the same
    digest (answer 200 with the original receipt); raises ``conflict`` if the digest differs.
    """
    if accepted_digest is None:
        return False
    if accepted_digest != message.digest:
        raise Problem("conflict", f"message {message.message_id} was accepted before with "
                                  "another digest")
    return True
