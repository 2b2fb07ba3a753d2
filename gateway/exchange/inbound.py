"""The inbound pipeline: verify (PROTOCOL.md §4.2), deduplicate, store, receipt, audit.

"Stored" means committed before the answer: the receipt is signed and kept in the same
transaction as the message, so a retry after a crash gets the original receipt byte for byte.
That transaction holds only what the receipt promises (the message, its receipt, the spent
token, the audit line) and is shared with the other messages ready at the same moment (group
commit, :mod:`gateway.store.groupcommit`). The message is stored marked "not yet attached";
the case work attaches it right after, exactly once (:mod:`gateway.exchange.attach`). A test
message (``bx.test``, PROTOCOL.md §3.1: a conformance probe's) is verified, receipted and
deduplicated as any other, and stored marked as one and never to be attached: it opens and
moves no case, makes no notice, and no report counts it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway.audit import log as audit
from gateway.documents.registry import SchemaRegistry
from gateway.protocol.bearer import ReplayCache
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.protocol.inbound import (
    InboundContext,
    VerifiedMessage,
    check_duplicate,
    verify_message,
)
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import build_receipt
from gateway.runtime.node import Node, after_commit
from gateway.store import messages as repo

log = logging.getLogger("gateway.inbound")
#: The threads that verify messages: two, whatever the machine. Verifying is mostly Python
#: under the GIL; more threads only fight the group-commit writer for it (bench/ingest.py).
_VERIFIERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify")


@dataclass(frozen=True)
class Acceptance:
    """What to answer: 202 with a new receipt, or 200 with the original one."""

    status: int
    receipt: bytes
    message: VerifiedMessage


class _TokenLedger:
    """The replay cache :func:`verify_message` sees.

    It answers from this process's memory of recent tokens (so a replay is refused in the
    order of §4.2 without a database round trip) and keeps the token, which the caller then
    writes in its own transaction: the replay table is what catches a token replayed to
    another process or after a restart (``remember_token`` finds it there).
    """

    def __init__(self, recent: ReplayCache) -> None:
        self.recent = recent
        self.token: tuple[str, str, int] | None = None

    def remember(self, issuer: str, jti: str, expires: int) -> bool:
        if not self.recent.remember(issuer, jti, expires):
            return False
        self.token = (issuer, jti, expires)
        return True


def peek_message(raw: bytes) -> tuple[str | None, str | None]:
    """The claimed sender and id of a message, for the audit line of a rejection."""
    try:
        bx = parse_envelope(parse_body(raw)).header.bx
    except Problem:
        return None, None
    return bx.from_, bx.id


def token_ledger(node: Node) -> _TokenLedger:
    """A ledger over this node's memory of recent tokens."""
    return _TokenLedger(node.recent_tokens)


def inbound_context(node: Node, ledger: Any) -> InboundContext:
    """The protocol's view of this node."""
    registry: SchemaRegistry = node.registry

    def rate_limit(caller: str) -> None:
        partner = node.partners.get(caller)
        if partner is not None:
            node.limiter.take(caller, partner.file.rate_per_minute)

    return InboundContext(node_id=node.node_id, partners=node.partners.policy,
                          documents=registry, replay=ledger, clock=node.clock,
                          rate_limit=rate_limit)


async def record_rejection(node: Node, problem: Problem, ledger: _TokenLedger | None,
                           action: str = "message.rejected") -> None:
    """The one trace a rejected request leaves: an audit line (and a spent token). What it
    names of the message is what the checks had read before they refused it: a body is never
    parsed for its audit line (PROTOCOL.md §4.1), so an unauthenticated caller's names none."""
    sender, message_id = problem.claimed or (None, None)
    token = ledger.token if ledger is not None else None
    await node.db.grouped(_record_rejection, node, problem, token, sender, message_id, action)
    node.metrics.rejections.labels(problem.code).inc()


