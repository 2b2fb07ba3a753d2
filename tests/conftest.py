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


#: Seconds the longest modules took (the whole suite on two cores, 7 December 2026, evening;
#: the rest took less than 9 s each). ``make test`` hands whole modules to two workers in the order
#: :func:`pytest_collection_modifyitems` leaves them in (``--no-loadscope-reorder``): longest
#: first, so that the run does not end on one long module while the other worker idles (it
#: did, for three minutes of twenty). Only the order depends on it: a module missing here
#: runs after these, a figure gone stale makes the run longer, never wrong.
MODULE_SECONDS: dict[str, int] = {
    "tests/e2e/test_schemathesis.py": 120,
    "tests/e2e/test_console.py": 112,
    "tests/e2e/test_witness.py": 90,
    "tests/integration/test_printing.py": 82,
    "tests/e2e/test_replicas.py": 77,
    "tests/e2e/test_demo.py": 69,
    "tests/e2e/test_crashes.py": 57,
    "tests/e2e/test_cli.py": 49,
    "tests/e2e/test_offline.py": 45,
    "tests/e2e/test_rollover.py": 31,
    "tests/e2e/test_reports.py": 30,
    "tests/e2e/test_exchange.py": 27,
    "tests/integration/test_console_work.py": 20,
    "tests/e2e/test_probe.py": 19,
    "tests/integration/test_redteam_missing_console.py": 12,
    "tests/e2e/test_casework.py": 9,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules longest first, an end-to-end one (mostly waiting on its nodes) beside an
    in-process one (all CPU) while both kinds last; tests keep their order in a module."""
    modules = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))

    def by_time(names: list[str]) -> list[str]:
        return sorted(names, key=lambda name: -MODULE_SECONDS.get(name, 0))

    e2e = by_time([m for m in modules if m.startswith("tests/e2e/")])
    other = by_time([m for m in modules if not m.startswith("tests/e2e/")])
    order: list[str] = []
    while e2e or other:
        order += [kind.pop(0) for kind in (e2e, other) if kind]
    rank = {name: i for i, name in enumerate(order)}
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])
