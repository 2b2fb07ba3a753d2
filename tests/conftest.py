"""Shared fixtures: real keys, the real schema registry, and a receiving node's context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.documents.registry import SchemaRegistry
from gateway.protocol.bearer import MemoryReplayCache, issue_bearer
from gateway.protocol.encoding import b64url_decode, b64url_encode
from gateway.protocol.envelope import Attachment, MessageDraft, compose_message
from gateway.protocol.inbound import InboundContext, PartnerPolicy
from gateway.protocol.jose import PinnedKey, SigningKey, sign_bytes

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
NOW = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
ALL_TYPES = frozenset(p.name for p in SCHEMAS.iterdir() if p.is_dir() and p.name[0] != "_")


def example(doc_type: str, index: int = 0) -> bytes:
    """The ``index``-th example of a document type, as bytes."""
    return sorted((SCHEMAS / doc_type / "examples").glob("*.xml"))[index].read_bytes()


def make_key(node: str, label: str = "k1", alg: str = "EdDSA") -> SigningKey:
    """A fresh signing key for ``node``."""
    private = ed25519.Ed25519PrivateKey.generate() if alg == "EdDSA" \
        else ec.generate_private_key(ec.SECP256R1())
    return SigningKey(f"{node}#{label}", private)


def pin(key: SigningKey, **state: Any) -> PinnedKey:
    """The partner-side pin of a key."""
    return PinnedKey(key.kid, key.public_key(), **state)


@dataclass
class World:
    """A receiving node (``kh.ahtjp``) and a sending partner (``vn.c02``) with real keys."""

    registry: SchemaRegistry
    now: datetime = NOW
    receiver: str = "kh.ahtjp"
    sender: str = "vn.c02"
    sender_key: SigningKey = field(default_factory=lambda: make_key("vn.c02"))
    receiver_key: SigningKey = field(default_factory=lambda: make_key("kh.ahtjp"))
    policies: dict[str, PartnerPolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.replay = MemoryReplayCache(self.clock)
        self.set_policy(self.sender, [pin(self.sender_key)])

    def clock(self) -> datetime:
        return self.now

    def set_policy(self, node: str, keys: list[PinnedKey], may_send: frozenset[str] = ALL_TYPES,
                   max_age: timedelta = timedelta(days=30)) -> None:
        self.policies[node] = PartnerPolicy(node, {k.kid: k for k in keys}, may_send, max_age)

    @property
    def ctx(self) -> InboundContext:
        return InboundContext(node_id=self.receiver, partners=self.policies.get,
                              documents=self.registry, replay=self.replay, clock=self.clock)

    def message(self, doc_type: str = "verification-response", document: bytes | None = None,
                attachments: tuple[Attachment, ...] = (), created: datetime | None = None,
                to: str | None = None, key: SigningKey | None = None,
                sender: str | None = None, **draft: Any) -> bytes:
        return compose_message(
            key or self.sender_key, sender or self.sender,
            MessageDraft(type=doc_type, version=draft.pop("version", "1.0"),
                         to=to or self.receiver, **draft),
            document if document is not None else example(doc_type), attachments,
            created=created or self.now)

    def bearer(self, key: SigningKey | None = None, issuer: str | None = None,
               audience: str | None = None, now: datetime | None = None) -> str:
        return issue_bearer(key or self.sender_key, issuer or self.sender,
                            audience or self.receiver, now or self.now)


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return World(registry)


def resign(key: SigningKey, body: dict[str, Any], header: dict[str, Any] | None = None,
           payload: bytes | None = None, alg: str | None = None,
           sign: Callable[[bytes], bytes] | None = None) -> bytes:
    """Re-build a message body with a changed header or payload, signed as the test wants."""
    old_header = json.loads(b64url_decode(body["protected"]))
    new_header = header if header is not None else old_header
    if alg is not None:
        new_header = {**new_header, "alg": alg}
    protected = b64url_encode(json.dumps(new_header).encode())
    encoded = b64url_encode(payload) if payload is not None else body["payload"]
    signing_input = f"{protected}.{encoded}".encode()
    signature = sign(signing_input) if sign else sign_bytes(key.private_key, signing_input)
    return json.dumps({**body, "protected": protected, "payload": encoded,
                       "signature": b64url_encode(signature)}).encode()
