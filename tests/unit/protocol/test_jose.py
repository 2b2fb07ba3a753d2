"""JOSE: RFC 8037 vectors, thumbprints, interoperability with jwcrypto, and refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws
from jwcrypto import jwt as jw_jwt

from gateway.protocol.bearer import issue_bearer, verify_bearer
from gateway.protocol.encoding import b64url_decode, b64url_encode
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.inbound import verify_message
from gateway.protocol.jose import (
    JwkError,
    PinnedKey,
    SigningKey,
    checkpoints_only,
    jwk_to_public_key,
    public_jwk,
    sign_bytes,
    thumbprint,
    verify_bytes,
)
from gateway.protocol.problems import Problem
from tests.conftest import NOW, World, example, make_key, pin, resign

# RFC 8037 Appendix A.1 (key), A.3 (thumbprint), A.4 (JWS).
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
           "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def _rfc_parts() -> tuple[bytes, bytes]:
    protected, payload, signature = RFC_JWS.split(".")
    return f"{protected}.{payload}".encode(), b64url_decode(signature)


def test_rfc8037_a4_signature_verifies() -> None:
    key = jwk_to_public_key({"kty": "OKP", "crv": "Ed25519", "x": RFC_X})
    signing_input, signature = _rfc_parts()
    assert verify_bytes(key, "EdDSA", signing_input, signature)


def test_rfc8037_a4_is_reproduced_by_signing() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC_D))
    signing_input, signature = _rfc_parts()
    assert sign_bytes(private, signing_input) == signature
    assert public_jwk(private.public_key())["x"] == RFC_X


@given(st.data())
def test_rfc8037_a4_fails_with_any_one_bit_flipped(data: st.DataObject) -> None:
    key = jwk_to_public_key({"kty": "OKP", "crv": "Ed25519", "x": RFC_X})
    signing_input, signature = _rfc_parts()
    target = data.draw(st.sampled_from(["input", "signature"]))
    blob = bytearray(signing_input if target == "input" else signature)
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    if target == "input":
        assert not verify_bytes(key, "EdDSA", bytes(blob), signature)
    else:
        assert not verify_bytes(key, "EdDSA", signing_input, bytes(blob))


def test_rfc8037_a3_thumbprint() -> None:
    assert thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC_X}) == RFC_THUMBPRINT
    # Members other than the required ones do not change it.
    assert thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC_X, "kid": "a#b",
                       "use": "sig"}) == RFC_THUMBPRINT


def test_thumbprints_agree_with_jwcrypto() -> None:
    for alg in ("EdDSA", "ES256"):
        key = make_key("vn.c02", alg=alg)
        theirs = jw_jwk.JWK.from_pyca(key.public_key()).thumbprint()
        assert thumbprint(public_jwk(key.public_key())) == theirs


def test_ecdsa_verification_refuses_wrong_length_and_wrong_alg() -> None:
    key = make_key("vn.c02", alg="ES256")
    signature = sign_bytes(key.private_key, b"x")
    assert len(signature) == 64
    assert verify_bytes(key.public_key(), "ES256", b"x", signature)
    assert not verify_bytes(key.public_key(), "ES256", b"x", signature + b"\0")
    assert not verify_bytes(key.public_key(), "EdDSA", b"x", signature)


def _jwcrypto_key(key: SigningKey) -> jw_jwk.JWK:
    pem = key.private_key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return jw_jwk.JWK.from_pem(pem)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_message_signed_by_jwcrypto_verifies_here(world: World, alg: str) -> None:
    key = make_key("vn.c02", label="jwcrypto", alg=alg)
    world.set_policy("vn.c02", [pin(key)])
    header = {"alg": alg, "kid": key.kid, "typ": "bx+jws", "cty": "application/xml",
              "bx": {"v": 1, "id": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                     "type": "verification-response", "version": "1.0", "from": "vn.c02",
                     "to": "kh.ahtjp", "created": "2026-11-24T07:59:00Z",
                     "conversation": "0b6f7a9e-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                     "priority": "routine", "handling": "H1", "lang": "vi"}}
    token = jw_jws.JWS(example("verification-response"))
    token.add_signature(_jwcrypto_key(key), None, json.dumps(header))
    raw = token.serialize(compact=False).encode()
    verified = verify_message(raw, world.bearer(key=key), world.ctx)
    assert verified.message_id == header["bx"]["id"]
    assert verified.document == example("verification-response")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_message_signed_here_verifies_with_jwcrypto(world: World, alg: str) -> None:
    key = make_key("vn.c02", alg=alg)
    raw = compose_message(key, "vn.c02", MessageDraft("alert", "1.0", "kh.ahtjp"),
                          example("alert"), created=world.now)
    token = jw_jws.JWS()
    token.deserialize(raw.decode(), key=jw_jwk.JWK.from_pyca(key.public_key()))
    assert token.payload == example("alert")
    assert json.loads(token.objects["protected"])["kid"] == key.kid


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_bearer_interoperates_with_jwcrypto(world: World, alg: str) -> None:
    key = make_key("vn.c02", alg=alg)
    world.set_policy("vn.c02", [pin(key)])
    now = int(world.now.timestamp())
    theirs = jw_jwt.JWT(header={"alg": alg, "kid": key.kid},
                        claims={"iss": "vn.c02", "sub": "vn.c02", "aud": "kh.ahtjp",
                                "iat": now, "exp": now + 120, "jti": "jwcrypto-1"})
    theirs.make_signed_token(_jwcrypto_key(key))
    claims = verify_bearer(theirs.serialize(), "kh.ahtjp", world.ctx.pinned,
                           world.replay, world.clock)
    assert claims.issuer == "vn.c02"

    ours = issue_bearer(key, "vn.c02", "kh.ahtjp", datetime.now(UTC))
    checked = jw_jwt.JWT(jwt=ours, key=jw_jwk.JWK.from_pyca(key.public_key()),
                         check_claims={"aud": "kh.ahtjp", "iss": "vn.c02"})
    assert json.loads(checked.claims)["sub"] == "vn.c02"


def _body(raw: bytes) -> dict[str, str]:
    body: dict[str, str] = json.loads(raw)
    return body


def test_alg_none_is_refused(world: World) -> None:
    body = _body(world.message())
    raw = resign(world.sender_key, body, alg="none", sign=lambda _: b"")
    with pytest.raises(Problem) as caught:
        verify_message(raw, world.bearer(), world.ctx)
    assert caught.value.code == "bad-signature"


def test_hs256_keyed_with_the_public_key_is_refused(world: World) -> None:
    public_raw = world.sender_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_pem = world.sender_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (public_raw, public_pem):
        body = _body(world.message())
        raw = resign(world.sender_key, body, alg="HS256",
                     sign=lambda data, s=secret: hmac.new(s, data, hashlib.sha256).digest())
        with pytest.raises(Problem) as caught:
            verify_message(raw, world.bearer(), world.ctx)
        assert caught.value.code == "bad-signature"


def test_kid_of_another_node_is_refused(world: World) -> None:
    # kh.blo-bavet's key, pinned (wrongly) under vn.c02, cannot sign for vn.c02.
    foreign = make_key("kh.blo-bavet")
    world.set_policy("vn.c02", [pin(world.sender_key), pin(foreign)])
    with pytest.raises(Problem) as caught:
        verify_message(world.message(key=foreign), world.bearer(), world.ctx)
    assert caught.value.code == "bad-signature"
    assert "not a key of the sender" in caught.value.detail


def test_tampered_header_is_refused(world: World) -> None:
    body = _body(world.message())
    header = json.loads(b64url_decode(body["protected"]))
    header["bx"]["priority"] = "immediate"
    tampered = dict(body, protected=b64url_encode(json.dumps(header).encode()))
    with pytest.raises(Problem) as caught:
        verify_message(json.dumps(tampered).encode(), world.bearer(), world.ctx)
    assert caught.value.code == "bad-signature"


def test_tampered_payload_is_refused(world: World) -> None:
    body = _body(world.message())
    document = b64url_decode(body["payload"]).replace(b"confirmed", b"not-national")
    tampered = dict(body, payload=b64url_encode(document))
    with pytest.raises(Problem) as caught:
        verify_message(json.dumps(tampered).encode(), world.bearer(), world.ctx)
    assert caught.value.code == "bad-signature"


@pytest.mark.parametrize(("jwk", "marked"), [
    ({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, False),
    ({"kty": "OKP", "crv": "Ed25519", "x": "AA", "key_ops": ["verify"]}, False),
    ({"kty": "OKP", "crv": "Ed25519", "x": "AA", "key_ops": ["verify"],
      "bx_use": "checkpoints"}, True),
    ({"kty": "OKP", "crv": "Ed25519", "x": "AA", "bx_use": "checkpoints"}, True),
])
def test_the_checkpoint_marking_of_a_jwk(jwk: dict[str, object], marked: bool) -> None:
    assert checkpoints_only(jwk) is marked


@pytest.mark.parametrize("jwk", [
    {"kty": "OKP", "crv": "Ed25519", "x": "AA", "bx_use": "messages"},
    {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "bx_use": "checkpoints"},
    {"kty": "OKP", "crv": "Ed25519", "x": "AA", "bx_use": "checkpoints",
     "key_ops": ["sign", "verify"]},
])
def test_a_checkpoint_marking_not_understood_is_refused(jwk: dict[str, object]) -> None:
    with pytest.raises(JwkError):
        checkpoints_only(jwk)


def test_a_pinned_key_for_checkpoints_only_is_valid_but_verifies_no_jws() -> None:
    key = make_key("vn.c02", "checkpoints-2026-11")
    pinned = PinnedKey(key.kid, key.public_key(), checkpoints_only=True)
    assert pinned.valid_at(NOW)
    assert not pinned.usable_at(NOW)
    expired = PinnedKey(key.kid, key.public_key(), not_after=NOW - timedelta(seconds=1))
    assert not expired.valid_at(NOW)
    assert not expired.usable_at(NOW)
