"""This node's signing keys: generate, load, publish as a JWK Set, rotate and retire.

The private key that signs lives in ``BX_KEY_FILE`` (PEM, PKCS#8, mode 0600). Beside it,
``keyring.json`` lists every published public key with its ``kid``; the entry whose public key
matches the private key is the one that signs. Old private keys are not kept: after a rotation
nothing can sign with the old key, but partners can still verify what it signed until it is
retired.

A node whose signing key is ES256 also keeps an Ed25519 key for its checkpoints and
cosignatures (PROTOCOL.md §4.8) in ``checkpoints.pem`` beside the key file, published in the
same keyring (marked ``checkpoints``; in the JWK Set ``"key_ops": ["verify"]`` and
``"bx_use": "checkpoints"``) and pinned by partners like any other of its keys; it signs
nothing else. A node whose signing key is Ed25519 signs its checkpoints with that key.

Rotation without downtime (PROTOCOL.md §2, NODE.md): ``rotate(..., next_key=True)`` publishes a
*next* key that does not sign yet (its private half waits in ``next-<label>.pem`` beside the
key file, mode 0600); partners pin it from the signed key set; ``activate`` then makes it the
key that signs. Each step writes files atomically, publishing before switching, so that a
crash anywhere leaves a key that signs and is published.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.ids import make_kid
from gateway.protocol.jose import (
    JwkError,
    PrivateKey,
    SigningKey,
    alg_of,
    checkpoint_marking,
    jwk_to_public_key,
    public_jwk,
    thumbprint,
)
from gateway.protocol.keyset import sign_key_set
from gateway.trust.files import write_atomically

KeyAlg = Literal["EdDSA", "ES256"]


class KeyStoreError(GatewayError):
    """A key operation that was refused; the message says why in one line."""


@dataclass(frozen=True)
class PublishedKey:
    """A public key in the keyring."""

    kid: str
    jwk: dict[str, str]
    created: str
    #: Published ahead of use: it does not sign until activated.
    next: bool = False
    #: An Ed25519 key that signs only checkpoints and cosignatures (an ES256 node's).
    checkpoints: bool = False

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint."""
        return thumbprint(self.jwk)

    @property
    def alg(self) -> str:
        """JWS algorithm."""
        return alg_of(jwk_to_public_key(self.jwk))

    def as_jwk(self) -> dict[str, Any]:
        """The JWK as published: key members plus ``kid``, ``use`` and ``alg``; a checkpoint
        key also ``"key_ops": ["verify"]`` and ``"bx_use": "checkpoints"`` (PROTOCOL.md §4.8),
        so that partners pin it as one that signs no message, receipt or key set."""
        marking = checkpoint_marking() if self.checkpoints else {}
        return {**self.jwk, "kid": self.kid, "use": "sig", "alg": self.alg, **marking}


