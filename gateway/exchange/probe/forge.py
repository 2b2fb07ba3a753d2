"""The requests a probe sends: bearer tokens (valid, or wrong in one way each, PROTOCOL.md
§4.1) and test messages (valid, or wrong in one way each, §2, §3, §4.2), all signed with this
node's own key and all marked ``bx.test: true`` (§3.1). Documents are the schemas' own
examples: a probe sends no personal data. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from gateway.protocol.encoding import b64url_decode, b64url_encode, canonical_json
from gateway.protocol.envelope import (
    MAX_DOCUMENT_BYTES,
    Attachment,
    MessageDraft,
    compose_message,
    new_message_id,
)
from gateway.protocol.jose import SigningKey, public_jwk, sign_bytes

#: A 1×1 transparent PNG: an attachment declared and not sent carries no one's picture.
PIXEL: Final = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
#: A node id no partner directory lists (a stranger's tokens, a kid of another node).
STRANGER: Final = "xx.bx-probe-stranger"
UNKNOWN_TYPE: Final = "bx-probe-unknown-type"


def token(key: SigningKey, issuer: str, audience: str, now: datetime, *,
          lifetime: int = 120, iat_shift: int = 0, nbf: int | None = None,
          kid: str | None = None, alg: str | None = None, corrupt: bool = False) -> str:
    """A bearer JWT (PROTOCOL.md §4.1) as the probe wants it: ``iat`` shifted, a lifetime,
    an ``nbf`` (seconds from now), another ``kid`` or ``alg`` (``none``: no signature), or a
    signature that does not verify."""
    iat = int(now.timestamp()) + iat_shift
    claims: dict[str, Any] = {"iss": issuer, "sub": issuer, "aud": audience, "iat": iat,
                              "exp": iat + lifetime, "jti": new_message_id()}
    if nbf is not None:
        claims["nbf"] = int(now.timestamp()) + nbf
    header = {"alg": alg or key.alg, "kid": kid or key.kid, "typ": "JWT"}
    signing_input = (f"{b64url_encode(canonical_json(header))}."
                     f"{b64url_encode(canonical_json(claims))}")
    if header["alg"] == "none":
        return f"{signing_input}."
    signature = sign_bytes(key.private_key, signing_input.encode("ascii"))
    if corrupt:
        signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class Forged:
    """A message as sent: its bytes, its id, and the digest a receipt must name (``None``
    for bytes that are no message at all)."""

    raw: bytes
    message_id: str
    digest: str | None


def _digest(body: dict[str, Any]) -> str:
    signing_input = f"{body['protected']}.{body['payload']}".encode("ascii")
    return "sha256:" + hashlib.sha256(signing_input).hexdigest()


@dataclass(frozen=True)
class Forge:
    """Makes the probe's test messages, signed as ``sender`` for ``to``."""

    key: SigningKey
    sender: str
    to: str

    def message(self, doc_type: str, document: bytes, now: datetime, *,
                message_id: str | None = None, to: str | None = None,
                version: str = "1.0", created: datetime | None = None,
                attachments: tuple[Attachment, ...] = ()) -> Forged:
        """A valid test message (``bx.test: true``, a conversation of its own)."""
        message_id = message_id or new_message_id()
        draft = MessageDraft(type=doc_type, version=version, to=to or self.to,
                             conversation=new_message_id(), priority="routine",
                             handling="H0", lang="en", test=True)
        raw = compose_message(self.key, self.sender, draft, document, attachments,
                              created=created or now, message_id=message_id)
        return self._forged(raw)

    @staticmethod
    def identity(raw: bytes) -> str:
        """The id of a message the forge made."""
        return str(_header(_body(raw))["bx"]["id"])

    @staticmethod
    def _forged(raw: bytes) -> Forged:
        body = _body(raw)
        header = _header(body)
        return Forged(raw, str(header["bx"]["id"]), _digest(body))

    def resigned(self, forged: Forged, *, alg: str | None = None, kid: str | None = None,
                 signature: bytes | None = None) -> Forged:
        """The same message with another ``alg`` or ``kid`` in its protected header, signed
        again with this node's key (``alg`` ``none``: no signature; ``HS256``: an HMAC keyed
        with this node's public key, the algorithm-confusion attack), or with ``signature``
        in place of its own."""
        body = _body(forged.raw)
        header = _header(body)
        if alg is not None:
            header["alg"] = alg
        if kid is not None:
            header["kid"] = kid
        protected = b64url_encode(canonical_json(header))
        signing_input = f"{protected}.{body['payload']}".encode("ascii")
        if signature is None:
            if header["alg"] == "none":
                signature = b""
            elif header["alg"] == "HS256":
                secret = canonical_json(public_jwk(self.key.public_key()))
                signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
            else:
                signature = sign_bytes(self.key.private_key, signing_input)
        body.update(protected=protected, signature=b64url_encode(signature))
        return Forged(canonical_json(body), forged.message_id, _digest(body))

    def bad_signature(self, forged: Forged) -> Forged:
        """The same message with one bit of its signature flipped."""
        signature = b64url_decode(_body(forged.raw)["signature"])
        return self.resigned(forged, signature=bytes([signature[0] ^ 0x01]) + signature[1:])

    def without_attachment(self, doc_type: str, document: bytes, now: datetime) -> Forged:
        """A message that declares an attachment and does not send it."""
        forged = self.message(doc_type, document, now, attachments=(
            Attachment("probe.png", "image/png", PIXEL),))
        body = _body(forged.raw)
        del body["attachments"]
        return Forged(canonical_json(body), forged.message_id, forged.digest)

    @staticmethod
    def nested(forged: Forged, depth: int = 40) -> Forged:
        """The message with an extra member nested ``depth`` levels deep (a receiver ignores
        unknown members, but parses no JSON deeper than 32: PROTOCOL.md §3.3)."""
        tail = b',"bx_probe":' + b"[" * depth + b"]" * depth + b"}"
        return Forged(forged.raw[:-1] + tail, forged.message_id, None)

    @staticmethod
    def not_a_jws(forged: Forged) -> Forged:
        """The message without its ``signature`` member: JSON, and no flattened JWS."""
        body = _body(forged.raw)
        del body["signature"]
        return Forged(canonical_json(body), forged.message_id, None)


