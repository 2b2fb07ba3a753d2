"""Proofs from the audit log's Merkle tree at 1,000 to 1,000,000 entries: the size of an
inclusion and a consistency proof, and the time to make one from the stored subtrees, beside
a baseline measured in the same run (reading one audit entry by its sequence number, the
least any proof of that entry costs). Logarithmic means: the hashes grow by one per doubling
and the time stays within a small multiple of the baseline at every size.

Builds (once, then reuses) ``var/bench-proofs/audit-N.db`` by direct insert: N entries, the
chain, the tree's perfect subtrees and the head's edge, exactly as the node keeps them (and
checks that the head's root is the tree's).

    .venv/bin/python bench/proofs.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.audit.log import entry_bytes, entry_hash
from gateway.audit.tree import consistency, head, inclusion, leaf, root_at
from gateway.protocol import tlog
from gateway.settings import REPOSITORY
from gateway.store.database import create_engine, migrate

WORK = REPOSITORY / "var" / "bench-proofs"
BATCH = 50_000


async def _migrate(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()


def build(path: Path, count: int) -> None:
    asyncio.run(_migrate(path))
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    prev, size, edge = "0" * 64, 0, []
    for start in range(1, count + 1, BATCH):
        rows, leaves = [], []
        for seq in range(start, min(count, start + BATCH - 1) + 1):
            at = f"2026-{(seq % 12) + 1:02d}-01T00:00:00Z"
            detail = f'{{"n":{seq}}}'
            digest = entry_hash(prev, seq, at, "bench", "message.received", f"m-{seq}", detail)
            rows.append((seq, at, "bench", "message.received", f"m-{seq}", detail, prev, digest))
            leaves.append(tlog.leaf_hash(entry_bytes(seq, at, "bench", "message.received",
                                                     f"m-{seq}", detail)))
            prev = digest
        edge, nodes = tlog.grow(size, edge, leaves)
        size += len(leaves)
        db.executemany("INSERT INTO audit_log (seq, at, actor, action, subject, detail, "
                       "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (?,?,?)", nodes)
        print(f"  {size} entries", end="\r", flush=True)
    db.execute("UPDATE audit_head SET seq = ?, hash = ?, tree_edge = ?",
               (count, prev, b"".join(edge)))
    db.commit()
    db.close()


async def measure(path: Path, sizes: list[int], rounds: int) -> list[tuple[int, ...]]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    rng = random.Random(5)
    found = []
    try:
        async with engine.connect() as conn:
            tree = await head(conn)
            assert tree.root == await root_at(conn, tree.size), "the edge and the tree differ"
            for size in sizes:
                base, prove, consist, hashes, consistency_hashes = [], [], [], [], []
                for _ in range(rounds):
                    index = rng.randrange(size)
                    started = time.perf_counter()
                    entry = await leaf(conn, index + 1)
                    base.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    proof = await inclusion(conn, index, size)
                    prove.append(time.perf_counter() - started)
                    old = rng.randrange(1, size + 1)
                    started = time.perf_counter()
                    between = await consistency(conn, old, size)
                    consist.append(time.perf_counter() - started)
                    root = await root_at(conn, size)
                    tlog.verify_inclusion(tlog.leaf_hash(entry), index, size, proof, root)
                    tlog.verify_consistency(old, await root_at(conn, old), size, root, between)
                    hashes.append(len(proof))
                    consistency_hashes.append(len(between))
                found.append((size, max(hashes), max(consistency_hashes),
                              statistics.median(base), statistics.median(prove),
                              statistics.median(consist)))
    finally:
        await engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    path = WORK / f"audit-{args.entries}.db"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.unlink(missing_ok=True)
        started = time.perf_counter()
        build(part, args.entries)
        part.rename(path)
        print(f"built {args.entries} entries in {time.perf_counter() - started:.0f} s")
    sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.entries]
    print(f"{'entries':>10} {'inclusion':>10} {'consistency':>12} {'read 1 entry':>13} "
          f"{'inclusion':>10} {'consistency':>12}")
    print(f"{'':>10} {'hashes':>10} {'hashes':>12} {'(baseline)':>13} {'x baseline':>10} "
          f"{'x baseline':>12}")
    for size, hashes, between, base, prove, consist in asyncio.run(
            measure(path, sizes, args.rounds)):
        print(f"{size:>10} {hashes:>10} {between:>12} {base * 1e6:>10.0f} µs "
              f"{prove / base:>10.1f} {consist / base:>12.1f}   "
              f"(proof {hashes * 32} bytes, {prove * 1e6:.0f} µs)")


if __name__ == "__main__":
    main()
