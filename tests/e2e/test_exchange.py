"""Separate ``gateway serve`` processes exchange every document type, pushed and pulled; the
pulling node signs with ES256, and witnesses and is witnessed (PROTOCOL.md §4.8) with its
separate Ed25519 checkpoint key."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.protocol import tlog
from gateway.protocol.bearer import issue_bearer
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.jose import SigningKey
from gateway.protocol.receipts import build_receipt
from gateway.trust.keys import KeyStore
from tests.conftest import REPO, SCHEMAS, example, make_key
from tests.e2e.federation import NodeProcess, handed_over
from tests.e2e.screenshots import keep
from tests.e2e.test_console import PASSWORD, Desk

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
    return {message_id: state for message_id, (state, _) in node.states(direction).items()}


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
    # la.atd logs how its mail came: pulled, never "by bundle" (it imported none)
    with sqlite3.connect(atd.data_dir / "gateway.db") as conn:
        via = {json.loads(d)["via"] for (d,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'message.received'")}
    assert via == {"pull"}
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


def cosigners(node: NodeProcess) -> str:
    return node.cli("audit", "checkpoint").stderr


def test_an_es256_node_that_pulls_witnesses_and_is_witnessed(
        federation: dict[str, NodeProcess], tmp_path: Path, browser: Any) -> None:
    c02, atd = federation["vn.c02"], federation["la.atd"]
    keys = {key["kid"]: key for key in json.loads(
        atd.cli("keys", "show", "--jwks-only").stdout)["keys"]}
    assert sorted(key["alg"] for key in keys.values()) == ["ES256", "EdDSA"]
    (checkpoint_kid,) = (kid for kid, key in keys.items() if key["alg"] == "EdDSA")
    assert checkpoint_kid.startswith("la.atd#checkpoints-")
    pinned = (c02.data_dir / "partners" / "la.atd.toml").read_text()
    assert checkpoint_kid in pinned  # pinned at enrolment, by its handed-over thumbprint
    # what the federation was built with (read over HTTP) is what the operator hands over
    assert atd.published_thumbprints() == atd.thumbprints()

    # la.atd cannot be reached: vn.c02's checkpoint waits in its mailbox, is pulled,
    # cosigned with la.atd's Ed25519 checkpoint key, and the answer comes back
    c02.cli("audit", "checkpoint", "--new")
    wait_for(lambda: c02.cosigned_by("la.atd"))
    wait_for(lambda: f"cosigned by {checkpoint_kid} " in cosigners(c02))
    wait_for(lambda: c02.cosigned_by("kh.ahtjp"))
    wait_for(lambda: "cosigned by kh.ahtjp#" in cosigners(c02))  # reached by push, too

    # la.atd's own checkpoints are signed with that key and cosigned by both partners
    made = atd.cli("audit", "checkpoint", "--new").stdout
    note = tlog.parse_note(made.encode())
    assert [s.name for s in note.signatures] == [checkpoint_kid]
    assert tlog.parse_checkpoint(note.text).origin == "bx/la.atd/audit"
    wait_for(lambda: atd.cosigned_by("vn.c02"))
    wait_for(lambda: "cosigned by vn.c02#" in cosigners(atd))
    wait_for(lambda: atd.cosigned_by("kh.ahtjp"))
    wait_for(lambda: "cosigned by kh.ahtjp#" in cosigners(atd))
    assert atd.cli("audit", "verify").returncode == 0

    # a proof bundle of a message la.atd received (signed ES256) checks out offline
    with sqlite3.connect(atd.data_dir / "gateway.db") as conn:
        (message_id,) = conn.execute(
            "SELECT message_id FROM messages JOIN receipts ON receipts.message_pk = messages.id "
            "WHERE direction = 'in' AND sender = 'vn.c02' AND doc_type = 'alert'").fetchone()
    bundle = tmp_path / "atd.zip"
    atd.cli("proof", "export", message_id, str(bundle), "--reason", "court")
    handed = handed_over(federation, tmp_path / "handed-over.json")
    checked = subprocess.run([sys.executable, "-I", str(REPO / "tools" / "bxproof.py"),
                              str(bundle), "--keys", str(handed)], capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip().endswith("the proof holds")

    # its administrator sees which key signs what, in Lao
    atd.add_user("admin.la", "admin", password=PASSWORD)
    admin = Desk(browser, atd, "admin.la", tmp_path, lang="lo")
    admin.go("/partners")
    rows = {row.split("\t")[0]: row for row in
            admin.page.locator("#own-keys tr").all_inner_texts()}
    assert "ລົງລາຍເຊັນຈຸດກວດກາ" in rows[checkpoint_kid]  # "signs checkpoints"
    assert "EdDSA" in rows[checkpoint_kid]
    keep(admin.shot("es256-keys-lo"), "es256-keys-lo.png")
    admin.close()


def _as_stranger(node: NodeProcess, token: str, raw: bytes | None) -> dict[str, Any]:
    """What ``node`` answers a push (``raw``) or a pull (None) under ``token``."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/jose+json"}
    if raw is None:
        response = httpx.get(f"{node.url}/messages", headers=headers, timeout=30)
    else:
        response = httpx.post(f"{node.url}/messages", content=raw, headers=headers, timeout=30)
    body = response.json()
    return {"status": response.status_code, "type": body["type"], "title": body["title"],
            "detail": body["detail"]}


