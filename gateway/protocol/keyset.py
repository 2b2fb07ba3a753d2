"""The signed key set of PROTOCOL.md §2: a node's JWK Set, signed by one of its currently valid
keys, served at ``GET {base}/.well-known/jwks.jws`` so that a partner may pin the node's next
key on the word of a key it already trusts (key continuity).

Only the signer's own keys are vouched for: a set that carries a key of another node, or a
private key, is refused whole (PROTOCOL.md §2: "a key never vouches for a key of another
node").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from gateway.protocol import ids
from gateway.protocol.bearer import KeyLookup
from gateway.protocol.encoding import (
    EncodingError,
    canonical_json,
    strict_json_loads,
)
from gateway.protocol.jose import (
    JwkError,
    SigningKey,
    checkpoints_only,
    flattened_jws,
    jwk_to_public_key,
    thumbprint,
)
from gateway.protocol.problems import Problem
from gateway.protocol.signed import SignedHeader, verify_signed

KEYSET_TYP: Final = "bx-jwks+jws"
KEYSET_CTY: Final = "application/jwk-set+json"
#: The members of a public JWK that make the key (RFC 7638); others are not pinned.
_KEY_MEMBERS: Final = ("kty", "crv", "x", "y")
#: More keys than any node publishes at once (current, next, a few being retired).
MAX_KEYS: Final = 16


class _KeySetHeader(SignedHeader):
    typ: Literal["bx-jwks+jws"]
    cty: Literal["application/jwk-set+json"]


@dataclass(frozen=True)
class OfferedKey:
    """A public key of the signer as its signed set lists it (``checkpoints_only``: marked
    as a key for checkpoints and cosignatures only, PROTOCOL.md §4.8)."""

    kid: str
    jwk: dict[str, str]
    thumbprint: str
    checkpoints_only: bool = False


@dataclass(frozen=True)
class VouchedSet:
    """A verified key set: who signed it, with which key, and the keys it lists."""

    signer: str
    vouching_kid: str
    keys: tuple[OfferedKey, ...]


def sign_key_set(key: SigningKey, jwks: dict[str, Any]) -> bytes:
    """The signed key set (a flattened JWS, as canonical JSON bytes) of ``jwks``."""
    jws = flattened_jws(key, {"typ": KEYSET_TYP, "cty": KEYSET_CTY}, canonical_json(jwks))
    return canonical_json(jws)


def _bad(detail: str) -> Problem:
    return Problem("malformed", f"signed key set: {detail}")


def _offered(signer: str, entry: Any, index: int) -> OfferedKey:
    where = f"keys[{index}]"
    if not isinstance(entry, dict):
        raise _bad(f"{where} is not a JWK")
    if "d" in entry:
        raise _bad(f"{where} carries a private key")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not ids.KID.fullmatch(kid):
        raise _bad(f"{where}: kid {kid!r} is not a key id")
    if ids.kid_node(kid) != signer:
        raise _bad(f"{where}: {kid} is a key of another node; a key vouches only for its own "
                   "node's keys")
    if entry.get("use", "sig") != "sig":
        raise _bad(f"{where}: use is {entry.get('use')!r}, not 'sig'")
    public = {m: str(entry[m]) for m in _KEY_MEMBERS if m in entry}
    try:
        jwk_to_public_key(public)
        return OfferedKey(kid, public, thumbprint(public), checkpoints_only(entry))
    except JwkError as exc:
        raise _bad(f"{where} ({kid}): {exc}") from exc


def verify_key_set(raw: bytes, keys: KeyLookup, when: datetime, *, signer: str) -> VouchedSet:
    """Verify ``signer``'s signed key set with a key pinned for it and usable at ``when``.

    Raises ``malformed`` (not a signed key set, or one listing a key it may not vouch for)
    or ``bad-signature`` (an algorithm, key or signature that does not hold, or a key for
    checkpoints only: it vouches for nothing, PROTOCOL.md §4.8).
    """
    header, payload_bytes = verify_signed(raw, _KeySetHeader, keys, when, signer=signer,
                                          what="signed key set")
    try:
        payload = strict_json_loads(payload_bytes)
    except EncodingError as exc:
        raise _bad(f"payload: {exc}") from exc
    entries = payload.get("keys") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_KEYS:
        raise _bad(f"payload: a JWK Set with 1 to {MAX_KEYS} keys")
    offered = tuple(_offered(signer, entry, i) for i, entry in enumerate(entries))
    if len({k.kid for k in offered}) != len(offered):
        raise _bad("a kid appears twice")
    if len({k.thumbprint for k in offered}) != len(offered):
        raise _bad("a key appears twice, under two kids")
    return VouchedSet(signer=signer, vouching_kid=header.kid, keys=offered)
