"""Ingest throughput: a real node against a bare FastAPI endpoint, in the same run, under wrk.

Pre-signs N distinct messages (3 KB handover records) with their bearer tokens, then drives
``gateway serve`` with ``wrk`` (32 connections): every message verified, stored with a durable
commit and receipted. The same requests then go to a bare FastAPI endpoint that only reads the
body and answers 202 (bench/bare_app.py). Prints accepted messages per second for both, the
ratio, p50 and p99, and the node's resident memory at the end.

Then the least a node must do for each message, whatever its design: the checks of
PROTOCOL.md §4.2 (two Ed25519 signatures, the bearer token's and the message's; the schema) and
the signed receipt, timed alone in one thread with nothing stored, against the bare endpoint's
CPU a request. It says how much of the machine a given ratio needs before any HTTP, storage
or ``wrk`` (``nproc`` cores).

    make bench                                  # wrk installed, then every benchmark
    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 32] [--stored N ...]

``--stored N`` pre-loads N accepted messages (with their receipts and audit lines, by direct
insert) before the run; give it several times (``--stored 10000 --stored 1000000``) to see
the rate as the database grows. ``--database postgresql+asyncpg://...`` runs the node on
PostgreSQL instead of SQLite (see bench/replicas.py for several replicas).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Load, cpu_seconds, free_port, rss_mb, serve, stop, write_lines, wrk

from gateway.audit.log import entry_bytes, entry_hash
from gateway.protocol import tlog
from gateway.protocol.bearer import MemoryReplayCache, issue_bearer
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.inbound import InboundContext, verify_message
from gateway.protocol.jose import public_jwk, thumbprint
from gateway.protocol.receipts import build_receipt
from gateway.runtime.node import load_parts, utc_now
from gateway.settings import REPOSITORY, load_settings
from gateway.trust.keys import KeyStore

DOCUMENT = REPOSITORY / "schemas" / "handover-record" / "examples" / "mocbai-bavet-child.xml"
WORK = REPOSITORY / "var" / "bench-ingest"


def prepare_node(work: Path, database: str | None = None) -> dict[str, str]:
    """A receiving node kh.ahtjp with vn.c02 pinned; returns its environment."""
    shutil.rmtree(work / "kh", ignore_errors=True)
    now = datetime.now(UTC)
    env = {**os.environ, "BX_NODE_ID": "kh.ahtjp", "BX_DATA_DIR": str(work / "kh"),
           "BX_LOG_LEVEL": "warning"}
    if database:
        env["BX_DATABASE_URL"] = database
    KeyStore(work / "kh" / "keys" / "signing.pem", "kh.ahtjp").generate("EdDSA", None, now)
    sender = sender_key(work)
    profile = tomllib.loads((REPOSITORY / "partners" / "vn.c02.toml").read_text())
    jwk = public_jwk(sender.public_key())
    profile.update(endpoint="http://127.0.0.1:9/bx/v1", rate_per_minute=1_000_000,
                   keys=[{"kid": sender.kid, "thumbprint": thumbprint(jwk), "jwk": jwk}])
    (work / "kh" / "partners").mkdir(parents=True)
    (work / "kh" / "partners" / "vn.c02.toml").write_text(tomli_w.dumps(profile))
    return env


def sender_key(work: Path):  # type: ignore[no-untyped-def]
    store = KeyStore(work / "vn" / "keys" / "signing.pem", "vn.c02")
    if not (work / "vn" / "keys" / "signing.pem").exists():
        store.generate("EdDSA", None, datetime.now(UTC))
    return store.signing_key()


def _sign_some(args: tuple[str, int]) -> list[tuple[str, bytes]]:
    work, count = args
    sender = sender_key(Path(work))
    document = DOCUMENT.read_bytes()
    now = datetime.now(UTC)
    draft = MessageDraft("handover-record", "1.0", "kh.ahtjp", handling="H1")
    return [(issue_bearer(sender, "vn.c02", "kh.ahtjp", now, lifetime_s=300),
             compose_message(sender, "vn.c02", draft, document, created=now))
            for _ in range(count)]


def presign(work: Path, count: int, path: Path) -> None:
    """``count`` distinct signed messages with their tokens, one per line of ``path``."""
    sender_key(work)
    parts = [(str(work), count // 4 + 1)] * 4
    with ProcessPoolExecutor(2) as pool:
        items = [item for chunk in pool.map(_sign_some, parts) for item in chunk][:count]
    write_lines(path, items)


def preload(database: Path, count: int, sample: bytes) -> None:
    """``count`` accepted messages with their receipts and audit lines, by direct insert,
    with a valid audit chain and Merkle tree (what the node would have after receiving
    them)."""
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    head_seq, head_hash, tree_edge = db.execute(
        "SELECT seq, hash, tree_edge FROM audit_head WHERE id = 1").fetchone()
    edge = [bytes(tree_edge[i:i + 32]) for i in range(0, len(tree_edge or b""), 32)]
    first_pk = (db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]) + 1
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = now.isoformat(sep=" ")
    header = json.dumps({"bx": "preloaded"})
    step = 50_000
    for start in range(0, count, step):
        n = min(step, count - start)
        rows, receipts, audits, leaves = [], [], [], []
        for i in range(n):
            pk = first_pk + start + i
            message_id = str(uuid.uuid4())
            conversation = str(uuid.uuid4())
            digest = "sha-256:" + hashlib.sha256(message_id.encode()).hexdigest()
            rows.append((pk, message_id, "in", "vn.c02", "kh.ahtjp", "handover-record", "1.0",
                         conversation, None, "routine", "H1", stamp, digest, sample, header,
                         "accepted", stored, 0))
            receipts.append((pk, "kh.ahtjp", sample[:400], stamp, stored))
            head_seq += 1
            detail = json.dumps({"type": "handover-record", "via": "push"},
                                separators=(",", ":"), sort_keys=True)
            head_hash_new = entry_hash(head_hash, head_seq, stamp, "vn.c02",
                                       "message.received", message_id, detail)
            audits.append((head_seq, stamp, "vn.c02", "message.received", message_id, detail,
                           head_hash, head_hash_new))
            leaves.append(tlog.leaf_hash(entry_bytes(head_seq, stamp, "vn.c02",
                                                     "message.received", message_id, detail)))
            head_hash = head_hash_new
        db.executemany(
            "INSERT INTO messages (id, message_id, direction, sender, recipient, doc_type, "
            "doc_version, conversation, ref, priority, handling, created, digest, raw, header,"
            " state, stored_at, attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO receipts (message_pk, signer, raw, received, stored_at) "
                       "VALUES (?,?,?,?,?)", receipts)
        db.executemany("INSERT INTO audit_log (seq, at, actor, action, subject, detail, "
                       "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", audits)
        edge, nodes = tlog.grow(head_seq - len(leaves), edge, leaves)
        db.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (?,?,?)", nodes)
        db.execute("UPDATE audit_head SET seq = ?, hash = ?, tree_edge = ? WHERE id = 1",
                   (head_seq, head_hash, b"".join(edge)))
        db.commit()
        print(f"  pre-loaded {start + n} of {count}", flush=True)
    db.close()


def run_node(env: dict[str, str], lines: Path, seconds: int, connections: int,
             log: Path, profile: Path | None = None) -> tuple[Load, float, float]:
    """One run against ``gateway serve``; (load, resident MB after, CPU seconds the node
    used under load). ``profile``: record the node with py-spy (raw stacks of the thread
    holding the GIL) into that file."""
    port = free_port()
    node = serve([sys.executable, "-m", "gateway", "serve"], env, port, log=log)
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200",
                            "-f", "raw", "-o", str(profile), "--pid", str(node.pid),
                            "--threads", "--gil"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                           ) if profile else None
    try:
        cpu = cpu_seconds(node.pid)
        load = wrk(f"http://127.0.0.1:{port}", lines, seconds=seconds, connections=connections)
        cpu = cpu_seconds(node.pid) - cpu
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes what it recorded
            spy.wait(30)
        time.sleep(1)
        rss = rss_mb(node.pid)
    finally:
        stop(node)
    return load, rss, cpu


def run_bare(env: dict[str, str], lines: Path, seconds: int,
             connections: int) -> tuple[Load, float]:
    """The bare endpoint under the same load; (load, CPU seconds it used a request)."""
    port = free_port()
    bare = serve([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                  "bare_app:app", "--port", str(port), "--no-access-log",
                  "--log-level", "warning"], env, port)
    try:
        cpu = cpu_seconds(bare.pid)
        load = wrk(f"http://127.0.0.1:{port}", lines, seconds=seconds, connections=connections)
        return load, (cpu_seconds(bare.pid) - cpu) / max(1, load.requests)
    finally:
        stop(bare)


def checks_alone(work: Path, lines: Path, count: int = 1000) -> float:
    """CPU seconds a message, in this thread, of what no node can skip: the node's own
    :func:`verify_message` (PROTOCOL.md §4.2) and :func:`build_receipt` over the first
    ``count`` lines of ``lines``, with the node's schemas and partner file, a replay cache in
    memory and nothing stored."""
    ambient = {name: os.environ.pop(name) for name in list(os.environ)
               if name.startswith("BX_")}
    try:
        settings = load_settings(_env_file=None, node_id="kh.ahtjp", data_dir=work / "kh")
    finally:
        os.environ.update(ambient)
    registry, _, signing_key, partners = load_parts(settings)
    context = InboundContext(node_id=settings.node_id, partners=partners.policy,
                             documents=registry, replay=MemoryReplayCache(utc_now),
                             clock=utc_now)
    with lines.open("rb") as source:
        items = [line.rstrip(b"\n").split(b"\t", 1)
                 for _, line in zip(range(count), source, strict=False)]
    started = time.process_time()
    for token, body in items:
        verified = verify_message(body, token.decode(), context)
        build_receipt(signing_key, settings.node_id, verified.sender, verified.message_id,
                      verified.digest, verified.received)
    return (time.process_time() - started) / len(items)


def count_in(database: Path) -> int:
    db = sqlite3.connect(database)
    try:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE direction = 'in'")
                   .fetchone()[0])
    finally:
        db.close()


def line(label: str, load: Load, bare: Load, extra: str = "") -> str:
    return (f"{label:<34} {load.rate:8.0f} /s  ratio {load.rate / bare.rate:6.3f}  "
            f"p50 {load.p50_ms:7.1f} ms  p99 {load.p99_ms:7.1f} ms  "
            f"(refused {load.failed}){extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--count", type=int, default=0,
                        help="messages to pre-sign per run (default: 3,000 per second)")
    parser.add_argument("--stored", type=int, action="append", default=[],
                        help="pre-load this many messages first (repeat for several runs)")
    parser.add_argument("--profile", type=Path,
                        help="record the node with py-spy during each run into this folder")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    count = args.count or 3000 * args.seconds
    runs = args.stored or [0]
    bare_lines = WORK / "bare.lines"
    print(f"pre-signing {count} messages of {DOCUMENT.stat().st_size} bytes ...", flush=True)
    presign(WORK, count, bare_lines)
    env = prepare_node(WORK)
    bare, bare_cpu = run_bare(env, bare_lines, args.seconds, args.connections)
    print(f"{'bare FastAPI (read body, 202)':<34} {bare.rate:8.0f} /s  "
          f"p50 {bare.p50_ms:7.1f} ms  p99 {bare.p99_ms:7.1f} ms", flush=True)
    results = []
    for stored in runs:
        env = prepare_node(WORK)
        database = WORK / "kh" / "gateway.db"
        subprocess_check([sys.executable, "-m", "gateway", "audit", "verify"], env)
        if stored:
            print(f"pre-loading {stored} messages ...", flush=True)
            started = time.perf_counter()
            preload(database, stored, b"\x01" * 4200)
            os.sync()  # the pre-load's pages on disk: the run does not wait behind them
            print(f"  in {time.perf_counter() - started:.0f} s", flush=True)
            # what was pre-loaded must be a log the node can extend (chain and tree)
            subprocess_check([sys.executable, "-m", "gateway", "audit", "verify"], env)
        lines = WORK / f"node-{stored}.lines"
        presign(WORK, count, lines)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        load, rss, cpu = run_node(env, lines, args.seconds, args.connections,
                             WORK / f"node-{stored}.log",
                             args.profile / f"node-{stored}.txt" if args.profile else None)
        stored_after = count_in(database) - stored
        if load.failed:
            print(f"WARNING: the node refused {load.failed} requests: see "
                  f"{WORK / f'node-{stored}.log'}", flush=True)
        label = f"node, {stored:,} stored" if stored else "node (verify, commit, receipt)"
        results.append(line(label, load, bare,
                            f"  stored {stored_after}, RSS {rss:.0f} MB, node CPU "
                            f"{cpu / max(1, stored_after) * 1000:.2f} ms a message "
                            f"({cpu / args.seconds:.2f} cores)"))
        print(results[-1], flush=True)
    floor = checks_alone(WORK, lines)
    print("\nsummary (same run, same wrk, 32 connections):")
    print(f"{'bare FastAPI (read body, 202)':<34} {bare.rate:8.0f} /s  "
          f"CPU {bare_cpu * 1e6:.0f} us a request")
    for result in results:
        print(result)
    print(f"{'checks and receipt alone':<34} {floor * 1e6:8.0f} us of CPU a message, one "
          f"thread, nothing stored: {floor / bare_cpu:.1f} x the bare endpoint's request")
    print(f"{'':<34} at a ratio of 0.1 ({bare.rate / 10:.0f} /s) they alone would take "
          f"{bare.rate / 10 * floor:.2f} of this machine's {os.cpu_count()} cores")


def subprocess_check(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
