"""Partners witness each other's audit logs over BX/1 (PROTOCOL.md §4.8), on real processes:
``vn.c02`` and ``kh.ahtjp`` exchange a message and cosign each other's checkpoints; then
``vn.c02``'s log is rewritten (an entry altered, the chain and the tree recomputed, signed
again with its real key) and ``kh.ahtjp`` refuses it as a fork, keeps both checkpoints, counts
it in ``/metrics`` and shows the alarm to its administrator; and ``kh.ahtjp``, restored from
an older backup, is refused as ``stale`` by ``vn.c02``."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from playwright.sync_api import expect

from gateway.audit.log import entry_bytes, entry_hash
from gateway.bxproof import ORDER, Bundle, run_checks
from gateway.documents import witness as witness_documents
from gateway.protocol import tlog
from gateway.protocol.bearer import issue_bearer
from gateway.protocol.envelope import MessageDraft, compose_message, parse_body, parse_envelope
from gateway.protocol.jose import SigningKey, public_jwk, thumbprint
from gateway.store.crypto import load_sealer
from gateway.store.messages import RAW_COLUMN
from gateway.trust.keys import KeyStore
from tests.conftest import REPO, SCHEMAS, make_key
from tests.e2e.federation import NodeProcess, make_federation, wait_for
from tests.e2e.screenshots import keep
from tests.e2e.test_console import PASSWORD, Desk

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    running = make_federation(tmp_path_factory.mktemp("witness"),
                              {"vn.c02": "push", "kh.ahtjp": "push"})
    running["kh.ahtjp"].add_user("admin.kh", "admin", password=PASSWORD)
    running["kh.ahtjp"].add_user("investigator.kh", "investigator", password=PASSWORD)
    yield running
    for node in running.values():
        node.stop()


def query(node: NodeProcess, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        return conn.execute(sql, args).fetchall()


def actions(node: NodeProcess, action: str) -> list[Any]:
    return query(node, "SELECT subject, detail FROM audit_log WHERE action = ?", action)


def cosigned_by(node: NodeProcess, other: NodeProcess) -> bool:
    shown = node.cli("audit", "checkpoint")
    return f"cosigned by {other.node_id}#" in shown.stderr


def test_two_nodes_cosign_each_others_checkpoints(nodes: dict[str, NodeProcess],
                                                  tmp_path: Path) -> None:
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    document = tmp_path / "request.xml"
    document.write_bytes(sorted((SCHEMAS / "verification-request" / "examples")
                                .glob("*.xml"))[0].read_bytes())
    c02.cli("send", str(document), "--to", "kh.ahtjp", "--type", "verification-request")
    wait_for(lambda: query(kh, "SELECT count(*) FROM messages WHERE direction = 'in' AND "
                               "doc_type = 'verification-request'") == [(1,)],
             "kh.ahtjp to receive the request")
    shutil.copy(kh.data_dir / "gateway.db", tmp_path.parent / "kh-early.db")  # for later
    for node in (c02, kh):
        made = node.cli("audit", "checkpoint", "--new")
        checkpoint = tlog.parse_checkpoint(tlog.parse_note(made.stdout.encode()).text)
        assert checkpoint.origin == f"bx/{node.node_id}/audit"
    wait_for(lambda: cosigned_by(c02, kh), "kh.ahtjp to cosign vn.c02's checkpoint")
    wait_for(lambda: cosigned_by(kh, c02), "vn.c02 to cosign kh.ahtjp's checkpoint")
    # each kept the other's checkpoint it cosigned, in the transaction that signed it
    assert query(kh, "SELECT origin FROM witnessed") == [("bx/vn.c02/audit",)]
    assert query(c02, "SELECT origin FROM witnessed") == [("bx/kh.ahtjp/audit",)]
    assert actions(kh, "witness.cosigned")
    for node in (c02, kh):  # the system documents opened no case
        assert query(node, "SELECT count(*) FROM cases WHERE partner IS NULL") == [(0,)]
        assert node.cli("audit", "verify").returncode == 0


def sign_as(node: NodeProcess) -> SigningKey:
    """The key a node signs its messages with, as someone holding its key file would use it."""
    return KeyStore(node.data_dir / "keys" / "signing.pem", node.node_id).signing_key()


def push_as(sender: NodeProcess, receiver: NodeProcess, doc_type: str, document: bytes,
            ref: str | None = None) -> tuple[str, httpx.Response]:
    """A system document signed with the sender's real key, pushed to the receiver as any
    node (or anyone who wrote software against PROTOCOL.md) would push it."""
    key, now, message_id = sign_as(sender), datetime.now(UTC), str(uuid.uuid4())
    raw = compose_message(key, sender.node_id, MessageDraft(
        type=doc_type, version="1.0", to=receiver.node_id, ref=ref, lang="en"), document,
        created=now, message_id=message_id)
    token = issue_bearer(key, sender.node_id, receiver.node_id, now)
    return message_id, httpx.post(f"{receiver.url}/messages", content=raw, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/jose+json"})


def answer_to(node: NodeProcess, ref: str) -> witness_documents.CosignatureFields | None:
    """The cosignature (or refusal) a node queued in answer to the checkpoint ``ref``."""
    rows = query(node, "SELECT raw FROM messages WHERE direction = 'out' AND doc_type = "
                       "'cosignature' AND ref = ?", ref)
    if not rows:
        return None
    sealer = load_sealer(node.data_dir / "keys" / "secret.key")
    envelope = parse_envelope(parse_body(sealer.open(bytes(rows[0][0]), RAW_COLUMN)))
    return witness_documents.read_cosignature(envelope.document)


@contextlib.contextmanager
def pinned_too(node: NodeProcess, partner: str, *keys: tuple[SigningKey, dict[str, str]]
               ) -> Iterator[None]:
    """More keys of ``partner`` pinned at ``node`` (each with its window), as an operator
    leaves a former key pinned after a rotation; the partner file as it was afterwards."""
    path = node.data_dir / "partners" / f"{partner}.toml"
    before = path.read_text(encoding="utf-8")
    data = tomllib.loads(before)
    for key, window in keys:
        jwk = public_jwk(key.public_key())
        data["keys"].append({"kid": key.kid, "thumbprint": thumbprint(jwk), "jwk": jwk,
                             **window})
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    try:
        with node.api() as api:
            assert api.post("/admin/partners/reload").json()["problems"] == []
        yield
    finally:
        path.write_text(before, encoding="utf-8")
        with node.api() as api:
            api.post("/admin/partners/reload")


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def windows() -> tuple[datetime, dict[str, str], dict[str, str]]:
    """Now, a window that closed yesterday and one that opens next year."""
    now = datetime.now(UTC)
    return (now, {"not_after": stamp(now - timedelta(days=1))},
            {"not_before": stamp(now + timedelta(days=365))})


def test_a_key_outside_its_window_signs_no_checkpoint(nodes: dict[str, NodeProcess]) -> None:
    """PROTOCOL.md §2 and §4.8: a note is verified against the key's state at receipt.
    vn.c02's former key (its window closed yesterday) and its key of next year sign a
    checkpoint kh.ahtjp would cosign with a valid key: refused ``bad-signature``."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    _now, closed, ahead = windows()
    former, following = make_key("vn.c02", "2025-11"), make_key("vn.c02", "2027-11")
    (size, root), = query(kh, "SELECT size, root FROM witnessed WHERE origin = ?",
                          "bx/vn.c02/audit")
    text = tlog.Checkpoint("bx/vn.c02/audit", size, bytes(root)).text()
    with pinned_too(kh, "vn.c02", (former, closed), (following, ahead)):
        for key in (former, following):
            note = tlog.sign_note(text, key.kid, key.private_key).encode()  # type: ignore[arg-type]
            document = witness_documents.write_checkpoint(witness_documents.CheckpointFields(
                "bx/vn.c02/audit", size, size, (), note))
            offered, response = push_as(c02, kh, "checkpoint", document)
            assert response.status_code == 202, response.text
            answer = wait_for(lambda ref=offered: answer_to(kh, ref), "kh.ahtjp to answer")
            assert (answer.refusal, answer.signature) == ("bad-signature", None), key.kid
    refused = [json.loads(detail) for subject, detail in actions(kh, "witness.refused")]
    assert sum(r.get("why") == "no known key signed the note" for r in refused) >= 2


