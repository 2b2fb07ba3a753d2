"""Partners witness each other's audit logs over BX/1 (PROTOCOL.md §4.8), on real processes:
``vn.c02`` and ``kh.ahtjp`` exchange a message and cosign each other's checkpoints; then
``vn.c02``'s log is rewritten (an entry altered, the chain and the tree recomputed, signed
again with its real key) and ``kh.ahtjp`` refuses it as a fork, keeps both checkpoints, counts
it in ``/metrics`` and shows the alarm to its administrator; and ``kh.ahtjp``, restored from
an older backup, is refused as ``stale`` by ``vn.c02``."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.audit.log import entry_bytes, entry_hash
from gateway.protocol import tlog
from tests.conftest import SCHEMAS
from tests.e2e.federation import NodeProcess, make_federation, wait_for
from tests.e2e.test_console import PASSWORD, SCREENSHOTS, Desk

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    running = make_federation(tmp_path_factory.mktemp("witness"),
                              {"vn.c02": "push", "kh.ahtjp": "push"})
    running["kh.ahtjp"].add_user("kh.admin", "admin", password=PASSWORD)
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
    admin = Desk(browser, kh, "kh.admin", tmp_path, lang="km")
    admin.go("/partners")
    alarm = admin.page.locator("#witness-alarm")
    assert alarm.is_visible()
    assert "bx/vn.c02/audit" in alarm.inner_text()
    shutil.copy(admin.shot("witness-alarm-km"), SCREENSHOTS / "witness-alarm-km.png")
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
