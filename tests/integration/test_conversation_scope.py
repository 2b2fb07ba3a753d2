"""PROTOCOL.md §4.2: a conversation belongs to the two nodes that exchange it. A partner who
uses another partner's conversation id reaches nothing of that conversation: its messages are
accepted as its own conversation and change no other partner's case."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import example, make_key
from tests.integration.conftest import Desk, write_partner

pytestmark = pytest.mark.anyio
CONVERSATION = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def rows(desk: Desk, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(desk.receiver.db) as conn:
        return conn.execute(sql).fetchall()


async def test_another_partner_cannot_move_a_case_by_its_conversation_id(desk: Desk) -> None:
    receiver = desk.receiver
    world = receiver.world
    request = world.message("verification-request", example("verification-request"),
                            conversation=CONVERSATION)
    assert (await receiver.post(request)).status_code == 202
    (case_id, state), = rows(desk, "SELECT id, state FROM cases")
    assert state == "verification-requested"

    la_key = make_key("la.atd")
    write_partner(receiver.settings.partners_path, "la.atd", la_key)
    assert receiver.app.state.node.reload_partners() == []
    for doc_type in ("verification-response", "case-closure"):
        hostile = world.message(doc_type, example(doc_type), conversation=CONVERSATION,
                                key=la_key, sender="la.atd")
        answer = await receiver.post(hostile, bearer=world.bearer(key=la_key, issuer="la.atd"))
        assert answer.status_code == 202  # accepted: as la.atd's own conversation

    assert rows(desk, f"SELECT state FROM cases WHERE id = {case_id}") == [
        ("verification-requested",)]  # vn.c02's case did not move
    assert set(rows(desk, f"SELECT identity_status FROM persons WHERE case_id = {case_id}")) \
        == {("unverified",)}
    assert rows(desk, "SELECT partner, count(*) FROM case_conversations "
                      "GROUP BY partner ORDER BY partner") == [("la.atd", 1), ("vn.c02", 1)]
    case = await desk.ok("officer", "GET", f"/api/cases/{case_id}")
    assert [m["from"] for m in case["messages"]] == ["vn.c02"]  # la.atd's are not in it
    other = rows(desk, f"SELECT id FROM cases WHERE id != {case_id}")
    assert len(other) == 1
    theirs = await desk.ok("officer", "GET", f"/api/cases/{other[0][0]}")
    assert {m["from"] for m in theirs["messages"]} == {"la.atd"}
