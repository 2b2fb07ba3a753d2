"""Offline operation through the CLI: bundles, dead letters, audit, backup and restore."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from gateway.protocol.encoding import b64url_decode, b64url_encode
from tests.conftest import SCHEMAS
from tests.e2e.federation import NodeProcess

pytestmark = pytest.mark.e2e
EXAMPLE = SCHEMAS / "verification-response" / "examples" / "vn-c02-confirmed.xml"


@pytest.fixture(scope="module")
def pair_made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vn.c02 and kh.blo-bavet pinned through JWK files handed over, never served: made once
    per module, each test works on a copy of their folders."""
    root = tmp_path_factory.mktemp("offline-pair")
    c02, bavet = NodeProcess("vn.c02", root / "c02"), NodeProcess("kh.blo-bavet",
                                                                  root / "bavet")
    for node in (c02, bavet):
        node.generate_key()
        jwks = root / f"{node.node_id}.jwks.json"
        jwks.write_text(node.setup("keys", "show", "--jwks-only"))
    for node, other, mode in ((c02, bavet, "pull"), (bavet, c02, "push")):
        node.setup("partners", "enrol", other.node_id, "--thumbprint", other.thumbprint(),
                   "--jwks", str(root / f"{other.node_id}.jwks.json"), "--delivery", mode,
                   "--endpoint", "http://127.0.0.1:9/bx/v1")
    return root


@pytest.fixture
def offline_pair(pair_made: Path, tmp_path: Path) -> tuple[NodeProcess, NodeProcess]:
    """This test's own copy of the pair (their databases, keys and partner files)."""
    for home in ("c02", "bavet"):
        shutil.copytree(pair_made / home, tmp_path / home)
    return NodeProcess("vn.c02", tmp_path / "c02"), NodeProcess("kh.blo-bavet",
                                                                tmp_path / "bavet")


def db_count(node: NodeProcess, sql: str) -> int:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        value: int = conn.execute(sql).fetchone()[0]
    return value


