"""The indicators of MESSAGES.md "Reporting periods" against a data set whose answers are
worked out by hand below, in a real SQLite file (own node ``vn.c02``, so country VN).

The window is 2026-H1: 16 November 2025 00:00 to 15 May 2026 24:00 at UTC+7, that is
2025-11-15T17:00Z to 2026-05-15T17:00Z. The report is made on 2026-05-25.
"""

from __future__ import annotations

import csv
import io
import itertools
import secrets
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.documents.catalog import catalogs
from gateway.reports.exports import to_csv, to_html, to_pdf, to_xlsx
from gateway.reports.indicators import Report, compute
from gateway.reports.periods import parse_period
from gateway.settings import REPOSITORY
from gateway.store.case_tables import case_conversations, case_events, cases, persons, tasks, tips
from gateway.store.database import create_engine, migrate
from gateway.store.tables import messages
from gateway.store.transactions import Database

pytestmark = pytest.mark.anyio
AS_OF = datetime(2026, 5, 25, tzinfo=UTC)
ME = "vn.c02"
_ids = itertools.count(1)


def at(text: str) -> datetime:
    """A UTC moment written short: '2026-01-06 02:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Seed:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def tip(self, received: str, *, classification: str | None = None,
                  classified: str | None = None, resolved: str | None = None,
                  case_id: int | None = None) -> None:
        await self.conn.execute(tips.insert().values(
            reference=f"TIP-{next(_ids)}", unit=ME, operator="op", received_at=at(received),
            channel="phone", reporter_relation="other", narrative_sealed=b"x",
            child_involved=False, danger="unknown", classification=classification,
            classified_at=at(classified) if classified else None,
            status="resolved" if resolved else "new",
            resolved_at=at(resolved) if resolved else None, case_id=case_id))

    async def case(self, created: str, partner: str | None, *,
                   conversation_with: str | None = None) -> int:
        number = next(_ids)
        result = await self.conn.execute(cases.insert().values(
            reference=f"VN-{number}", kind="repatriation", origin="blo", state="detected",
            owner_unit=ME, partner=partner, priority="normal", created_by="officer",
            created_at=at(created), updated_at=at(created)))
        case_id = int(result.inserted_primary_key[0])
        if conversation_with:
            await self.conn.execute(case_conversations.insert().values(
                partner=conversation_with, conversation=f"conv-{case_id}", case_id=case_id))
        return case_id

    async def event(self, case_id: int, to_state: str, when: str) -> None:
        await self.conn.execute(case_events.insert().values(
            case_id=case_id, at=at(when), actor="officer", event="state",
            to_state=to_state))

    async def person(self, case_id: int, role: str, sex: str | None, nationality: str,
                     child: bool = False) -> None:
        await self.conn.execute(persons.insert().values(
            case_id=case_id, person_ref=f"p{next(_ids)}", role=role, sex=sex,
            nationality=nationality, presumed_child=child, identity_status="unverified",
            created_at=at("2026-01-01 00:00")))

    async def message(self, doc_type: str, direction: str, partner: str, stored: str, *,
                      message_id: str | None = None, ref: str | None = None,
                      conversation: str = "conv-x", test: bool = False) -> str:
        message_id = message_id or f"00000000-0000-4000-8000-{next(_ids):012d}"
        sender, recipient = (ME, partner) if direction == "out" else (partner, ME)
        await self.conn.execute(messages.insert().values(
            message_id=message_id, direction=direction, sender=sender, recipient=recipient,
            doc_type=doc_type, doc_version="1.0", conversation=conversation, ref=ref,
            priority="normal", handling="H1", created=stored, digest="sha-256:x", raw=b"x",
            header="{}", state="accepted" if direction == "in" else "delivered",
            stored_at=at(stored), test=test))
        return message_id

    async def task(self, kind: str, due: str, done: str | None, partner: str | None,
                   message_id: str | None = None) -> None:
        await self.conn.execute(tasks.insert().values(
            kind=kind, owner_unit=ME, partner=partner, message_id=message_id, due_at=at(due),
            done_at=at(done) if done else None, created_at=at("2025-10-01 00:00")))


async def seed(conn: AsyncConnection) -> None:
    s = Seed(conn)
    # -- tips: 8 received (T6 and T8 fall outside), 6 classified, 4 within 24 h (24 h
    #    exactly counts, a microsecond more does not), 3 resolved
    await s.tip("2025-12-01 03:00", classification="trafficking", classified="2025-12-01 05:00",
                resolved="2025-12-05 00:00")                                    # T1
    await s.tip("2026-01-10 03:00", classification="smuggling",
                classified="2026-01-11 09:00")                                  # T2: 30 h
    await s.tip("2026-02-01 03:00")                                             # T3
    c1 = await s.case("2026-01-05 00:00", "kh.ahtjp", conversation_with="kh.ahtjp")
    await s.tip("2026-03-01 03:00", classification="trafficking",
                classified="2026-03-01 04:00", case_id=c1)                      # T4
    await s.event(c1, "closed", "2026-04-01 00:00")   # T4 resolved through its case
    await s.tip("2025-11-15 20:00", classification="duplicate",
                classified="2025-11-15 20:00", resolved="2025-11-15 20:00")     # T5: 16 Nov
    await s.tip("2025-11-15 16:30")                                             # T6: 15 Nov
    await s.tip("2026-05-15 16:59")                                             # T7: 15 May
    await s.tip("2026-05-15 17:00")                                             # T8: 16 May
    await s.tip("2026-04-01 03:00", classification="other",
                classified="2026-04-02 03:00")                                  # T9: 24 h
    await s.tip("2026-04-10 03:00", classification="other",
                classified="2026-04-11 03:00:00.000001")                        # T10: 24 h 1 µs
    # -- cases with a foreign element: kh 2 (1 coordinated), la 2 (both coordinated)
    await s.message("investigation-update", "out", "kh.ahtjp", "2026-01-05 01:00",
                    conversation=f"conv-{c1}")
    c2 = await s.case("2026-02-05 00:00", "kh.ahtjp")
    c3 = await s.case("2026-03-05 00:00", "la.c02", conversation_with="la.c02")
    await s.message("investigation-update", "in", "la.c02", "2026-03-06 00:00",
                    conversation=f"conv-{c3}")
    await s.case("2026-03-06 00:00", "vn.blo-mocbai")       # C4: domestic
    c5 = await s.case("2026-03-07 00:00", None, conversation_with="la.c02")
    await s.message("alert", "in", "la.c02", "2026-03-08 00:00", conversation=f"conv-{c5}")  # A3
    await s.case("2025-10-01 00:00", "kh.ahtjp")            # C6: before the window
    # a message of another partner in C2's would-be conversation id does not coordinate it
    await s.message("investigation-update", "in", "la.c02", "2026-02-06 00:00",
                    conversation=f"conv-{c2}")
    # -- verification: kh sent 2, answered 2, in time 1; la sent 1 (a wrong-partner answer
    #    does not count); la received 1, answered in time. Days 10 and 42; 2.
    v1 = await s.message("verification-request", "out", "kh.ahtjp", "2026-01-06 02:00")
    await s.message("verification-response", "in", "kh.ahtjp", "2026-01-16 02:00", ref=v1)
    await s.task("await-answer", "2026-02-03 10:00", "2026-01-16 02:00", "kh.ahtjp", v1)
    v2 = await s.message("verification-request", "out", "kh.ahtjp", "2026-02-01 00:00")
    await s.message("verification-response", "in", "kh.ahtjp", "2026-03-15 00:00", ref=v2)
    await s.task("await-answer", "2026-03-01 10:00", "2026-03-15 00:00", "kh.ahtjp", v2)
    v3 = await s.message("verification-request", "out", "la.c02", "2026-03-10 00:00")
    await s.message("verification-response", "in", "kh.ahtjp", "2026-03-11 00:00", ref=v3)
    v4 = await s.message("verification-request", "in", "la.c02", "2026-04-01 00:00")
    await s.message("verification-response", "out", "la.c02", "2026-04-03 00:00", ref=v4)
    await s.task("answer", "2026-04-29 10:00", "2026-04-03 00:00", "la.c02", v4)
    await s.message("verification-request", "out", "kh.ahtjp", "2026-05-20 00:00")  # after
    # -- victims handed over to this side: la 1 female child + 1 male adult (both referred);
    #    kh 1 female adult + 1 child of unknown sex. Suspects, foreigners, C2 (before) do not
    #    count.
    await s.event(c3, "handed-over", "2026-04-10 00:00")
    await s.event(c3, "received-and-referred", "2026-04-12 00:00")
    await s.person(c3, "victim", "female", "VN", child=True)
    await s.person(c3, "victim", "male", "VN")
    await s.person(c3, "suspect", "male", "VN")
    await s.person(c3, "victim", "female", "LA")
    await s.event(c1, "handed-over", "2026-02-10 00:00")
    await s.person(c1, "victim", "female", "VN")
    await s.person(c1, "victim", None, "VN", child=True)
    await s.event(c2, "handed-over", "2025-11-01 00:00")
    await s.person(c2, "victim", "female", "VN")
    # -- handover records, suspect notices
    await s.message("handover-record", "out", "kh.ahtjp", "2026-02-10 00:00")
    await s.message("handover-record", "in", "la.c02", "2026-04-10 00:00")
    await s.message("suspect-notice", "out", "la.c02", "2026-01-20 00:00")
    await s.message("suspect-notice", "out", "la.c02", "2026-02-20 00:00")
    await s.message("suspect-notice", "in", "kh.ahtjp", "2026-03-03 00:00")
    # -- alerts: kh received 1 (first action 30 min: the task, before our answer at 60),
    #    kh sent 1 (answered in 90 min), la received 1 (A3 above, no action yet)
    a1 = await s.message("alert", "in", "kh.ahtjp", "2026-03-01 04:00")
    await s.task("alert-first-action", "2026-03-01 06:00", "2026-03-01 04:30", "kh.ahtjp", a1)
    await s.message("investigation-update", "out", "kh.ahtjp", "2026-03-01 05:00", ref=a1)
    a2 = await s.message("alert", "out", "kh.ahtjp", "2026-03-02 00:00")
    await s.message("investigation-update", "in", "kh.ahtjp", "2026-03-02 01:30", ref=a2)
    # -- deadlines: kh passed 3 (K1, K6, V2's answer), open at the end 2 (K1, K6); la passed 1
    #    (K2); no partner: open at the end 1 (K4)
    await s.task("classify-tip", "2026-02-01 00:00", None, "kh.ahtjp")                  # K1
    await s.task("task", "2026-03-01 00:00", "2026-03-05 00:00", "la.c02")            # K2
    await s.task("task", "2026-03-01 00:00", "2026-02-28 00:00", "la.c02")            # K3
    await s.task("task", "2025-10-01 00:00", None, None)                              # K4
    await s.task("task", "2026-06-01 00:00", None, "kh.ahtjp")                        # K5
    await s.task("task", "2026-05-10 00:00", "2026-05-20 00:00", "kh.ahtjp")          # K6
    # -- a conformance probe's test messages (PROTOCOL.md §3.1) count nowhere: not as a
    #    request, an answer (to V3, from the partner it went to), a coordination of C2, an
    #    alert, a handover or a suspect notice
    await s.message("verification-request", "in", "kh.ahtjp", "2026-01-07 00:00", test=True)
    await s.message("verification-response", "in", "la.c02", "2026-03-12 00:00", ref=v3,
                    test=True)
    await s.message("investigation-update", "in", "kh.ahtjp", "2026-02-07 00:00",
                    conversation=f"conv-{c2}", test=True)
    await s.message("alert", "in", "kh.ahtjp", "2026-03-09 00:00", test=True)
    await s.message("handover-record", "in", "kh.ahtjp", "2026-04-11 00:00", test=True)
    await s.message("suspect-notice", "in", "la.c02", "2026-03-04 00:00", test=True)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    path: Path = tmp_path_factory.mktemp("report") / "gateway.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    async with engine.begin() as conn:
        await seed(conn)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    """The same data set on a real PostgreSQL (its own database, dropped afterwards)."""
    name = f"bx_report_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{PG_SERVER}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await seed(conn)
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def report(engine: AsyncEngine) -> Report:
    async with Database(engine).snapshot() as conn:
        return await compute(conn, ME, parse_period("2026-H1"), AS_OF, "VN",
                             lambda partner: partner.split(".")[0].upper())


PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def figures(report: Report, key: str) -> dict[str, dict[str, int]]:
    table = report.table(key)
    return {row: {c: table.count(row, c) for c in table.columns if table.count(row, c)}
            for row in table.rows}


async def test_tips_received_classified_and_resolved(report: Report) -> None:
    assert figures(report, "tips") == {"all": {"received": 8, "classified": 6,
                                               "classified-24h": 4, "resolved": 3}}
    assert report.durations["tips.classified-24h.share"] == 4 / 8
    assert report.durations["tips.resolved.share"] == 3 / 8


async def test_tips_by_month_follow_the_reporting_months(report: Report) -> None:
    months = figures(report, "tips-by-month")
    assert list(months) == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert months["2025-12"] == {"trafficking": 1, "duplicate": 1}  # 1 Dec and 16 Nov
    assert months["2026-01"] == {"smuggling": 1}
    assert months["2026-02"] == {"unclassified": 1}
    assert months["2026-03"] == {"trafficking": 1}
    assert months["2026-04"] == {"other": 2}
    assert months["2026-05"] == {"unclassified": 1}  # 15 May, 23:59 at the border


async def test_cases_with_a_foreign_element_and_coordinated(report: Report) -> None:
    assert figures(report, "foreign-cases") == {
        "kh.ahtjp": {"cases": 2, "coordinated": 1}, "la.c02": {"cases": 2, "coordinated": 2}}


async def test_verification_requests_answered_and_in_time(report: Report) -> None:
    assert figures(report, "verification") == {
        "kh.ahtjp": {"sent": 2, "sent-answered": 2, "sent-in-time": 1},
        "la.c02": {"sent": 1, "received": 1, "received-answered": 1, "received-in-time": 1}}
    assert report.durations["verification.sent.median"] == 26  # days 10 and 42
    assert report.durations["verification.sent.p90"] == 42
    assert report.durations["verification.received.median"] == 2


async def test_victims_received_and_referred_by_sex_and_age(report: Report) -> None:
    assert figures(report, "victims-received") == {
        "kh.ahtjp": {"female-adult": 1, "unknown-child": 1},
        "la.c02": {"female-child": 1, "male-adult": 1}}
    assert figures(report, "victims-referred") == {
        "la.c02": {"female-child": 1, "male-adult": 1}}
    # persons: every one of these counts is below 5, so none is shown
    shown = report.table("victims-received").shown()
    assert all(cell.hidden for _, _, cell in shown if cell.value != 0)


async def test_messages_exchanged_and_alerts(report: Report) -> None:
    assert figures(report, "repatriations") == {"kh.ahtjp": {"sent": 1},
                                                "la.c02": {"received": 1}}
    assert figures(report, "suspect-notices") == {"kh.ahtjp": {"received": 1},
                                                  "la.c02": {"sent": 2}}
    assert figures(report, "alerts") == {"kh.ahtjp": {"sent": 1, "received": 1},
                                         "la.c02": {"received": 1}}
    assert report.durations["alerts.received.median"] == 30
    assert report.durations["alerts.sent.median"] == 90


async def test_overdue_items(report: Report) -> None:
    assert figures(report, "overdue") == {"kh.ahtjp": {"passed": 3, "open-at-end": 2},
                                          "la.c02": {"passed": 1}, "-": {"open-at-end": 1}}


# -- exports, each read back by an independent reader -------------------------------------


def catalog(locale: str) -> Any:
    return catalogs(REPOSITORY / "translations").get(locale)


async def test_postgresql_gives_the_same_figures(report: Report,
                                                 pg_engine: AsyncEngine) -> None:
    """The counting runs in SQL (dialect functions for 24 hours and seconds): every table
    and every duration must come out the same on PostgreSQL."""
    async with Database(pg_engine).snapshot() as conn:
        other = await compute(conn, ME, parse_period("2026-H1"), AS_OF, "VN",
                              lambda partner: partner.split(".")[0].upper())
    assert list(other.tables) == list(report.tables)
    for key in report.tables:
        assert figures(other, key) == figures(report, key), key
    assert other.durations == report.durations
    assert figures(report, "verification")  # not two empty reports


async def test_the_csv_has_a_bom_the_figures_and_no_live_formula(report: Report) -> None:
    report.unit = "=HYPERLINK(\"http://x\")"  # a value a spreadsheet would run
    try:
        data = to_csv(report, catalog("en"))
    finally:
        report.unit = ME
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://x\")" in cells
    by_title = {row[0]: index for index, row in enumerate(rows) if len(row) == 1}
    verification = rows[by_title["Verification requests"] + 2]
    assert verification[:4] == ["kh.ahtjp", "2", "2", "1"]
    victims = rows[by_title["Victims received, by partner, sex and age"] + 2]
    assert victims[0] == "kh.ahtjp"
    assert set(victims[1:]) <= {"< 5", "x", "0"}  # four victims in all: withheld whole
    assert "1" not in victims


async def test_the_xlsx_holds_numbers_a_sheet_per_group_and_no_small_count(
        report: Report, tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(to_xlsx(report, catalog("vi")))
    book = load_workbook(path)
    assert len(book.sheetnames) == 6
    values = [(sheet.title, row) for sheet in book for row in sheet.iter_rows(values_only=True)]
    everything = catalog("vi").pgettext("report", "all")
    tips_row = next(row for _, row in values if row and row[0] == everything)
    assert tips_row[1:5] == (8, 4, 6, 3)  # numbers, not text
    assert all(isinstance(v, int) for v in tips_row[1:5])
    persons = [row for title, row in values
               if title == book.sheetnames[3] and row and row[0] in ("kh.ahtjp", "la.c02")]
    assert persons
    assert all(v in (0, "< 5", "x") for row in persons for v in row[1:])


async def test_the_pdf_shows_the_figures_in_both_languages(report: Report,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(to_pdf(to_html(report, catalog("vi"), catalog("en"), "vi")))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Verification requests" in text  # English beside
    assert catalog("vi").pgettext("report", "Verification requests") in text
    assert catalog("vi").pgettext("report", "Verification requests") != "Verification requests"
    assert "< 5" in text
    assert "26.0" in text
    assert "50 %" in text
