"""Bearer JWTs that authorise every partner request (PROTOCOL.md §4.1).

PyJWT makes them; they are read here with ``cryptography`` behind the algorithm allow-list.
Times are checked against the injected clock, with 60 s of skew and at most 300 s between
``iat`` and ``exp``. Replays are refused through a cache the caller provides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.protocol import ids
from gateway.protocol.encoding import EncodingError, b64url_decode, strict_json_loads
from gateway.protocol.envelope import new_message_id
from gateway.protocol.jose import ALLOWED_ALGS, PinnedKey, PublicKey, SigningKey, verify_bytes
from gateway.protocol.problems import Problem

MAX_LIFETIME_S: Final = 300
CLOCK_SKEW_S: Final = 60
DEFAULT_LIFETIME_S: Final = 120
#: What a token that does not verify is told, whatever the reason: a node this one does not
#: know, a key not pinned for it (or not usable now), a signature that does not verify.
#: PROTOCOL.md §4.1: a stranger learns nothing of whom a node exchanges with.
NOT_VERIFIED: Final = "bearer token does not verify under a key pinned for its issuer"


class ReplayCache(Protocol):
    """Remembers token ids until they expire."""

    def remember(self, issuer: str, jti: str, expires: int) -> bool:
        """Record ``jti`` of ``issuer``; False if it was seen before (a replay)."""


class KeyLookup(Protocol):
    """Finds a partner's pinned key by node id and key id, or None."""

    def __call__(self, node_id: str, kid: str) -> PinnedKey | None:
        """The pinned key ``kid`` of partner ``node_id``, or None if not pinned."""


@dataclass(frozen=True)
class BearerClaims:
    """The verified claims of a bearer token."""

    issuer: str
    audience: str
    jti: str
    issued_at: int
    expires: int


def issue_bearer(key: SigningKey, issuer: str, audience: str, now: datetime,
                 lifetime_s: int = DEFAULT_LIFETIME_S) -> str:
    """A fresh bearer JWT from ``issuer`` to ``audience``, signed with this node's key."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError("a bearer token lives between 1 and 300 seconds")
    iat = int(now.timestamp())
    claims = {"iss": issuer, "sub": issuer, "aud": audience, "iat": iat,
              "exp": iat + lifetime_s, "jti": new_message_id()}
    return jwt.encode(claims, key.private_key, algorithm=key.alg,
                      headers={"kid": key.kid, "typ": "JWT"})


def _refuse(detail: str) -> Problem:
    return Problem("unauthenticated", detail)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <JWT>`` header value, or None if there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _decode_compact(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS strictly: header, claims, signing input, signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _refuse("bearer token is not a compact JWS")
    try:
        header = strict_json_loads(b64url_decode(parts[0]))
        claims = strict_json_loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except EncodingError as exc:
        raise _refuse(f"bearer token is not a JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _refuse("bearer token header and claims must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def verify_bearer(token: str | None, audience: str, keys: KeyLookup,
                  replay: ReplayCache, clock: Callable[[], datetime],
                  known: Callable[[str], bool] | None = None) -> BearerClaims:
    """Check a bearer JWT (the token, without ``Bearer``); raises ``unauthenticated``.

    Verified with ``cryptography`` behind the same allow-list as messages: PyJWT's decode
    costs several signature verifications per request, and it reads the wall clock.
    """
    if not token:
        raise _refuse("Authorization: Bearer token missing")
    header, claims, signing_input, signature = _decode_compact(token)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALLOWED_ALGS:
        raise _refuse(f"bearer token algorithm {alg!r} is not allowed")
    if "crit" in header:
        raise _refuse("bearer token 'crit' names extensions this node does not support")
    node = ids.kid_node(kid) if isinstance(kid, str) else None
    if node is None or not isinstance(kid, str):
        raise _refuse("bearer token has no valid 'kid'")
    pinned = keys(node, kid) if known is None or known(node) else None
    now = clock()
    if pinned is None or not pinned.usable_at(now) or pinned.alg != alg:
        # The same answer, after the same work, as a signature that does not verify (a key
        # of another algorithm included: its check would end before any cryptography).
        verify_bytes(_decoy(alg), alg, signing_input, signature)
        raise _refuse(NOT_VERIFIED)
    if not verify_bytes(pinned.public_key, alg, signing_input, signature):
        raise _refuse(NOT_VERIFIED)
    missing = [c for c in ("iss", "sub", "aud", "iat", "exp", "jti") if c not in claims]
    if missing:
        raise _refuse(f"bearer token lacks the claims {', '.join(missing)}")
    aud = claims["aud"]
    if aud != audience and not (isinstance(aud, list) and aud == [audience]):
        raise _refuse(f"bearer token is for {aud!r}, not {audience}")
    return _check_claims(claims, node, now, replay)


@functools.cache
def _decoy(alg: str) -> PublicKey:
    """A key of ``alg`` that no one holds: what a token without a usable pinned key is
    verified with, so that its refusal takes as long as a bad signature's."""
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1()).public_key()
    return ed25519.Ed25519PrivateKey.generate().public_key()


def _check_claims(claims: dict[str, Any], node: str, now: datetime,
                  replay: ReplayCache) -> BearerClaims:
    iss, sub, jti = claims["iss"], claims["sub"], claims["jti"]
    if iss != node or sub != node:
        raise _refuse("bearer token 'iss' and 'sub' must name the node of its 'kid'")
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise _refuse("bearer token 'iat' and 'exp' must be integers")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise _refuse("bearer token 'jti' must be a non-empty string")
    if exp - iat > MAX_LIFETIME_S or exp <= iat:
        raise _refuse("bearer token lifetime must be at most 300 s")
    stamp = int(now.timestamp())
    if iat > stamp + CLOCK_SKEW_S:
        raise _refuse("bearer token issued in the future")
    if exp < stamp - CLOCK_SKEW_S:
        raise _refuse("bearer token expired")
    nbf = claims.get("nbf")
    if nbf is not None:  # PROTOCOL.md §4.1: refused before nbf, with the same skew
        if not isinstance(nbf, int) or isinstance(nbf, bool):
            raise _refuse("bearer token 'nbf' must be an integer")
        if nbf > stamp + CLOCK_SKEW_S:
            raise _refuse("bearer token not valid yet ('nbf')")
    if not replay.remember(iss, jti, exp + CLOCK_SKEW_S):
        raise _refuse("bearer token replayed")
    return BearerClaims(issuer=iss, audience=str(claims["aud"]) if isinstance(
        claims["aud"], str) else str(claims["aud"][0]), jti=jti, issued_at=iat, expires=exp)


class MemoryReplayCache:
    """A replay cache in memory, for one process (the node keeps its own in the database)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], int] = {}
        self._next_purge = 0

    def remember(self, issuer: str, jti: str, expires: int) -> bool:
        """Record a token id; False if it is still remembered from before."""
        now = int(self._clock().timestamp())
        if now >= self._next_purge:  # forget expired ids at most every 30 s, not per call
            self._seen = {k: v for k, v in self._seen.items() if v >= now}
            self._next_purge = now + 30
        key = (issuer, jti)
        if self._seen.get(key, -1) >= now:
            return False
        self._seen[key] = expires
        return True