def test_bundle_round_trip_twice_and_with_a_tampered_message(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, bavet = offline_pair
    ids = [c02.cli("send", str(EXAMPLE), "--to", "kh.blo-bavet", "--type",
                   "verification-response", "--priority", "urgent").stdout.strip()
           for _ in range(3)]
    assert all(len(i) == 36 for i in ids)
    bundle = tmp_path / "to-bavet.zip"
    exported = c02.cli("bundle", "export", "--to", "kh.blo-bavet", str(bundle))
    assert "3 messages written" in exported.stdout
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest == {"bx_bundle": 1, "from": "vn.c02", "to": "kh.blo-bavet",
                            "created": manifest["created"], "count": 3}
        assert sorted(archive.namelist()) == sorted(
            ["manifest.json"] + [f"messages/{i}.json" for i in ids])

    reply = tmp_path / "reply.zip"
    imported = bavet.cli("bundle", "import", str(bundle), "--receipts", str(reply))
    assert "accepted 3" in imported.stdout
    assert db_count(bavet, "SELECT count(*) FROM messages") == 3
    # Importing the same bundle again changes nothing and answers the same receipts.
    again = bavet.cli("bundle", "import", str(bundle), "--receipts", str(tmp_path / "r2.zip"))
    assert "accepted 0, already had 3" in again.stdout
    assert db_count(bavet, "SELECT count(*) FROM messages") == 3
    with zipfile.ZipFile(reply) as first, zipfile.ZipFile(tmp_path / "r2.zip") as second:
        for name in first.namelist():
            if name.startswith("receipts/"):
                assert first.read(name) == second.read(name)

    applied = c02.cli("bundle", "import", str(reply))
    assert "receipts applied 3" in applied.stdout
    assert all(" delivered " in line for line in c02.messages())
    assert "receipts applied 0" in c02.cli("bundle", "import", str(reply)).stdout

    # A bundle with one tampered message: the others are imported, the bad one reported.
    more = [c02.cli("send", str(EXAMPLE), "--to", "kh.blo-bavet", "--type",
                    "verification-response").stdout.strip() for _ in range(3)]
    second_bundle = tmp_path / "second.zip"
    c02.cli("bundle", "export", "--to", "kh.blo-bavet", str(second_bundle))
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(second_bundle) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == f"messages/{more[1]}.json":
                body = json.loads(data)
                document = b64url_decode(body["payload"]).replace(b"confirmed", b"not-national")
                body["payload"] = b64url_encode(document)
                data = json.dumps(body).encode()
            target.writestr(name, data)
    result = bavet.cli("bundle", "import", str(tampered), "--receipts",
                       str(tmp_path / "r3.zip"), check=False)
    assert result.returncode == 1
    assert "accepted 2" in result.stdout
    assert f"refused {more[1]}: bad-signature" in result.stderr
    assert db_count(bavet, "SELECT count(*) FROM messages") == 5
    assert "intact" in bavet.cli("audit", "verify").stdout


def test_bundle_that_is_not_for_us_or_not_a_zip_is_refused(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, bavet = offline_pair
    c02.cli("send", str(EXAMPLE), "--to", "kh.blo-bavet", "--type", "verification-response")
    bundle = tmp_path / "b.zip"
    c02.cli("bundle", "export", "--to", "kh.blo-bavet", str(bundle))
    wrong = c02.cli("bundle", "import", str(bundle), check=False)
    assert wrong.returncode == 1
    assert "is for kh.blo-bavet" in wrong.stderr
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    refused = bavet.cli("bundle", "import", str(junk), check=False)
    assert refused.returncode == 1
    assert "not a readable ZIP" in refused.stderr
    evil = tmp_path / "evil.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"bx_bundle": 1, "from": "vn.c02",
                                                      "to": "kh.blo-bavet", "count": 1}))
        archive.writestr("../../etc/evil.json", b"{}")
    evil.write_bytes(buffer.getvalue())
    assert "unexpected file" in bavet.cli("bundle", "import", str(evil), check=False).stderr
    assert db_count(bavet, "SELECT count(*) FROM messages") == 0


