"""What a probe works with: this node's identity and key, the partner's endpoint and what
this node pinned for it, its rate, the documents it may send (the schemas' own examples,
PROTOCOL.md §3.1: no personal data), and what it looks at offline (a bundle, the partner's
checkpoints this node holds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from gateway.documents.registry import SchemaRegistry
from gateway.exchange.probe.history import PartnerHistory
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.inbound import SYSTEM_TYPES, PartnerPolicy
from gateway.protocol.jose import PinnedKey, SigningKey
from gateway.runtime.node import Node

#: The share of the partner's rate (``rate_per_minute``) a probe takes: the node it runs on
#: keeps delivering meanwhile.
RATE_SHARE: Final = 2


class ProbeSetupError(GatewayError):
    """A probe that cannot be made as asked (a usage error: exit 2)."""


@dataclass(frozen=True)
class Samples:
    """The documents a probe sends: one example per type (with the version it is sent as),
    and one document that breaks its schema (of ``invalid_type``)."""

    examples: Mapping[str, tuple[str, bytes]]
    invalid_type: str
    invalid: bytes

    def example(self, doc_type: str) -> bytes:
        """The example of ``doc_type``."""
        return self.examples[doc_type][1]

    def version(self, doc_type: str) -> str:
        """The version the example of ``doc_type`` is sent as."""
        return self.examples[doc_type][0]

    @property
    def types(self) -> list[str]:
        """The types a probe sends, sorted."""
        return sorted(self.examples)


def load_samples(schemas: Path, registry: SchemaRegistry) -> Samples:
    """The first example of every type a node sends itself (not the system documents of
    §4.8, which the node makes), and the first invalid document of the first such type."""
    examples: dict[str, tuple[str, bytes]] = {}
    for doc_type in registry.types():
        found = sorted((schemas / doc_type / "examples").glob("*.xml"))
        if doc_type in SYSTEM_TYPES or not found:
            continue
        examples[doc_type] = (registry.versions(doc_type)[-1], found[0].read_bytes())
    for doc_type in sorted(examples):
        invalid = sorted((schemas / doc_type / "invalid").glob("*.xml"))
        if invalid:
            return Samples(examples, doc_type, invalid[0].read_bytes())
    raise ProbeSetupError(N_("{path}: no example and invalid document to send"), path=schemas)


@dataclass(frozen=True)
class ProbeSetup:
    """Everything a probe needs (built from the node by :func:`setup_for`, or by a test)."""

    me: str
    key: SigningKey
    base: str
    partner: str | None
    pinned: Mapping[str, PinnedKey]
    policy: PartnerPolicy | None
    per_minute: int
    registry: SchemaRegistry
    samples: Samples
    clock: Callable[[], datetime]
    read_only: bool = False
    bundle: Path | None = None
    history: PartnerHistory | None = None
    #: This node's partners: an endpoint no partner file names that says on ``/health`` it
    #: is one of them is not taken at its word (a token signed for that partner would be
    #: good at the real one: its mailbox, for the token's lifetime).
    enrolled: frozenset[str] = frozenset()

    def pinned_key(self, node_id: str, kid: str) -> PinnedKey | None:
        """A key pinned for the partner (the lookup receipts and key sets are verified
        with)."""
        return self.pinned.get(kid) if node_id == self.partner else None


def setup_for(node: Node, *, partner_id: str | None, base_url: str | None, read_only: bool,
              bundle: Path | None, per_minute: int | None,
              history: PartnerHistory | None = None) -> ProbeSetup:
    """A probe of a partner of ``node``: named (its endpoint unless ``base_url`` is given),
    or found by its endpoint; a base URL no partner file names is probed without pins (the
    checks that need them are skipped)."""
    partner = node.partners.get(partner_id) if partner_id else None
    if partner_id and partner is None:
        raise ProbeSetupError(N_("{partner} is not in the partner directory"),
                              partner=partner_id)
    known = (partner.file.endpoint or "").rstrip("/") if partner else ""
    if known and base_url is not None and base_url.rstrip("/") != known:
        # the probe's tokens for a partner are good at that partner's mailbox, wherever they
        # are sent: another address gets none (a pull partner, with no endpoint, may be
        # probed at the address the operator gives)
        raise ProbeSetupError(N_("{partner}'s endpoint is {endpoint}: a probe of it is sent "
                                 "there only (change its partner file, or leave BASE_URL "
                                 "out)"), partner=partner_id, endpoint=known)
    if partner is None and base_url is not None:
        wanted = base_url.rstrip("/")
        partner = next((p for p in node.partners.all()
                        if (p.file.endpoint or "").rstrip("/") == wanted), None)
    base = (base_url or (partner.file.endpoint if partner else None) or "").rstrip("/")
    if not base:
        raise ProbeSetupError(N_("{partner} has no endpoint; give its BASE_URL"),
                              partner=partner_id)
    if not base.startswith(("http://", "https://")):
        raise ProbeSetupError(N_("{url} is not an http(s) URL"), url=base)
    rate = per_minute or max(1, (partner.file.rate_per_minute if partner else 60) // RATE_SHARE)
    return ProbeSetup(
        me=node.node_id, key=node.signing_key, base=base,
        partner=partner.node_id if partner else None,
        pinned={k.kid: k.pinned() for k in partner.file.keys} if partner else {},
        policy=partner.policy() if partner else None, per_minute=rate,
        registry=node.registry, samples=load_samples(node.settings.schemas_dir, node.registry),
        clock=node.clock, read_only=read_only, bundle=bundle, history=history,
        enrolled=frozenset(p.node_id for p in node.partners.all()))
