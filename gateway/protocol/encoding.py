"""Strict base64url and JSON as BX/1 needs them.

Lenient decoders are an attack surface: ``base64.urlsafe_b64decode`` skips characters it does
not know, and ``json.loads`` keeps the last of two equal member names. Both would let two
different byte strings mean the same message, so every decoder here refuses such input.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final, TypeAlias

from gateway.protocol.errors import GatewayError

#: A value of JSON as ``json.loads`` makes it: the one type of an open JSON tree (a document's
#: JSON form, a person's details, a request body). Narrow it where it is read (``isinstance``,
#: or :func:`json_object`), never cast it to ``Any``.
JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
#: A JSON object.
JsonObject: TypeAlias = dict[str, JsonValue]


def json_object(value: JsonValue) -> JsonObject:
    """``value`` if it is a JSON object, else an empty one (an absent or odd member reads as
    nothing there)."""
    return value if isinstance(value, dict) else {}


_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class EncodingError(GatewayError, ValueError):
    """Input that is not canonical base64url or not strict JSON."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode canonical base64url without padding; anything else raises :class:`EncodingError`."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError("not base64url without padding")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise EncodingError("not base64url") from exc
    tail = len(text) % 4
    if tail and _B64URL_ALPHABET.index(text[-1]) & (0b1111 if tail == 2 else 0b11):
        raise EncodingError("not canonical base64url (stray bits)")
    return data


def b64url_decoded_length(text: str) -> int:
    """The length the base64url text decodes to, without decoding it (for size limits)."""
    return (len(text) * 3) // 4


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise EncodingError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise EncodingError(f"non-standard JSON value {name}")


#: PROTOCOL.md §3.3: JSON nests at most this deep (an array or object counts one level).
MAX_JSON_DEPTH: Final = 32


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


#: One decoder for every strict parse (``json.loads`` with hooks builds a new one per call).
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def strict_json_loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON refusing duplicate member names, NaN/Infinity, invalid UTF-8 and nesting
    deeper than :data:`MAX_JSON_DEPTH` (the parser's own recursion limit turned into the same
    refusal, never an error of the server)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        if text.startswith("\ufeff"):  # refused as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _STRICT.decode(text)
    except UnicodeDecodeError as exc:
        raise EncodingError("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise EncodingError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise EncodingError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels") from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise EncodingError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys, UTF-8: the form we sign and the form we hash."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
