"""Messages accepted together in one group commit, against the app and a real SQLite file:
each gets what it would have got alone (PROTOCOL.md §4.2 and §4.5)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from gateway.audit.log import verify_chain
from gateway.exchange import inbound
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import build_receipt
from gateway.runtime.node import Node
from gateway.store import messages as repo
from tests.conftest import example, resign
from tests.integration.conftest import Receiver

pytestmark = pytest.mark.anyio


def arrival(node: Node, raw: bytes, bearer: str) -> inbound._Arrival:
    """What accept_message hands the group commit for one verified message."""
    ledger = inbound.token_ledger(node)
    verified = inbound.verify_message(raw, bearer, inbound.inbound_context(node, ledger))
    receipt = build_receipt(node.signing_key, node.node_id, verified.sender,
                            verified.message_id, verified.digest, verified.received)
    return inbound._Arrival(node, verified, node.sealer.seal(raw, repo.RAW_COLUMN), receipt,
                            ledger.token, False)


async def test_a_batch_answers_each_message_as_if_it_came_alone(receiver: Receiver) -> None:
    node: Node = receiver.app.state.node
    world = receiver.world
    before = world.message()
    assert (await receiver.post(before)).status_code == 202
    first, second = world.message(), world.message()
    body = json.loads(first)
    clash = resign(world.sender_key, body, header=json.loads(b64url_decode(body["protected"])),
                   payload=example("verification-response", 1))
    token = world.bearer()
    node.recent_tokens = type(node.recent_tokens)(node.clock)  # let the replay reach the batch
    items = [arrival(node, first, token)]
    node.recent_tokens = type(node.recent_tokens)(node.clock)
    items += [arrival(node, second, token),           # the same token again: replayed
              arrival(node, first, world.bearer()),   # a repeat within the batch
              arrival(node, before, world.bearer()),  # a repeat of an earlier message
              arrival(node, clash, world.bearer())]   # same id, another digest
    results = await node.db.grouped(inbound._store_many, items)
    assert isinstance(results[0], inbound.Acceptance)
    assert results[0].status == 202
    assert isinstance(results[1], Problem)
    assert results[1].code == "unauthenticated"
    assert isinstance(results[2], inbound.Acceptance)
    assert (results[2].status, results[2].receipt) == (200, results[0].receipt)
    assert isinstance(results[3], inbound.Acceptance)
    assert results[3].status == 200
    with sqlite3.connect(receiver.db) as db:
        (kept,) = db.execute("SELECT r.raw FROM receipts r JOIN messages m "
                             "ON m.id = r.message_pk WHERE m.digest = ?",
                             (items[3].verified.digest,)).fetchone()
        assert results[3].receipt == kept  # the original receipt, byte for byte
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert isinstance(results[4], Problem)
    assert results[4].code == "conflict"
    assert receiver.count("messages", "direction = 'in'") == 2  # before, first
    assert receiver.count("receipts") == 2
    assert receiver.count("messages", "attach_pending") == 1  # first, until the attacher runs
    assert actions[-3:] == ["message.received", "message.duplicate", "message.duplicate"]
    assert "intact" in str(await chain(node))
    await receiver.attached()
    assert receiver.count("cases") == 2


async def chain(node: Node) -> str:
    async with node.engine.connect() as conn:
        verdict = await verify_chain(conn)
    return "intact" if verdict.intact else f"broken: {verdict.reason}"


async def test_many_messages_at_once_are_all_receipted_once(receiver: Receiver) -> None:
    """Forty pushes in flight together: each stored once with its receipt, batched."""
    node: Node = receiver.app.state.node
    world = receiver.world
    raws = [world.message() for _ in range(40)]
    batches = node.writer.batches
    responses = await asyncio.gather(*(receiver.client.post(
        "/bx/v1/messages", content=raw, headers={"Content-Type": "application/jose+json",
                                                 "Authorization": f"Bearer {world.bearer()}"})
        for raw in raws))
    assert [r.status_code for r in responses] == [202] * 40
    assert receiver.count("messages", "direction = 'in'") == 40
    assert receiver.count("receipts") == 40
    assert receiver.count("audit_log", "action = 'message.received'") == 40
    assert node.writer.batches - batches < 40  # shared commits
    await receiver.attached()
    assert receiver.count("cases") == 40
    assert receiver.count("audit_log", "action = 'case.attach-failed'") == 0


async def accepted_with(receiver: Receiver, hook: Any, raws: list[bytes]) -> None:
    """Post ``raws`` (each accepted) with ``hook`` among the node's inbound hooks, until
    every one is attached."""
    node: Node = receiver.app.state.node
    node.inbound_hooks.append(hook)
    try:
        for raw in raws:
            assert (await receiver.post(raw)).status_code == 202
        await receiver.attached()
    finally:
        node.inbound_hooks.remove(hook)


async def test_a_round_of_attaching_writes_its_audit_entries_together_and_drops_a_failed_hooks(
        receiver: Receiver) -> None:
    """A round of the case work appends its audit entries at its end; a hook that fails
    takes its entries with its rolled-back writes, and the failure is audited in their
    place; the chain stays intact."""
    from gateway.audit import log as audit  # noqa: PLC0415

    node: Node = receiver.app.state.node
    world = receiver.world
    raws = [world.message() for _ in range(3)]
    doomed = json.loads(b64url_decode(json.loads(raws[1])["protected"]))["bx"]["id"]

    async def hook(conn: object, envelope: object) -> None:
        message_id = envelope.header.bx.id  # type: ignore[attr-defined]
        await audit.append(conn, node.clock, "system", "test.hook", message_id)  # type: ignore[arg-type]
        if message_id == doomed:
            raise RuntimeError("this hook fails")

    await accepted_with(receiver, hook, raws)
    with sqlite3.connect(receiver.db) as db:
        hooked = [s for (s,) in db.execute(
            "SELECT subject FROM audit_log WHERE action = 'test.hook' ORDER BY seq")]
        failed = [s for (s,) in db.execute(
            "SELECT subject FROM audit_log WHERE action = 'case.attach-failed'")]
    assert doomed not in hooked
    assert len(hooked) == 2
    assert failed == [doomed]
    assert receiver.count("cases") == 3  # the case work's own hook ran for each
    assert "intact" in str(await chain(node))


async def test_deferred_entries_are_written_in_order_in_one_statement(receiver: Receiver
                                                                      ) -> None:
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    from gateway.audit import log as audit  # noqa: PLC0415

    node: Node = receiver.app.state.node
    statements: list[str] = []

    def seen(_c: object, _cu: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        async with node.db.transaction() as conn:
            async with audit.deferred(conn, node.clock) as held:
                for n in range(4):
                    assert await audit.append(conn, node.clock, "system", "test.deferred",
                                              str(n)) == 0
                del held[2:3]  # a step rolled back takes its entries along
            assert await audit.append(conn, node.clock, "system", "test.after", None) > 0
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert sum("INSERT INTO audit_log" in s for s in statements) == 2  # the block, the one after
    with sqlite3.connect(receiver.db) as db:
        written = [s for (s,) in db.execute(
            "SELECT subject FROM audit_log WHERE action = 'test.deferred' ORDER BY seq")]
    assert written == ["0", "1", "3"]
    assert "intact" in str(await chain(node))


async def test_a_round_writes_the_rows_it_holds_in_one_statement_a_table(receiver: Receiver
                                                                         ) -> None:
    """Inside a round (:func:`gateway.store.later.together`) a case's events are written at
    its end in one statement, in order, without the rows of a step rolled back; outside a
    round, at once."""
    import sqlalchemy as sa  # noqa: PLC0415
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    from gateway.store import cases as case_repo  # noqa: PLC0415
    from gateway.store import later  # noqa: PLC0415
    from gateway.store.case_tables import case_events  # noqa: PLC0415

    node: Node = receiver.app.state.node
    assert (await receiver.post(receiver.world.message())).status_code == 202
    with sqlite3.connect(receiver.db) as db:
        case_id = db.execute("SELECT id FROM cases").fetchone()[0]
    statements: list[str] = []

    def seen(_c: object, _cu: object, statement: str, *_: object) -> None:
        statements.append(statement)

    def lines(conn_events: object) -> list[str]:
        return [str(row.event) for row in conn_events]  # type: ignore[attr-defined]

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        async with node.db.transaction() as conn:
            async with later.together(conn) as held:
                for n in range(4):
                    await case_repo.insert_event(conn, case_id=case_id, at=node.clock(),
                                                 actor="system", event=f"test-{n}")
                    if n == 2:
                        kept = len(held)
                del held[kept - 1:kept]  # the step of test-2 rolled back
                inside = lines(await conn.execute(sa.select(case_events.c.event).where(
                    case_events.c.event.like("test-%"))))
            await case_repo.insert_event(conn, case_id=case_id, at=node.clock(),
                                         actor="system", event="test-after")
            after = lines(await conn.execute(sa.select(case_events.c.event).where(
                case_events.c.event.like("test-%"))))
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert inside == []  # held until the round ends
    assert sum("INSERT INTO case_events" in s for s in statements) == 2  # the round, the one after
    assert after == ["test-0", "test-1", "test-3", "test-after"]


async def test_a_held_row_the_database_refuses_fails_that_message_alone(receiver: Receiver
                                                                        ) -> None:
    """A row held for the round's end that the database refuses (here a case event naming
    no case) does not stop the case work: the round is run again with each hook in its
    savepoint; the other messages are attached with their events and notices, the failure is
    audited, and nothing of the failed hook is kept."""
    import sqlalchemy as sa  # noqa: PLC0415

    from gateway.store import later  # noqa: PLC0415
    from gateway.store.case_tables import case_events  # noqa: PLC0415

    node: Node = receiver.app.state.node
    world = receiver.world
    raws = [world.message() for _ in range(3)]
    doomed = json.loads(b64url_decode(json.loads(raws[1])["protected"]))["bx"]["id"]
    bad = sa.insert(case_events)

    async def hook(conn: object, envelope: object) -> None:
        if envelope.header.bx.id == doomed:  # type: ignore[attr-defined]
            await later.insert(conn, bad, {  # type: ignore[arg-type]
                "case_id": None, "at": node.clock(), "actor": "system", "event": "poison"})

    await accepted_with(receiver, hook, raws)
    with sqlite3.connect(receiver.db) as db:
        failed = [s for (s,) in db.execute(
            "SELECT subject FROM audit_log WHERE action = 'case.attach-failed'")]
        told = {m for (m,) in db.execute("SELECT message_id FROM notifications")}
    assert failed == [doomed]
    assert receiver.count("case_events", "event = 'poison'") == 0
    assert receiver.count("cases") == 3
    ids = [json.loads(b64url_decode(json.loads(r)["protected"]))["bx"]["id"] for r in raws]
    assert told == set(ids)  # the case work's own hook ran for each (a savepoint a hook)
    assert "intact" in str(await chain(node))
    assert len(node.handover) == 0  # each accepted message was taken as parsed, once


async def test_a_notice_that_cannot_wait_comes_after_the_ones_held_before_it(
        receiver: Receiver) -> None:
    """In a round, a notice written at once (the unit's notice of an answer, read already for
    its author) is written after the notices the round held before it: ids keep the order
    the messages came in."""
    from gateway.store import later  # noqa: PLC0415
    from gateway.store import notices as notice_repo  # noqa: PLC0415

    node: Node = receiver.app.state.node

    def notice(message_id: str) -> dict[str, object]:
        return {"unit": "kh.ahtjp", "username": None, "kind": "message", "case_id": None,
                "tip_id": None, "draft_id": None, "task_id": None, "message_id": message_id,
                "doc_type": "verification-response", "urgent": False, "due_at": None,
                "report_id": None, "created_at": node.clock()}

    async with node.db.transaction() as conn, later.together(conn):
        await notice_repo.insert_notice(conn, **notice("first"))
        await notice_repo.insert_read_notice(conn, "officer", **notice("second"))
        await notice_repo.insert_notice(conn, **notice("third"))
    with sqlite3.connect(receiver.db) as db:
        order = [m for (m,) in db.execute("SELECT message_id FROM notifications "
                                          "WHERE message_id IN ('first', 'second', 'third') "
                                          "ORDER BY id")]
        read = [m for (m,) in db.execute(
            "SELECT n.message_id FROM notification_reads r JOIN notifications n "
            "ON n.id = r.notification_id WHERE r.username = 'officer'")]
    assert order == ["first", "second", "third"]
    assert read == ["second"]
