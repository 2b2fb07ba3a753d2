"""Sealing at rest: round trips, wrong column, tampering, key file handling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from gateway.store import rekey
from gateway.store.crypto import (
    Sealer,
    SealError,
    SecretKeyError,
    _derive,
    index_key_of,
    key_tag,
    load_sealer,
    load_secret_key,
)
from gateway.trust.files import write_atomically


@pytest.fixture
def sealer(tmp_path: Path) -> Sealer:
    return Sealer(load_secret_key(tmp_path / "keys" / "secret.key"))


@given(st.binary(max_size=2000))
def test_round_trip(data: bytes) -> None:
    sealer = Sealer(b"k" * 32)
    sealed = sealer.seal(data, "persons.details")
    assert sealer.open(sealed, "persons.details") == data
    assert sealed != sealer.seal(data, "persons.details")  # a fresh nonce each time


def test_a_value_moved_to_another_column_or_altered_does_not_open(sealer: Sealer) -> None:
    sealed = sealer.seal(b"Nguyen Thi Hoa", "persons.name_latin")
    with pytest.raises(SealError):
        sealer.open(sealed, "persons.name_native")
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(flipped), "persons.name_latin")
    with pytest.raises(SealError):
        Sealer(b"x" * 32).open(sealed, "persons.name_latin")
    with pytest.raises(SealError, match="not a sealed value"):
        sealer.open(b"Nguyen Thi Hoa", "persons.name_latin")


def test_the_key_file_is_made_private_and_a_readable_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    key = load_secret_key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_secret_key(path) == key
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_secret_key(path)
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(SecretKeyError, match="32 bytes"):
        load_secret_key(path)


def test_the_blind_index_is_keyed(sealer: Sealer) -> None:
    assert sealer.index_term("n:hoa") == sealer.index_term("n:hoa")
    assert sealer.index_term("n:hoa") != Sealer(b"y" * 32).index_term("n:hoa")
    assert "hoa" not in sealer.index_term("n:hoa")


def _v1(secret: bytes, data: bytes, column: str) -> bytes:
    """A value as this gateway sealed it before key tags (format 1)."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(_derive(secret, "seal")).encrypt(nonce, data, column.encode())


def test_values_sealed_before_rotation_existed_still_open() -> None:
    old = b"o" * 32
    legacy = _v1(old, b"Lo Thi Suong", "persons.name_latin")
    assert Sealer(old).open(legacy, "persons.name_latin") == b"Lo Thi Suong"
    assert not Sealer(old).is_current(legacy)
    rotated = Sealer(b"n" * 32, [old])
    assert rotated.open(legacy, "persons.name_latin") == b"Lo Thi Suong"


def test_a_value_opens_under_any_key_kept_and_names_its_key() -> None:
    old, new = b"o" * 32, b"n" * 32
    before = Sealer(old).seal(b"note", "notes.text")
    during = Sealer(new, [old])
    assert during.open(before, "notes.text") == b"note"
    assert not during.is_current(before)
    again = during.seal(during.open(before, "notes.text"), "notes.text")
    assert during.is_current(again)
    assert Sealer(new).open(again, "notes.text") == b"note"
    with pytest.raises(SealError, match="does not open"):
        Sealer(new).open(before, "notes.text")  # the old key deleted: gone for good


def test_sessions_signed_with_the_old_key_verify_while_it_is_kept() -> None:
    old, new = b"o" * 32, b"n" * 32
    during = Sealer(new, [old])
    assert during.session_keys == (Sealer(new).session_key, Sealer(old).session_key)
    assert during.session_key == Sealer(new).session_key


def test_the_blind_index_keeps_its_key_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    before = load_sealer(path).index_term("n:hoa")
    assert rekey.begin(path)
    after = load_sealer(path)
    assert after.index_term("n:hoa") == before
    assert after.tag != Sealer(load_secret_key(path.with_name(
        next(p.name for p in rekey.retired_keys(path))))).tag


@pytest.mark.parametrize("crash", ["after-new", "after-index", "after-old", "after-swap"])
def test_a_swap_interrupted_anywhere_resumes_and_loses_nothing(tmp_path: Path,
                                                               crash: str) -> None:
    path = tmp_path / "keys" / "secret.key"
    old = load_secret_key(path)
    sealed = Sealer(old).seal(b"identity", "tip_reporters.identity")
    new = b"n" * 32
    write_atomically(path.with_name("secret.key.new"), new, 0o600)
    if crash != "after-new":
        write_atomically(rekey.index_key_path(path), index_key_of(old), 0o600)
    if crash in ("after-old", "after-swap"):
        write_atomically(path.with_name(f"secret.key.old-{key_tag(old).hex()}"), old, 0o600)
    if crash == "after-swap":
        write_atomically(path, new, 0o600)
    # Whatever the node reads now opens what was sealed before.
    assert load_sealer(path).open(sealed, "tip_reporters.identity") == b"identity"
    assert rekey.begin(path) is False  # resumed, no third key made
    assert load_secret_key(path) == new
    assert not path.with_name("secret.key.new").exists()
    sealer = load_sealer(path)
    assert sealer.open(sealed, "tip_reporters.identity") == b"identity"
    assert sealer.index_term("x") == Sealer(old).index_term("x")
    assert rekey.in_progress(path)
