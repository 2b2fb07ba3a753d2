"""A conformance probe's test message (PROTOCOL.md §3.1, ``bx.test: true``) on the receiving
node: verified, receipted and deduplicated as any other, filed apart from casework (no case
opened or moved, no task, no notice, not in a case's messages), never counted in a report,
and shown to the operator as a test message."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from gateway.exchange import outbox
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.receipts import verify_receipt
from tests.conftest import example, pin
from tests.integration.conftest import Desk

pytestmark = pytest.mark.anyio


def rows(desk: Desk, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(desk.receiver.db) as conn:
        return [tuple(r) for r in conn.execute(sql, args)]


async def test_a_test_alert_is_receipted_and_deduplicated_but_opens_nothing(
        desk: Desk) -> None:
    world = desk.receiver.world
    # an immediate alert for a child at imminent risk: as casework it opens a case, two
    # tasks and notices at once
    raw = world.message("alert", example("alert", 1), priority="immediate", test=True)
    header = json.loads(b64url_decode(json.loads(raw)["protected"]))
    assert header["bx"]["test"] is True
    first = await desk.receiver.post(raw)
    assert first.status_code == 202, first.text
    receiver_key = pin(world.receiver_key)
    receipt = verify_receipt(first.content, lambda _node, kid: receiver_key
                             if kid == receiver_key.kid else None, world.now,
                             signer="kh.ahtjp", recipient="vn.c02")
    again = await desk.receiver.post(raw)
    assert again.status_code == 200
    assert again.content == first.content  # the original receipt, byte for byte

    assert rows(desk, "SELECT test, attach_pending FROM messages") == [(1, 0)]
    assert rows(desk, "SELECT count(*) FROM cases") == [(0,)]
    assert rows(desk, "SELECT count(*) FROM tasks") == [(0,)]
    assert rows(desk, "SELECT count(*) FROM notifications") == [(0,)]
    assert (await desk.ok("officer", "GET", "/api/cases"))["cases"] == []
    # the operator sees it, marked; the audit line says so
    listed = (await desk.ok("chief", "GET", "/api/messages"))["messages"]
    assert [(m["id"], m["test"]) for m in listed] == [(receipt.payload.message, True)]
    assert (await desk.ok("chief", "GET", "/api/messages", params={"test": "false"})
            )["messages"] == []
    lines = await outbox.list_messages(desk.receiver.app.state.node, test=True)
    assert [line.id for line in lines] == [receipt.payload.message]
    ((detail,),) = rows(desk, "SELECT detail FROM audit_log WHERE action = "
                              "'message.received'")
    assert json.loads(detail)["test"] is True


async def test_a_test_message_in_a_real_cases_conversation_leaves_the_case_alone(
        desk: Desk) -> None:
    world = desk.receiver.world
    request = world.message("verification-request", example("verification-request"))
    assert (await desk.receiver.post(request)).status_code == 202
    request_id = json.loads(b64url_decode(json.loads(request)["protected"]))["bx"]["id"]
    (case,) = (await desk.ok("officer", "GET", "/api/cases"))["cases"]
    before = await desk.ok("officer", "GET", f"/api/cases/{case['id']}")
    answer = world.message("verification-response", example("verification-response"),
                           conversation=before["messages"][0]["conversation"],
                           ref=request_id, test=True)
    assert (await desk.receiver.post(answer)).status_code == 202
    after = await desk.ok("officer", "GET", f"/api/cases/{case['id']}")
    assert after["state"] == before["state"] == "verification-requested"
    assert [m["id"] for m in after["messages"]] == [request_id]
    assert [t["kind"] for t in after["tasks"]] == [t["kind"] for t in before["tasks"]]
    assert rows(desk, "SELECT test FROM messages ORDER BY id") == [(0,), (1,)]
    said = [json.loads(d).get("test") for (d,) in rows(
        desk, "SELECT detail FROM audit_log WHERE action = 'message.received' ORDER BY seq")]
    assert said == [None, True]  # only a test message's line says so
