"""Queueing and draining the real mix: the nine document types, as they arrive, queued
through the local API, then delivered to a loopback partner node with verified receipts and
attached to cases there. Every rate beside a bare endpoint's, measured in the same run.

1. Two real nodes (``vn.c02`` pushes to ``kh.ahtjp``), keys and partner files as operators
   make them. The receiver is stopped.
2. ``wrk`` posts the nine document types' examples (``schemas/<type>/examples``, two of each,
   in conversations: a repatriation's six documents, an investigation's two, an alert) to
   ``vn.c02``'s ``POST /api/messages`` for ``--seconds`` (32 connections): each is validated,
   signed, stored and queued. The same requests then go to a bare FastAPI endpoint
   (bench/bare_app.py): the baseline of every ratio printed.
3. The sender stops; its queued messages are made due now; the receiver starts, then the
   sender. Prints how long until every message holds a verified receipt (messages/s
   delivered), and until every message is attached to its case at the receiver.
4. The case work alone, in this process: the received messages copied into a copy of the
   receiver as it was before the drain, marked waiting, and attached by the node's own code
   (:func:`gateway.exchange.attach.attach_waiting`). Prints statements (counted by a
   ``before_cursor_execute`` listener), transactions and CPU time (``time.process_time``)
   per message.

    .venv/bin/python bench/drain.py [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import cpu_seconds, free_port, serve, stop, write_lines, wrk

from gateway.settings import REPOSITORY
from tests.e2e.federation import NodeProcess, make_federation

WORK = REPOSITORY / "var" / "bench-drain"
#: The nine document types a partner sends, as their conversations carry them: what one
#: conversation of each kind holds, in order.
STORIES = (("verification-request", "verification-response", "repatriation-request",
            "repatriation-response", "handover-record", "case-closure"),
           ("suspect-notice", "investigation-update"),
           ("alert",))
TYPES = tuple(t for story in STORIES for t in story)
PRIORITY = {"alert": "immediate", "suspect-notice": "urgent"}


def examples(doc_type: str) -> list[str]:
    """The examples of a document type, as text."""
    folder = REPOSITORY / "schemas" / doc_type / "examples"
    return [path.read_text() for path in sorted(folder.glob("*.xml"))]


def mixed_requests(token: str, conversations: int) -> list[tuple[str, bytes]]:
    """``conversations`` rounds of every story: each of the nine types once a round, each
    example in turn, every story in a conversation of its own."""
    texts = {doc_type: examples(doc_type) for doc_type in TYPES}
    items: list[tuple[str, bytes]] = []
    for i in range(conversations):
        for story in STORIES:
            conversation = str(uuid.uuid4())
            for doc_type in story:
                document = texts[doc_type][i % len(texts[doc_type])]
                items.append((token, json.dumps({
                    "to": "kh.ahtjp", "type": doc_type, "version": "1.0", "handling": "H1",
                    "priority": PRIORITY.get(doc_type, "routine"),
                    "conversation": conversation, "document": document}).encode()))
    return items


def count(node_db: Path, sql: str) -> int:
    with sqlite3.connect(node_db) as db:
        return int(db.execute(sql).fetchone()[0])


def unthrottle(receiver: NodeProcess, sender_id: str) -> None:
    path = receiver.data_dir / "partners" / f"{sender_id}.toml"
    profile = tomllib.loads(path.read_text())
    profile["rate_per_minute"] = 1_000_000
    path.write_text(tomli_w.dumps(profile))
    with receiver.api() as api:
        api.post("/admin/partners/reload").raise_for_status()


def spy(node: NodeProcess, directory: Path, phase: str = "drain") -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    assert node.process is not None
    gil = ["--gil"] if os.environ.get("SPY_GIL") else []  # only the thread holding the GIL
    gil += ["--idle"] if os.environ.get("SPY_IDLE") else []  # idle threads too
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200",
                             "-f", "raw", "--threads", *gil, "-o",
                             str(directory / f"{phase}-{node.node_id}.txt"), "-p",
                             str(node.process.pid)], stdout=subprocess.DEVNULL)


def attach_in_process(snapshot: Path, received: Path, env: dict[str, str]) -> dict[str, float]:
    """Attach what ``received`` (the receiver's database after the drain) holds to the cases
    of ``snapshot`` (a copy of the receiver before it), in this process: statements,
    transactions and CPU per message."""
    copy = WORK / "receiver-attach"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(snapshot, copy)
    database = copy / "gateway.db"
    with sqlite3.connect(database) as db:
        db.execute("ATTACH DATABASE ? AS drained", (str(received),))
        db.execute("INSERT INTO messages SELECT * FROM drained.messages "
                   "WHERE direction = 'in'")
        db.execute("UPDATE messages SET attach_pending = 1 WHERE direction = 'in'")
        db.commit()
        db.execute("DETACH DATABASE drained")
        total = int(db.execute("SELECT count(*) FROM messages WHERE attach_pending")
                    .fetchone()[0])
    os.environ.update({k: v for k, v in env.items() if k.startswith("BX_")})
    os.environ["BX_DATA_DIR"] = str(copy)
    return asyncio.run(_attach_all(total))


async def _attach_all(total: int) -> dict[str, float]:
    from sqlalchemy import event  # noqa: PLC0415 - the bench's own process only
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    from gateway.cases.effects import install  # noqa: PLC0415
    from gateway.cases.work import open_case_work  # noqa: PLC0415
    from gateway.exchange.attach import attach_waiting  # noqa: PLC0415
    from gateway.exchange.startup import open_node  # noqa: PLC0415
    from gateway.settings import load_settings  # noqa: PLC0415
    from gateway.store import inline_sqlite  # noqa: PLC0415

    counted = {"statements": 0, "commits": 0}
    # The writer's statements are counted by its cursor (a statement counted by SQLAlchemy's
    # events would be run through SQLAlchemy's execution, not the writer's own:
    # gateway.store.inline_sqlite), the serving loop's reads by SQLAlchemy's events.
    cursor = inline_sqlite._BufferedCursor

    def counting(method: Any) -> Any:
        def run(self: Any, *args: Any) -> Any:
            counted["statements"] += 1
            return method(self, *args)
        return run

    cursor.execute = counting(cursor.execute)  # type: ignore[method-assign]
    cursor.executemany = counting(cursor.executemany)  # type: ignore[method-assign]

    def read(*_: Any) -> None:
        counted["statements"] += 1

    def commit(*_: Any) -> None:
        counted["commits"] += 1

    node = await open_node(load_settings())
    cw = open_case_work(node)
    cw.warm()  # as gateway serve does at start
    install(cw)
    event.listen(Engine, "commit", commit)
    event.listen(node.engine.sync_engine, "before_cursor_execute", read)
    try:
        counted["statements"] = 0
        cpu, wall = time.process_time(), time.perf_counter()
        while await attach_waiting(node):
            pass
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        event.remove(Engine, "commit", commit)
        await node.close()
    return {"messages": total, "statements": counted["statements"] / total,
            "commits": counted["commits"] / total, "cpu_ms": cpu / total * 1000,
            "rate": total / wall}


def print_case_work(alone: dict[str, float]) -> None:
    print(f"case work alone, in process:    {alone['rate']:7.0f} /s  "
          f"({alone['messages']:.0f} messages; a message: {alone['statements']:.1f} "
          f"statements, {alone['commits']:.3f} commits, {alone['cpu_ms']:.2f} ms CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--conversations", type=int, default=100,
                        help="rounds of the three stories in the request file (nine "
                             "documents a round)")
    parser.add_argument("--profile", type=Path, help="record both nodes with py-spy while "
                        "draining (flame graphs written to this directory)")
    parser.add_argument("--case-work-only", action="store_true",
                        help="only step 4, on what the last run left in var/bench-drain")
    args = parser.parse_args()
    if args.case_work_only:
        print_case_work(attach_in_process(WORK / "receiver-before",
                                          WORK / "kh.ahtjp" / "data" / "gateway.db",
                                          NodeProcess("kh.ahtjp", WORK / "kh.ahtjp").env()))
        return
    shutil.rmtree(WORK, ignore_errors=True)
    nodes = make_federation(WORK, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    sender_db = sender.data_dir / "gateway.db"
    receiver_db = receiver.data_dir / "gateway.db"
    try:
        unthrottle(receiver, "vn.c02")
        receiver.stop()
        snapshot = WORK / "receiver-before"
        shutil.copytree(receiver.data_dir, snapshot)
        lines = WORK / "queue.lines"
        write_lines(lines, mixed_requests(sender.api_token(), args.conversations))
        queueing = spy(sender, args.profile, "queue") if args.profile else None
        queued = wrk(f"http://127.0.0.1:{sender.port}", lines, seconds=args.seconds,
                     connections=args.connections, path="/api/messages",
                     content_type="application/json")
        if queueing is not None:
            queueing.send_signal(signal.SIGINT)
            queueing.wait(timeout=60)
        port = free_port()
        bare = serve([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                      "bare_app:app", "--port", str(port), "--no-access-log",
                      "--log-level", "warning"], sender.env(), port)
        try:
            baseline = wrk(f"http://127.0.0.1:{port}", lines, seconds=args.seconds,
                           connections=args.connections, path="/api/messages",
                           content_type="application/json")
        finally:
            stop(bare)
        total = count(sender_db, "SELECT count(*) FROM messages WHERE direction = 'out'")
        kinds = count(sender_db, "SELECT count(DISTINCT doc_type) FROM messages "
                                 "WHERE direction = 'out'")
        assert kinds == len(TYPES), f"{kinds} document types queued, not {len(TYPES)}"
        print(f"bare endpoint (read body, 202): {baseline.rate:7.0f} /s  (the baseline)")
        print(f"queue through the local API:    {queued.rate:7.0f} /s  ratio "
              f"{queued.rate / baseline.rate:.4f}  p99 {queued.p99_ms:.1f} ms  "
              f"({total} queued of {kinds} types, {queued.failed} refused)", flush=True)
        sender.stop()
        with sqlite3.connect(sender_db) as db:
            db.execute("UPDATE messages SET next_attempt_at = NULL, attempts = 0 "
                       "WHERE state = 'queued'")
        receiver.start()
        started = time.perf_counter()
        sender.start()
        healthy = time.perf_counter()
        spies = [spy(node, args.profile) for node in (sender, receiver)] if args.profile else []
        assert sender.process is not None
        assert receiver.process is not None
        cpu = {n.node_id: cpu_seconds(n.process.pid)  # type: ignore[union-attr]
               for n in (sender, receiver)}
        while count(sender_db, "SELECT count(*) FROM messages WHERE state = 'delivered'") \
                < total:
            if time.perf_counter() - started > 600:
                raise SystemExit("not all delivered within 10 minutes")
            time.sleep(0.05)
        done = time.perf_counter()
        cpu = {n.node_id: cpu_seconds(n.process.pid) - cpu[n.node_id]  # type: ignore[union-attr]
               for n in (sender, receiver)}
        receipts = count(sender_db, "SELECT count(*) FROM receipts r JOIN messages m "
                                    "ON m.id = r.message_pk WHERE m.direction = 'out'")
        received = count(receiver_db, "SELECT count(*) FROM messages WHERE direction = 'in'")
        assert receipts == total, (receipts, total)
        assert received == total, (received, total)
        drained = total / (done - healthy)
        print(f"drain to a loopback partner:    {drained:7.0f} /s  ratio "
              f"{drained / baseline.rate:.4f}  with verified receipts ({total} in "
              f"{done - healthy:.1f} s after the sender answered); CPU a message: "
              + ", ".join(f"{node} {seconds / total * 1000:.2f} ms"
                          for node, seconds in cpu.items()), flush=True)
        # the case work the receiver does after each receipt follows the receipts, at its
        # own pace: how long until every message is in its case
        while count(receiver_db, "SELECT count(*) FROM messages WHERE attach_pending") > 0:
            if time.perf_counter() - started > 900:
                raise SystemExit("not all attached within 15 minutes")
            time.sleep(0.1)
        attached = time.perf_counter()
        for process in spies:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        rate = total / (attached - healthy)
        failed = count(receiver_db, "SELECT count(*) FROM audit_log "
                                    "WHERE action = 'case.attach-failed'")
        print(f"attached to cases at receiver:  {rate:7.0f} /s  ratio "
              f"{rate / baseline.rate:.4f}  (every message in its case "
              f"{attached - done:.1f} s after the last receipt; {failed} failed)", flush=True)
        for node in nodes.values():
            node.stop()
        print_case_work(attach_in_process(snapshot, receiver_db, receiver.env()))
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    main()
