"""One node (``vn.c02``) as three replicas on PostgreSQL behind HAProxy, exchanging with a
partner node (``kh.ahtjp``, SQLite): any replica answers any request, what must hold for
the node holds across replicas, and replicas dying under a stream lose nothing. And what an
outsider, or a partner, can do through the node's front: a partner's file saved as what its
bytes are, a stranger's huge body that never stalls the node, wrong passwords from one
place that never hold up the user elsewhere (HAProxy is the shipped deploy/haproxy.cfg)."""

from __future__ import annotations

import random
import re
import select
import signal
import socket
import sqlite3
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import tomli_w

from gateway.protocol.bearer import issue_bearer
from gateway.protocol.envelope import Attachment, MessageDraft, compose_message
from gateway.trust.keys import KeyStore
from tests.conftest import SCHEMAS
from tests.e2e.federation import NodeProcess, wait_for
from tests.e2e.replicas import ReplicaSet, create_database, drop_database

DOCUMENT = (SCHEMAS / "alert" / "examples" / "vn-hotline-child-imminent.xml").read_text()
REQUEST = (SCHEMAS / "verification-request" / "examples" / "kh-bavet-presumed-child.xml"
           ).read_bytes()
PASSWORD = "a long enough password"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="HAProxy on loopback")


@dataclass
class World:
    node: ReplicaSet
    partner: NodeProcess

    def api(self) -> httpx.Client:
        """The node's local API through HAProxy (any replica)."""
        token = (self.node.first.data_dir / "keys" / "api.token").read_text().strip()
        return httpx.Client(base_url=f"http://127.0.0.1:{self.node.front}/api", timeout=30,
                            headers={"Authorization": f"Bearer {token}"})