def test_a_stranger_learns_nothing_of_whom_a_node_exchanges_with(
        federation: dict[str, NodeProcess]) -> None:
    """PROTOCOL.md §4.1: a token naming a node vn.c02 does not know is refused exactly as a
    partner's name with a forged key, push and pull alike."""
    c02 = federation["vn.c02"]
    now = datetime.now(UTC)
    stranger, impostor = make_key("th.police", "2026-12"), make_key("kh.ahtjp", "2026-12")
    document = sorted((SCHEMAS / "alert" / "examples").glob("*.xml"))[0].read_bytes()
    for raw in (None, b"{}"):
        answers = []
        for key in (stranger, impostor):
            node = key.kid.split("#")[0]
            message = compose_message(key, node, MessageDraft(type="alert", version="1.0",
                                                              to="vn.c02"), document, created=now)
            answers.append(_as_stranger(c02, issue_bearer(key, node, "vn.c02", now),
                                        None if raw is None else message))
        assert answers[0] == answers[1], answers
        assert answers[0]["status"] == 401
        assert answers[0]["type"] == "urn:bx:problem:unauthenticated"


def test_a_refused_body_is_never_parsed_for_its_audit_line(
        federation: dict[str, NodeProcess]) -> None:
    """An unauthenticated caller costs the node the bytes of one body, never their parsing:
    the audit line of the refusal names nothing the body claims."""
    c02 = federation["vn.c02"]
    now = datetime.now(UTC)
    key = make_key("kh.ahtjp", "2026-12")
    document = sorted((SCHEMAS / "alert" / "examples").glob("*.xml"))[0].read_bytes()
    message = compose_message(key, "kh.ahtjp", MessageDraft(type="alert", version="1.0",
                                                            to="vn.c02"), document, created=now)
    claimed = json.loads(b64url_decode(json.loads(message)["protected"]))["bx"]["id"]
    response = httpx.post(f"{c02.url}/messages", content=message, timeout=30,
                          headers={"Content-Type": "application/jose+json"})  # no token
    assert response.status_code == 401
    with sqlite3.connect(c02.data_dir / "gateway.db") as conn:
        lines = conn.execute("SELECT actor, subject, detail FROM audit_log "
                             "WHERE action = 'message.rejected'").fetchall()
    assert lines, "the refusal is audited"
    assert not [line for line in lines if claimed in str(line)], lines
def test_a_checkpoint_key_signs_no_message_token_or_receipt(
        federation: dict[str, NodeProcess]) -> None:
    """PROTOCOL.md §4.8: la.atd publishes its Ed25519 checkpoint key marked ``"key_ops":
    ["verify"]`` and ``"bx_use": "checkpoints"``; vn.c02 pinned it so at enrolment and
    refuses whatever else it signs, as someone who took la.atd's checkpoints.pem would send
    it: a message (under a valid token of la.atd), a bearer token, a receipt."""
    c02, atd = federation["vn.c02"], federation["la.atd"]
    published = httpx.get(f"{atd.url}/.well-known/jwks.json", timeout=30).json()["keys"]
    (marked,) = (key for key in published if key.get("bx_use") == "checkpoints")
    assert (marked["key_ops"], marked["alg"], marked["use"]) == (["verify"], "EdDSA", "sig")
    assert [key for key in published if "key_ops" in key] == [marked]
    pinned = tomllib.loads((c02.data_dir / "partners" / "la.atd.toml").read_text())["keys"]
    assert {k["kid"]: k.get("checkpoints_only", False) for k in pinned} == {
        k["kid"]: k["kid"] == marked["kid"] for k in published}
    keys = KeyStore(atd.data_dir / "keys" / "signing.pem", "la.atd")
    signing, stolen = keys.signing_key(), keys.checkpoint_key()
    assert (signing.alg, stolen.kid) == ("ES256", marked["kid"])
    now = datetime.now(UTC)

    def post(path: str, body: bytes, token_key: SigningKey) -> httpx.Response:
        token = issue_bearer(token_key, "la.atd", "vn.c02", now)
        return httpx.post(f"{c02.url}/{path}", content=body, timeout=30, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/jose+json"})

    def message(key: SigningKey) -> bytes:
        return compose_message(key, "la.atd", MessageDraft(type="alert", version="1.0",
                                                           to="vn.c02"),
                               example("alert"), created=now)

    before = set(states(c02, "in"))
    signed = post("messages", message(stolen), signing)
    assert signed.status_code == 401, signed.text
    assert signed.json()["type"] == "urn:bx:problem:bad-signature"
    assert "checkpoints" in signed.json()["detail"]
    carried = post("messages", message(signing), stolen)  # the token signed by it
    assert carried.status_code == 401, carried.text
    assert carried.json()["type"] == "urn:bx:problem:unauthenticated"
    assert set(states(c02, "in")) == before
    sent = send(c02, "la.atd", "alert")  # a real message la.atd pulls and acknowledges
    wait_for(lambda: states(c02, "out").get(sent) == "delivered")
    with sqlite3.connect(c02.data_dir / "gateway.db") as conn:
        (digest,) = conn.execute("SELECT digest FROM messages WHERE message_id = ?",
                                 (sent,)).fetchone()
    receipt = build_receipt(stolen, "la.atd", "vn.c02", sent, digest, now)
    acknowledged = post("receipts", receipt, signing)
    assert acknowledged.status_code == 401, acknowledged.text
    assert acknowledged.json()["type"] == "urn:bx:problem:bad-signature"


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
    wait_for(lambda: "unauthenticated" in (ahtjp.states("out").get(message, ("", None))[1]
                                           or ""))
    assert any(message in line and "unauthenticated" in line for line in ahtjp.messages())
    assert message not in states(c02, "in")


def _audited(node: NodeProcess, action: str) -> bool:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        found = conn.execute("SELECT count(*) FROM audit_log WHERE action = ?",
                             (action,)).fetchone()[0]
    return bool(found)