def test_send_refuses_an_invalid_document_with_its_place(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, _ = offline_pair
    bad = tmp_path / "bad.xml"
    bad.write_text(EXAMPLE.read_text().replace("<result>confirmed</result>",
                                               "<result>maybe</result>"))
    result = c02.cli("send", str(bad), "--to", "kh.blo-bavet", "--type",
                     "verification-response", check=False)
    assert result.returncode == 1
    assert "schema-invalid" in result.stderr
    assert "line 8" in result.stderr
    unknown = c02.cli("send", str(EXAMPLE), "--to", "th.dsi", "--type",
                      "verification-response", check=False)
    assert unknown.returncode == 1
    assert "not in the partner directory" in unknown.stderr
    assert c02.messages() == []


def test_dead_letter_is_shown_and_can_be_requeued(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    _, bavet = offline_pair
    # bavet pushes to an endpoint that refuses connections, with a one-hour deadline.
    partner = bavet.data_dir / "partners" / "vn.c02.toml"
    partner.write_text(partner.read_text().replace("deadline_hours = 72", "deadline_hours = 1"))
    message_id = bavet.cli("send", str(EXAMPLE), "--to", "vn.c02", "--type",
                           "verification-response").stdout.strip()
    assert "1 delivery attempts" in bavet.cli("messages", "drain").stdout
    queued = bavet.messages("queued")
    assert len(queued) == 1
    assert "ConnectError" in queued[0]
    with sqlite3.connect(bavet.data_dir / "gateway.db") as conn:
        conn.execute("UPDATE messages SET deadline_at = '2020-01-01 00:00:00.000000'")
    bavet.cli("messages", "drain")
    dead = bavet.messages("dead")
    assert len(dead) == 1
    assert message_id in dead[0]
    assert "deadline passed" in dead[0]
    assert "re-queued" in bavet.cli("messages", "retry", message_id).stdout
    assert len(bavet.messages("queued")) == 1
    again = bavet.cli("messages", "retry", message_id, check=False)
    assert again.returncode == 1
    assert "not dead" in again.stderr


def test_audit_verify_names_the_first_altered_entry(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, _ = offline_pair
    for _ in range(3):
        c02.cli("send", str(EXAMPLE), "--to", "kh.blo-bavet", "--type", "verification-response")
    assert "intact" in c02.cli("audit", "verify").stdout
    db = c02.data_dir / "gateway.db"
    with sqlite3.connect(db) as conn:
        seq = conn.execute("SELECT seq FROM audit_log WHERE action = 'message.queued' "
                           "ORDER BY seq LIMIT 1 OFFSET 1").fetchone()[0]
        conn.execute("UPDATE audit_log SET detail = '{}' WHERE seq = ?", (seq,))
    altered = c02.cli("audit", "verify", check=False)
    assert altered.returncode == 1
    assert f"entry {seq} was altered" in altered.stderr
    assert seq > 2
    with sqlite3.connect(db) as conn:  # a deletion before it is now the first break
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    missing = c02.cli("audit", "verify", check=False)
    assert missing.returncode == 1
    assert "entry 2 is missing" in missing.stderr


def test_backup_is_consistent_and_restores(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, _ = offline_pair
    ids = [c02.cli("send", str(EXAMPLE), "--to", "kh.blo-bavet", "--type",
                   "verification-response").stdout.strip() for _ in range(2)]
    out = tmp_path / "backup.db"
    assert "backup written" in c02.cli("backup", str(out)).stdout
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert c02.cli("backup", str(out), check=False).returncode == 1  # never overwrites
    restored = NodeProcess("vn.c02", tmp_path / "restored")
    shutil.copytree(c02.data_dir / "keys", restored.data_dir / "keys")
    shutil.copytree(c02.data_dir / "partners", restored.data_dir / "partners")
    shutil.copy(out, restored.data_dir / "gateway.db")
    listed = "\n".join(restored.messages())
    assert all(i in listed for i in ids)
    assert "intact" in restored.cli("audit", "verify").stdout


def test_a_database_from_a_newer_gateway_is_refused(tmp_path: Path,
        offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    c02, _ = offline_pair
    with sqlite3.connect(c02.data_dir / "gateway.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    result = c02.cli("messages", check=False)
    assert result.returncode == 1
    assert "newer than this gateway" in result.stderr
    assert result.stderr.count("\n") == 1


def test_partners_that_never_meet_online_cosign_through_bundles(
        tmp_path: Path, offline_pair: tuple[NodeProcess, NodeProcess]) -> None:
    """PROTOCOL.md §4.8 over offline bundles: the checkpoint goes on a bundle, the witness
    cosigns on import and its answer comes back on the next bundle."""
    c02, bavet = offline_pair
    c02.cli("audit", "checkpoint", "--new")  # queued for bavet, which c02 cannot reach
    outbound = tmp_path / "checkpoint-to-bavet.zip"
    c02.cli("bundle", "export", "--to", "kh.blo-bavet", str(outbound))
    imported = bavet.cli("bundle", "import", str(outbound), "--receipts",
                         str(tmp_path / "receipts.zip"))
    assert "accepted 1" in imported.stdout, imported.stdout
    assert db_count(bavet, "SELECT count(*) FROM witnessed") == 1
    answer = tmp_path / "cosignature-to-c02.zip"
    bavet.cli("bundle", "export", "--to", "vn.c02", str(answer))
    c02.cli("bundle", "import", str(answer))
    shown = c02.cli("audit", "checkpoint")
    assert "cosigned by kh.blo-bavet#" in shown.stderr, shown.stderr
