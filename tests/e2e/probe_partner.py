"""A small BX/1 partner for the probe's tests, built from the node's own protocol code
(:func:`gateway.protocol.inbound.verify_message`, receipts, key sets) and served by uvicorn on
a loopback port in a thread; each of its defects (:class:`Defects`) makes it non-conforming in
one way, as an implementer's first try might be."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.documents.registry import SchemaRegistry
from gateway.protocol.bearer import MemoryReplayCache, bearer_token, verify_bearer
from gateway.protocol.encoding import b64url_decode, b64url_encode
from gateway.protocol.envelope import (
    MAX_MESSAGE_BYTES,
    MEDIA_TYPE,
    mailbox_body,
    parse_body,
    parse_envelope,
)
from gateway.protocol.inbound import InboundContext, PartnerPolicy, verify_message
from gateway.protocol.jose import PinnedKey, SigningKey, public_jwk
from gateway.protocol.keyset import sign_key_set
from gateway.protocol.problems import PROBLEM_MEDIA_TYPE, Problem
from gateway.protocol.receipts import build_receipt
from tests.e2e.federation import free_port


@dataclass(frozen=True)
class Defects:
    """What the partner gets wrong (nothing, by default)."""

    accepts_everything: bool = False   # 202 and a receipt for every push, unchecked
    wrong_receipt_key: bool = False    # receipts signed with a key it does not publish
    accepts_alg_none: bool = False     # a message with alg none is taken unsigned
    stores_refused: bool = False       # a message refused after its token is kept anyway
    private_key_in_jwks: bool = False  # its JWK Set carries its private key (d)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Partner:
    """``node_id`` with ``key``, knowing one peer (``peer`` with ``peer_key``)."""

    node_id: str
    key: SigningKey
    peer: str
    peer_key: PinnedKey
    registry: SchemaRegistry
    defects: Defects = field(default_factory=Defects)
    waiting: list[bytes] = field(default_factory=list)
    #: (sender, id) -> (digest, receipt; None for a refused message kept by mistake)
    store: dict[tuple[str, str], tuple[str, bytes | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.replay = MemoryReplayCache(now)
        self.policy = PartnerPolicy(self.peer, {self.peer_key.kid: self.peer_key},
                                    frozenset(self.registry.types()))
        # a key it does not publish, under the kid of the one it does
        self.receipt_key = SigningKey(self.key.kid, ed25519.Ed25519PrivateKey.generate()) \
            if self.defects.wrong_receipt_key else self.key

    def context(self) -> InboundContext:
        return InboundContext(node_id=self.node_id, documents=self.registry, clock=now,
                              partners=lambda n: self.policy if n == self.peer else None,
                              replay=self.replay)

    def receipt(self, message_id: str, digest: str) -> bytes:
        return build_receipt(self.receipt_key, self.node_id, self.peer, message_id, digest,
                             now())

    # -- routes ---------------------------------------------------------------------------

    async def push(self, request: Request) -> Response:
        raw = await request.body()
        bearer = bearer_token(request.headers.get("authorization"))
        if self.defects.accepts_everything:
            message_id, digest = _identity(raw)
            return Response(self.receipt(message_id, digest), 202, media_type=MEDIA_TYPE)
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise Problem("too-large", "too large")
            if self.defects.accepts_alg_none and _alg(raw) == "none":
                verify_bearer(bearer, self.node_id, self.policy_key, self.replay, now)
                message_id, digest = _identity(raw)
                return self._keep(message_id, digest)
            verified = verify_message(raw, bearer, self.context())
        except Problem as problem:
            if self.defects.stores_refused and problem.code not in (
                    "unauthenticated", "malformed", "too-large"):
                message_id, digest = _identity(raw)
                self.store.setdefault((self.peer, message_id), (digest, None))
            return _problem(problem)
        key = (verified.sender, verified.message_id)
        if key in self.store:
            digest, receipt = self.store[key]
            if digest != verified.digest:
                return _problem(Problem("conflict", "another digest"))
            if receipt is None:
                receipt = self.receipt(verified.message_id, digest)
                self.store[key] = (digest, receipt)
            return Response(receipt, 200, media_type=MEDIA_TYPE)
        return self._keep(verified.message_id, verified.digest)

    def _keep(self, message_id: str, digest: str) -> Response:
        receipt = self.receipt(message_id, digest)
        self.store[(self.peer, message_id)] = (digest, receipt)
        return Response(receipt, 202, media_type=MEDIA_TYPE)

    def policy_key(self, node: str, kid: str) -> PinnedKey | None:
        return self.policy.key(kid) if node == self.peer else None

    async def pull(self, request: Request) -> Response:
        try:
            verify_bearer(bearer_token(request.headers.get("authorization")), self.node_id,
                          self.policy_key, self.replay, now,
                          known=lambda n: n == self.peer)
        except Problem as problem:
            return _problem(problem)
        limit = int(request.query_params.get("limit", "50"))
        return Response(mailbox_body(self.waiting[:limit]), media_type="application/json")

    async def acknowledge(self, _request: Request) -> Response:
        return Response(status_code=204)

    def jwk(self) -> dict[str, Any]:
        return {**public_jwk(self.key.public_key()), "kid": self.key.kid, "use": "sig",
                "alg": self.key.alg}

    async def jwks(self, _request: Request) -> Response:
        jwk = self.jwk()
        if self.defects.private_key_in_jwks:
            private = self.key.private_key
            assert isinstance(private, ed25519.Ed25519PrivateKey)
            jwk["d"] = b64url_encode(private.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                           NoEncryption()))
        return JSONResponse({"keys": [jwk]})

    async def signed_jwks(self, _request: Request) -> Response:
        return Response(sign_key_set(self.key, {"keys": [self.jwk()]}),
                        media_type="application/jose+json")

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "node": self.node_id, "protocol": [1]})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/bx/v1/messages", self.push, methods=["POST"]),
            Route("/bx/v1/messages", self.pull, methods=["GET"]),
            Route("/bx/v1/receipts", self.acknowledge, methods=["POST"]),
            Route("/bx/v1/.well-known/jwks.json", self.jwks),
            Route("/bx/v1/.well-known/jwks.jws", self.signed_jwks),
            Route("/bx/v1/health", self.health),
        ])


def _identity(raw: bytes) -> tuple[str, str]:
    """The id and digest a body claims (a nil id for one that is no message)."""
    try:
        envelope = parse_envelope(parse_body(raw))
    except Problem:
        return "00000000-0000-4000-8000-000000000000", "sha256:" + "0" * 64
    return envelope.header.bx.id, envelope.digest


def _alg(raw: bytes) -> str | None:
    try:
        return str(json.loads(b64url_decode(json.loads(raw)["protected"]))["alg"])
    except (ValueError, KeyError, TypeError):
        return None


def _problem(problem: Problem) -> Response:
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else {}
    return Response(problem.to_json(), problem.status, media_type=PROBLEM_MEDIA_TYPE,
                    headers=headers)


@contextmanager
def serving(partner: Partner) -> Iterator[str]:
    """The partner on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(partner.app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the partner did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/bx/v1"
    finally:
        server.should_exit = True
        thread.join(10)