def test_a_key_outside_its_window_cosigns_nothing(nodes: dict[str, NodeProcess]) -> None:
    """PROTOCOL.md §4.8: a cosignature is verified against the key's state at receipt.
    kh.ahtjp's former key (its window closed yesterday) cosigns vn.c02's latest checkpoint:
    vn.c02 does not keep it with the checkpoint, nor show it as kh.ahtjp's."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    now, closed, _ahead = windows()
    (size, note), = query(c02, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC "
                               "LIMIT 1")
    stored = tlog.parse_note(bytes(note))
    retired = make_key("kh.ahtjp", "2025-11")
    signature = tlog.cosign(stored, retired.kid, retired.private_key,  # type: ignore[arg-type]
                            int(now.timestamp()) - 86400 * 2)  # says: made in its window
    answer_document = witness_documents.write_cosignature(witness_documents.CosignatureFields(
        "bx/vn.c02/audit", size, tlog.parse_checkpoint(stored.text).root,
        signature=signature))
    with pinned_too(c02, "kh.ahtjp", (retired, closed)):
        answered, response = push_as(kh, c02, "cosignature", answer_document)
        assert response.status_code == 202, response.text
        wait_for(lambda: any(subject == answered for subject, _ in
                             actions(c02, "witness.answer-refused")),
                 "vn.c02 to refuse the cosignature")
    (kept,), = query(c02, "SELECT note FROM audit_checkpoints WHERE size = ?", size)
    assert retired.kid not in bytes(kept).decode()
    assert retired.kid not in c02.cli("audit", "checkpoint").stderr


def test_a_checkpoint_the_schema_accepts_is_answered_never_dropped(
        nodes: dict[str, NodeProcess]) -> None:
    """The note of a checkpoint base64-encoded over lines of 64 characters, as many encoders
    write it (valid ``xs:base64Binary``): kh.ahtjp reads it as the schema does and answers
    (before, the receipt came and then nothing: the case work failed on it)."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    (size, note), = query(kh, "SELECT size, note FROM witnessed WHERE origin = ?",
                          "bx/vn.c02/audit")
    flat = base64.b64encode(bytes(note)).decode()
    wrapped = "\n".join(flat[i:i + 64] for i in range(0, len(flat), 64))
    document = witness_documents.write_checkpoint(witness_documents.CheckpointFields(
        "bx/vn.c02/audit", size, size, (), bytes(note))).replace(
        flat.encode(), f"\n{wrapped}\n".encode())
    assert wrapped.encode() in document
    offered, response = push_as(c02, kh, "checkpoint", document)
    assert response.status_code == 202, response.text
    answer = wait_for(lambda: answer_to(kh, offered), "kh.ahtjp to answer the checkpoint", 30)
    assert answer.signature is not None  # vn.c02's own note, read through its line breaks
    assert not [s for s, _ in actions(kh, "case.attach-failed") if s == offered]


