"""Separate ``gateway serve`` processes exchange every document type, pushed and pulled."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest

from tests.conftest import SCHEMAS
from tests.e2e.federation import NodeProcess

pytestmark = pytest.mark.e2e
#: Every type partners across the border exchange: a periodic report stays in the country (it
#: goes from a unit to vn.c02 only: tests/e2e/test_reports.py), and the system documents of
#: PROTOCOL.md §4.8 are made by the node itself (tests/e2e/test_witness.py).
TYPES = sorted(p.name for p in SCHEMAS.iterdir()
               if p.is_dir() and not p.name.startswith("_")
               and p.name not in ("periodic-report", "checkpoint", "cosignature"))


def send(node: NodeProcess, to: str, doc_type: str) -> str:
    document = sorted((SCHEMAS / doc_type / "examples").glob("*.xml"))[0].read_text()
    with node.api() as api:
        response = api.post("/messages", json={"to": to, "type": doc_type,
                                               "document": document, "handling": "H1"})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def states(node: NodeProcess, direction: str) -> dict[str, str]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        rows = conn.execute("SELECT message_id, state FROM messages WHERE direction = ?",
                            (direction,)).fetchall()
    return dict(rows)


def receipts(node: NodeProcess) -> int:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        value: int = conn.execute("SELECT count(*) FROM receipts").fetchone()[0]
    return value


def wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


def test_every_type_both_ways_push_and_pull(federation: dict[str, NodeProcess]) -> None:
    c02, ahtjp, atd = federation["vn.c02"], federation["kh.ahtjp"], federation["la.atd"]
    sent: dict[tuple[str, str], list[str]] = {}
    for sender, receiver in ((c02, ahtjp), (ahtjp, c02), (c02, atd), (atd, c02)):
        sent[(sender.node_id, receiver.node_id)] = [send(sender, receiver.node_id, t)
                                                     for t in TYPES]

    def all_delivered() -> bool:
        for (sender_id, receiver_id), ids in sent.items():
            out, got = states(federation[sender_id], "out"), states(federation[receiver_id], "in")
            if any(out.get(i) != "delivered" or got.get(i) != "accepted" for i in ids):
                return False
        return True

    wait_for(all_delivered)
    # Every message was accepted once, and each side holds one receipt per message.
    total = sum(len(ids) for ids in sent.values())
    assert sum(receipts(n) for n in federation.values()) == 2 * total
    pulled = [line for line in c02.messages() if "-> la.atd" in line]
    assert len(pulled) == len(TYPES)
    assert all(" delivered " in line for line in pulled)
    assert "audit chain intact" in c02.cli("audit", "verify").stdout


def test_logs_carry_no_personal_data_and_no_payload(federation: dict[str, NodeProcess]) -> None:
    c02, ahtjp = federation["vn.c02"], federation["kh.ahtjp"]
    request = send(ahtjp, "vn.c02", "verification-request")
    answer = send(c02, "kh.ahtjp", "verification-response")
    wait_for(lambda: request in states(c02, "in") and answer in states(ahtjp, "in"))
    for node in federation.values():
        text = node.log_path.read_text(encoding="utf-8")
        written = text[:text.rfind("\n") + 1]  # the lines written so far, whole
        for lines in written.splitlines():
            assert lines.startswith("{"), "every log line is a JSON object"
        for secret in ("Nguyễn Thị Hoa", "NGUYEN Thi Hoa", "Lê Thị Thu", "+84 912 345 678",
                       "PHNlcnNvbg", "karaoke"):
            assert secret not in text, f"{secret!r} leaked into the log of {node.node_id}"


def test_sighup_reloads_partners_so_a_revocation_takes_effect(
        federation: dict[str, NodeProcess]) -> None:
    c02, ahtjp = federation["vn.c02"], federation["kh.ahtjp"]
    partner = c02.data_dir / "partners" / "kh.ahtjp.toml"
    text = partner.read_text()
    assert "revoked = false" in text
    partner.write_text(text.replace("revoked = false", "revoked = true"))
    assert c02.process is not None
    c02.process.send_signal(signal.SIGHUP)
    wait_for(lambda: _audited(c02, "partners.reloaded"))
    with ahtjp.api() as api:
        document = sorted((SCHEMAS / "alert" / "examples").glob("*.xml"))[0].read_text()
        message = api.post("/messages", json={"to": "vn.c02", "type": "alert",
                                              "document": document}).json()["id"]
    wait_for(lambda: any(message in line and "unauthenticated" in line
                         for line in ahtjp.messages()))
    assert message not in states(c02, "in")


def _audited(node: NodeProcess, action: str) -> bool:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        found = conn.execute("SELECT count(*) FROM audit_log WHERE action = ?",
                             (action,)).fetchone()[0]
    return bool(found)
