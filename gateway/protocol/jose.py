"""JWS signing and verification for BX/1 (RFC 7515, RFC 8037), JWKs and thumbprints (RFC 7638).

Only ``EdDSA`` (Ed25519) and ``ES256`` (P-256) exist here; every other ``alg`` is refused by
construction because no other key type can be built. Signatures are made and checked with
``cryptography``; this module only frames them (signing input, raw ECDSA ``r||s``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.protocol.encoding import EncodingError, b64url_decode, b64url_encode, canonical_json
from gateway.protocol.errors import GatewayError

Alg = Literal["EdDSA", "ES256"]
ALLOWED_ALGS: Final[frozenset[str]] = frozenset({"EdDSA", "ES256"})

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

_P256_BYTES: Final = 32
#: PROTOCOL.md §4.8: the members that mark a published key as an ES256 node's Ed25519 key for
#: checkpoints and cosignatures, which signs no message, receipt, key set or token.
CHECKPOINTS_USE: Final = "checkpoints"


class JwkError(GatewayError, ValueError):
    """A key or JWK that BX/1 does not accept."""


def alg_of(key: PublicKey | PrivateKey) -> Alg:
    """The JWS ``alg`` a key signs with; raises for keys BX/1 does not allow."""
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise JwkError(f"EC curve {key.curve.name} is not allowed (P-256 only)")
    raise JwkError("only Ed25519 and P-256 keys are allowed")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The required members of the public JWK of a key (no ``kid``, ``use`` or ``alg``)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    alg_of(key)
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(_P256_BYTES, "big")),
            "y": b64url_encode(numbers.y.to_bytes(_P256_BYTES, "big"))}


def jwk_to_public_key(jwk: Mapping[str, Any]) -> PublicKey:
    """Build a public key from a JWK; refuses private members, other key types and curves."""
    if "d" in jwk:
        raise JwkError("a private key was given where a public JWK belongs")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    try:
        if kty == "OKP" and crv == "Ed25519":
            raw = b64url_decode(str(jwk["x"]))
            if len(raw) != 32:
                raise JwkError("Ed25519 x must be 32 bytes")
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if kty == "EC" and crv == "P-256":
            x, y = b64url_decode(str(jwk["x"])), b64url_decode(str(jwk["y"]))
            if len(x) != _P256_BYTES or len(y) != _P256_BYTES:
                raise JwkError("P-256 x and y must be 32 bytes each")
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1())
            return numbers.public_key()
    except (KeyError, EncodingError) as exc:
        raise JwkError(f"JWK member missing or not base64url: {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, JwkError):
            raise
        raise JwkError(f"JWK is not a valid point: {exc}") from exc
    raise JwkError(f"key type {kty!r}/{crv!r} is not allowed (OKP/Ed25519 or EC/P-256)")


def checkpoint_marking() -> dict[str, Any]:
    """The JWK members that mark a key for checkpoints and cosignatures only (§4.8)."""
    return {"key_ops": ["verify"], "bx_use": CHECKPOINTS_USE}


def checkpoints_only(jwk: Mapping[str, Any]) -> bool:
    """Whether a published JWK is marked as a key for checkpoints and cosignatures only
    (PROTOCOL.md §4.8: ``"bx_use": "checkpoints"``, with ``"key_ops": ["verify"]``).

    Refuses (:class:`JwkError`) a marking this node does not understand, so that a key of
    unknown purpose is never pinned as one that signs everything: a ``bx_use`` of another
    value, a marked key that is not Ed25519, or a marked key whose ``key_ops`` is not
    ``["verify"]``.
    """
    use = jwk.get("bx_use")
    if use is None:
        return False
    if use != CHECKPOINTS_USE:
        raise JwkError(f"bx_use {use!r} is not {CHECKPOINTS_USE!r}")
    if (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519"):
        raise JwkError("a key marked for checkpoints must be Ed25519")
    if jwk.get("key_ops", ["verify"]) != ["verify"]:
        raise JwkError(f"a key marked for checkpoints has key_ops {jwk.get('key_ops')!r}, "
                       "not ['verify']")
    return True


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order."""
    kty = jwk.get("kty")
    members: tuple[str, ...]
    if kty == "OKP":
        members = ("crv", "kty", "x")
    elif kty == "EC":
        members = ("crv", "kty", "x", "y")
    else:
        raise JwkError(f"no thumbprint for key type {kty!r}")
    try:
        required = {m: str(jwk[m]) for m in members}
    except KeyError as exc:
        raise JwkError(f"JWK member {exc} missing") from exc
    return b64url_encode(hashlib.sha256(canonical_json(required)).digest())


def sign_bytes(key: PrivateKey, signing_input: bytes) -> bytes:
    """The JWS signature over ``signing_input`` (raw ``r||s`` for ES256, RFC 7518 §3.4)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)
    alg_of(key)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")


def verify_bytes(key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid ``alg`` signature by ``key``; False for any mismatch."""
    if alg not in ALLOWED_ALGS or alg_of(key) != alg:
        return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
            return True
        if len(signature) != 2 * _P256_BYTES:
            return False
        der = encode_dss_signature(int.from_bytes(signature[:_P256_BYTES], "big"),
                                   int.from_bytes(signature[_P256_BYTES:], "big"))
        key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


@dataclass(frozen=True)
class SigningKey:
    """This node's private key with its key id."""

    kid: str
    private_key: PrivateKey

    @property
    def alg(self) -> Alg:
        """The JWS algorithm of the key."""
        return alg_of(self.private_key)

    def public_key(self) -> PublicKey:
        """The public half."""
        return self.private_key.public_key()


@dataclass(frozen=True)
class PinnedKey:
    """A partner's public key as pinned in our directory, with its validity window and, for
    an ES256 node's Ed25519 checkpoint key, its purpose (PROTOCOL.md §4.8)."""

    kid: str
    public_key: PublicKey
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False
    #: Signs checkpoints and cosignatures only: it verifies no message, receipt, key set or
    #: bearer token.
    checkpoints_only: bool = False

    @property
    def alg(self) -> Alg:
        """The JWS algorithm of the key."""
        return alg_of(self.public_key)

    def valid_at(self, when: datetime) -> bool:
        """Not revoked and inside its window at ``when`` (PROTOCOL.md §2): what a note or a
        cosignature is checked against (§4.8)."""
        if self.revoked:
            return False
        if self.not_before is not None and when < self.not_before:
            return False
        return self.not_after is None or when <= self.not_after

    def usable_at(self, when: datetime) -> bool:
        """May verify a JWS (a message, a receipt, a signed key set, a bearer token) at
        ``when``: valid then, and not a key for checkpoints only."""
        return not self.checkpoints_only and self.valid_at(when)


def flattened_jws(key: SigningKey, header: Mapping[str, Any], payload: bytes) -> dict[str, str]:
    """Sign ``payload`` under ``header`` (``alg`` and ``kid`` are set from the key).

    Returns the flattened JSON serialization members ``protected``, ``payload``, ``signature``.
    """
    full = {**header, "alg": key.alg, "kid": key.kid}
    protected = b64url_encode(canonical_json(full))
    encoded_payload = b64url_encode(payload)
    signing_input = f"{protected}.{encoded_payload}".encode("ascii")
    return {"protected": protected, "payload": encoded_payload,
            "signature": b64url_encode(sign_bytes(key.private_key, signing_input))}
