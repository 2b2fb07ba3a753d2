"""Exactly-once effect under crashes, with real processes and SIGKILL (PROTOCOL.md §4.5)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.protocol.jose import PinnedKey, jwk_to_public_key
from gateway.protocol.receipts import verify_receipt
from tests.conftest import SCHEMAS
from tests.e2e.federation import NodeProcess, make_federation

pytestmark = pytest.mark.e2e
DOCUMENT = (SCHEMAS / "alert" / "examples" / "vn-hotline-child-imminent.xml").read_text()


def query(node: NodeProcess, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        return conn.execute(sql).fetchall()


def count(node: NodeProcess, sql: str) -> int:
    value = query(node, sql)[0][0]
    assert isinstance(value, int)
    return value


def pinned_keys(node: NodeProcess) -> dict[str, PinnedKey]:
    ring = json.loads((node.data_dir / "keys" / "keyring.json").read_text())
    return {k["kid"]: PinnedKey(k["kid"], jwk_to_public_key(k["jwk"])) for k in ring["keys"]}


def wait_for(predicate: object, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def queue(node: NodeProcess, to: str, how_many: int) -> list[str]:
    """Queue ``how_many`` alerts at ``node`` through its local API, eight requests at a time
    (a partner down meanwhile backs off only as long as the queueing lasts)."""
    with node.api() as api:

        def one(_: int) -> str:
            response = api.post("/messages", json={"to": to, "type": "alert",
                                                   "document": DOCUMENT,
                                                   "priority": "immediate"})
            assert response.status_code == 202, response.text
            return str(response.json()["id"])

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(how_many)))


def assert_exactly_once(sender: NodeProcess, receiver: NodeProcess, ids: list[str]) -> None:
    accepted = query(receiver, "SELECT message_id FROM messages WHERE direction = 'in'")
    assert sorted(row[0] for row in accepted) == sorted(ids)  # each once, none twice
    processed = count(receiver, "SELECT count(*) FROM audit_log "
                                "WHERE action = 'message.received'")
    assert processed == len(ids)
    keys = pinned_keys(receiver)
    rows = query(sender, "SELECT m.message_id, m.digest, r.raw FROM messages m JOIN receipts r "
                         "ON r.message_pk = m.id WHERE m.direction = 'out' "
                         "AND m.state = 'delivered'")
    assert sorted(row[0] for row in rows) == sorted(ids)
    for message_id, digest, raw in rows:
        assert isinstance(raw, bytes)
        verify_receipt(raw, lambda _n, kid: keys.get(kid), _now(), signer=receiver.node_id,
                       recipient=sender.node_id, message_id=str(message_id),
                       digest=str(digest))


def _now() -> datetime:
    return datetime.now(UTC)


def test_sender_killed_while_delivering_200_messages(tmp_path: Path) -> None:
    nodes = make_federation(tmp_path, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    try:
        receiver.stop()  # let the outbox fill first
        ids = queue(sender, "kh.ahtjp", 200)
        receiver.start()
        wait_for(lambda: count(receiver, "SELECT count(*) FROM messages") >= 40,
                 what="the stream to start")
        sender.kill()  # SIGKILL, mid-stream
        delivered = count(sender, "SELECT count(*) FROM messages WHERE state = 'delivered'")
        assert delivered < 200, "the kill must land while messages are still undelivered"
        sender.start()
        wait_for(lambda: count(sender, "SELECT count(*) FROM messages "
                                       "WHERE state = 'delivered'") == 200,
                 what="every message to be delivered")
        assert_exactly_once(sender, receiver, ids)
        assert "intact" in receiver.cli("audit", "verify").stdout
        assert "intact" in sender.cli("audit", "verify").stdout
    finally:
        for node in nodes.values():
            node.stop()


def crash_once(sender: NodeProcess, receiver: NodeProcess, script: str,
               marker: Path) -> list[str]:
    """Run the receiver under ``script`` (it SIGKILLs itself once, leaving ``marker``), send
    it one message, and wait for it to die; the id of the message."""
    receiver.stop()
    log = receiver.log_path.open("ab")
    receiver.process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name(script)), str(marker)],
        cwd=receiver.home, env=receiver.env(), stdout=log, stderr=log)
    log.close()
    receiver.wait_healthy()
    ids = queue(sender, "kh.ahtjp", 1)
    wait_for(marker.exists, what=f"the receiver to crash ({script})")
    receiver.process.wait(30)
    assert receiver.process.returncode == -9
    receiver.process = None
    return ids


def test_receiver_killed_between_commit_and_answer(tmp_path: Path) -> None:
    nodes = make_federation(tmp_path, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    marker = tmp_path / "crashed"
    try:
        ids = crash_once(sender, receiver, "crash_after_commit.py", marker)
        # Committed, but the sender never saw the answer.
        assert count(receiver, "SELECT count(*) FROM messages") == 1
        assert count(sender, "SELECT count(*) FROM messages WHERE state = 'delivered'") == 0
        original = query(receiver, "SELECT raw FROM receipts")[0][0]
        receiver.start()
        wait_for(lambda: count(sender, "SELECT count(*) FROM messages "
                                       "WHERE state = 'delivered'") == 1,
                 what="the retry to be answered")
        held = query(sender, "SELECT raw FROM receipts")[0][0]
        assert held == original  # the original receipt, byte for byte
        assert count(receiver, "SELECT count(*) FROM audit_log "
                               "WHERE action = 'message.duplicate'") == 1
        assert_exactly_once(sender, receiver, ids)
    finally:
        for node in nodes.values():
            node.stop()


def test_receiver_killed_while_attaching_attaches_once_after_restart(tmp_path: Path) -> None:
    """The receipt commits first; the case work follows from the durable "not yet attached"
    mark. Killed in the middle of that work, the node attaches the message once on restart."""
    nodes = make_federation(tmp_path, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    marker = tmp_path / "crashed"
    try:
        ids = crash_once(sender, receiver, "crash_before_attach.py", marker)
        # Receipted and kept, marked for its case; the case work died uncommitted.
        assert count(receiver, "SELECT count(*) FROM receipts") == 1
        assert count(receiver, "SELECT count(*) FROM messages WHERE attach_pending") == 1
        assert count(receiver, "SELECT count(*) FROM cases") == 0
        receiver.start()
        wait_for(lambda: count(receiver, "SELECT count(*) FROM messages "
                                         "WHERE attach_pending") == 0,
                 what="the message to be attached after the restart")
        assert count(receiver, "SELECT count(*) FROM cases") == 1
        assert count(receiver, "SELECT count(*) FROM case_events "
                               f"WHERE message_id = '{ids[0]}'") == 1
        assert count(receiver, "SELECT count(*) FROM notifications "
                               f"WHERE message_id = '{ids[0]}'") == 1
        assert count(receiver, "SELECT count(*) FROM audit_log "
                               "WHERE action = 'message.received'") == 1
        assert "intact" in receiver.cli("audit", "verify").stdout
    finally:
        for node in nodes.values():
            node.stop()


def test_sigterm_lets_deliveries_finish_or_stay_queued(tmp_path: Path) -> None:
    nodes = make_federation(tmp_path, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    try:
        receiver.stop()
        ids = queue(sender, "kh.ahtjp", 200)
        receiver.start()
        wait_for(lambda: count(receiver, "SELECT count(*) FROM messages") >= 20,
                 what="the stream to start")
        # SIGTERM: uvicorn shuts the app down, then re-raises the signal for the exit status.
        assert sender.stop() in (0, -15)
        assert "Application shutdown complete" in sender.log_path.read_text()
        # Nothing is half-marked: delivered means a receipt is held.
        assert count(sender, "SELECT count(*) FROM messages m WHERE m.state = 'delivered' "
                             "AND NOT EXISTS (SELECT 1 FROM receipts r "
                             "WHERE r.message_pk = m.id)") == 0
        assert count(sender, "SELECT count(*) FROM messages "
                             "WHERE state NOT IN ('delivered', 'queued')") == 0
        sender.start()
        wait_for(lambda: count(sender, "SELECT count(*) FROM messages "
                                       "WHERE state = 'delivered'") == 200,
                 what="the rest to be delivered after the restart")
        assert_exactly_once(sender, receiver, ids)
    finally:
        for node in nodes.values():
            node.stop()
