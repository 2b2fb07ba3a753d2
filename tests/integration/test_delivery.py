"""The delivery worker over ``httpx.MockTransport`` (the partner's answers scripted, the node's
own SQLite file real): back-off with jitter and Retry-After, dead letters for permanent
refusals and passed deadlines, receipts verified before a message counts as delivered."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gateway.exchange import delivery
from gateway.exchange.delivery import MAX_BACKOFF_S, DeliveryWorker, backoff
from gateway.exchange.outbound import send_message
from gateway.exchange.startup import open_node
from gateway.protocol.envelope import MessageDraft
from gateway.protocol.receipts import build_receipt
from gateway.runtime.node import Node
from gateway.settings import load_settings
from gateway.trust.keys import KeyStore
from tests.conftest import NOW, example, make_key
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[Node, Clock, Any]]:
    """vn.c02 with kh.ahtjp as a push partner at http://kh.test/bx/v1 (whose key we hold)."""
    clock = Clock()
    settings = load_settings(node_id="vn.c02", data_dir=tmp_path / "vn.c02")
    KeyStore(settings.key_path, settings.node_id).generate("EdDSA", "2026-11", NOW)
    partner_key = make_key("kh.ahtjp")
    write_partner(settings.partners_path, "kh.ahtjp", partner_key,
                  endpoint="http://kh.test/bx/v1", deadline_hours=48)
    opened = await open_node(settings, clock)
    yield opened, clock, partner_key
    await opened.close()


async def queue(node: Node) -> str:
    return await send_message(node, MessageDraft(type="case-closure", version="1.0",
                                                 to="kh.ahtjp", priority="routine"),
                              example("case-closure"))


def worker(node: Node, handler: Handler) -> DeliveryWorker:
    return DeliveryWorker(node, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def row(node: Node, message_id: str) -> sqlite3.Row:
    with sqlite3.connect(node.settings.data_path / "gateway.db") as conn:
        conn.row_factory = sqlite3.Row
        found: sqlite3.Row = conn.execute("SELECT * FROM messages WHERE message_id = ?",
                                          (message_id,)).fetchone()
    return found


def attempts(node: Node, message_id: str) -> list[tuple[str, int | None]]:
    with sqlite3.connect(node.settings.data_path / "gateway.db") as conn:
        return conn.execute(
            "SELECT a.outcome, a.status_code FROM delivery_attempts a JOIN messages m "
            "ON m.id = a.message_pk WHERE m.message_id = ? ORDER BY a.id",
            (message_id,)).fetchall()


def test_backoff_doubles_with_jitter_up_to_an_hour_and_honours_retry_after() -> None:
    assert backoff(0, 0.0) == 1.0
    assert 4.0 <= backoff(3, 0.0) <= backoff(3, 1.0) == 8.0
    assert backoff(30, 1.0) == MAX_BACKOFF_S
    assert backoff(1, 0.5, retry_after=600) == 600


async def test_a_busy_partner_is_retried_later_as_it_asks(node: Any) -> None:
    opened, clock, _key = node
    message_id = await queue(opened)
    seen: list[httpx.Request] = []

    def busy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, headers={"Retry-After": "120"})

    assert await worker(opened, busy).run_once() == 1
    stored = row(opened, message_id)
    assert stored["state"] == "queued"
    assert stored["attempts"] == 1
    due = datetime.fromisoformat(stored["next_attempt_at"])
    assert due.replace(tzinfo=None) >= (NOW + timedelta(seconds=120)).replace(tzinfo=None)
    assert attempts(opened, message_id) == [("retry", 503)]
    assert seen[0].headers["Authorization"].startswith("Bearer ")
    assert await worker(opened, busy).run_once() == 0  # not due again yet
    clock.now += timedelta(seconds=121)
    assert await worker(opened, busy).run_once() == 1