def test_a_cosignature_with_both_a_signature_and_a_refusal_is_refused_before_its_receipt(
        nodes: dict[str, NodeProcess]) -> None:
    """A cosignature that holds both a signature and a refusal (which the schema's types
    cannot forbid, and which the node cannot keep) is refused ``schema-invalid`` on the wire,
    not receipted and then dropped."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    stored = tlog.parse_note(bytes(query(c02, "SELECT note FROM audit_checkpoints ORDER BY "
                                              "size DESC LIMIT 1")[0][0]))
    checkpoint = tlog.parse_checkpoint(stored.text)
    mine = sign_as(kh)
    both = witness_documents.write_cosignature(witness_documents.CosignatureFields(
        "bx/vn.c02/audit", checkpoint.size, checkpoint.root, signature=tlog.cosign(
            stored, mine.kid, mine.private_key, int(time.time()))))  # type: ignore[arg-type]
    both = both.replace(b"</cosignature>", b"<refusal><reason>stale</reason></refusal>"
                                           b"</cosignature>")
    refused_id, refused = push_as(kh, c02, "cosignature", both)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:bx:problem:schema-invalid"
    assert "either a signature or a refusal" in problem["detail"]
    assert query(c02, "SELECT count(*) FROM messages WHERE message_id = ?", refused_id) == [(0,)]


STANDALONE = """
import runpy, sys
sys.modules["gateway"] = None  # the checker must not need the gateway: importing it fails
sys.argv = ["bxproof.py", *sys.argv[1:]]
runpy.run_path("bxproof.py", run_name="__main__")
"""


def standalone(bundle: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The checker as a court runs it: its own file, in a folder of its own."""
    workdir.mkdir(exist_ok=True)
    shutil.copy(REPO / "tools" / "bxproof.py", workdir / "bxproof.py")
    return subprocess.run([sys.executable, "-I", "-c", STANDALONE, str(bundle), *args],
                          cwd=workdir, capture_output=True, text=True, timeout=60, check=False)


def altered(bundle: Path, member: str, change: Callable[[bytes], bytes], out: Path) -> Path:
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, change(data) if name == member else data)
    return out


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def rewrite_line(proof: bytes, line: int, at: int) -> bytes:
    """One bit of a base64 value of a tlog-proof changed, the value still base64: line 3 is
    the first proof hash, line -1 the last signature line (the partner's cosignature)."""
    lines = proof.decode().split("\n")
    index = line if line >= 0 else len(lines) - 2  # the text ends with a newline
    prefix, _, value = lines[index].rpartition(" ")
    raw = base64.b64decode(value)
    changed = base64.b64encode(raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]).decode()
    lines[index] = f"{prefix} {changed}" if prefix else changed
    return "\n".join(lines).encode()


