"""Receipts: the receiver's signed proof that it accepted a message (PROTOCOL.md §4.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gateway.protocol import ids
from gateway.protocol.bearer import KeyLookup
from gateway.protocol.encoding import (
    EncodingError,
    canonical_json,
    strict_json_loads,
)
from gateway.protocol.envelope import describe_validation_error, format_rfc3339_utc
from gateway.protocol.jose import SigningKey, flattened_jws
from gateway.protocol.problems import Problem
from gateway.protocol.signed import SignedHeader, verify_signed

RECEIPT_TYP: Final = "bx-receipt+jws"
RECEIPT_CTY: Final = "application/json"


class ReceiptPayload(BaseModel):
    """The signed content of a receipt."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    message: Annotated[str, StringConstraints(pattern=f"^{ids.UUID.pattern}$")]
    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
    from_: Annotated[str, StringConstraints(pattern=f"^{ids.NODE_ID.pattern}$")] = Field(
        alias="from")
    to: Annotated[str, StringConstraints(pattern=f"^{ids.NODE_ID.pattern}$")]
    received: Annotated[str, StringConstraints(pattern=f"^{ids.RFC3339_UTC.pattern}$")]
    status: Literal["accepted"]


class _ReceiptHeader(SignedHeader):
    typ: Literal["bx-receipt+jws"]
    cty: Literal["application/json"]


@dataclass(frozen=True)
class Receipt:
    """A verified receipt and its exact bytes."""

    raw: bytes
    kid: str
    payload: ReceiptPayload


def build_receipt(key: SigningKey, receiver: str, sender: str, message_id: str, digest: str,
                  received: datetime) -> bytes:
    """Sign a receipt for ``message_id`` with ``digest`` (``sha256:<hex>``); returns its bytes."""
    # the values come from a verified message and this node: the payload is written as
    # ReceiptPayload reads it, without a validation round trip (tests/unit/protocol checks
    # that both give the same bytes)
    body = {"message": message_id, "digest": digest, "from": receiver, "to": sender,
            "received": format_rfc3339_utc(received), "status": "accepted"}
    jws = flattened_jws(key, {"typ": RECEIPT_TYP, "cty": RECEIPT_CTY}, canonical_json(body))
    return canonical_json(jws)


def _bad(detail: str) -> Problem:
    return Problem("malformed", f"receipt: {detail}")


def verify_receipt(raw: bytes, keys: KeyLookup, when: datetime, *, signer: str,
                   recipient: str, message_id: str | None = None,
                   digest: str | None = None) -> Receipt:
    """Verify a receipt signed by ``signer`` for ``recipient``.

    When ``message_id`` and ``digest`` are given the receipt must name exactly them.
    Raises ``malformed``, ``bad-signature`` or ``conflict``.
    """
    header, payload_bytes = verify_signed(raw, _ReceiptHeader, keys, when, signer=signer,
                                          what="receipt")
    try:
        payload = ReceiptPayload.model_validate(strict_json_loads(payload_bytes))
    except EncodingError as exc:
        raise _bad(f"payload: {exc}") from exc
    except ValidationError as exc:
        raise _bad(describe_validation_error("payload", exc)) from exc
    if payload.from_ != signer or payload.to != recipient:
        raise _bad(f"receipt is from {payload.from_} to {payload.to}, "
                   f"expected from {signer} to {recipient}")
    if message_id is not None and payload.message != message_id:
        raise Problem("conflict", f"receipt names message {payload.message}, not {message_id}")
    if digest is not None and payload.digest != digest:
        raise Problem("conflict", "receipt digest does not match the message as sent")
    return Receipt(raw=raw, kid=header.kid, payload=payload)
