"""Verifying a flattened JWS that a partner's pinned key signed (receipts, signed key sets):
the steps they share, in the order PROTOCOL.md gives for messages: the structure, the
algorithm, whose key it is, whether that key is pinned and valid now, the signature."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.protocol import ids
from gateway.protocol.bearer import KeyLookup
from gateway.protocol.encoding import EncodingError, b64url_decode, strict_json_loads
from gateway.protocol.envelope import describe_validation_error, parse_body
from gateway.protocol.jose import ALLOWED_ALGS, verify_bytes
from gateway.protocol.problems import Problem


class SignedHeader(BaseModel):
    """What every signed header carries; each kind adds its own ``typ`` and ``cty``."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    alg: str
    kid: str


H = TypeVar("H", bound=SignedHeader)


def verify_signed(raw: bytes, header_model: type[H], keys: KeyLookup, when: datetime, *,
                  signer: str, what: str) -> tuple[H, bytes]:
    """The protected header (checked by ``header_model``) and the payload's bytes of a
    flattened JWS signed by a key pinned for ``signer`` and usable at ``when``.

    Raises ``malformed`` (``what: ...``) or ``bad-signature`` (``what ...``).
    """
    body = parse_body(raw)
    try:
        protected, payload_b64 = str(body["protected"]), str(body["payload"])
        header = header_model.model_validate(strict_json_loads(b64url_decode(protected)))
        payload = b64url_decode(payload_b64)
        signature = b64url_decode(str(body["signature"]))
    except KeyError as exc:
        raise Problem("malformed", f"{what}: member {exc} missing") from exc
    except EncodingError as exc:
        raise Problem("malformed", f"{what}: {exc}") from exc
    except ValidationError as exc:
        raise Problem("malformed",
                      f"{what}: {describe_validation_error('header', exc)}") from exc
    alg, kid = header.alg, header.kid
    if alg not in ALLOWED_ALGS:
        raise Problem("bad-signature", f"{what} algorithm {alg!r} is not allowed")
    if ids.kid_node(kid) != signer:
        raise Problem("bad-signature", f"{what} key {kid!r} is not a key of {signer}")
    pinned = keys(signer, kid)
    if pinned is not None and pinned.checkpoints_only:
        raise Problem("bad-signature", f"{what} key {kid!r} signs checkpoints and cosignatures "
                                       "only (PROTOCOL.md §4.8)")
    if pinned is None or not pinned.usable_at(when):
        raise Problem("bad-signature", f"{what} key {kid!r} is not pinned or not valid")
    if not verify_bytes(pinned.public_key, alg, f"{protected}.{payload_b64}".encode(),
                        signature):
        raise Problem("bad-signature", f"{what} signature does not verify")
    return header, payload