async def _record_rejection(conn: Any, node: Node, problem: Problem,
                            token: tuple[str, str, int] | None, sender: str | None,
                            message_id: str | None, action: str) -> None:
    if token is not None:
        issuer, jti, expires = token
        await repo.remember_token(conn, issuer, jti, expires, int(node.clock().timestamp()))
    # The actor is who authenticated, never what a refused body claims: a partner cannot
    # write refusals into the log in another's name.
    await audit.append(conn, node.clock, token[0] if token is not None else "unknown", action,
                       message_id, {"code": problem.code, "claimed_from": sender})


async def accept_message(node: Node, raw: bytes, bearer: str | None, *,
                         bundle: bool = False, via: str | None = None) -> Acceptance:
    """Verify and store one message; raises :class:`Problem` after auditing the refusal.
    ``bundle``: it came without a bearer token (a bundle, or pulled from the partner);
    ``via``: how, for the audit log (``push``, ``pull``, ``bundle``)."""
    ledger = token_ledger(node)
    try:
        # Off the event loop: parsing up to 20 MiB, signatures and the schema are heavy, and
        # /health and the console must keep answering meanwhile.
        verified = await asyncio.get_running_loop().run_in_executor(
            _VERIFIERS, functools.partial(verify_message, raw, bearer,
                                          inbound_context(node, ledger), bundle=bundle))
        if verified.bearer is not None and node.engine.dialect.name == "postgresql":
            await _node_wide_limit(node, verified.bearer.issuer)
        sealed = node.sealer.seal(verified.raw, repo.RAW_COLUMN)
        receipt = build_receipt(node.signing_key, node.node_id, verified.sender,
                                verified.message_id, verified.digest, verified.received)
        arrival = _Arrival(node, verified, sealed, receipt, ledger.token,
                           via or ("bundle" if bundle else "push"))
        acceptance = await node.writer.run_together(_store_many, _store, arrival)
    except Problem as problem:
        await record_rejection(node, problem, ledger)
        raise
    if acceptance.status == 202 and not verified.header.bx.is_test:
        node.metrics.messages_in.labels(verified.header.bx.type, verified.sender).inc()
        node.attach_signal.set()  # committed: the case work attaches it now
    return acceptance


