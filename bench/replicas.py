"""Ingest on PostgreSQL: one replica, then three behind HAProxy, beside SQLite, same run.

The node of bench/ingest.py (``kh.ahtjp`` receiving 3 KB handover records from ``vn.c02``),
driven by the same ``wrk`` (32 connections): on SQLite (one process), on PostgreSQL with one
``gateway serve``, and on PostgreSQL with three behind HAProxy (Debian's package), each on a
fresh database of the machine's server (127.0.0.1:5432). The bare endpoint is the baseline.

    .venv/bin/python bench/replicas.py [--seconds 10] [--replicas 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import WORK, line, prepare_node, presign, run_bare, run_node
from load import Load, free_port, serve, stop, wrk

from tests.e2e.replicas import create_database, drop_database, haproxy_config


def run_replicas(env: dict[str, str], lines: Path, seconds: int, connections: int,
                 count: int) -> Load:
    """``count`` replicas behind HAProxy."""
    processes: list[subprocess.Popen[bytes]] = []
    ports = []
    try:
        for index in range(count):
            port = free_port()
            ports.append(port)
            processes.append(serve([sys.executable, "-m", "gateway", "serve"],
                                   {**env, "BX_REPLICA": f"r{index + 1}"}, port,
                                   log=WORK / f"replica-{index + 1}.log"))
        front = free_port()
        config = WORK / "haproxy.cfg"
        config.write_text(haproxy_config(front, [(f"r{i + 1}", p) for i, p in enumerate(ports)]))
        haproxy = subprocess.Popen([shutil.which("haproxy") or "/usr/sbin/haproxy", "-db",
                                    "-f", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        processes.append(haproxy)
        time.sleep(1.5)
        return wrk(f"http://127.0.0.1:{front}", lines, seconds=seconds, connections=connections)
    finally:
        for process in processes:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    count = 3000 * args.seconds
    lines = WORK / "replicas.lines"
    results = []
    print(f"pre-signing {count} messages ...", flush=True)
    presign(WORK, count, lines)
    env = prepare_node(WORK)
    bare = run_bare(env, lines, args.seconds, args.connections)
    results.append(f"{'bare FastAPI (read body, 202)':<34} {bare.rate:8.0f} /s")
    print(results[-1], flush=True)
    presign(WORK, count, lines)
    load, _, _ = run_node(env, lines, args.seconds, args.connections, WORK / "sqlite.log")
    results.append(line("SQLite, one process", load, bare))
    print(results[-1], flush=True)
    for replicas in (1, args.replicas):
        database = create_database()
        try:
            env = prepare_node(WORK, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}")
            subprocess.run([sys.executable, "-m", "gateway", "audit", "verify"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            presign(WORK, count, lines)
            if replicas == 1:
                load, _, _ = run_node(env, lines, args.seconds, args.connections,
                                        WORK / "pg-1.log")
            else:
                load = run_replicas(env, lines, args.seconds, args.connections, replicas)
            label = f"PostgreSQL, {replicas} replica" + ("s behind HAProxy" if replicas > 1
                                                          else "")
            results.append(line(label, load, bare))
            print(results[-1], flush=True)
        finally:
            drop_database(database)
    print(f"\nsummary (same run, same wrk, {args.connections} connections):")
    for result in results:
        print(result)


if __name__ == "__main__":
    main()