def _body(raw: bytes) -> dict[str, Any]:
    """A message the forge made itself, read back."""
    body: dict[str, Any] = json.loads(raw)
    return body


def _header(body: dict[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(body["protected"]))
    return header


def with_doctype(document: bytes) -> bytes:
    """The document with a DOCTYPE (no entities, nothing to fetch: refused for being there,
    PROTOCOL.md §3.3)."""
    root = document.index(b"<", document.index(b"?>") + 2) if document.startswith(b"<?xml") \
        else 0
    while document.startswith(b"<!--", root):  # after the comments before the root element
        root = document.index(b"<", document.index(b"-->", root) + 3)
    name = document[root + 1:].split(maxsplit=1)[0].rstrip(b">")
    return document[:root] + b"<!DOCTYPE " + name + b">\n" + document[root:]


def in_utf16(document: bytes) -> bytes:
    """The document in UTF-16 with a byte-order mark, its declaration saying so."""
    text = document.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    return text.encode("utf-16")


def oversized(document: bytes) -> bytes:
    """The document padded past 1 MiB with a comment after its root element."""
    padding = MAX_DOCUMENT_BYTES + 1024 - len(document)
    return document + b"\n<!--" + b"x" * max(padding, 1) + b"-->\n"


def stale(now: datetime) -> datetime:
    """Older than any partner's maximum age (at most 365 days)."""
    return now - timedelta(days=400)


def future(now: datetime) -> datetime:
    """An hour ahead: more than the 300 s a receiver tolerates."""
    return now + timedelta(hours=1)
