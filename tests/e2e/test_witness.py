"""Partners witness each other's audit logs over BX/1 (PROTOCOL.md §4.8), on real processes:
``vn.c02`` and ``kh.ahtjp`` exchange a message and cosign each other's checkpoints; proof
bundles of it verify offline, and bundles an attacker writes (forged in a node's own name, a
zip bomb, a name twice, hostile JSON, another sender's message of the same id: ``la.atd``
uses an id ``kh.ahtjp`` used) are refused by both checkers; then ``vn.c02``'s log is
rewritten (an entry altered, the chain and the tree recomputed, signed again with its real
key) and ``kh.ahtjp`` refuses it as a fork, keeps both checkpoints, counts it in
``/metrics`` and shows the alarm to its administrator; and ``kh.ahtjp``, restored from an
older backup, is refused as ``stale`` by ``vn.c02``."""

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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
from tests.conftest import REPO, SCHEMAS, example, make_key
from tests.e2e.federation import (
    GATEWAY,
    NodeProcess,
    handed_over,
    make_federation,
    wait_for,
)
from tests.e2e.screenshots import keep
from tests.e2e.test_console import PASSWORD, Desk
from tests.proof_forge import bomb, forge, members, zipped

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    running = make_federation(tmp_path_factory.mktemp("witness"),
                              {"vn.c02": "push", "kh.ahtjp": "push", "la.atd": "push"})
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
    """Whether ``other`` cosigned ``node``'s latest checkpoint, as the command shows it; polled
    in the database first (a command costs a second of CPU)."""
    if not node.cosigned_by(other.node_id):
        return False
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
    the first proof hash, line -1 the last signature line."""
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
    keys = handed_over(nodes, tmp_path / "handed-over.json")
    for node in (c02, kh):
        node.stop()
    try:
        for name in ("c02", "kh"):  # no node is running
            checked = standalone(tmp_path / f"{name}.zip", tmp_path / f"court-{name}",
                                 "--keys", str(keys))
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert checked.stdout.count("OK ") == 7
            assert checked.stdout.strip().endswith("the proof holds")
            # without the keys handed over: it holds with the bundle's own, and says so
            own = standalone(tmp_path / f"{name}.zip", tmp_path / f"court-{name}")
            assert own.returncode == 0, own.stdout
            assert "the keys inside the bundle are trusted" in own.stdout
            assert own.stdout.strip().splitlines()[-1].startswith(
                "the proof holds with the bundle's own keys only")
        # each node checks the other's bundle with its own keys and those it pinned
        for node, other in ((c02, "kh"), (kh, "c02")):
            verified = node.cli("proof", "verify", str(tmp_path / f"{other}.zip"))
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert "the keys inside the bundle are not trusted" in verified.stdout
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
        cosigner = json.loads(members(bundle)["manifest.json"])["cosigner_kid"]
        line = next(i for i, text in enumerate(members(bundle)["entry.tlog-proof"].decode()
                                               .split("\n"))
                    if text.startswith(f"\u2014 {cosigner} "))  # la.atd cosigned it too
        cosigned = altered(bundle, "entry.tlog-proof", lambda d: rewrite_line(d, line, 40),
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


# -- bundles an attacker writes: both checkers refuse them (tests/proof_forge.py) ---------------

@pytest.fixture(scope="module")
def genuine(nodes: dict[str, NodeProcess], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A proof bundle vn.c02 made of the request it sent kh.ahtjp (the first test's)."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    (message_id,) = query(kh, "SELECT message_id FROM messages WHERE direction = 'in' AND "
                              "doc_type = 'verification-request'")[0]
    out = tmp_path_factory.mktemp("genuine") / "c02.zip"
    c02.cli("proof", "export", message_id, str(out), "--reason", "the attacker's template")
    return out


def verifiers(nodes: dict[str, NodeProcess], bundle: Path, workdir: Path
              ) -> dict[str, subprocess.CompletedProcess[str]]:
    """What each checker says of a bundle on disk: ``gateway proof verify`` on vn.c02 and
    the standalone checker as a court runs it (with the keys the agencies handed over)."""
    keys = handed_over(nodes, workdir / "handed-over.json")
    return {"node": nodes["vn.c02"].cli("proof", "verify", str(bundle), check=False),
            "court": standalone(bundle, workdir / "court", "--keys", str(keys))}


def test_a_bundle_forged_in_the_nodes_own_name_does_not_hold_on_the_node(
        nodes: dict[str, NodeProcess], tmp_path: Path) -> None:
    """Every signature valid, with keys the forger made for vn.c02 and its partner: under
    new key ids, and under the real ones (a node's key ids are public)."""
    c02, kh = nodes["vn.c02"], nodes["kh.ahtjp"]
    real = {node.node_id: json.loads("{" + node.cli("keys", "show").stdout.split("\n{", 1)[1])
            ["keys"][0]["kid"] for node in (c02, kh)}
    for name, kids in (("new-kids", {n: f"{n}#forged" for n in real}), ("real-kids", real)):
        keys = {node: SigningKey(kid, Ed25519PrivateKey.generate()) for node, kid in kids.items()}
        bundle = tmp_path / f"forged-{name}.zip"
        bundle.write_bytes(zipped(forge("vn.c02", "kh.ahtjp", "vn.c02", keys=keys)
                                  .files.items()))
        on_node = c02.cli("proof", "verify", str(bundle), check=False)
        assert on_node.returncode == 1, on_node.stdout
        assert "trusted: this node's own keys and the keys it pinned for its partners " \
               "(kh.ahtjp, la.atd); the keys inside the bundle are not trusted" in on_node.stdout
        assert "FAILS: keys: vn.c02#" in on_node.stdout  # the first key the forger lists
        assert "is not one of this node's own keys" in on_node.stdout
        assert "the proof does not hold" in on_node.stderr
        # the standalone checker: with the keys handed over, refused; without, it holds
        # with the forger's keys, and says that this proves nothing by itself
        court = verifiers(nodes, bundle, tmp_path)["court"]
        assert court.returncode == 1, court.stdout
        assert "FAILED keys:" in court.stdout
        trusting = standalone(bundle, tmp_path / "court")
        assert "NOTE   no --keys: the keys inside the bundle are trusted" in trusting.stdout
        assert "keys: NOT CHECKED against keys you trust" in trusting.stdout
        assert trusting.stdout.strip().splitlines()[-1].startswith(
            "the proof holds with the bundle's own keys only")


def peak_memory(args: list[str], cwd: Path, env: dict[str, str] | None = None
                ) -> tuple[int, str, int]:
    """Exit status, output and peak resident memory (MiB) of a command, measured in a small
    wrapper process (a child forked from pytest would count pytest's own memory)."""
    wrapper = ("import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], check=False)\n"
               "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(done.returncode)\n")
    done = subprocess.run([sys.executable, "-I", "-c", wrapper, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    said, _, peak = done.stdout.rpartition("PEAK ")
    return done.returncode, said + done.stderr, int(peak) // 1024


def test_zip_bombs_are_refused_before_they_fill_the_memory(
        nodes: dict[str, NodeProcess], genuine: Path, tmp_path: Path) -> None:
    c02 = nodes["vn.c02"]
    court = tmp_path / "court"
    court.mkdir()
    shutil.copy(REPO / "tools" / "bxproof.py", court / "bxproof.py")
    for member in ("message.json", "keys.json"):
        bundle = tmp_path / f"bomb-{member}.zip"
        bomb(bundle, members(genuine), member, 512 * 1024 * 1024)
        assert bundle.stat().st_size < 600 * 1024  # a small file that inflates to 512 MiB
        for who, (args, cwd, env) in {
                "node": ([GATEWAY, "proof", "verify", str(bundle)], c02.home, c02.env()),
                "court": ([sys.executable, "-I", "bxproof.py", str(bundle)], court, None),
        }.items():
            status, said, peak = peak_memory(args, cwd, env)
            assert status == 1, (who, said)
            assert peak < 160, f"{who} peaked at {peak} MiB on a bomb in {member}"
            assert f"{member} is 536870912 bytes once inflated; at most" in said, (who, said)
            assert "Traceback" not in said


def test_a_name_twice_in_a_bundle_is_refused(nodes: dict[str, NodeProcess], genuine: Path,
                                             tmp_path: Path) -> None:
    """Zip tools show the first copy; a checker that read the last would vouch for a
    message nobody sees."""
    files = members(genuine)
    shown = json.loads(files["manifest.json"])
    shown["message_id"] = "00000000-0000-4000-8000-000000000000"
    for name, first in (("message.json", files["receipt.json"]),
                        ("manifest.json", json.dumps(shown).encode())):
        bundle = tmp_path / f"twice-{name}.zip"
        bundle.write_bytes(zipped([(name, first), *files.items()]))
        with zipfile.ZipFile(bundle) as archive:  # what unzip shows: the first copy
            assert archive.open(archive.infolist()[0]).read() == first
        said = verifiers(nodes, bundle, tmp_path)
        for who, done in said.items():
            assert done.returncode == 1, (who, done.stdout)
            assert f"the bundle holds {name} more than once" in done.stdout + done.stderr


HOSTILE = {"manifest.json": b"[]",
           "manifest.json-deep": b'{"format": "bx-proof/1", "x": ' + b"[" * 50_000
           + b"]" * 50_000 + b"}",
           "keys.json": b"{}", "keys.json-5": b'{"keys": 5}'}


def test_hostile_json_in_a_bundle_ends_in_a_named_check(
        nodes: dict[str, NodeProcess], genuine: Path, tmp_path: Path) -> None:
    files = members(genuine)
    for case, content in HOSTILE.items():
        member = case.split("-")[0]
        bundle = tmp_path / f"hostile-{case}.zip"
        bundle.write_bytes(zipped({**files, member: content}.items()))
        for who, done in verifiers(nodes, bundle, tmp_path).items():
            said = done.stdout + done.stderr
            assert done.returncode == 1, (case, who, said)
            assert "Traceback" not in said, (case, who, said)
            assert member in said or "not a bx-proof/1 bundle" in said, (case, who, said)


def _pushed_as(node: NodeProcess, to: NodeProcess, message_id: str, handling: str) -> None:
    """A message of ``node`` with an id of its choosing, pushed on the wire to ``to``."""
    key = KeyStore(node.data_dir / "keys" / "signing.pem", node.node_id).signing_key()
    now = datetime.now(UTC)
    raw = compose_message(key, node.node_id, MessageDraft(
        "verification-request", "1.0", to.node_id, handling=handling),  # type: ignore[arg-type]
        example("verification-request"), created=now, message_id=message_id)
    pushed = httpx.post(f"{to.url}/messages", content=raw, timeout=30, headers={
        "Content-Type": "application/jose+json",
        "Authorization": f"Bearer {issue_bearer(key, node.node_id, to.node_id, now)}"})
    assert pushed.status_code == 202, pushed.text


def test_a_message_id_two_partners_used_is_proved_as_each_senders_own(
        nodes: dict[str, NodeProcess], tmp_path: Path) -> None:
    """Ids are unique per sender only: kh.ahtjp sends vn.c02 an H2 request, la.atd a
    request with the same id. Each is proved as its own sender's, from its own case; the
    command line asks whose; a court's checker refuses one's entry under the other."""
    c02, kh, la = nodes["vn.c02"], nodes["kh.ahtjp"], nodes["la.atd"]
    message_id = "5f0c2a9e-8d7b-4c6a-9e5f-4d3c2b1a0f9e"
    _pushed_as(kh, c02, message_id, "H2")
    _pushed_as(la, c02, message_id, "H1")

    def filed() -> dict[str, int] | None:
        found = dict(query(c02, "SELECT m.sender, cc.case_id FROM messages m JOIN "
                                "case_conversations cc ON cc.conversation = m.conversation "
                                "AND cc.partner = m.sender WHERE m.message_id = ? AND "
                                "m.attach_pending = 0", message_id))
        return found if len(found) == 2 else None

    cases = wait_for(filed, "vn.c02 to file both messages in their cases")
    assert cases["kh.ahtjp"] != cases["la.atd"]
    c02.cli("audit", "checkpoint", "--new")
    wait_for(lambda: cosigned_by(c02, kh) and cosigned_by(c02, la),
             "both partners to cosign vn.c02's checkpoint")
    c02.add_user("investigator.c02", "investigator", password=PASSWORD)
    with c02.session("investigator.c02", PASSWORD) as api:
        answer = api.post(f"/cases/{cases['la.atd']}/messages/{message_id}/proof",
                          params={"reason": "court of Vientiane"})
    assert answer.status_code == 200, answer.text
    from_case = tmp_path / "from-la-case.zip"
    from_case.write_bytes(answer.content)
    manifest = json.loads(members(from_case)["manifest.json"])
    assert (manifest["sender"], manifest["handling"]) == ("la.atd", "H1")  # not kh.ahtjp's H2
    # at the command line: whose message? --from says
    asked = c02.cli("proof", "export", message_id, str(tmp_path / "which.zip"), check=False)
    assert asked.returncode == 1
    assert "more than one sender used the message id" in asked.stderr
    assert "kh.ahtjp, la.atd" in asked.stderr
    h2 = c02.cli("proof", "export", "--from", "kh.ahtjp", message_id,
                 str(tmp_path / "h2.zip"), check=False)
    assert h2.returncode == 1
    assert "H2" in h2.stderr  # the H2 rule, on kh.ahtjp's own message
    # printing it at the host asks whose too
    printed = tmp_path / "printed.html"
    asked = c02.cli("render", message_id, "--reason", "court", "--html", str(printed),
                    check=False)
    assert asked.returncode == 1
    assert "more than one sender used the message id" in asked.stderr
    assert not printed.exists()
    c02.cli("render", message_id, "--from", "la.atd", "--reason", "court", "--html",
            str(printed))
    (detail,) = [json.loads(d) for s, d in actions(c02, "document.exported") if s == message_id]
    assert detail["via"] == "cli"
    bundles = {}
    for sender, extra in (("la.atd", ()), ("kh.ahtjp", ("--within-case",))):
        bundles[sender] = tmp_path / f"{sender}.zip"
        c02.cli("proof", "export", "--from", sender, *extra, message_id,
                str(bundles[sender]), "--reason", "court")
        assert json.loads(members(bundles[sender])["manifest.json"])["sender"] == sender
        for who, done in verifiers(nodes, bundles[sender], tmp_path).items():
            assert done.returncode == 0, (sender, who, done.stdout + done.stderr)
    # kh.ahtjp's message and receipt, with la.atd's entry and its inclusion proof: the same
    # id, the same log, a checkpoint both partners cosigned
    kh_files, la_files = members(bundles["kh.ahtjp"]), members(bundles["la.atd"])
    forged = json.loads(kh_files["manifest.json"])
    forged["entry_seq"] = json.loads(la_files["manifest.json"])["entry_seq"]
    mixed = tmp_path / "mixed.zip"
    mixed.write_bytes(zipped({**kh_files, "manifest.json": json.dumps(forged).encode(),
                              "entry.json": la_files["entry.json"],
                              "entry.tlog-proof": la_files["entry.tlog-proof"]}.items()))
    said = verifiers(nodes, mixed, tmp_path)
    assert said["court"].returncode == 1, said["court"].stdout
    assert "FAILED entry: the audit entry records message.received by la.atd, not by " \
           "kh.ahtjp" in said["court"].stdout
    assert said["node"].returncode == 1, said["node"].stdout
    assert "FAILS: audit entry:" in said["node"].stdout


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
