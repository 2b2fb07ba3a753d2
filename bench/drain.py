"""Queueing and draining: documents queued through the local API, then delivered to a loopback
partner node with verified receipts. Both against a bare FastAPI endpoint in the same run.

1. Two real nodes (``vn.c02`` pushes to ``kh.ahtjp``), keys and partner files as operators
   make them. The receiver is stopped.
2. ``wrk`` posts a 3 KB document to ``vn.c02``'s ``POST /api/messages`` for ``--seconds``
   (32 connections): each is validated, signed, stored and queued. Prints queued/s, beside
   the bare endpoint's rate for the same requests.
3. The sender stops; its queued messages are made due now (a delivery that failed while the
   receiver was away backs off); the receiver starts, then the sender. Prints how long until
   every message holds a verified receipt: messages/s delivered.

    .venv/bin/python bench/drain.py [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import cpu_seconds, free_port, serve, stop, write_lines, wrk

from gateway.settings import REPOSITORY
from tests.e2e.federation import NodeProcess, make_federation

DOCUMENT = REPOSITORY / "schemas" / "handover-record" / "examples" / "mocbai-bavet-child.xml"
WORK = REPOSITORY / "var" / "bench-drain"


def count(node: NodeProcess, sql: str) -> int:
    with sqlite3.connect(node.data_dir / "gateway.db") as db:
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
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200",
                             "-f", "raw", "--threads", "-o",
                             str(directory / f"{phase}-{node.node_id}.txt"), "-p",
                             str(node.process.pid)], stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", type=Path, help="record both nodes with py-spy while "
                        "draining (flame graphs written to this directory)")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    nodes = make_federation(WORK, {"vn.c02": "push", "kh.ahtjp": "push"})
    sender, receiver = nodes["vn.c02"], nodes["kh.ahtjp"]
    try:
        unthrottle(receiver, "vn.c02")
        receiver.stop()
        body = json.dumps({"to": "kh.ahtjp", "type": "handover-record", "version": "1.0",
                           "handling": "H1", "document": DOCUMENT.read_text()}).encode()
        lines = WORK / "queue.lines"
        write_lines(lines, [(sender.api_token(), body)] * 64)
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
        total = count(sender, "SELECT count(*) FROM messages WHERE direction = 'out'")
        print(f"queue through the local API:  {queued.rate:7.0f} /s   bare {baseline.rate:7.0f} /s"
              f"   ratio {queued.rate / baseline.rate:.3f}   p99 {queued.p99_ms:.1f} ms   "
              f"({total} queued, {queued.failed} refused)", flush=True)
        sender.stop()
        with sqlite3.connect(sender.data_dir / "gateway.db") as db:
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
        while count(sender, "SELECT count(*) FROM messages WHERE state = 'delivered'") < total:
            if time.perf_counter() - started > 600:
                raise SystemExit("not all delivered within 10 minutes")
            time.sleep(0.05)
        done = time.perf_counter()
        cpu = {n.node_id: cpu_seconds(n.process.pid) - cpu[n.node_id]  # type: ignore[union-attr]
               for n in (sender, receiver)}
        for process in spies:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        receipts = count(sender, "SELECT count(*) FROM receipts r JOIN messages m "
                                 "ON m.id = r.message_pk WHERE m.direction = 'out'")
        received = count(receiver, "SELECT count(*) FROM messages WHERE direction = 'in'")
        assert receipts == total, (receipts, total)
        assert received == total, (received, total)
        print(f"drain to a loopback partner:  {total / (done - healthy):7.0f} /s delivered with "
              f"verified receipts ({total} in {done - healthy:.1f} s after the sender answered; "
              f"{total / (done - started):.0f} /s counting its start); CPU a message: "
              + ", ".join(f"{node} {seconds / total * 1000:.2f} ms"
                          for node, seconds in cpu.items()), flush=True)
        # the case work the receiver does after each receipt (attaching to cases) follows
        # the receipts, at its own pace: how long until every message is in its case
        while count(receiver, "SELECT count(*) FROM messages WHERE attach_pending") > 0:
            if time.perf_counter() - started > 900:
                raise SystemExit("not all attached within 15 minutes")
            time.sleep(0.1)
        attached = time.perf_counter()
        print(f"attached to cases at the receiver: {total / (attached - healthy):7.0f} /s "
              f"(every message in its case {attached - done:.1f} s after the last receipt)")
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    main()
