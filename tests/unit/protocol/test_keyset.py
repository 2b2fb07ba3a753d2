"""The signed key set of PROTOCOL.md §2: what a receiver accepts from it, and what it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.protocol.encoding import b64url_decode, b64url_encode, canonical_json
from gateway.protocol.jose import (
    PinnedKey,
    SigningKey,
    checkpoint_marking,
    flattened_jws,
    public_jwk,
    thumbprint,
)
from gateway.protocol.keyset import KEYSET_CTY, KEYSET_TYP, sign_key_set, verify_key_set
from gateway.protocol.problems import Problem
from tests.conftest import NOW, make_key

PARTNER = "kh.ahtjp"


def _jwk(key: SigningKey) -> dict[str, str]:
    return {**public_jwk(key.public_key()), "kid": key.kid, "use": "sig", "alg": key.alg}


def _lookup(*pins: PinnedKey) -> Callable[[str, str], PinnedKey | None]:
    found = {p.kid: p for p in pins}
    return lambda node, kid: found.get(kid) if node == PARTNER else None


@pytest.fixture
def current() -> SigningKey:
    return make_key(PARTNER, "2026-11")


@pytest.fixture
def following() -> SigningKey:
    return make_key(PARTNER, "2027-05", "ES256")


def test_a_set_signed_by_a_pinned_key_vouches_for_the_next_key(
        current: SigningKey, following: SigningKey) -> None:
    raw = sign_key_set(current, {"keys": [_jwk(current), _jwk(following)]})
    vouched = verify_key_set(raw, _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                             signer=PARTNER)
    assert vouched.vouching_kid == current.kid
    offered = {k.kid: k for k in vouched.keys}
    assert offered[following.kid].thumbprint == thumbprint(public_jwk(following.public_key()))
    assert set(offered[following.kid].jwk) == {"kty", "crv", "x", "y"}


@pytest.mark.parametrize("pin", ["missing", "revoked", "expired", "not-yet"])
def test_a_set_signed_by_a_key_that_is_not_trusted_now_is_refused(
        current: SigningKey, following: SigningKey, pin: str) -> None:
    raw = sign_key_set(current, {"keys": [_jwk(current), _jwk(following)]})
    public = current.public_key()
    pins = {"missing": (), "revoked": (PinnedKey(current.kid, public, revoked=True),),
            "expired": (PinnedKey(current.kid, public, not_after=NOW - timedelta(days=1)),),
            "not-yet": (PinnedKey(current.kid, public, not_before=NOW + timedelta(days=1)),)}
    with pytest.raises(Problem) as refused:
        verify_key_set(raw, _lookup(*pins[pin]), NOW, signer=PARTNER)
    assert refused.value.code == "bad-signature"


def test_the_next_key_cannot_vouch_for_itself(current: SigningKey,
                                              following: SigningKey) -> None:
    raw = sign_key_set(following, {"keys": [_jwk(current), _jwk(following)]})
    with pytest.raises(Problem, match="not pinned"):
        verify_key_set(raw, _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)


def _signed(key: SigningKey, header: dict[str, str], payload: object) -> bytes:
    return canonical_json(flattened_jws(key, header, canonical_json(payload)))


@pytest.mark.parametrize(("case", "message"), [
    ("another node's key", "a key vouches only for its own node's keys"),
    ("a private key", "carries a private key"),
    ("no keys", "a JWK Set with 1 to"),
    ("typ", "header"),
    ("twice", "a kid appears twice"),
])
def test_sets_a_key_may_not_vouch_for_are_refused_whole(
        current: SigningKey, following: SigningKey, case: str, message: str) -> None:
    other = make_key("la.atd", "2026-11")
    header = {"typ": KEYSET_TYP, "cty": KEYSET_CTY}
    keys = [_jwk(current), _jwk(following)]
    if case == "another node's key":
        keys.append(_jwk(other))
    elif case == "a private key":
        keys[1] = {**keys[1], "d": "c2VjcmV0"}
    elif case == "no keys":
        keys = []
    elif case == "typ":
        header["typ"] = "bx+jws"
    elif case == "twice":
        keys.append(_jwk(following))
    raw = _signed(current, header, {"keys": keys})
    with pytest.raises(Problem, match=message) as refused:
        verify_key_set(raw, _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)
    assert refused.value.code == "malformed"


def test_an_altered_set_does_not_verify(current: SigningKey, following: SigningKey) -> None:
    body = json.loads(sign_key_set(current, {"keys": [_jwk(current)]}))
    payload = json.loads(b64url_decode(body["payload"]))
    payload["keys"].append(_jwk(following))
    body["payload"] = b64url_encode(canonical_json(payload))
    with pytest.raises(Problem, match="does not verify") as refused:
        verify_key_set(json.dumps(body).encode(),
                       _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)
    assert refused.value.code == "bad-signature"


def test_alg_none_is_refused(current: SigningKey) -> None:
    header = b64url_encode(canonical_json({"alg": "none", "kid": current.kid,
                                           "typ": KEYSET_TYP, "cty": KEYSET_CTY}))
    body = {"protected": header, "payload": b64url_encode(b'{"keys":[]}'), "signature": ""}
    with pytest.raises(Problem, match="not allowed"):
        verify_key_set(json.dumps(body).encode(),
                       _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)


def test_a_key_for_checkpoints_only_vouches_for_nothing(current: SigningKey,
                                                       following: SigningKey) -> None:
    """PROTOCOL.md §4.8: a set signed by the partner's checkpoint key is refused, though
    that key is pinned, valid and unrevoked; a set signed by its signing key says which of
    its keys are for checkpoints only."""
    checkpoints = make_key(PARTNER, "checkpoints-2026-11")
    marked = {**_jwk(checkpoints), **checkpoint_marking()}
    keys = _lookup(PinnedKey(current.kid, current.public_key()),
                   PinnedKey(checkpoints.kid, checkpoints.public_key(), checkpoints_only=True))
    raw = sign_key_set(checkpoints, {"keys": [_jwk(current), marked, _jwk(following)]})
    with pytest.raises(Problem) as caught:
        verify_key_set(raw, keys, NOW, signer=PARTNER)
    assert caught.value.code == "bad-signature"
    assert "checkpoints" in caught.value.detail
    vouched = verify_key_set(sign_key_set(current, {
        "keys": [_jwk(current), marked, _jwk(following)]}), keys, NOW, signer=PARTNER)
    assert [(k.kid, k.checkpoints_only) for k in vouched.keys] == [
        (current.kid, False), (checkpoints.kid, True), (following.kid, False)]


@pytest.mark.parametrize("change", [
    {"bx_use": "everything"},  # a purpose it does not know: no key of unknown purpose
    {"bx_use": "checkpoints", "key_ops": ["sign"]},
])
def test_a_marking_the_receiver_does_not_understand_refuses_the_set(
        current: SigningKey, following: SigningKey, change: dict[str, object]) -> None:
    raw = sign_key_set(current, {"keys": [_jwk(current), {**_jwk(following), **change}]})
    with pytest.raises(Problem) as caught:
        verify_key_set(raw, _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)
    assert caught.value.code == "malformed"


def test_a_set_listing_one_key_under_two_kids_is_refused(current: SigningKey) -> None:
    twice = SigningKey(f"{PARTNER}#again", current.private_key)
    raw = sign_key_set(current, {"keys": [_jwk(current), _jwk(twice)]})
    with pytest.raises(Problem, match="under two kids"):
        verify_key_set(raw, _lookup(PinnedKey(current.kid, current.public_key())), NOW,
                       signer=PARTNER)