def set_rate(home: Path, partner: str, rate: int) -> None:
    """Change a partner file in one step (as the CLI writes it): each replica reads it once."""
    path = home / "data" / "partners" / f"{partner}.toml"
    profile = tomllib.loads(path.read_text())
    profile["rate_per_minute"] = rate
    changed = path.with_suffix(".toml.new")
    changed.write_text(tomli_w.dumps(profile))
    changed.replace(path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("replicas")
    database = create_database()
    node = ReplicaSet("vn.c02", root / "vn.c02", database)
    partner = NodeProcess("kh.ahtjp", root / "kh.ahtjp")
    try:
        node.first.generate_key()
        partner.generate_key()
        node.start()
        partner.start()
        partner.setup("partners", "enrol", "vn.c02", "--thumbprint", node.first.thumbprint(),
                      "--endpoint", node.url, "--fetch", "--delivery", "push")
        node.first.enrol(partner)
        set_rate(node.first.home, "kh.ahtjp", 100_000)
        set_rate(partner.home, "vn.c02", 100_000)
        with partner.api() as api:
            assert api.post("/admin/partners/reload").status_code == 200
        # Every replica watches the partner folder: the file written by one CLI reaches all.
        wait_for(lambda: node.query_count(
            "SELECT count(*) FROM audit_log WHERE action = 'partners.reloaded'") >= 3,
            what="each replica to read the new partner file", timeout=30)
        yield World(node, partner)
    finally:
        partner.stop()
        node.stop()
        drop_database(database)


def signed(world: World, count: int) -> list[tuple[bytes, str]]:
    """Messages from kh.ahtjp to vn.c02 with their bearer tokens, signed as kh.ahtjp."""
    key = KeyStore(world.partner.data_dir / "keys" / "signing.pem", "kh.ahtjp").signing_key()
    now = datetime.now(UTC)
    return [(compose_message(key, "kh.ahtjp", MessageDraft("alert", "1.0", "vn.c02"),
                             DOCUMENT.encode(), created=now),
             issue_bearer(key, "kh.ahtjp", "vn.c02", now)) for _ in range(count)]


def push(replica_port: int, raw: bytes, token: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{replica_port}/bx/v1/messages", content=raw,
                      headers={"Content-Type": "application/jose+json",
                               "Authorization": f"Bearer {token}"}, timeout=30)


def test_any_replica_answers_and_what_one_spent_the_others_refuse(world: World) -> None:
    r1, r2, r3 = world.node.replicas
    (raw, token), (other, fresh) = signed(world, 2)
    first = push(r1.port, raw, token)
    assert first.status_code == 202, first.text
    # The same token on another replica: spent is spent for the node.
    replayed = push(r2.port, other, token)
    assert replayed.status_code == 401
    assert "replayed" in replayed.json()["detail"]
    # The same message on a third: the original receipt, byte for byte.
    again = push(r3.port, raw, fresh)
    assert again.status_code == 200
    assert again.content == first.content
    # A console session opened on one replica works on the others.
    r1.add_user("lan", "blo-officer")
    session = r1.session("lan")
    token_header = session.headers["Authorization"]
    for replica in (r2, r3):
        answer = httpx.get(f"http://127.0.0.1:{replica.port}/api/cases",
                           headers={"Authorization": token_header}, timeout=30)
        assert answer.status_code == 200, answer.text


def test_one_replica_holds_each_lease(world: World) -> None:
    holders = wait_for(lambda: world.node.query_count(
        "SELECT count(*) FROM leases WHERE name = 'housekeeping'"),
        what="a replica to take the housekeeping lease", timeout=30)
    assert holders == 1
    assert world.node.query_count("SELECT count(DISTINCT holder) FROM leases "
                                  "WHERE name = 'housekeeping'") == 1


def client_from(address: str, **kwargs: object) -> httpx.Client:
    """A client whose connections come from ``address``: another loopback address stands for
    another machine, as far as the node can tell."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30,
                        **kwargs)  # type: ignore[arg-type]


def test_a_partners_attachment_is_saved_as_what_its_bytes_are(world: World) -> None:
    """A partner signs a scan named ``scan.html`` whose bytes are a PDF with a page after the
    signature: an officer who opens it gets a PDF named ``scan.pdf`` (saved, it opens as a
    PDF, never as a page of the node's origin)."""
    key = KeyStore(world.partner.data_dir / "keys" / "signing.pem", "kh.ahtjp").signing_key()
    hostile = b"%PDF-1.4\n<html><script>document.title = 'owned'</script></html>\n"
    message_id = str(uuid.uuid4())
    raw = compose_message(key, "kh.ahtjp", MessageDraft("verification-request", "1.0", "vn.c02"),
                          REQUEST, [Attachment("scan.html", "application/pdf", hostile)],
                          created=datetime.now(UTC), message_id=message_id)
    pushed = httpx.post(f"{world.node.url}/messages", content=raw, timeout=30, headers={
        "Content-Type": "application/jose+json",
        "Authorization": f"Bearer {issue_bearer(key, 'kh.ahtjp', 'vn.c02', datetime.now(UTC))}"})
    assert pushed.status_code == 202, pushed.text
    case_id = wait_for(lambda: world.node.query_values(
        "SELECT case_id FROM case_conversations WHERE partner = 'kh.ahtjp' AND conversation = "
        f"'{message_id}'"), what="the request attached to a case", timeout=60)[0]
    unit = world.node.query_values(f"SELECT owner_unit FROM cases WHERE id = {case_id}")[0]
    world.node.first.add_user("thu", "blo-officer", unit=str(unit))
    front = f"http://127.0.0.1:{world.node.front}"
    with httpx.Client(base_url=front, timeout=30) as officer:
        assert officer.post("/login", data={"username": "thu", "password": PASSWORD},
                            headers={"Origin": front}).status_code == 303
        base = f"/cases/{case_id}/messages/{message_id}"
        csrf = re.search(r'name="csrf" value="([^"]+)"', officer.get(base).text)
        assert csrf is not None
        assert officer.post(f"{base}/special", data={
            "csrf": csrf[1], "reason": "identity-verification"}).status_code == 303
        got = officer.get(f"{base}/attachments/scan.html")
    assert got.status_code == 200, got.text
    assert got.content == hostile  # the bytes as signed
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == 'attachment; filename="scan.pdf"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]


def slowest_health(port: int, stop: threading.Event, seen: list[float]) -> None:
    """Ask ``/health`` every 50 ms until ``stop``; each answer's time in ``seen``."""
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.monotonic()
            assert client.get(f"http://127.0.0.1:{port}/bx/v1/health").status_code == 200
            seen.append(time.monotonic() - started)
            stop.wait(0.05)


def post_as_a_stranger(port: int, path: str, body: bytes, *, chunked: bool,
                       headers: dict[str, str] | None = None) -> int:
    """POST ``body`` over a raw socket, as a stranger would, and the status of the answer.
    The answer is read as soon as one comes: a node that refuses before reading the body is
    not sent the rest (headers, then 32 KiB, each given 2 s for an answer; then the rest)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        pieces = [body[:32 * 1024]] + [body[at:at + 1024 * 1024]
                                       for at in range(32 * 1024, len(body), 1024 * 1024)]
        answered = False
        for index, piece in enumerate(pieces):
            if select.select([sock], [], [], 2.0 if index < 2 else 0)[0]:
                answered = True
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except OSError:  # the node closed the connection: its answer is waiting
                answered = True
                break
        if chunked and not answered:
            sock.sendall(b"0\r\n\r\n")
        head = b""
        while b"\r\n" not in head:
            data = sock.recv(4096)
            assert data, f"{path}: the connection closed without an answer"
            head += data
    return int(head.split()[1])


def test_a_strangers_huge_body_never_stalls_the_node(world: World) -> None:
    """40 MiB of JSON from nobody, to the login and to routes that need a session, declared
    or chunked: refused (413 beyond the route's limit, 401 without a session) before it is
    read, let alone parsed, while ``/health`` answers as quickly as before. Parsed, it held
    the event loop for seconds: 40 MiB of ``[[],[],...]`` is 8 s of Python's parser."""
    replica = world.node.replicas[2]
    junk = b'{"q": [' + b"[]," * (40 * 1024 * 1024 // 3) + b"[]]}"
    json_type = {"Content-Type": "application/json"}
    origin = {"Content-Type": "application/x-www-form-urlencoded",
              "Origin": f"http://127.0.0.1:{replica.port}"}
    form = b"username=a&password=" + b"b" * (40 * 1024 * 1024)
    baseline: list[float] = []
    for _ in range(20):
        started = time.monotonic()
        httpx.get(f"http://127.0.0.1:{replica.port}/bx/v1/health", timeout=30)
        baseline.append(time.monotonic() - started)
    attempts = [("/api/session", junk, False, json_type, 413),  # a login takes 16 KiB
                ("/api/session", junk, True, json_type, 413),
                ("/api/search", junk, False, json_type, 413),  # a search takes 1 MiB
                ("/api/search", junk, True, json_type, 401),
                ("/api/cases/1/drafts", junk, False, json_type, 401),  # a draft, 72 MiB
                ("/api/cases/1/drafts", junk, True, json_type, 401),
                ("/login", form, False, origin, 413)]  # the console's login: 16 KiB too
    for path, body, chunked, headers, expected in attempts:
        stop, seen = threading.Event(), []
        watcher = threading.Thread(target=slowest_health, args=(replica.port, stop, seen))
        watcher.start()
        try:
            status = post_as_a_stranger(replica.port, path, body, chunked=chunked,
                                        headers=headers)
            time.sleep(0.5)  # what the node might still do with the body, watched too
        finally:
            stop.set()
            watcher.join()
        assert max(seen) < 1.0 + 3 * max(baseline), (path, chunked, max(seen), max(baseline))
        assert status == expected, (path, chunked, status)


def test_wrong_passwords_from_one_place_do_not_hold_up_the_user_elsewhere(
        world: World) -> None:
    """Through the shipped HAProxy, five wrong passwords for a name from one place throttle
    that place only: the user's right password from another place opens her session at
    once. A client address forged in X-Forwarded-For is believed from no one but HAProxy
    (directly at a replica), and HAProxy replaces it with the real one."""
    world.node.first.add_user("mai", "blo-officer")
    front = f"http://127.0.0.1:{world.node.front}/api/session"
    direct = f"http://127.0.0.1:{world.node.replicas[1].port}/api/session"

    def login(address: str, password: str, url: str = front,
              forged: str | None = None) -> int:
        headers = {"X-Forwarded-For": forged} if forged else {}
        with client_from(address) as client:
            return client.post(url, json={"username": "mai", "password": password},
                               headers=headers).status_code

    # Guessers, each from its own place: two forge the user's address (127.0.0.4).
    for guesser, url, forged in (("127.0.0.3", front, None), ("127.0.0.5", direct, "127.0.0.4"),
                                 ("127.0.0.6", front, "127.0.0.4")):
        answers = [login(guesser, "not the password at all", url, forged) for _ in range(5)]
        assert answers == [401] * 5, (guesser, answers)
        for _ in range(5):  # then the guesser waits (the delay doubles from 1 s)
            answers.append(login(guesser, "not the password at all", url, forged))
            if answers[-1] == 429:
                break
        assert answers[-1] == 429, (guesser, answers)
        # The user, from her own place, through HAProxy, at once: her session opens.
        assert login("127.0.0.4", PASSWORD) == 200, guesser
    # The node counted each guesser's failures under its own address: never HAProxy's,
    # never the forged one.
    keys = [str(key) for key in world.node.query_values("SELECT key FROM login_throttle")]
    assert {"addr:127.0.0.3", "addr:127.0.0.5", "addr:127.0.0.6"} <= set(keys), keys
    assert not [key for key in keys if key.endswith(("127.0.0.1", "127.0.0.4"))], keys


def stream(world: World, count: int) -> tuple[list[str], list[str]]:
    """Queue ``count`` messages each way; the ids queued at the node and at its partner."""
    to_partner: list[str] = []
    to_node: list[str] = []

    def queue(client: httpx.Client, to: str, into: list[str]) -> None:
        for _ in range(count):
            for _attempt in range(20):  # a replica may die under the request: ask again
                try:
                    response = client.post("/messages", json={
                        "to": to, "type": "alert", "document": DOCUMENT})
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if response.status_code == 202:
                    into.append(response.json()["id"])
                    break
                assert response.status_code in (502, 503), response.text
                time.sleep(0.2)

    with world.api() as node_api, world.partner.api() as partner_api:
        threads = [threading.Thread(target=queue, args=(node_api, "kh.ahtjp", to_partner)),
                   threading.Thread(target=queue, args=(partner_api, "vn.c02", to_node))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return to_partner, to_node


def partner_count(world: World, sql: str) -> int:
    with sqlite3.connect(world.partner.data_dir / "gateway.db") as db:
        return int(db.execute(sql).fetchone()[0])


def ids(rows: list[tuple[object, ...]]) -> list[str]:
    return sorted(str(row[0]) for row in rows)


def partner_ids(world: World, sql: str) -> list[str]:
    with sqlite3.connect(world.partner.data_dir / "gateway.db") as db:
        return ids(db.execute(sql).fetchall())


def node_ids(world: World, sql: str) -> list[str]:
    return ids([(row,) for row in world.node.query_values(sql)])


def test_replicas_killed_under_a_stream_lose_nothing(world: World) -> None:
    """300 messages each way while a random replica is SIGKILLed every two or three seconds and
    restarted: every message accepted once, every sent message receipted, the audit log
    intact, and HAProxy routing around the dead."""
    node = world.node
    stop = threading.Event()
    kills: list[str] = []
    seen_down: list[str] = []

    def chaos() -> None:
        rng = random.Random()
        while not stop.wait(rng.uniform(1.5, 3.0)):
            victim = rng.choice(node.replicas)
            victim.kill()
            kills.append(victim.name)
            try:
                wait_for(lambda name=victim.name: node.states().get(name) == "DOWN",
                         what=f"HAProxy to route around {victim.name}", timeout=10)
                seen_down.append(victim.name)
            except AssertionError:
                pass
            victim.start()

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        to_partner, to_node = stream(world, 300)
        wait_for(lambda: len(kills) >= 3, what="three replicas killed", timeout=30)
        stop.set()  # the rest drains without chaos: each kill costs its messages a backoff
        killer.join()
        # A request to the local API that died with its replica may have been queued all
        # the same (the API is not idempotent): count what the node holds, not what it said.
        out_sql = "SELECT message_id FROM messages WHERE direction = 'out'"
        wait_for(lambda: node.query_count(
            "SELECT count(*) FROM messages WHERE direction = 'out' AND state <> 'delivered'")
            == 0, what="every message of the node delivered", timeout=300)
        wait_for(lambda: partner_count(
            world, "SELECT count(*) FROM messages WHERE direction = 'out' "
                   "AND state <> 'delivered'") == 0,
            what="every message of the partner delivered", timeout=300)
    finally:
        stop.set()
        killer.join()
    assert kills, "the chaos must have killed replicas"
    assert seen_down, "HAProxy must have seen a dead replica"
    # Exactly once, each way: what each side sent is what the other accepted, once each.
    sent_by_node = node_ids(world, out_sql)
    assert set(to_partner) <= set(sent_by_node)
    assert partner_ids(world, "SELECT message_id FROM messages WHERE direction = 'in'") \
        == sent_by_node
    sent_by_partner = partner_ids(world, "SELECT message_id FROM messages "
                                         "WHERE direction = 'out' AND recipient = 'vn.c02'")
    assert set(to_node) <= set(sent_by_partner)
    received = node_ids(world, "SELECT message_id FROM messages WHERE direction = 'in' "
                               "AND sender = 'kh.ahtjp'")
    assert set(sent_by_partner) <= set(received)
    assert len(received) == len(set(received))
    # Every sent message holds its receipt (each verified before it was kept).
    assert node.query_count(
        "SELECT count(*) FROM messages m WHERE m.direction = 'out' AND NOT EXISTS "
        "(SELECT 1 FROM receipts r WHERE r.message_pk = m.id)") == 0
    assert partner_count(world, "SELECT count(*) FROM messages m WHERE m.direction = 'out' "
                                "AND NOT EXISTS (SELECT 1 FROM receipts r "
                                "WHERE r.message_pk = m.id)") == 0
    # Every accepted message attached once to its case.
    wait_for(lambda: node.query_count("SELECT count(*) FROM messages "
                                      "WHERE attach_pending") == 0,
             what="every message attached", timeout=120)
    assert node.query_count("SELECT count(*) FROM audit_log "
                            "WHERE action = 'case.attach-failed'") == 0
    assert "intact" in node.first.cli("audit", "verify").stdout
    assert "intact" in world.partner.cli("audit", "verify").stdout


def test_a_rolling_restart_under_load_loses_no_request(world: World) -> None:
    """Pushes through HAProxy, on kept-alive connections, while each replica in turn is stopped
    as docs/operations.md says (SIGTERM, start it again, wait until HAProxy sees it up): every
    request is answered 202, none is dropped unanswered. A stopping replica first answers its
    health check 503 for BX_STOP_DRAIN_S while it still serves, so that HAProxy routes around
    it before it closes a connection that HAProxy might be sending on."""
    answers: list[int | str] = []
    restarted = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as client:
            while not restarted.is_set() or len(answers) < 50:
                (raw, token), = signed(world, 1)
                try:
                    response = client.post(f"{world.node.url}/messages", content=raw, headers={
                        "Content-Type": "application/jose+json",
                        "Authorization": f"Bearer {token}"})
                except httpx.HTTPError as exc:  # a request dropped unanswered is a failure
                    answers.append(repr(exc))
                else:
                    answers.append(response.status_code)

    pushers = [threading.Thread(target=load) for _ in range(3)]
    for pusher in pushers:
        pusher.start()
    try:
        for replica in world.node.replicas:
            time.sleep(0.5)
            assert replica.process is not None
            replica.process.send_signal(signal.SIGTERM)
            health = f"http://127.0.0.1:{replica.port}/bx/v1/health"
            wait_for(lambda: httpx.get(health, timeout=5).status_code == 503,  # noqa: B023
                     what="the stopping replica's health to answer 503", timeout=10)
            assert httpx.get(health, timeout=5).json()["status"] == "stopping"
            # Draining, it still serves what reaches it...
            (raw, token), = signed(world, 1)
            assert push(replica.port, raw, token).status_code == 202
            # ...and HAProxy routes around it before it closes (no second signal: it stops
            # when its drain is over).
            wait_for(lambda: world.node.states().get(replica.name) != "UP",  # noqa: B023
                     what="HAProxy to route around the stopping replica", timeout=10)
            assert replica.process.poll() is None, "stopped before HAProxy routed around it"
            wait_for(lambda: replica.process is not None  # noqa: B023
                     and replica.process.poll() is not None,  # noqa: B023
                     what="the replica to stop once drained", timeout=40)
            assert replica.stop() in (0, -15)
            replica.start()
            wait_for(lambda: world.node.states().get(replica.name) == "UP",  # noqa: B023
                     what="HAProxy to see the restarted replica up", timeout=30)
    finally:
        restarted.set()
        for pusher in pushers:
            pusher.join()
    assert len(answers) >= 50
    assert [answer for answer in answers if answer != 202] == []


def test_the_rate_limit_is_the_nodes_not_each_replicas(world: World) -> None:
    reloads = "SELECT count(*) FROM audit_log WHERE action = 'partners.reloaded'"
    before = world.node.query_count(reloads)
    set_rate(world.node.first.home, "kh.ahtjp", 6)
    wait_for(lambda: world.node.query_count(reloads) >= before + 3,  # every 2 s at most
             what="each replica to read the changed partner file", timeout=30)
    if datetime.now(UTC).second > 50:
        time.sleep(61 - datetime.now(UTC).second)  # the nine pushes within one minute
    codes = [push(replica.port, raw, token).status_code
             for replica, (raw, token) in zip(world.node.replicas * 3, signed(world, 9),
                                              strict=False)]
    assert codes.count(202) <= 6
    assert 429 in codes
    set_rate(world.node.first.home, "kh.ahtjp", 100_000)