async def _node_wide_limit(node: Node, caller: str) -> None:
    """On PostgreSQL the node may run as several replicas: the partner file's
    ``rate_per_minute`` is the node's, counted in the database per minute. (Each replica's
    own limiter has refused in the order of §4.2 already; this one comes after the checks
    of the message, so a message both malformed and over the node's limit is refused as
    malformed.)"""
    partner = node.partners.get(caller)
    if partner is None:
        return
    now = node.clock().timestamp()
    async with node.db.transaction() as conn:
        count = await repo.count_call(conn, caller, int(now // 60))
    if count > partner.file.rate_per_minute:
        raise Problem("rate-limited",
                      f"{caller} sent more than {partner.file.rate_per_minute} requests a minute",
                      retry_after=max(1, 60 - int(now % 60)))


@dataclass(frozen=True)
class _Arrival:
    """A verified message on its way to the group commit, with its sealed bytes and its
    receipt signed in advance (used only if the message is new)."""

    node: Node
    verified: VerifiedMessage
    sealed: bytes
    receipt: bytes
    token: tuple[str, str, int] | None
    via: str

    def received_entry(self) -> tuple[str, str, str | None, dict[str, Any]]:
        bx = self.verified.header.bx
        return (self.verified.sender, "message.received", self.verified.message_id,
                {"type": bx.type, "priority": bx.priority, "conversation": bx.conversation,
                 "via": self.via, "digest": self.verified.digest,
                 **({"test": True} if bx.is_test else {})})

    @property
    def to_attach(self) -> bool:
        """Whether the case work is to see it: never a test message (PROTOCOL.md §3.1)."""
        return not self.verified.header.bx.is_test


async def _store(conn: Any, arrival: _Arrival) -> Acceptance:
    """What the receipt promises, for one message (see :func:`_store_many`)."""
    node, verified = arrival.node, arrival.verified
    if arrival.token is not None:
        issuer, jti, expires = arrival.token
        if not await repo.remember_token(conn, issuer, jti, expires,
                                         int(node.clock().timestamp())):
            raise Problem("unauthenticated", "bearer token replayed")
    pk = await repo.insert_message(conn, verified.envelope, arrival.sealed, direction="in",
                                   state="accepted", now=verified.received,
                                   attach_pending=arrival.to_attach)
    if pk is None:  # the same sender and id were accepted before
        existing = await repo.find_message(conn, "in", verified.sender, verified.message_id)
        check_duplicate(verified, existing.digest)
        original = await repo.receipt_of(conn, existing.id)
        assert original is not None, "an accepted message always has its receipt"
        await audit.append(conn, node.clock, verified.sender, "message.duplicate",
                           verified.message_id, {"type": verified.header.bx.type})
        return Acceptance(200, original.raw, verified)
    await repo.insert_receipt(conn, pk, node.node_id, arrival.receipt,
                              verified.received.isoformat(), verified.received)
    if arrival.to_attach:
        after_commit(functools.partial(node.handover.hold,
                                       [(pk, arrival.sealed, verified.envelope)]))
    await audit.append(conn, node.clock, *arrival.received_entry())
    return Acceptance(202, arrival.receipt, verified)


async def _store_many(conn: Any, arrivals: list[_Arrival]) -> list[Acceptance | Problem]:
    """What the receipts promise, for every message of one group commit, in a handful of
    statements: the spent tokens, the new messages, their receipts and audit lines. A replayed
    token or a conflicting duplicate is that message's :class:`Problem`; a repeat (of an
    earlier message or of one in the same batch) gets the original receipt."""
    node = arrivals[0].node
    now = int(node.clock().timestamp())
    results: list[Acceptance | Problem | None] = [None] * len(arrivals)
    tokens = [(i, a.token) for i, a in enumerate(arrivals) if a.token is not None]
    spent = await repo.live_tokens(conn, [(t[0], t[1]) for _, t in tokens], now)
    fresh: list[tuple[str, str, int]] = []
    for i, (issuer, jti, expires) in tokens:
        if (issuer, jti) in spent:
            results[i] = Problem("unauthenticated", "bearer token replayed")
        else:
            spent.add((issuer, jti))
            fresh.append((issuer, jti, expires))
    await repo.remember_tokens(conn, fresh, now)
    waiting = [i for i, result in enumerate(results) if result is None]
    keys = [(arrivals[i].verified.sender, arrivals[i].verified.message_id) for i in waiting]
    before = await repo.accepted_identities(conn, keys)
    first: dict[tuple[str, str], int] = {}
    new: list[int] = []
    repeats: list[int] = []
    for i, key in zip(waiting, keys, strict=True):
        if key in before or key in first:
            repeats.append(i)
        else:
            first[key] = i
            new.append(i)
    pks = await repo.insert_accepted(conn, [
        (arrivals[i].verified.envelope, arrivals[i].sealed, arrivals[i].verified.received,
         arrivals[i].to_attach) for i in new])
    after_commit(functools.partial(node.handover.hold, [
        (pk, arrivals[i].sealed, arrivals[i].verified.envelope)
        for i, pk in zip(new, pks, strict=True) if arrivals[i].to_attach]))
    await repo.insert_receipts(conn, [
        (pk, node.node_id, arrivals[i].receipt, arrivals[i].verified.received.isoformat(),
         arrivals[i].verified.received) for i, pk in zip(new, pks, strict=True)])
    entries = [arrivals[i].received_entry() for i in new]
    for i in new:
        results[i] = Acceptance(202, arrivals[i].receipt, arrivals[i].verified)
    for i in repeats:
        verified = arrivals[i].verified
        key = (verified.sender, verified.message_id)
        try:
            if key in first:
                check_duplicate(verified, arrivals[first[key]].verified.digest)
                original = arrivals[first[key]].receipt
            else:
                check_duplicate(verified, before[key][1])
                kept = await repo.receipt_of(conn, before[key][0])
                assert kept is not None, "an accepted message always has its receipt"
                original = kept.raw
        except Problem as problem:
            results[i] = problem
            continue
        entries.append((verified.sender, "message.duplicate", verified.message_id,
                        {"type": verified.header.bx.type}))
        results[i] = Acceptance(200, original, verified)
    await audit.append_many(conn, node.clock, entries)
    return [result for result in results if result is not None]