async def test_a_partners_retry_after_is_read_strictly_and_capped(node: Any) -> None:
    """Only ASCII digits count ("²" is a digit to Python); a wait longer than the longest
    back-off is cut to it. Neither ends the round with an error."""
    opened, clock, _key = node
    for given, wait in (("²", None), ("100000000000000", MAX_BACKOFF_S)):
        message_id = await queue(opened)

        def busy(request: httpx.Request, given: str = given) -> httpx.Response:
            return httpx.Response(503, headers={"Retry-After": given})

        assert await worker(opened, busy).run_once() >= 1
        stored = row(opened, message_id)
        assert (stored["state"], stored["attempts"]) == ("queued", 1)
        delay = datetime.fromisoformat(stored["next_attempt_at"]).replace(tzinfo=None) - \
            clock.now.replace(tzinfo=None)
        if wait is None:
            assert delay <= timedelta(seconds=2)
        else:
            assert delay == timedelta(seconds=wait)
        clock.now += timedelta(hours=2)


async def test_a_push_failing_as_no_one_foresaw_is_retried(node: Any) -> None:
    opened, _clock, _key = node
    message_id = await queue(opened)

    def odd(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a client library's bug")

    assert await worker(opened, odd).run_once() == 1
    stored = row(opened, message_id)
    assert (stored["state"], stored["attempts"], stored["last_error"]) == \
        ("queued", 1, "RuntimeError")


async def test_a_network_failure_backs_off(node: Any) -> None:
    opened, _clock, _key = node
    message_id = await queue(opened)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await worker(opened, down).run_once()
    stored = row(opened, message_id)
    assert (stored["state"], stored["last_error"]) == ("queued", "ConnectError")
    delay = datetime.fromisoformat(stored["next_attempt_at"]).replace(tzinfo=None) - \
        NOW.replace(tzinfo=None)
    assert timedelta(seconds=1) <= delay <= timedelta(seconds=2)


async def test_a_permanent_refusal_is_dead_lettered_at_once(node: Any) -> None:
    opened, _clock, _key = node
    message_id = await queue(opened)

    def refuses(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"type": "urn:bx:problem:schema-invalid",
                                         "title": "schema invalid"})

    await worker(opened, refuses).run_once()
    stored = row(opened, message_id)
    assert (stored["state"], stored["last_error"]) == ("dead", "schema-invalid")
    assert attempts(opened, message_id) == [("dead", 400)]
    assert opened.metrics.dead_letters.labels("kh.ahtjp")._value.get() == 1


async def test_a_message_past_its_deadline_is_dead_lettered(node: Any) -> None:
    opened, clock, _key = node
    message_id = await queue(opened)
    clock.now += timedelta(hours=49)
    called: list[httpx.Request] = []
    await worker(opened, lambda r: called.append(r) or httpx.Response(202)).run_once()
    assert row(opened, message_id)["state"] == "dead"
    assert called == []


async def test_only_a_valid_receipt_for_exactly_this_message_delivers_it(node: Any) -> None:
    opened, clock, partner_key = node
    message_id = await queue(opened)
    digest = row(opened, message_id)["digest"]
    forged = build_receipt(make_key("kh.ahtjp", "other"), "kh.ahtjp", "vn.c02", message_id,
                           digest, NOW)
    await worker(opened, lambda _r: httpx.Response(202, content=forged)).run_once()
    assert row(opened, message_id)["state"] == "queued"  # a receipt nobody pinned: retried
    assert row(opened, message_id)["last_error"].startswith("receipt refused")
    clock.now += timedelta(seconds=5)
    wrong = build_receipt(partner_key, "kh.ahtjp", "vn.c02", message_id,
                          "sha256:" + "0" * 64, NOW)
    await worker(opened, lambda _r: httpx.Response(202, content=wrong)).run_once()
    assert row(opened, message_id)["state"] == "queued"
    clock.now += timedelta(seconds=10)
    good = build_receipt(partner_key, "kh.ahtjp", "vn.c02", message_id, digest, clock.now)
    await worker(opened, lambda _r: httpx.Response(202, content=good)).run_once()
    assert row(opened, message_id)["state"] == "delivered"
    with sqlite3.connect(opened.settings.data_path / "gateway.db") as conn:
        rejected = conn.execute("SELECT detail FROM audit_log WHERE action = "
                                "'receipt.rejected'").fetchall()
    assert len(rejected) == 2
    assert all(json.loads(d)["code"] for (d,) in rejected)


