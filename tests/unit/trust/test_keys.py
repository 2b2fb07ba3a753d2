"""This node's keys: files, modes, JWKS, rotation and retirement."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from jwcrypto import jwk as jw_jwk
from jwcrypto import jws as jw_jws

from gateway.protocol.jose import public_jwk, thumbprint
from gateway.trust.keys import KeyStore, KeyStoreError
from tests.conftest import NOW


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys" / "signing.pem", "vn.c02")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_generate_writes_a_0600_pkcs8_key_and_publishes_it(store: KeyStore, alg: str) -> None:
    key = store.generate(alg, None, NOW)  # type: ignore[arg-type]
    assert key.kid == "vn.c02#2026-11"
    assert key.alg == alg
    assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
    assert store.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    jwks = store.jwks()
    assert jwks["keys"][0]["kid"] == "vn.c02#2026-11"
    assert len(jwks["keys"]) == (1 if alg == "EdDSA" else 2)  # ES256: its checkpoint key too
    published = jwks["keys"][0]
    assert (published["use"], published["alg"]) == ("sig", alg)
    assert "d" not in published
    assert thumbprint(published) == thumbprint(public_jwk(key.public_key()))
    assert store.signing_key().kid == key.kid


def test_generate_refuses_to_overwrite(store: KeyStore) -> None:
    store.generate("EdDSA", "first", NOW)
    before = store.key_file.read_bytes()
    with pytest.raises(KeyStoreError, match="exists"):
        store.generate("EdDSA", "second", NOW)
    assert store.key_file.read_bytes() == before


def test_bad_label_is_refused(store: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="label"):
        store.generate("EdDSA", "no spaces allowed", NOW)
    assert not store.key_file.exists()


def test_rotate_makes_the_new_key_sign_and_keeps_the_old_published(store: KeyStore) -> None:
    old = store.generate("EdDSA", None, NOW)
    new = store.rotate(None, NOW)
    assert new.kid == "vn.c02#2026-11.2"
    assert store.signing_key().kid == new.kid
    assert [k.kid for k in store.published()] == [old.kid, new.kid]
    with pytest.raises(KeyStoreError, match="exists already"):
        store.rotate("2026-11", NOW)


def test_retire_removes_an_old_key_but_never_the_signing_one(store: KeyStore) -> None:
    old = store.generate("EdDSA", "a", NOW)
    new = store.rotate("b", NOW)
    with pytest.raises(KeyStoreError, match="rotate first"):
        store.retire(new.kid)
    store.retire(old.kid)
    assert [k["kid"] for k in store.jwks()["keys"]] == [new.kid]
    with pytest.raises(KeyStoreError, match="no published key"):
        store.retire(old.kid)


def test_a_key_file_readable_by_others_is_refused(store: KeyStore) -> None:
    store.generate("EdDSA", None, NOW)
    store.key_file.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        store.signing_key()


def test_a_key_missing_from_the_keyring_is_refused(store: KeyStore) -> None:
    store.generate("EdDSA", None, NOW)
    store.ring_file.write_text(json.dumps({"node": "vn.c02", "keys": []}))
    with pytest.raises(KeyStoreError, match="not in the keyring"):
        store.signing_key()


def test_missing_key_says_how_to_make_one(store: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="keys generate"):
        store.signing_key()


def test_a_next_key_is_published_without_signing(store: KeyStore) -> None:
    first = store.generate("EdDSA", "2026-11", NOW)
    nxt = store.rotate_next("2027-05", NOW)
    assert nxt.next
    assert nxt.kid == "vn.c02#2027-05"
    assert store.signing_key().kid == first.kid
    assert [k["kid"] for k in store.jwks()["keys"]] == [first.kid, nxt.kid]
    waiting = store.next_file(nxt.kid)
    assert stat.S_IMODE(waiting.stat().st_mode) == 0o600
    with pytest.raises(KeyStoreError, match="already published as the next key"):
        store.rotate_next("2027-06", NOW)


def test_activate_switches_to_the_next_key_and_keeps_the_old_published(store: KeyStore) -> None:
    first = store.generate("EdDSA", "2026-11", NOW)
    nxt = store.rotate_next("2027-05", NOW, "ES256")
    before = store.version()
    switched = store.activate(nxt.kid)
    assert switched.kid == nxt.kid
    assert switched.alg == "ES256"
    assert store.signing_key().kid == nxt.kid
    assert thumbprint(public_jwk(store.signing_key().public_key())) == nxt.thumbprint
    assert not store.next_file(nxt.kid).exists()
    assert store.version() != before
    assert {k.kid: k.next for k in store.published()} == {
        first.kid: False, nxt.kid: False, "vn.c02#checkpoints-2026-11": False}
    assert store.activate(nxt.kid).kid == nxt.kid  # again: nothing to do
    store.retire(first.kid)
    assert [k.kid for k in store.published()] == ["vn.c02#checkpoints-2026-11", nxt.kid]


def test_activate_refuses_what_is_not_a_next_key(store: KeyStore) -> None:
    first = store.generate("EdDSA", "2026-11", NOW)
    old = store.rotate("2026-12", NOW)
    with pytest.raises(KeyStoreError, match="not a next key"):
        store.activate(first.kid)
    with pytest.raises(KeyStoreError, match="no published key"):
        store.activate("vn.c02#nope")
    assert store.signing_key().kid == old.kid


def test_a_crash_inside_activate_is_finished_by_the_next_reading(store: KeyStore) -> None:
    store.generate("EdDSA", "2026-11", NOW)
    nxt = store.rotate_next("2027-05", NOW)
    # The key file was replaced, then the process died before the keyring said so.
    store.key_file.write_bytes(store.next_file(nxt.kid).read_bytes())
    assert store.signing_key().kid == nxt.kid
    assert not any(k.next for k in store.published())
    assert not store.next_file(nxt.kid).exists()


def test_retiring_a_next_key_forgets_its_private_half(store: KeyStore) -> None:
    store.generate("EdDSA", "2026-11", NOW)
    nxt = store.rotate_next("2027-05", NOW)
    store.retire(nxt.kid)
    assert not store.next_file(nxt.kid).exists()
    assert [k.kid for k in store.published()] == ["vn.c02#2026-11"]


def test_the_signed_key_set_is_a_flattened_jws_of_the_key_set(store: KeyStore) -> None:
    signer = store.generate("EdDSA", "2026-11", NOW)
    store.rotate_next("2027-05", NOW)
    signed = json.loads(store.signed_jwks())
    header = json.loads(jw_jws.base64url_decode(signed["protected"]))
    assert header == {"alg": "EdDSA", "kid": signer.kid, "typ": "bx-jwks+jws",
                      "cty": "application/jwk-set+json"}
    # A second implementation (jwcrypto) checks the signature with the published key.
    token = jw_jws.JWS()
    token.deserialize(json.dumps(signed))
    token.verify(jw_jwk.JWK(**store.jwks()["keys"][0]))
    assert json.loads(token.payload) == store.jwks()


def test_an_ed25519_key_signs_its_own_checkpoints(store: KeyStore) -> None:
    key = store.generate("EdDSA", None, NOW)
    assert store.checkpoint_key().kid == key.kid
    assert not store.checkpoint_file.exists()
    with pytest.raises(KeyStoreError, match="signs the checkpoints itself"):
        store.add_checkpoint_key(None, NOW)
    assert [k.kid for k in store.published()] == [key.kid]


def test_an_es256_node_keeps_a_published_ed25519_key_for_checkpoints(store: KeyStore) -> None:
    signing = store.generate("ES256", None, NOW)
    checkpoint = store.checkpoint_key()
    assert checkpoint.kid == "vn.c02#checkpoints-2026-11"
    assert checkpoint.alg == "EdDSA"
    assert store.signing_key().kid == signing.kid  # it signs nothing else
    assert stat.S_IMODE(store.checkpoint_file.stat().st_mode) == 0o600
    published = {k["kid"]: k for k in store.jwks()["keys"]}
    assert (published[checkpoint.kid]["use"], published[checkpoint.kid]["alg"]) == (
        "sig", "EdDSA")
    # PROTOCOL.md §4.8: marked, so that partners pin it for checkpoints only
    assert (published[checkpoint.kid]["key_ops"], published[checkpoint.kid]["bx_use"]) == (
        ["verify"], "checkpoints")
    assert "key_ops" not in published[signing.kid]
    assert "bx_use" not in published[signing.kid]
    assert thumbprint(published[checkpoint.kid]) == thumbprint(
        public_jwk(checkpoint.public_key()))
    ring = json.loads(store.ring_file.read_text())
    assert [k.get("checkpoints", False) for k in ring["keys"]] == [False, True]
    # the signed key set carries it, so partners pin it by key continuity too
    signed = jw_jws.JWS()
    signed.deserialize(store.signed_jwks().decode())
    signed.verify(jw_jwk.JWK(**published[signing.kid]))
    vouched = {k["kid"]: k for k in json.loads(signed.payload)["keys"]}
    assert vouched[checkpoint.kid]["bx_use"] == "checkpoints"


def test_an_es256_node_without_its_checkpoint_key_says_how_to_make_one(
        store: KeyStore) -> None:
    store.generate("ES256", None, NOW)
    store.checkpoint_file.unlink()
    with pytest.raises(KeyStoreError, match="gateway keys checkpoint-key"):
        store.checkpoint_key()
    made = store.add_checkpoint_key("cp-1", NOW)
    assert store.checkpoint_key().kid == made.kid == "vn.c02#cp-1"


def test_a_new_checkpoint_key_signs_at_once_and_the_old_one_stays_until_retired(
        store: KeyStore) -> None:
    store.generate("ES256", None, NOW)
    old = store.checkpoint_key()
    new = store.add_checkpoint_key(None, NOW)
    assert new.kid == "vn.c02#checkpoints-2026-11.2"
    assert store.checkpoint_key().kid == new.kid
    assert old.kid in {k.kid for k in store.published()}
    with pytest.raises(KeyStoreError, match="signs the checkpoints"):
        store.retire(new.kid)
    store.retire(old.kid)
    assert old.kid not in {k.kid for k in store.published()}
    assert store.checkpoint_key().kid == new.kid


def test_a_checkpoint_key_not_in_the_keyring_is_refused(store: KeyStore) -> None:
    store.generate("ES256", None, NOW)
    ring = json.loads(store.ring_file.read_text())
    ring["keys"] = [k for k in ring["keys"] if not k.get("checkpoints")]
    store.ring_file.write_text(json.dumps(ring))
    with pytest.raises(KeyStoreError, match="not in the keyring"):
        store.checkpoint_key()


def test_moving_to_es256_publishes_the_checkpoint_key_with_the_next_key(
        store: KeyStore) -> None:
    first = store.generate("EdDSA", None, NOW)
    nxt = store.rotate_next("2027-05", NOW, "ES256")
    kids = [k.kid for k in store.published()]
    assert kids == [first.kid, "vn.c02#checkpoints-2026-11", nxt.kid]  # pinned together
    assert store.checkpoint_key().kid == first.kid  # the Ed25519 key still signs them
    store.activate(nxt.kid)
    assert store.checkpoint_key().kid == "vn.c02#checkpoints-2026-11"
    store.retire(first.kid)  # the Ed25519 signing key is no longer needed for checkpoints
    assert store.checkpoint_key().kid == "vn.c02#checkpoints-2026-11"


def test_rotating_to_es256_at_once_adds_the_checkpoint_key(store: KeyStore) -> None:
    store.generate("EdDSA", None, NOW)
    store.rotate(None, NOW, "ES256")
    assert store.checkpoint_key().alg == "EdDSA"
    assert store.checkpoint_key().kid == "vn.c02#checkpoints-2026-11"
