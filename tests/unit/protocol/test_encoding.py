"""Strict base64url and JSON."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.encoding import (
    EncodingError,
    b64url_decode,
    b64url_decoded_length,
    b64url_encode,
    strict_json_loads,
)


@given(st.binary(max_size=300))
def test_base64url_round_trips_and_predicts_length(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data
    assert b64url_decoded_length(text) == len(data)


@pytest.mark.parametrize("text", ["AA==", "A", "AB+/", "A B", "AB\n", "AB", "QR"])
def test_non_canonical_base64url_is_refused(text: str) -> None:
    # "AB" and "QR" carry stray bits in their last character.
    with pytest.raises(EncodingError):
        b64url_decode(text)


@pytest.mark.parametrize("raw", [b'{"a":1,"a":2}', b'{"a":NaN}', b"\xff", b"{",
                                 "\ufeff{}".encode()])
def test_strict_json_refuses(raw: bytes) -> None:
    with pytest.raises(EncodingError):
        strict_json_loads(raw)


def test_strict_json_reads_text_bytes_and_bytearrays_alike() -> None:
    text = '{"a": [1, 2.5, null, "ខ្មែរ"]}'
    assert strict_json_loads(text) == strict_json_loads(text.encode()) == strict_json_loads(
        bytearray(text.encode())) == {"a": [1, 2.5, None, "ខ្មែរ"]}
    with pytest.raises(EncodingError, match="BOM"):
        strict_json_loads("\ufeff{}")


@given(st.binary(max_size=200))
def test_strict_json_never_raises_anything_else(raw: bytes) -> None:
    with contextlib.suppress(EncodingError):
        strict_json_loads(raw)

