"""Search at 100,000 cases: the local API's ``POST /api/search`` against a trivial
authenticated call through the same app, in the same run.

Builds (once, then reuses) a node database under ``var/bench-search`` with N cases, two or
three persons each (Vietnamese, Khmer and Lao names in their scripts and in Latin letters,
identity numbers, phone numbers), sealed and blind-indexed exactly as the node stores them.
Then times searches for common and rare names, accented and not, phones, identifiers and case
references, each many times, and prints the median and 95th percentile in milliseconds and as
a ratio of ``GET /api/session`` (session check and one audit-free read) measured alongside.
Run: ``make bench`` or ``python bench/search.py [--cases N]``. The target: under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.access import users
from gateway.audit.context import DatabaseAtHand
from gateway.cases.people import PersonFacts, reference_terms, terms_of
from gateway.runtime.node import open_database
from gateway.settings import REPOSITORY, load_settings
from gateway.store.crypto import Sealer, load_secret_key
from gateway.store.transactions import Database
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app

WORK = REPOSITORY / "var" / "bench-search"
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SURNAMES = [("Nguyễn", 38), ("Trần", 11), ("Lê", 10), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4),
            ("Phan", 4), ("Vũ", 4), ("Võ", 4), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2),
            ("Ngô", 2), ("Dương", 1), ("Lý", 1), ("Lò", 1)]
MIDDLE = ["Thị", "Văn", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Kim", "Xuân"]
GIVEN = ["Hoa", "Lan", "Mai", "Hương", "Anh", "Tuấn", "Hùng", "Dũng", "Linh", "Trang", "Thảo",
         "Nam", "Sương", "Hạnh", "Phương", "Bình", "Cường", "Yến", "Nhung", "Thủy", "Long",
         "Hải", "Tâm", "Vy", "Khoa", "Quỳnh", "Giang", "Hiếu", "Nga", "Loan"]
KHMER = [("សុខ", "SOK"), ("ចាន់", "CHAN"), ("សុភា", "SOPHEA"), ("ដារ៉ា", "DARA"),
         ("ស្រីពៅ", "SREYPOV"), ("វណ្ណា", "VANNA"), ("ពិសី", "PISEY"), ("រតនា", "RATANA")]
LAO = [("ສົມພອນ", "SOMPHONE"), ("ບຸນມີ", "BOUNMY"), ("ພອນສະຫວັນ", "PHONSAVANH"),
       ("ແກ້ວ", "KEO"), ("ຄຳພອນ", "KHAMPHONE"), ("ວິໄລ", "VILAY")]


def latin(text: str) -> str:
    from gateway.cases.people import fold  # noqa: PLC0415 - the node's own folding

    return " ".join(fold(w).upper() for w in text.split())


def person(rng: random.Random) -> PersonFacts:
    kind = rng.random()
    if kind < 0.8:
        native = " ".join([rng.choices([s for s, _ in SURNAMES], [w for _, w in SURNAMES])[0],
                           rng.choice(MIDDLE), rng.choice(GIVEN)])
        roman = latin(native)
    else:
        pool = KHMER if kind < 0.92 else LAO
        (n1, l1), (n2, l2) = rng.sample(pool, 2)
        native, roman = f"{n1} {n2}", f"{l1} {l2}"
    return PersonFacts(person_ref="P1", role="victim", native=native, latin=roman,
                       identifiers=[f"{rng.randrange(10**11, 10**12)}"],
                       phones=[f"+84 9{rng.randrange(10**7, 10**8)}"],
                       details={"note": "bench"})


def build(path: Path, cases: int) -> None:
    """Fill a fresh node database with ``cases`` cases, as the services store them."""
    settings = load_settings(node_id="vn.c02", data_dir=WORK)
    asyncio.run(_migrate(settings))
    sealer = Sealer(load_secret_key(settings.secret_key_path))
    rng = random.Random(2026)
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        stamp = NOW.isoformat(sep=" ")
        for chunk in range(0, cases, 5000):
            case_rows, person_rows, term_rows = [], [], []
            for case_id in range(chunk + 1, min(chunk + 5000, cases) + 1):
                reference = f"VN-C02-2026-{case_id:06d}"
                case_rows.append((case_id, reference, "repatriation", "blo", "screening",
                                  "vn.c02", "routine", 0, "bench", stamp, stamp))
                term_rows.extend((sealer.index_term(t), case_id, None)
                                 for t in reference_terms(reference))
                for index in range(rng.choice((2, 2, 3))):
                    facts = person(rng)
                    person_id = case_id * 4 + index
                    person_rows.append((
                        person_id, case_id, f"P{index + 1}",
                        "victim" if index == 0 else "relative",
                        sealer.seal(facts.native.encode(), "persons.name_native"),  # type: ignore[union-attr]
                        sealer.seal(facts.latin.encode(), "persons.name_latin"),  # type: ignore[union-attr]
                        sealer.seal(json.dumps(facts.details).encode(), "persons.details"),
                        "unverified", 0, stamp))
                    term_rows.extend((sealer.index_term(t), case_id, person_id)
                                     for t in terms_of(facts))
            db.executemany(
                "INSERT INTO cases (id, reference, kind, origin, state, owner_unit, priority, "
                "presumed_child, created_by, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)", case_rows)
            db.executemany(
                "INSERT INTO persons (id, case_id, person_ref, role, name_native_sealed, "
                "name_latin_sealed, details_sealed, identity_status, presumed_child, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)", person_rows)
            db.executemany("INSERT INTO search_terms (term, case_id, person_id) VALUES (?,?,?)",
                           term_rows)
            print(f"\r  built {min(chunk + 5000, cases):,} of {cases:,} cases", end="",
                  flush=True)
        db.execute("ANALYZE")
    print(f"  ({time.perf_counter() - started:.0f} s)")


async def _migrate(settings: Any) -> None:
    store = KeyStore(settings.key_path, settings.node_id)
    if not settings.key_path.exists():
        store.generate("EdDSA", "bench", NOW)
    at_hand = DatabaseAtHand(Database(await open_database(settings)), lambda: NOW)
    async with at_hand.db.transaction() as conn:
        if await users.find(conn, "bench") is None:
            await users.add_user.within(conn, at_hand, "bench", username="bench",
                                        display_name="Bench", role="investigator",
                                        unit="vn.c02", password="a long enough password")
    await at_hand.db.dispose()


async def measure(rounds: int) -> list[tuple[str, float, float, int]]:
    settings = load_settings(node_id="vn.c02", data_dir=WORK)
    app = create_app(settings, clock=lambda: NOW, run_worker=False)
    rows: list[tuple[str, float, float, int]] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post("/api/session", json={
                "username": "bench", "password": "a long enough password"})
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            queries = {"(baseline) GET /api/session": None,
                       "common name, accents: Nguyễn Thị Hoa": "Nguyễn Thị Hoa",
                       "common name, plain: nguyen van anh": "nguyen van anh",
                       "one common word: nguyen": "nguyen",
                       "rare name: Lò Hiếu": "Lò Hiếu",
                       "Khmer script: សុភា ដារ៉ា": "សុភា ដារ៉ា",
                       "Lao, Latin: bounmy keo": "bounmy keo",
                       "case reference": "VN-C02-2026-054321",
                       "phone (from the data)": None, "identifier (from the data)": None}
            sample = await _a_person()
            queries["phone (from the data)"] = sample[0]
            queries["identifier (from the data)"] = sample[1]
            for label, query in queries.items():
                times, found = [], 0
                for _ in range(rounds):
                    started = time.perf_counter()
                    if query is None:
                        response = await client.get("/api/session", headers=headers)
                    else:
                        response = await client.post("/api/search", headers=headers,
                                                     json={"q": query})
                        found = len(response.json()["results"])
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                times.sort()
                rows.append((label, statistics.median(times),
                             times[int(len(times) * 0.95) - 1], found))
    return rows


async def _a_person() -> tuple[str, str]:
    rng = random.Random(2026)
    facts = person(rng)  # the first person built: same seed, same numbers
    return facts.phones[0].replace("+84 ", "0"), facts.identifiers[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    database = WORK / "gateway.db"
    marker = WORK / f"built-{args.cases}"
    if not marker.exists():
        if WORK.exists():
            import shutil  # noqa: PLC0415

            shutil.rmtree(WORK)
        print(f"building a node database with {args.cases:,} cases under {WORK}")
        build(database, args.cases)
        marker.touch()
    with sqlite3.connect(database) as db:
        cases = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        terms = db.execute("SELECT count(*) FROM search_terms").fetchone()[0]
    print(f"{cases:,} cases, {terms:,} blind-index terms; {date.today()}; "
          f"{args.rounds} rounds each")
    rows = asyncio.run(measure(args.rounds))
    base = rows[0][1]
    print(f"{'query':45} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11} {'cases':>6}")
    for label, median, p95, found in rows:
        print(f"{label:45} {median:10.1f} {p95:8.1f} {median / base:11.1f} {found:6}")
    worst = max(p95 for _, _, p95, _ in rows[1:])
    print(f"worst p95 {worst:.1f} ms: {'under' if worst < 100 else 'OVER'} the 100 ms target")


if __name__ == "__main__":
    main()
