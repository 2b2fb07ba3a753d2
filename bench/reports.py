"""A report over 100,000 cases: ``gateway.reports`` computing every indicator of a year, and
the export it feeds, against a baseline read in the same run.

Builds (once, then reuses) a database under ``var/bench-reports`` with N cases spread over two
years, each with a tip, two or three persons, a verification request and most of them an
answer, deadline tasks, case events up to a handover for some, alerts and handover records:
written by direct insert (the figures, not the sealing, are what a report reads). Then times
a report over a range holding all N cases, the annual report and the six-month one, each
several times, and prints the median beside the baseline: one ``SELECT count(*)`` over each
table the report reads (the least any report of these tables could cost). The target: under
2 s for a report over 100,000 cases.

    .venv/bin/python bench/reports.py [--cases 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.documents.catalog import catalogs
from gateway.reports import indicators
from gateway.reports.exports import to_xlsx
from gateway.reports.periods import parse_period
from gateway.settings import REPOSITORY
from gateway.store.database import create_engine, migrate
from gateway.store.transactions import Database

WORK = REPOSITORY / "var" / "bench-reports"
PARTNERS = ("kh.ahtjp", "kh.blo-bavet", "la.c02", "la.blo-dansavanh", "vn.blo-mocbai")
START = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
TABLES = ("cases", "tips", "messages", "persons", "tasks", "case_events",
          "case_conversations")


def at(days: float) -> str:
    return (START + timedelta(days=days)).replace(tzinfo=None).isoformat(sep=" ")


def build(path: Path, count: int) -> None:
    asyncio.run(_migrate(path))
    rng = random.Random(7)
    db = sqlite3.connect(path)
    cases, tips, messages, persons, tasks, events, conversations = ([] for _ in range(7))
    for n in range(1, count + 1):
        day = rng.uniform(0, 700)
        partner = rng.choice(PARTNERS)
        cases.append((n, f"VN-B-{n}", "repatriation", "blo", "detected", "vn.c02", partner,
                      "normal", "bench", at(day), at(day)))
        conversations.append((partner, f"c-{n}", n))
        classified = rng.random() < 0.9
        tips.append((n, f"T-{n}", "vn.c02", "op", at(day - 0.5), "phone", "other", b"x",
                     rng.random() < 0.3, "unknown",
                     rng.choice(indicators.TIP_CLASSES) if classified else None,
                     at(day - 0.5 + rng.uniform(0, 2)) if classified else None,
                     "resolved" if rng.random() < 0.7 else "new",
                     at(day + 3) if rng.random() < 0.7 else None))
        for k in range(rng.choice((2, 3))):
            persons.append((n, f"p{k}", "victim" if k else "suspect",
                            rng.choice(("female", "male", None)), rng.choice(("VN", "KH")),
                            rng.random() < 0.4, "unverified", at(day)))
        request = f"00000000-0000-4000-8000-{n:012d}"
        sent = rng.random() < 0.6
        sender, recipient = ("vn.c02", partner) if sent else (partner, "vn.c02")
        messages.append((request, "out" if sent else "in", sender, recipient,
                         "verification-request", f"c-{n}", None, at(day + 0.1)))
        if rng.random() < 0.8:
            answer = at(day + 0.1 + rng.uniform(0.5, 40))
            messages.append((f"10000000-0000-4000-8000-{n:012d}", "in" if sent else "out",
                             recipient, sender, "verification-response", f"c-{n}", request,
                             answer))
        tasks.append((n, "await-answer" if sent else "answer", "vn.c02", partner, request,
                      at(day + 28), at(day + rng.uniform(1, 50)) if rng.random() < 0.8
                      else None, at(day)))
        if rng.random() < 0.3:
            events.append((n, at(day + 30), "bench", "state", "handed-over"))
            messages.append((f"20000000-0000-4000-8000-{n:012d}", "out", "vn.c02", partner,
                             "handover-record", f"c-{n}", None, at(day + 30)))
            if rng.random() < 0.8:
                events.append((n, at(day + 31), "bench", "state", "received-and-referred"))
        if rng.random() < 0.1:
            messages.append((f"30000000-0000-4000-8000-{n:012d}", "in", partner, "vn.c02",
                             "alert", f"c-{n}", None, at(day + 1)))
    db.executemany(
        "INSERT INTO cases (id, reference, kind, origin, state, owner_unit, partner, priority, "
        "created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", cases)
    db.executemany(
        "INSERT INTO case_conversations (partner, conversation, case_id) VALUES (?,?,?)",
        conversations)
    db.executemany(
        "INSERT INTO tips (id, reference, unit, operator, received_at, channel, "
        "reporter_relation, narrative_sealed, child_involved, danger, classification, "
        "classified_at, status, resolved_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tips)
    db.executemany(
        "INSERT INTO persons (case_id, person_ref, role, sex, nationality, presumed_child, "
        "identity_status, created_at) VALUES (?,?,?,?,?,?,?,?)", persons)
    db.executemany(
        "INSERT INTO messages (message_id, direction, sender, recipient, doc_type, "
        "doc_version, conversation, ref, priority, handling, created, digest, raw, header, "
        "state, stored_at) VALUES (?,?,?,?,?,'1.0',?,?,'normal','H1','',"
        "'sha-256:x',x'00','{}','delivered',?)", messages)
    db.executemany(
        "INSERT INTO tasks (case_id, kind, owner_unit, partner, message_id, due_at, done_at, "
        "created_at) VALUES (?,?,?,?,?,?,?,?)", tasks)
    db.executemany(
        "INSERT INTO case_events (case_id, at, actor, event, to_state) VALUES (?,?,?,?,?)",
        events)
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def _migrate(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()


async def timed(path: Path, period: str, rounds: int) -> tuple[float, float, float, int]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    words = catalogs(REPOSITORY / "translations").get("vi")
    reports, exports, baselines = [], [], []
    counted = 0
    try:
        for _ in range(rounds):
            async with engine.connect() as conn:
                started = time.perf_counter()
                for table in TABLES:
                    await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")
                baselines.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with Database(engine).snapshot() as conn:
                report = await indicators.compute(
                    conn, "vn.c02", parse_period(period), AS_OF, "VN",
                    lambda p: p.split(".")[0].upper())
            reports.append(time.perf_counter() - started)
            started = time.perf_counter()
            to_xlsx(report, words)
            exports.append(time.perf_counter() - started)
            counted = report.table("verification").count("total", "sent") + \
                report.table("verification").count("total", "received")
    finally:
        await engine.dispose()
    return (statistics.median(reports), statistics.median(exports),
            statistics.median(baselines), counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    path = WORK / f"cases-{args.cases}.db"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        part = path.with_suffix(".part")
        part.unlink(missing_ok=True)
        build(part, args.cases)
        part.rename(path)
        print(f"built {args.cases} cases in {time.perf_counter() - started:.0f} s", flush=True)
    for period in ("2024-12-01..2026-12-31", "2026", "2026-H1"):
        report, export, baseline, counted = asyncio.run(timed(path, period, args.rounds))
        print(f"report {period:22} over {args.cases} cases: {report * 1000:7.0f} ms "
              f"(XLSX {export * 1000:.0f} ms); baseline count(*) of its tables "
              f"{baseline * 1000:.0f} ms; ratio {report / baseline:.1f}; "
              f"{counted} verification requests counted", flush=True)


if __name__ == "__main__":
    main()
