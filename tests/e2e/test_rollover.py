"""Keys that roll over without downtime, between real ``gateway serve`` processes.

vn.c02 publishes a next key while messages flow both ways, kh.ahtjp's operator refreshes and
accepts it (its partner file says ``confirm``), vn.c02 activates it and retires the old one:
no message is refused and none is lost. Then kh.ahtjp's secret key is rotated, the rotation
killed halfway and run again: every sealed value stays readable, a session begun before keeps
working, and the old key goes once nothing needs it.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import signal
import sqlite3
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomli_w

from gateway.protocol.jose import public_jwk
from gateway.protocol.keyset import sign_key_set
from gateway.store import rekey
from gateway.store.crypto import load_sealer
from gateway.trust.keys import KeyStore
from tests.conftest import SCHEMAS, make_key
from tests.e2e.federation import GATEWAY, NodeProcess, make_federation, wait_for

pytestmark = pytest.mark.e2e
DOCUMENT = sorted((SCHEMAS / "verification-response" / "examples").glob("*.xml"))[0].read_text()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    nodes = make_federation(tmp_path_factory.mktemp("rollover"),
                            {"vn.c02": "push", "kh.ahtjp": "push"})
    yield nodes
    for node in nodes.values():
        node.stop()


def _db(node: NodeProcess, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        return conn.execute(sql, args).fetchall()


class Stream:
    """Messages sent both ways, every few milliseconds, until stopped."""

    def __init__(self, a: NodeProcess, b: NodeProcess) -> None:
        self.pairs = ((a, b), (b, a))
        self.sent: dict[str, list[str]] = {a.node_id: [], b.node_id: []}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        clients = {n.node_id: n.api() for n, _ in self.pairs}
        try:
            while not self._stop.is_set():
                for sender, receiver in self.pairs:
                    response = clients[sender.node_id].post("/messages", json={
                        "to": receiver.node_id, "type": "verification-response",
                        "document": DOCUMENT, "handling": "H1"})
                    if response.status_code != 202:
                        self.failures.append(response.text)
                    else:
                        self.sent[sender.node_id].append(str(response.json()["id"]))
                time.sleep(0.03)
        finally:
            for client in clients.values():
                client.close()

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _kids_seen_by(node: NodeProcess, sender: str) -> set[str]:
    return {json.loads(h)["kid"] for (h,) in _db(
        node, "SELECT header FROM messages WHERE direction = 'in' AND sender = ?", sender)}


def test_keys_roll_over_under_a_steady_stream(pair: dict[str, NodeProcess]) -> None:
    c02, kh = pair["vn.c02"], pair["kh.ahtjp"]
    old_kid = c02.cli("keys", "show").stdout.split()[0]
    with Stream(c02, kh) as stream:
        wait_for(lambda: len(stream.sent["vn.c02"]) > 5, "the stream to flow")
        published = c02.cli("keys", "rotate", "--next", "--label", "2027-05").stdout
        new_kid = published.split("kid: ")[1].split()[0]
        assert "not signing yet" in published
        signed = httpx.get(f"{c02.url}/.well-known/jwks.jws", timeout=10)
        assert signed.status_code == 200
        assert signed.headers["content-type"] == "application/jose+json"

        refreshed = kh.cli("partners", "refresh", "vn.c02").stdout
        assert f"signed by {old_kid}" in refreshed
        assert f"waiting for an administrator: {new_kid}" in refreshed
        (line,) = [x for x in kh.cli("partners", "pending").stdout.splitlines() if new_kid in x]
        assert kh.cli("partners", "accept", line.split()[0]).returncode == 0
        # The serving node re-reads the partner file on its own.
        with kh.api() as api:
            wait_for(lambda: any(k["kid"] == new_kid for p in api.get("/partners").json()[
                "partners"] if p["id"] == "vn.c02" for k in p["keys"]), "kh to pin the key")

        activated = c02.cli("keys", "activate", new_kid).stdout
        assert f"{new_kid} signs now" in activated
        wait_for(lambda: new_kid in _kids_seen_by(kh, "vn.c02"),
                 "a message signed with the new key")
        c02.cli("keys", "retire", old_kid, "--yes")
        time.sleep(1)
    assert stream.failures == []
    # Nothing refused, nothing lost: every message is delivered and accepted exactly once.
    for sender, receiver in ((c02, kh), (kh, c02)):
        ids = stream.sent[sender.node_id]
        assert len(ids) > 20

        def delivered(sender: NodeProcess = sender, receiver: NodeProcess = receiver,
                      ids: list[str] = ids) -> bool:
            out = dict(_db(sender, "SELECT message_id, state FROM messages "
                                   "WHERE direction = 'out'"))
            got = dict(_db(receiver, "SELECT message_id, state FROM messages "
                                     "WHERE direction = 'in'"))
            return all(out.get(i) == "delivered" and got.get(i) == "accepted" for i in ids)

        wait_for(delivered, f"every message from {sender.node_id}", timeout=120)
        assert _db(receiver, "SELECT count(*) FROM audit_log WHERE action LIKE '%rejected'"
                   ) == [(0,)]
    assert _kids_seen_by(kh, "vn.c02") == {old_kid, new_kid}
    pins = [json.loads(d) for (d,) in _db(kh, "SELECT detail FROM audit_log WHERE action = "
                                              "'partner.key-pinned'")]
    assert [(p["kid"], p["how"], p["vouched_by"]) for p in pins] == [
        (new_kid, "confirmed", old_kid)]
    assert "vn.c02#2027-05" in c02.cli("keys", "show").stdout.splitlines()[0]


#: A missing-person report that fills every sealed column of its two tables.
MISSING = {
    "person": {"name_latin": "SOK Srey Mom", "name_native": "សុខ ស្រីមុំ", "sex": "female",
               "birth": "2010", "estimated_age": None, "nationality": "KH", "home": None,
               "papers": [], "phones": ["+855 12 345 678"]},
    "last_seen": {"time": "2026-11-20T18:00:00+07:00", "place": {"province": "Svay Rieng"}},
    "reporter_relation": "parent", "narrative": "Left for work in Ho Chi Minh City.",
    "reporter": {"name": "Sok Chenda"},
    "photo": {"media_type": "image/png", "data": base64.b64encode(
        b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()}}


def _sealed_values(node: NodeProcess) -> int:
    """Open every sealed value of the node with the keys on disk now; answers how many."""
    sealer = load_sealer(node.data_dir / "keys" / "secret.key")
    opened = 0
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        for table, _pk, column, purpose in rekey.SEALED:
            query = f"SELECT {column} FROM {table.name} WHERE {column} IS NOT NULL"
            for (value,) in conn.execute(query):
                sealer.open(bytes(value), purpose)
                opened += 1
    return opened


def test_the_secret_rotates_killed_halfway_and_resumed(pair: dict[str, NodeProcess],
                                                       tmp_path: Path) -> None:
    kh = pair["kh.ahtjp"]
    secret = kh.data_dir / "keys" / "secret.key"
    kh.add_user("sophea", "blo-officer")
    with kh.session("sophea") as officer:  # begun before: must outlive the rotation
        case = officer.post("/cases", json={"kind": "repatriation", "partner": "vn.c02",
                                            "summary": "Girl found at Bavet"}).json()
        officer.post(f"/cases/{case['id']}/notes", json={"text": "Interpreter booked"})
        report = officer.post("/missing-persons", json=MISSING).json()  # its six columns
        total = _sealed_values(kh)
        assert total > 50  # the messages of the stream, the case, its persons and notes

        rotation = subprocess.Popen([GATEWAY, "secret", "rotate", "--batch", "1"], cwd=kh.home,
                                    env=kh.env(), stdout=subprocess.PIPE, text=True)
        assert rotation.stdout is not None
        first = rotation.stdout.readline()
        assert "new secret key" in first
        progress = rotation.stdout.readline()
        assert "messages.raw: 1 scanned" in progress
        rotation.send_signal(signal.SIGKILL)
        rotation.wait(30)
        left = [line for line in rotation.stdout.read().splitlines() if "finished" in line]
        assert left == []
        assert rekey.in_progress(secret)
        assert _sealed_values(kh) == total  # half-way: everything opens, old and new
        assert officer.get(f"/cases/{case['id']}").status_code == 200  # and the node serves
        assert officer.get(f"/cases/{case['id']}").json()["summary"] == "Girl found at Bavet"

        resumed = kh.cli("secret", "rotate")
        assert "resuming the rotation" in resumed.stdout
        assert "kept for 1 open session" in resumed.stdout
        assert rekey.in_progress(secret)
        assert officer.get(f"/cases/{case['id']}").status_code == 200  # not logged out
        officer.delete("/session")
    finished = kh.cli("secret", "rotate").stdout
    assert "rotation finished: 1 old key(s) deleted" in finished
    assert not rekey.in_progress(secret)
    assert _sealed_values(kh) >= total  # under the new key alone
    with kh.session("sophea") as again:
        shown = again.get(f"/cases/{case['id']}").json()
        assert shown["summary"] == "Girl found at Bavet"
        results = again.post("/search", json={"q": shown["reference"]}).json()["results"]
        assert [r["id"] for r in results] == [case["id"]]  # the blind index still finds it
        missing = again.get(f"/missing-persons/{report['id']}").json()
        assert (missing["person"], missing["narrative"]) == (MISSING["person"],
                                                             MISSING["narrative"])
    actions = [a for (a,) in _db(kh, "SELECT action FROM audit_log WHERE action LIKE "
                                     "'secret.%' ORDER BY seq")]
    assert actions == ["secret.resealed", "secret.rotated"]


@contextlib.contextmanager
def answering(path: str, body: bytes) -> Iterator[str]:
    """An HTTP server on loopback that answers ``body`` at ``path`` (and 404 elsewhere): a
    partner's endpoint as someone who took it over serves it. Yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == path
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/jose+json")
            self.end_headers()
            self.wfile.write(body if found else b"")

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bx/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_key_set_that_tries_a_substitution_pins_nothing(pair: dict[str, NodeProcess]
                                                          ) -> None:
    """Someone holding vn.c02's signing key answers for its endpoint with a signed key set
    that re-binds that key's kid to a key of theirs and lists a new kid of theirs beside it.
    kh.ahtjp, which pins vn.c02's new keys on their word (``key_continuity = "auto"``),
    refuses the substitution and pins nothing of that set: a set that contradicts what is
    pinned vouches for nothing (issue 24, item 4)."""
    c02, kh = pair["vn.c02"], pair["kh.ahtjp"]
    stolen = KeyStore(c02.data_dir / "keys" / "signing.pem", "vn.c02").signing_key()
    theirs = make_key("vn.c02", stolen.kid.partition("#")[2])  # the pinned kid, their key
    extra = make_key("vn.c02", "2028-01")
    raw = sign_key_set(stolen, {"keys": [
        {**public_jwk(k.public_key()), "kid": k.kid, "use": "sig", "alg": k.alg}
        for k in (theirs, extra)]})
    partner = kh.data_dir / "partners" / "vn.c02.toml"
    before = partner.read_text(encoding="utf-8")
    with answering("/bx/v1/.well-known/jwks.jws", raw) as endpoint:
        data = tomllib.loads(before)
        data.update(key_continuity="auto", endpoint=endpoint)
        partner.write_text(tomli_w.dumps(data), encoding="utf-8")
        try:
            refreshed = kh.cli("partners", "refresh", "vn.c02", check=False)
            after = tomllib.loads(partner.read_text(encoding="utf-8"))
        finally:
            partner.write_text(before, encoding="utf-8")
    assert [k["kid"] for k in after["keys"]] == [k["kid"] for k in data["keys"]]
    assert refreshed.returncode == 1, refreshed.stdout + refreshed.stderr
    assert f"REFUSED: {stolen.kid} comes back with another key" in refreshed.stderr
    assert f"not pinned: {extra.kid}" in refreshed.stderr
    (refusal,) = [json.loads(d) for (d,) in _db(kh, "SELECT detail FROM audit_log WHERE "
                                                    "action = 'partner.keyset-refused'")]
    assert refusal == {"vouched_by": stolen.kid, "refused": [stolen.kid],
                       "withheld": [extra.kid]}