def _new_private_key(alg: KeyAlg) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class KeyStore:
    """The signing keys of one node, in ``key_file`` and ``keyring.json`` beside it."""

    def __init__(self, key_file: Path, node_id: str) -> None:
        self.key_file = key_file
        self.node_id = node_id
        self.ring_file = key_file.with_name("keyring.json")

    def exists(self) -> bool:
        """True once a key has been generated."""
        return self.key_file.exists()

    def _read_ring(self) -> list[PublishedKey]:
        if not self.ring_file.exists():
            return []
        try:
            data = json.loads(self.ring_file.read_text(encoding="utf-8"))
            return [PublishedKey(k["kid"], dict(k["jwk"]), k["created"], bool(k.get("next")),
                                 bool(k.get("checkpoints"))) for k in data["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(N_("{path}: keyring is damaged ({error})"),
                                path=self.ring_file, error=exc) from exc

    def _write_ring(self, keys: list[PublishedKey]) -> None:
        data = {"node": self.node_id,
                "keys": [{"kid": k.kid, "jwk": k.jwk, "created": k.created,
                          **({"next": True} if k.next else {}),
                          **({"checkpoints": True} if k.checkpoints else {})} for k in keys]}
        write_atomically(self.ring_file, json.dumps(data, indent=2).encode() + b"\n", 0o644)

    def published(self) -> list[PublishedKey]:
        """Every key partners may verify with, oldest first."""
        return self._read_ring()

    def _load_private(self, path: Path | None = None) -> PrivateKey:
        path = path or self.key_file
        if not path.exists():
            raise KeyStoreError(N_("{path}: no signing key; run 'gateway keys generate'"),
                                path=path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreError(N_("{path}: mode {mode:o} lets others read the private key; run "
                                   "'chmod 600' on it"), path=path, mode=mode)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise KeyStoreError(N_("{path}: not an unencrypted PKCS#8 PEM key"),
                                path=path) from exc
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyStoreError(N_("{path}: only Ed25519 and P-256 keys are allowed"),
                                path=path)
        try:
            alg_of(key)
        except JwkError as exc:
            raise KeyStoreError(N_("{path}: {error}"), path=path, error=exc) from exc
        return key

    def next_file(self, kid: str) -> Path:
        """Where the private half of the next key ``kid`` waits until it is activated."""
        return self.key_file.with_name(f"next-{kid.partition('#')[2]}.pem")

    @property
    def checkpoint_file(self) -> Path:
        """Where an ES256 node keeps the private half of its Ed25519 checkpoint key."""
        return self.key_file.with_name("checkpoints.pem")

    def version(self) -> int:
        """Changes whenever the key that signs may have changed (to reload it cheaply)."""
        try:
            return self.key_file.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def checkpoint_version(self) -> int:
        """Changes whenever the checkpoint key may have changed."""
        try:
            return self.checkpoint_file.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def checkpoint_key(self) -> SigningKey:
        """The Ed25519 key that signs this node's checkpoints and cosignatures (PROTOCOL.md
        §4.8): the signing key when it is Ed25519, else the separate checkpoint key."""
        signing = self.signing_key()
        if isinstance(signing.private_key, ed25519.Ed25519PrivateKey):
            return signing
        return self._separate_checkpoint_key(signing.alg)

    def _separate_checkpoint_key(self, alg: str = "ES256") -> SigningKey:
        if not self.checkpoint_file.exists():
            raise KeyStoreError(N_("this node signs with {alg}; its checkpoints need an "
                                   "Ed25519 key: run 'gateway keys checkpoint-key'"), alg=alg)
        private = self._load_private(self.checkpoint_file)
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise KeyStoreError(N_("{path}: a checkpoint key must be Ed25519"),
                                path=self.checkpoint_file)
        mine = thumbprint(public_jwk(private.public_key()))
        for entry in self._read_ring():
            if entry.checkpoints and entry.thumbprint == mine:
                return SigningKey(entry.kid, private)
        raise KeyStoreError(N_("{path}: the key in {key_file} is not in the keyring"),
                            path=self.ring_file, key_file=self.checkpoint_file)

    def _has_checkpoint_key(self) -> bool:
        """True when a separate checkpoint key is in place (file and keyring agree)."""
        try:
            self._separate_checkpoint_key()
        except KeyStoreError:
            return False
        return True

    def add_checkpoint_key(self, label: str | None, now: datetime) -> PublishedKey:
        """Publish a new Ed25519 checkpoint key and make it the one that signs checkpoints;
        an older one stays published (partners verify what it signed) until retired."""
        signing = self.signing_key()
        if isinstance(signing.private_key, ed25519.Ed25519PrivateKey):
            raise KeyStoreError(N_("{kid} is an Ed25519 key: it signs the checkpoints itself"),
                                kid=signing.kid)
        return self._publish_checkpoint_key(label, now)

    def _publish_checkpoint_key(self, label: str | None, now: datetime) -> PublishedKey:
        ring = self._read_ring()
        kid = self._unique_kid(label, now, {k.kid for k in ring}, default="checkpoints-%Y-%m")
        private = ed25519.Ed25519PrivateKey.generate()
        entry = PublishedKey(kid, public_jwk(private.public_key()),
                             now.strftime("%Y-%m-%dT%H:%M:%SZ"), checkpoints=True)
        # Publish first, then switch: a crash in between leaves the old one signing.
        self._write_ring([*ring, entry])
        write_atomically(self.checkpoint_file, _pem(private), 0o600)
        return entry

    def _ensure_checkpoint_key(self, alg: KeyAlg, now: datetime) -> None:
        """An ES256 key is never published without an Ed25519 checkpoint key beside it, so
        that partners pin both together."""
        if alg == "ES256" and not self._has_checkpoint_key():
            self._publish_checkpoint_key(None, now)

    def signing_key(self) -> SigningKey:
        """The key that signs now, with its ``kid``."""
        private = self._load_private()
        mine = thumbprint(public_jwk(private.public_key()))
        for entry in self._read_ring():
            if entry.thumbprint == mine and not entry.next:
                return SigningKey(entry.kid, private)
            if entry.thumbprint == mine:  # a crash during activate: finish it
                self._finish_activation(entry.kid)
                return SigningKey(entry.kid, private)
        raise KeyStoreError(N_("{path}: the key in {key_file} is not in the keyring"),
                            path=self.ring_file, key_file=self.key_file)

    def _unique_kid(self, label: str | None, now: datetime, taken: set[str],
                    default: str = "%Y-%m") -> str:
        base = label or now.strftime(default)
        try:
            kid = make_kid(self.node_id, base)
        except ValueError as exc:
            raise KeyStoreError(str(exc)) from exc
        if kid not in taken:
            return kid
        if label:
            raise KeyStoreError(N_("key id {kid} exists already; choose another --label"), kid=kid)
        suffix = 2
        while make_kid(self.node_id, f"{base}.{suffix}") in taken:
            suffix += 1
        return make_kid(self.node_id, f"{base}.{suffix}")

    def _install(self, alg: KeyAlg, label: str | None, now: datetime) -> SigningKey:
        ring = self._read_ring()
        kid = self._unique_kid(label, now, {k.kid for k in ring})
        private = _new_private_key(alg)
        entry = PublishedKey(kid, public_jwk(private.public_key()),
                             now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        # Publish first, then switch: a crash in between leaves the old key signing.
        self._write_ring([*ring, entry])
        write_atomically(self.key_file, _pem(private), 0o600)
        return SigningKey(kid, private)

    def rotate_next(self, label: str | None, now: datetime, alg: KeyAlg | None = None
                    ) -> PublishedKey:
        """Publish a next key that does not sign yet (PROTOCOL.md §2); :meth:`activate`
        switches to it once partners have pinned it."""
        current = self.signing_key()
        ring = self._read_ring()
        waiting = [k.kid for k in ring if k.next]
        if waiting:
            raise KeyStoreError(N_("{kid} is already published as the next key; activate or "
                                   "retire it first"), kid=waiting[0])
        kid = self._unique_kid(label, now, {k.kid for k in ring})
        alg = alg or current.alg
        # Its checkpoint key is published with it (it signs nothing while the key is Ed25519).
        if alg == "ES256" and not self._has_checkpoint_key():
            self._publish_checkpoint_key(None, now)
            ring = self._read_ring()
        private = _new_private_key(alg)
        # The private half first: a published key whose private half was lost is useless.
        write_atomically(self.next_file(kid), _pem(private), 0o600)
        entry = PublishedKey(kid, public_jwk(private.public_key()),
                             now.strftime("%Y-%m-%dT%H:%M:%SZ"), next=True)
        self._write_ring([*ring, entry])
        return entry

    def activate(self, kid: str) -> SigningKey:
        """Make the published next key ``kid`` the key that signs; the old one stays
        published (to verify what it signed) until retired."""
        ring = {k.kid: k for k in self._read_ring()}
        entry = ring.get(kid)
        if entry is None:
            raise KeyStoreError(N_("no published key {kid}"), kid=kid)
        current = self.signing_key()
        if current.kid == kid:
            return current
        if not entry.next:
            raise KeyStoreError(N_("{kid} is not a next key; publish one with 'gateway keys "
                                   "rotate --next'"), kid=kid)
        private = self._load_private(self.next_file(kid))
        if thumbprint(public_jwk(private.public_key())) != entry.thumbprint:
            raise KeyStoreError(N_("{path} does not hold the key {kid}"),
                                path=self.next_file(kid), kid=kid)
        write_atomically(self.key_file, _pem(private), 0o600)
        self._finish_activation(kid)
        return SigningKey(kid, private)

    def _finish_activation(self, kid: str) -> None:
        self._write_ring([replace(k, next=False) if k.kid == kid else k
                          for k in self._read_ring()])
        self.next_file(kid).unlink(missing_ok=True)

    def generate(self, alg: KeyAlg, label: str | None, now: datetime) -> SigningKey:
        """Create the first signing key; refuses to overwrite an existing one."""
        if self.key_file.exists():
            raise KeyStoreError(N_("{path} exists; use 'gateway keys rotate' instead"),
                                path=self.key_file)
        key = self._install(alg, label, now)
        self._ensure_checkpoint_key(alg, now)
        return key

    def rotate(self, label: str | None, now: datetime, alg: KeyAlg | None = None) -> SigningKey:
        """Add a new key and make it the one that signs; the old one stays published."""
        current = self.signing_key()
        alg = alg or current.alg
        key = self._install(alg, label, now)
        self._ensure_checkpoint_key(alg, now)
        return key

    def retire(self, kid: str) -> None:
        """Stop publishing ``kid``; the key that signs cannot be retired."""
        ring = self._read_ring()
        if kid not in {k.kid for k in ring}:
            raise KeyStoreError(N_("no published key {kid}"), kid=kid)
        if self.signing_key().kid == kid:
            raise KeyStoreError(N_("{kid} is the key that signs; rotate first"), kid=kid)
        try:
            checkpointing: str | None = self.checkpoint_key().kid
        except KeyStoreError:
            checkpointing = None
        if checkpointing == kid:
            raise KeyStoreError(N_("{kid} signs the checkpoints; run 'gateway keys "
                                   "checkpoint-key' first"), kid=kid)
        self._write_ring([k for k in ring if k.kid != kid])
        self.next_file(kid).unlink(missing_ok=True)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set served at ``/.well-known/jwks.json`` (a next key included:
        partners pin it before it signs)."""
        return {"keys": [k.as_jwk() for k in self._read_ring()]}

    def signed_jwks(self) -> bytes:
        """The JWK Set signed by the key that signs now (``/.well-known/jwks.jws``)."""
        return sign_key_set(self.signing_key(), self.jwks())
