"""Sealing at rest: round trips, wrong column, tampering, key file handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.store.crypto import Sealer, SealError, SecretKeyError, load_secret_key


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
