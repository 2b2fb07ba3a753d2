"""Red team on test messages (PROTOCOL.md §3.1): a test message and a casework message under
the same id are a conflict either way round, so a message first sent as a test cannot be
replayed into casework (nor a real one shadowed by a test)."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.protocol.envelope import MessageDraft, compose_message, new_message_id
from tests.conftest import example
from tests.integration.conftest import Desk

pytestmark = pytest.mark.anyio


def _alert(desk: Desk, message_id: str, *, test: bool) -> bytes:
    world = desk.receiver.world
    return compose_message(world.sender_key, world.sender, MessageDraft(
        type="alert", version="1.0", to=world.receiver, priority="immediate", test=test),
        example("alert", 1), created=world.now, message_id=message_id)


def _count(desk: Desk, table: str) -> int:
    with sqlite3.connect(desk.receiver.db) as conn:
        found: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return found


async def test_a_test_message_replayed_as_casework_under_its_id_is_a_conflict(
        desk: Desk) -> None:
    message_id = new_message_id()
    assert (await desk.receiver.post(_alert(desk, message_id, test=True))).status_code == 202
    again = await desk.receiver.post(_alert(desk, message_id, test=False))
    assert again.status_code == 409, again.text
    assert (_count(desk, "cases"), _count(desk, "tasks"), _count(desk, "notifications")) == (
        0, 0, 0)


async def test_a_test_message_under_a_real_messages_id_is_a_conflict(desk: Desk) -> None:
    message_id = new_message_id()
    assert (await desk.receiver.post(_alert(desk, message_id, test=False))).status_code == 202
    cases, tasks = _count(desk, "cases"), _count(desk, "tasks")
    again = await desk.receiver.post(_alert(desk, message_id, test=True))
    assert again.status_code == 409, again.text
    assert (_count(desk, "cases"), _count(desk, "tasks")) == (cases, tasks)
    assert _count(desk, "messages") == 1


@pytest.mark.parametrize("marker", [None, "true", 1, 0, [True]])
async def test_a_test_member_that_is_not_a_boolean_is_refused_and_nothing_stored(
        desk: Desk, marker: object) -> None:
    """PROTOCOL.md §3.1: ``test`` is a boolean, optional: present, it is ``true`` or
    ``false``; ``null`` is neither (the strictest reading), and a message that says it does
    not become casework by default."""
    import json  # noqa: PLC0415

    from gateway.protocol.encoding import b64url_decode  # noqa: PLC0415
    from tests.conftest import resign  # noqa: PLC0415

    world = desk.receiver.world
    body = json.loads(_alert(desk, new_message_id(), test=False))
    header = json.loads(b64url_decode(body["protected"]))
    header["bx"]["test"] = marker
    refused = await desk.receiver.post(resign(world.sender_key, body, header=header))
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"] == "urn:bx:problem:malformed"
    assert (_count(desk, "messages"), _count(desk, "cases")) == (0, 0)