def test_proof_bundles_of_each_side_verify_offline(nodes: dict[str, NodeProcess],
                                                   tmp_path: Path) -> None:
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    (message_id,) = query(kh, "SELECT message_id FROM messages WHERE direction = 'in' AND "
                              "doc_type = 'verification-request'")[0]
    sent = c02.cli("proof", "export", message_id, str(tmp_path / "c02.zip"), "--reason",
                   "evidence for the Tay Ninh court")
    assert "bxproof.py" in sent.stdout
    kh.cli("proof", "export", message_id, str(tmp_path / "kh.zip"), "--reason", "court")
    for node in (c02, kh):
        exported = actions(node, "proof.exported")
        assert [subject for subject, _ in exported] == [message_id]
    for node in (c02, kh):
        node.stop()
    try:
        for name in ("c02", "kh"):  # no node is running
            checked = standalone(tmp_path / f"{name}.zip", tmp_path / f"court-{name}")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert checked.stdout.count("OK ") == 7
            assert checked.stdout.strip().endswith("the proof holds")
        verified = c02.cli("proof", "verify", str(tmp_path / "kh.zip"))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # one altered byte anywhere, and the checker names what failed
        bundle = tmp_path / "c02.zip"
        cases = {
            "message.json": (lambda d: d.replace(b'"payload":"', b'"payload":"A', 1),
                             "message"),
            "receipt.json": (lambda d: flip(d, d.index(b'"signature":"') + 20), "receipt"),
            "entry.json": (lambda d: d.replace(b"message.received", b"message.receiveD")
                           .replace(b"receipt.received", b"receipt.receiveD"), "entry"),
            "entry.tlog-proof": (lambda d: rewrite_line(d, 3, 0), "inclusion"),
        }
        for member, (change, check) in cases.items():
            bad = altered(bundle, member, change, tmp_path / f"bad-{member}.zip")
            result = standalone(bad, tmp_path / "court-bad")
            assert result.returncode == 1, (member, result.stdout)
            assert f"FAILED {check}:" in result.stdout, (member, result.stdout)
        cosigned = altered(bundle, "entry.tlog-proof", lambda d: rewrite_line(d, -1, 40),
                           tmp_path / "bad-cosignature.zip")  # its Ed25519 signature
        result = standalone(cosigned, tmp_path / "court-bad")
        assert result.returncode == 1
        assert "FAILED cosignature:" in result.stdout, result.stdout
    finally:
        for node in (c02, kh):
            node.start()


def test_an_investigator_makes_the_proof_from_the_message_page(
        nodes: dict[str, NodeProcess], browser: Any, tmp_path: Path) -> None:
    kh = nodes["kh.ahtjp"]
    (message_id, case_id), = query(
        kh, "SELECT m.message_id, cc.case_id FROM messages m JOIN case_conversations cc ON "
            "cc.conversation = m.conversation AND cc.partner = m.sender WHERE m.direction = "
            "'in' AND m.doc_type = 'verification-request'")
    desk = Desk(browser, kh, "investigator.kh", tmp_path, lang="km")
    desk.go(f"/cases/{case_id}/messages/{message_id}")
    page = desk.page
    page.click("#proof-export")  # no reason: refused, nothing exported
    assert page.locator("#proof-reason:invalid").count() == 1
    page.fill("#proof-reason", "សំណុំរឿងតុលាការ 2026/17")
    with page.expect_download() as downloading:
        page.click("#proof-export")
    saved = tmp_path / "from-the-console.zip"
    downloading.value.save_as(saved)
    lines: list[tuple[str, bool]] = []
    assert run_checks(Bundle(str(saved), None), lambda c, ok, _t: lines.append((c, ok)))
    assert [c for c, ok in lines if ok] == list(ORDER)
    exported = [(subject, json.loads(detail)["reason"])
                for subject, detail in actions(kh, "proof.exported")]
    assert (message_id, "សំណុំរឿងតុលាការ 2026/17") in exported
    keep(desk.shot("proof-button-km"), "proof-button-km.png")
    desk.close()