async def test_receipts_kept_together_mark_each_message_delivered_once(node: Any) -> None:
    """A batch of the group commit keeps its receipts together (one statement each for the
    marks, receipts, attempts and audit entries): each message is delivered once, a second
    receipt for the same message in the batch or after it is not kept."""
    from gateway.exchange.delivery import _keep_receipts  # noqa: PLC0415 - the unit itself

    opened, _clock, partner_key = node
    ids = [await queue(opened) for _ in range(3)]
    rows = []
    for message_id in ids:
        found = dict(row(opened, message_id))
        found["stored_at"] = datetime.fromisoformat(found["stored_at"])
        rows.append(SimpleNamespace(**found))
    receipts = [build_receipt(partner_key, "kh.ahtjp", "vn.c02", r.message_id, r.digest, NOW)
                for r in rows]
    items = [(opened, r, raw, "2026-11-23T10:00:00Z", 202)
             for r, raw in zip(rows, receipts, strict=True)]
    items.append(items[1])  # the same message twice in one batch
    async with opened.db.transaction() as conn:
        kept = await _keep_receipts(conn, items)
    assert [k is not None for k in kept] == [True, True, True, False]
    async with opened.db.transaction() as conn:
        again = await _keep_receipts(conn, items[:1])
    assert again == [None]  # delivered already: its receipt is kept once
    with sqlite3.connect(opened.settings.data_path / "gateway.db") as conn:
        counted = conn.execute(
            "SELECT m.message_id, m.state, m.attempts, "
            "(SELECT count(*) FROM receipts r WHERE r.message_pk = m.id), "
            "(SELECT count(*) FROM delivery_attempts a WHERE a.message_pk = m.id), "
            "(SELECT count(*) FROM audit_log l WHERE l.action = 'receipt.received' "
            " AND l.subject = m.message_id) FROM messages m ORDER BY m.id").fetchall()
    assert counted == [(i, "delivered", 1, 1, 1, 1) for i in ids]
    assert [bytes(r) for (r,) in sqlite3.connect(
        opened.settings.data_path / "gateway.db").execute(
        "SELECT raw FROM receipts ORDER BY message_pk")] == receipts


async def test_a_pulls_answer_is_read_as_sent_and_capped(
        node: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A partner's mailbox answer is asked for as sent: a compressed one (which could unpack
    into gigabytes) and one past the cap are refused unread; nothing is accepted."""
    opened, _clock, _key = node
    monkeypatch.setattr(delivery, "PULL_ANSWER_BYTES", 4096)
    asked: list[str | None] = []
    answers = [httpx.Response(200, headers={"Content-Encoding": "gzip"},
                              content=gzip.compress(b'{"messages": []}')),
               httpx.Response(200, content=b'{"messages": ["' + b"x" * 5000 + b'"]}'),
               httpx.Response(200, content=b'{"messages": []}')]

    def mailbox(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Accept-Encoding"))
        return answers[len(asked) - 1]

    pulling = worker(opened, mailbox)
    with caplog_of("gateway.delivery") as logged:
        assert await pulling.pull_from("kh.ahtjp", "http://kh.test/bx/v1") == 0
        assert await pulling.pull_from("kh.ahtjp", "http://kh.test/bx/v1") == 0
        assert await pulling.pull_from("kh.ahtjp", "http://kh.test/bx/v1") == 0
    assert asked == ["identity"] * 3
    failures = [str(getattr(r, "error", "")) for r in logged if r.getMessage() == "pull failed"]
    assert len(failures) == 2
    assert "compressed" in failures[0]
    assert "larger than 4096" in failures[1]


@contextlib.contextmanager
def caplog_of(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records ``name``'s logger emits meanwhile."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
