"""Receipts: built and verified as PROTOCOL.md §4.3 says, digest over the bytes as received."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws

from gateway.protocol.encoding import b64url_decode, b64url_encode, canonical_json
from gateway.protocol.inbound import verify_message
from gateway.protocol.jose import SigningKey
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import ReceiptPayload, build_receipt, verify_receipt
from tests.conftest import World, example, make_key, pin


def _receipt_for(world: World, raw: bytes) -> bytes:
    verified = verify_message(raw, world.bearer(), world.ctx)
    return build_receipt(world.receiver_key, world.receiver, verified.sender,
                         verified.message_id, verified.digest, world.now)


def _sender_view(world: World) -> World:
    """The same two keys, seen from the sender: kh.ahtjp's key is pinned."""
    world.set_policy(world.receiver, [pin(world.receiver_key)])
    return world


def test_receipt_round_trip(world: World) -> None:
    raw = world.message()
    receipt_raw = _receipt_for(world, raw)
    body = json.loads(raw)
    digest = "sha256:" + hashlib.sha256(
        f"{body['protected']}.{body['payload']}".encode()).hexdigest()
    _sender_view(world)
    receipt = verify_receipt(receipt_raw, world.ctx.pinned, world.now, signer="kh.ahtjp",
                             recipient="vn.c02", message_id=header_id(raw), digest=digest)
    assert receipt.payload.status == "accepted"
    assert receipt.payload.received == "2026-11-24T08:00:00Z"
    header = json.loads(b64url_decode(json.loads(receipt_raw)["protected"]))
    assert (header["typ"], header["cty"]) == ("bx-receipt+jws", "application/json")


def header_id(raw: bytes) -> str:
    header = json.loads(b64url_decode(json.loads(raw)["protected"]))
    return str(header["bx"]["id"])


def test_digest_is_over_the_signing_input_exactly_as_received(world: World) -> None:
    # A sender whose JSON is not canonical (spaces, other member order) is digested as sent.
    header = {"kid": world.sender_key.kid, "alg": "EdDSA", "typ": "bx+jws",
              "cty": "application/xml",
              "bx": {"v": 1, "id": "5d1f0c7e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
                     "type": "alert", "version": "1.0", "from": "vn.c02", "to": "kh.ahtjp",
                     "created": "2026-11-24T07:00:00.123Z",
                     "conversation": "5d1f0c7e-8a2b-4c3d-9e4f-0a1b2c3d4e5f",
                     "priority": "immediate", "handling": "H2", "lang": "vi"}}
    token = jw_jws.JWS(example("alert"))
    token.add_signature(jw_jwk.JWK.from_pyca(world.sender_key.private_key), None,
                        json.dumps(header, indent=1))
    raw = token.serialize(compact=False).encode()
    verified = verify_message(raw, world.bearer(), world.ctx)
    body = json.loads(raw)
    as_received = f"{body['protected']}.{body['payload']}".encode()
    assert verified.digest == "sha256:" + hashlib.sha256(as_received).hexdigest()


def test_receipt_with_wrong_digest_or_message_is_a_conflict(world: World) -> None:
    raw = world.message()
    receipt_raw = _receipt_for(world, raw)
    _sender_view(world)
    for kwargs in ({"digest": "sha256:" + "1" * 64},
                   {"message_id": "00000000-0000-4000-8000-000000000000"}):
        with pytest.raises(Problem) as caught:
            verify_receipt(receipt_raw, world.ctx.pinned, world.now, signer="kh.ahtjp",
                           recipient="vn.c02", **kwargs)
        assert caught.value.code == "conflict"


def test_receipt_signed_by_another_key_is_bad_signature(world: World) -> None:
    raw = world.message()
    forged = build_receipt(make_key("kh.ahtjp", "forged"), "kh.ahtjp", "vn.c02",
                           header_id(raw), "sha256:" + "0" * 64, world.now)
    _sender_view(world)
    with pytest.raises(Problem) as caught:
        verify_receipt(forged, world.ctx.pinned, world.now, signer="kh.ahtjp",
                       recipient="vn.c02")
    assert caught.value.code == "bad-signature"


def test_tampered_receipt_is_bad_signature(world: World) -> None:
    receipt_raw = _receipt_for(world, world.message())
    body = json.loads(receipt_raw)
    payload = json.loads(b64url_decode(body["payload"]))
    payload["received"] = "2026-11-20T00:00:00Z"
    body["payload"] = b64url_encode(json.dumps(payload).encode())
    _sender_view(world)
    with pytest.raises(Problem) as caught:
        verify_receipt(json.dumps(body).encode(), world.ctx.pinned, world.now,
                       signer="kh.ahtjp", recipient="vn.c02")
    assert caught.value.code == "bad-signature"


def test_receipt_for_someone_else_is_refused(world: World) -> None:
    receipt_raw = _receipt_for(world, world.message())
    _sender_view(world)
    with pytest.raises(Problem) as caught:
        verify_receipt(receipt_raw, world.ctx.pinned, world.now, signer="kh.ahtjp",
                       recipient="la.atd")
    assert caught.value.code == "malformed"


def test_receipt_verifies_with_jwcrypto(world: World) -> None:
    receipt_raw = _receipt_for(world, world.message())
    token = jw_jws.JWS()
    token.deserialize(receipt_raw.decode(),
                      key=jw_jwk.JWK.from_pyca(world.receiver_key.public_key()))
    assert json.loads(token.payload)["status"] == "accepted"


def test_a_receipt_signed_by_a_key_for_checkpoints_only_is_refused(world: World) -> None:
    """PROTOCOL.md §4.8: a receipt (at the sender, or a puller's at POST /receipts) signed by
    the partner's checkpoint key is refused, though that key is pinned, valid and unrevoked."""
    raw = world.message()
    verified = verify_message(raw, world.bearer(), world.ctx)
    checkpoints = make_key("kh.ahtjp", "checkpoints-2026-11")
    receipt_raw = build_receipt(checkpoints, world.receiver, verified.sender,
                                verified.message_id, verified.digest, world.now)
    world.set_policy(world.receiver, [pin(world.receiver_key),
                                      pin(checkpoints, checkpoints_only=True)])
    with pytest.raises(Problem) as caught:
        verify_receipt(receipt_raw, world.ctx.pinned, world.now, signer="kh.ahtjp",
                       recipient="vn.c02")
    assert caught.value.code == "bad-signature"
    assert "checkpoints" in caught.value.detail


def test_a_receipt_signs_the_payload_its_model_reads() -> None:
    """build_receipt writes the payload without a validation round trip: the bytes signed
    are those ReceiptPayload would have dumped."""
    key = SigningKey("kh.ahtjp#2026-12", Ed25519PrivateKey.generate())
    for received in (datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
                     datetime(2026, 12, 7, 8, 0, 1, 123456, tzinfo=UTC)):
        raw = build_receipt(key, "kh.ahtjp", "vn.c02", "0b7d1c2e-4f5a-4b6c-8d9e-0f1a2b3c4d5e",
                            "sha256:" + "a" * 64, received)
        payload = b64url_decode(json.loads(raw)["payload"])
        model = ReceiptPayload.model_validate(json.loads(payload))
        assert payload == canonical_json(model.model_dump(by_alias=True))
