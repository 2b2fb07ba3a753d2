"""The delivery worker: push queued messages, verify receipts, retry, dead-letter.

Transient failures (network errors, timeouts, 5xx, 429) back off exponentially with jitter,
from 1 s doubling to 1 h, honouring ``Retry-After`` (in seconds, up to that hour); permanent
refusals (other 4xx, 409) go straight to dead letter; a message whose deadline passes is
dead-lettered. A message is marked delivered only once a valid receipt for exactly its digest
is held (PROTOCOL.md §4.3, §4.5).
A worker killed mid-flight leaves the message queued; the receiver's deduplication turns the
retry into the original receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.exchange.inbound import accept_message
from gateway.exchange.outbox import outbox_stats
from gateway.exchange.pushing import (
    ASKED,
    HttpxPusher,
    PushAnswer,
    Pusher,
    PushFailedError,
    read_answer,
)
from gateway.protocol.bearer import issue_bearer
from gateway.protocol.encoding import EncodingError, strict_json_loads
from gateway.protocol.envelope import MEDIA_TYPE, mailbox_messages
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import verify_receipt
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads, writes

log = logging.getLogger("gateway.delivery")
MAX_BACKOFF_S = 3600.0
TOKEN_PURGE_INTERVAL = timedelta(minutes=10)
#: How long a replica's claim on a message it delivers lasts unless renewed (every third of
#: it while the delivery runs); a dead replica's claims are taken over after this.
CLAIM = timedelta(seconds=60)
#: The lease on polling partners: one replica polls; another takes over after this.
POLL_LEASE = timedelta(seconds=30)
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The most of a pull's answer read (PROTOCOL.md §4.4: 32 MiB of messages, and the list
#: around them), as sent: never decompressed, as a push's answer (``exchange.pushing``).
PULL_ANSWER_BYTES = 32 * 1024 * 1024 + 64 * 1024


def backoff(attempts: int, jitter: float, retry_after: int | None = None) -> float:
    """Seconds until the next try after ``attempts`` failures: 1, 2, 4 ... 3600, jittered
    into the upper half, and never sooner than ``Retry-After``."""
    base = min(MAX_BACKOFF_S, 2.0 ** attempts)
    delay = max(1.0, base * (0.5 + jitter / 2))
    return max(delay, float(retry_after or 0))


def _problem_code(answer: PushAnswer) -> str:
    try:
        body = strict_json_loads(answer.body)
    except EncodingError:
        return f"HTTP {answer.status}"
    kind = body.get("type") if isinstance(body, dict) else None
    return str(kind).removeprefix("urn:bx:problem:") if kind else f"HTTP {answer.status}"


def _retry_after(answer: PushAnswer) -> int | None:
    """``Retry-After`` in seconds (RFC 9110: ASCII digits; a date is not waited for), at most
    :data:`MAX_BACKOFF_S`: a partner cannot park a message beyond the longest back-off."""
    value = answer.retry_after or ""
    if not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), int(MAX_BACKOFF_S))


class DeliveryWorker:
    """Delivers this node's outbox; ``run`` inside ``gateway serve``, ``drain`` for a burst."""

    def __init__(self, node: Node, client: httpx.AsyncClient, *, batch: int = 256,
                 concurrency: int = 32, pushers: Sequence[Pusher] = ()) -> None:
        """``client``: pulls and acknowledgements. ``pushers``: one per push in flight, each
        keeping its connection (:mod:`gateway.exchange.pushing`; a pool of many connections
        is slow to pick one: with httpx, one client of 16 connections pushed at about 0.4
        times the rate of 16 clients of one, bench/drain.py). Without them every push goes
        through ``client``."""
        self.node = node
        self.client = client
        self.batch = batch
        if pushers:
            concurrency = len(pushers)
        self._slots = asyncio.Semaphore(concurrency)
        self._idle: asyncio.Queue[Pusher] = asyncio.Queue()
        for pusher in pushers or [HttpxPusher(client)] * concurrency:
            self._idle.put_nowait(pusher)
        self._stopping = asyncio.Event()
        self._last_poll: dict[str, datetime] = {}
        self._next_token_purge: datetime | None = None

    def stop(self) -> None:
        """Take no new work; deliveries in flight finish."""
        self._stopping.set()
        self.node.outbox_signal.set()

    async def run(self, idle_seconds: float = 1.0) -> None:
        """Deliver until stopped, waking on new messages or every ``idle_seconds``."""
        if self.node.engine.dialect.name == "sqlite":
            # One process serves a node on SQLite (replicas need PostgreSQL): claims left in
            # the database are a crashed process's, and need not lapse before delivery goes
            # on (the partner answers a message sent twice with the same receipt).
            released = await _release_all_claims(self.node)
        else:
            # A replica's name is its own (BX_REPLICA): claims under it are those of this
            # replica's previous life, killed before it could give them up; they need not
            # lapse either.
            released = await _release_claims(self.node)
        if released:
            log.info("claims of a stopped process released", extra={"count": released})
        while not self._stopping.is_set():
            self.node.outbox_signal.clear()  # a message queued during the round wakes the next
            busy = False
            try:
                busy = await self.run_once() >= self.batch  # a full round: more may be due
                await self.poll_partners()
            except Exception:  # a bad round must not stop delivery for good
                log.exception("delivery round failed")
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.outbox_signal.wait(), idle_seconds)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver everything due now (arq's burst mode); returns how many were tried."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            total += done
            if done == 0:
                break
        return total

    async def run_once(self) -> int:
        """One round: dead-letter what is past its deadline, claim what is due (no other
        replica delivers it meanwhile), deliver it, keeping the claims alive."""
        node = self.node
        now = node.clock()
        await self._expire(now)
        await self._forget_expired_tokens(now)
        if self._stopping.is_set():
            return 0
        push = [p.node_id for p in node.partners.all() if p.file.delivery == "push"]
        rows = await _claim_due(node, now, push, self.batch)
        if not rows:
            await self.refresh_gauges()
            return 0
        renewing = asyncio.create_task(self._keep_claims([int(row.id) for row in rows]))
        try:
            await asyncio.gather(*(self._guarded(row) for row in rows))
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        await self.refresh_gauges()
        return len(rows)

    async def _keep_claims(self, message_pks: list[int]) -> None:
        """Renew this replica's claims while its deliveries run (a replica that dies stops
        renewing: its claims lapse after :data:`CLAIM` and another replica takes them)."""
        node = self.node
        while True:
            await asyncio.sleep(CLAIM.total_seconds() / 3)
            await _renew_claims(node, message_pks)

    async def release(self) -> None:
        """Give up this replica's claims (after a clean stop)."""
        await _release_claims(self.node)

    async def _guarded(self, row: Any) -> None:
        async with self._slots:
            await self.deliver(row)

    async def _forget_expired_tokens(self, now: datetime) -> None:
        """Drop spent bearer token ids once they expire, every 10 minutes."""
        if self._next_token_purge is not None and now < self._next_token_purge:
            return
        self._next_token_purge = now + TOKEN_PURGE_INTERVAL
        await _purge_spent(self.node, now)

    async def _expire(self, now: datetime) -> None:
        if not await _overdue(self.node, now):
            return  # the common case takes no write lock
        await _dead_letter_overdue(self.node, now)

    async def deliver(self, row: Any) -> None:
        """One attempt to push one message."""
        node = self.node
        partner = node.partners.get(row.recipient)
        if partner is None or not partner.file.endpoint:
            await _dead_letter(node, row, f"{row.recipient} has no push endpoint", None)
            return
        now = node.clock()
        token = issue_bearer(node.signing_key, node.node_id, row.recipient, now)
        pusher = self._idle.get_nowait()  # one per slot: there is always one idle here
        try:
            answer = await pusher.push(
                f"{partner.file.endpoint}/messages",
                node.sealer.open(bytes(row.raw), repo.RAW_COLUMN),
                {"Content-Type": MEDIA_TYPE, "Authorization": f"Bearer {token}"})
        except PushFailedError as exc:
            await self._retry(row, str(exc), None, None)
            return
        except Exception as exc:  # noqa: BLE001 -- a push that failed as no one foresaw is
            # still a failed push: retried, never a round of deliveries ended half-way
            log.warning("push failed unexpectedly", extra={"message_id": row.message_id,
                                                            "error": type(exc).__name__})
            await self._retry(row, type(exc).__name__, None, None)
            return
        finally:
            self._idle.put_nowait(pusher)
        if answer.status in (200, 202):
            await self._receipt(row, answer)
        elif answer.status in TRANSIENT_STATUSES:
            await self._retry(row, _problem_code(answer), answer.status, _retry_after(answer))
        else:
            await _dead_letter(node, row, _problem_code(answer), answer.status)

    async def _receipt(self, row: Any, answer: PushAnswer) -> None:
        node = self.node
        try:
            receipt = verify_receipt(answer.body, node.partners.pinned, node.clock(),
                                     signer=row.recipient, recipient=node.node_id,
                                     message_id=row.message_id, digest=row.digest)
        except Problem as problem:
            await node.audit(row.recipient, "receipt.rejected", row.message_id,
                             code=problem.code)
            await self._retry(row, f"receipt refused: {problem.code}", answer.status,
                              None)
            return
        await store_receipt(node, row, receipt.raw, receipt.payload.received,
                            answer.status)

    async def _retry(self, row: Any, error: str, status: int | None,
                     retry_after: int | None) -> None:
        node = self.node
        delay = backoff(row.attempts, node.rng.random(), retry_after)
        await node.db.grouped(_schedule_retry, node, row.id, delay, error, status)
        log.info("delivery will be retried", extra={"message_id": row.message_id,
                                                    "to": row.recipient, "error": error,
                                                    "delay_s": round(delay, 1)})

    async def refresh_gauges(self) -> None:
        """Outbox depth and age per partner, days until each pinned key expires."""
        node = self.node
        now = node.clock()
        stats = await outbox_stats(node)
        seen = set()
        for stat in stats:
            seen.add(stat.recipient)
            node.metrics.outbox_depth.labels(stat.recipient).set(stat.depth)
            node.metrics.outbox_oldest.labels(stat.recipient).set(
                (now - _aware(stat.oldest)).total_seconds())
        for partner in node.partners.all():
            if partner.node_id not in seen:
                node.metrics.outbox_depth.labels(partner.node_id).set(0)
                node.metrics.outbox_oldest.labels(partner.node_id).set(0)
            for key in partner.file.keys:
                if key.not_after is not None:
                    node.metrics.key_expiry.labels(partner.node_id, key.kid).set(
                        (key.not_after - now).total_seconds() / 86400)

    async def poll_partners(self) -> int:
        """Fetch what waits for us at partners we poll (``poll_seconds``), acknowledge it."""
        node, fetched, leased = self.node, 0, False
        for partner in node.partners.all():
            every = partner.file.poll_seconds
            if not every or not partner.file.endpoint:
                continue
            now = node.clock()
            last = self._last_poll.get(partner.node_id)
            if last is not None and (now - last).total_seconds() < every:
                continue
            self._last_poll[partner.node_id] = now
            if not leased:  # one replica polls (PROTOCOL.md §4.4: one pull at a time)
                if not await node.holds("polling", POLL_LEASE):
                    return 0
                leased = True
            fetched += await self.pull_from(partner.node_id, partner.file.endpoint)
        return fetched

    async def pull_from(self, partner_id: str, endpoint: str, limit: int = 50) -> int:
        """One pull (PROTOCOL.md §4.4): accept each message, then post its receipt."""
        node = self.node
        token = issue_bearer(node.signing_key, node.node_id, partner_id, node.clock())
        try:
            async with self.client.stream("GET", f"{endpoint}/messages", params={"limit": limit},
                                          headers={"Authorization": f"Bearer {token}",
                                                   **ASKED}) as response:
                response.raise_for_status()
                listed = mailbox_messages(await read_answer(
                    response.headers.get("Content-Encoding"), response.aiter_bytes(),
                    PULL_ANSWER_BYTES))
        except (httpx.HTTPError, EncodingError, PushFailedError) as exc:
            log.warning("pull failed", extra={"partner": partner_id, "error": str(exc)})
            return 0
        accepted = 0
        for raw in listed:
            try:
                acceptance = await accept_message(node, raw, None, bundle=True, via="pull")
            except Problem as problem:
                log.warning("pulled message refused", extra={"partner": partner_id,
                                                             "code": problem.code})
                continue
            token = issue_bearer(node.signing_key, node.node_id, partner_id, node.clock())
            try:  # the answer's status is all that counts: its body is never read
                async with self.client.stream(
                        "POST", f"{endpoint}/receipts", content=acceptance.receipt,
                        headers={"Content-Type": MEDIA_TYPE, "Authorization": f"Bearer {token}",
                                 **ASKED}) as ack:
                    acknowledged = ack.status_code == 204
            except httpx.HTTPError as exc:
                log.warning("acknowledgement failed", extra={"partner": partner_id,
                                                             "error": str(exc)})
                continue
            if acknowledged:
                accepted += 1
        return accepted


# -- the worker's units of work ---------------------------------------------------------------

@writes
async def _release_all_claims(conn: AsyncConnection, _node: Node) -> int:
    return await repo.release_all_claims(conn)


@writes
async def _claim_due(conn: AsyncConnection, node: Node, now: datetime, push: list[str],
                     batch: int) -> list[Any]:
    return await repo.claim_due(conn, now, push, batch, node.settings.replica, now + CLAIM)


@writes
async def _renew_claims(conn: AsyncConnection, node: Node, message_pks: list[int]) -> int:
    return await repo.renew_claims(conn, node.settings.replica, message_pks,
                                   node.clock() + CLAIM)


@writes
async def _release_claims(conn: AsyncConnection, node: Node) -> int:
    return await repo.release_claims(conn, node.settings.replica)


@writes
async def _purge_spent(conn: AsyncConnection, _node: Node, now: datetime) -> None:
    await repo.purge_tokens(conn, int(now.timestamp()))
    await repo.purge_counts(conn, int(now.timestamp() // 60) - 2)


@reads
async def _overdue(conn: AsyncConnection, _node: Node, now: datetime) -> list[Any]:
    return await repo.overdue_outbound(conn, now)


@writes
async def _dead_letter_overdue(conn: AsyncConnection, node: Node, now: datetime) -> None:
    for row in await repo.overdue_outbound(conn, now):
        await _dead_letter.within(conn, node, row, "delivery deadline passed", None)


@writes
async def _dead_letter(conn: AsyncConnection, node: Node, row: Any, error: str,
                       status: int | None) -> None:
    if not await repo.mark_dead(conn, row.id, error):
        return  # delivered or dead-lettered meanwhile (by another replica)
    await repo.record_attempt(conn, row.id, node.clock(), "dead", status, error)
    await audit.append(conn, node.clock, "delivery", "message.dead", row.message_id,
                       {"to": row.recipient, "error": error})
    node.metrics.dead_letters.labels(row.recipient).inc()
    log.warning("dead letter", extra={"message_id": row.message_id, "to": row.recipient,
                                      "error": error})


async def _schedule_retry(conn: Any, node: Node, message_pk: int, delay: float, error: str,
                          status: int | None) -> None:
    now = node.clock()
    await repo.schedule_retry(conn, message_pk, now + timedelta(seconds=delay), error)
    await repo.record_attempt(conn, message_pk, now, "retry", status, error)


async def _keep_receipt(conn: Any, node: Node, row: Any, raw: bytes, received: str,
                        status: int | None) -> datetime | None:
    now = node.clock()
    if not await repo.mark_delivered(conn, row.id, now):
        return None
    await repo.insert_receipt(conn, row.id, row.recipient, raw, received, now)
    await repo.record_attempt(conn, row.id, now, "delivered", status, None)
    await audit.append(conn, node.clock, row.recipient, "receipt.received", row.message_id,
                       {"to": row.recipient, "type": row.doc_type, "digest": row.digest})
    return now


async def _keep_receipts(conn: AsyncConnection, items: list[tuple[Node, Any, bytes, str,
                                                                  int | None]]
                         ) -> list[datetime | None]:
    """The receipts of one batch of the group commit, kept together: the messages marked
    delivered, the receipts, the attempts and the audit entries in one statement each."""
    node = items[0][0]
    now = node.clock()
    marked = await repo.mark_many_delivered(conn, [row.id for _, row, *_ in items], now)
    kept, seen = [], set()
    for item in items:
        row = item[1]
        kept.append(row.id in marked and row.id not in seen)
        seen.add(row.id)
    fresh = [item for item, keep in zip(items, kept, strict=True) if keep]
    await repo.insert_receipts(conn, [(row.id, row.recipient, raw, received, now)
                                      for _, row, raw, received, _ in fresh])
    await repo.record_attempts(conn, [(row.id, now, "delivered", status, None)
                                      for _, row, _, _, status in fresh])
    await audit.append_many(conn, node.clock, [
        (row.recipient, "receipt.received", row.message_id,
         {"to": row.recipient, "type": row.doc_type, "digest": row.digest})
        for _, row, *_ in fresh])
    return [now if keep else None for keep in kept]


async def _keep_one_receipt(conn: AsyncConnection,
                            item: tuple[Node, Any, bytes, str, int | None]) -> datetime | None:
    node, row, raw, received, status = item
    return await _keep_receipt(conn, node, row, raw, received, status)


async def store_receipt(node: Node, row: Any, raw: bytes, received: str,
                        status: int | None) -> bool:
    """Keep a verified receipt and mark the message delivered (once), in the next group
    commit: concurrent deliveries share one transaction, and their receipts are kept
    together (:func:`_keep_receipts`)."""
    now = await node.writer.run_together(_keep_receipts, _keep_one_receipt,
                                         (node, row, raw, received, status))
    if now is None:
        return False
    node.metrics.messages_out.labels(row.doc_type, row.recipient).inc()
    node.metrics.delivery_latency.observe(max(0.0, (now - _aware(row.stored_at)).total_seconds()))
    log.info("delivered", extra={"message_id": row.message_id, "to": row.recipient})
    return True


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