def test_an_h2_message_is_proved_from_its_case_only(nodes: dict[str, NodeProcess],
                                                    tmp_path: Path) -> None:
    c02 = nodes["vn.c02"]
    document = tmp_path / "notice.xml"
    document.write_bytes(sorted((SCHEMAS / "suspect-notice" / "examples")
                                .glob("*.xml"))[0].read_bytes())
    message_id = c02.cli("send", str(document), "--to", "kh.ahtjp", "--type", "suspect-notice",
                         "--handling", "H2").stdout.strip().splitlines()[-1]
    refused = c02.cli("proof", "export", message_id, str(tmp_path / "h2.zip"), check=False)
    assert refused.returncode == 1
    assert "H2" in refused.stderr
    assert not (tmp_path / "h2.zip").exists()


def rewrite_history(node: NodeProcess, seq: int) -> None:
    """An entry altered, the chain and the Merkle tree recomputed, the node's own
    checkpoints deleted: a history a node could be made to present as its own."""
    with sqlite3.connect(node.data_dir / "gateway.db") as db:
        db.execute("UPDATE audit_log SET detail = '{\"rewritten\":true}' WHERE seq = ?", (seq,))
        prev, leaves = "0" * 64, []
        for row in db.execute("SELECT seq, at, actor, action, subject, detail FROM audit_log "
                              "ORDER BY seq").fetchall():
            digest = entry_hash(prev, *row)
            db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                       (prev, digest, row[0]))
            leaves.append(tlog.leaf_hash(entry_bytes(*row)))
            prev = digest
        edge, tree = tlog.grow(0, [], leaves)
        db.execute("DELETE FROM audit_tree")
        db.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)", tree)
        db.execute("UPDATE audit_head SET hash = ?, tree_edge = ?", (prev, b"".join(edge)))
        db.execute("DELETE FROM audit_checkpoints")


def test_a_rewritten_log_is_caught_by_its_partner(nodes: dict[str, NodeProcess],
                                                  browser: Any, tmp_path: Path) -> None:
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    c02.stop()
    rewrite_history(c02, 2)
    c02.start()
    assert c02.cli("audit", "verify").returncode == 0  # it checks out on its own
    c02.cli("audit", "checkpoint", "--new")  # signed with its real key, sent to kh.ahtjp
    wait_for(lambda: query(kh, "SELECT count(*) FROM witness_forks") == [(1,)],
             "kh.ahtjp to refuse the rewritten log")
    (held, offered), = query(kh, "SELECT held_note, offered_note FROM witness_forks")
    key = _public_key(c02)
    for note in (held, offered):  # both signed by vn.c02 itself: evidence
        tlog.verify_note(tlog.parse_note(note), [key])
    assert tlog.parse_note(held).text != tlog.parse_note(offered).text
    assert actions(kh, "witness.fork")
    wait_for(lambda: actions(c02, "checkpoint.alarm"), "vn.c02 to hear of the refusal")
    token = (kh.data_dir / "keys" / "metrics.token").read_text().strip()
    metrics = httpx.get(f"http://127.0.0.1:{kh.port}/metrics",
                        headers={"Authorization": f"Bearer {token}"}).text
    assert 'bx_witness_forks{origin="bx/vn.c02/audit"} 1.0' in metrics
    admin = Desk(browser, kh, "admin.kh", tmp_path, lang="km")
    admin.go("/partners")
    alarm = admin.page.locator("#witness-alarm")
    expect(alarm).to_be_visible()
    assert "bx/vn.c02/audit" in alarm.inner_text()
    keep(admin.shot("witness-alarm-km"), "witness-alarm-km.png")
    admin.close()


def _public_key(node: NodeProcess) -> tlog.Verifier:
    pem = (node.data_dir / "keys" / "signing.pem").read_bytes()
    private = load_pem_private_key(pem, None)
    kid = query(node, "SELECT note FROM audit_checkpoints")[0][0].decode().split("\u2014 ")[1]
    return tlog.Verifier(kid.split(" ")[0], tlog.ED25519, private.public_key())  # type: ignore[arg-type]


def test_a_log_restored_from_an_older_backup_is_refused_as_stale(
        nodes: dict[str, NodeProcess], tmp_path: Path) -> None:
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    kh.stop()
    early = tmp_path.parent / "kh-early.db"
    for suffix in ("-wal", "-shm"):
        (kh.data_dir / f"gateway.db{suffix}").unlink(missing_ok=True)
    shutil.copy(early, kh.data_dir / "gateway.db")
    kh.start()
    kh.cli("audit", "checkpoint", "--new")
    wait_for(lambda: any('"reason":"stale"' in detail
                         for subject, detail in actions(c02, "witness.refused")
                         if subject == "bx/kh.ahtjp/audit"),
             "vn.c02 to refuse kh.ahtjp's rolled-back log")
    wait_for(lambda: actions(kh, "checkpoint.alarm")
             or actions(kh, "checkpoint.refused-by-partner"), "kh.ahtjp to hear of the refusal")
