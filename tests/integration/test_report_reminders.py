"""A unit's supervisors are reminded of the periodic report from ten days before it is due
(MESSAGES.md, "Reporting periods"), once, until the report is sent; C02 is never reminded.
On a real node (SQLite file, real keys), through the housekeeping round that runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gateway.access import users
from gateway.cases import housekeeping
from gateway.cases.work import CaseWork, open_case_work
from gateway.documents.catalog import catalogs
from gateway.exchange.startup import open_node
from gateway.reports import reminders
from gateway.reports.periods import parse_period
from gateway.reports.service import make_report, send_report
from gateway.settings import REPOSITORY, load_settings
from gateway.store.case_tables import notifications
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app
from tests.conftest import NOW, World, make_key
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio
WORDS = catalogs(REPOSITORY / "translations")


async def open_unit(tmp_path: Path, world: World, node_id: str,
                    partner: str = "vn.c02") -> AsyncIterator[CaseWork]:
    settings = load_settings(node_id=node_id, data_dir=tmp_path / node_id)
    KeyStore(settings.key_path, node_id).generate("EdDSA", None, NOW)
    write_partner(settings.partners_path, partner,
                  world.sender_key if partner == "vn.c02" else make_key(partner))
    node = await open_node(settings, clock=world.clock)
    try:
        cw = open_case_work(node)
        async with node.engine.begin() as conn:
            for name, role in (("chief", "supervisor"), ("deputy", "supervisor"),
                               ("officer", "blo-officer")):
                await users.add_user.within(conn, cw, "test", username=name,
                                            display_name=name.title(), role=role, unit=node_id,
                                            password="a long enough password")
        yield cw
    finally:
        await node.close()


@pytest.fixture
async def mocbai(tmp_path: Path, world: World) -> AsyncIterator[CaseWork]:
    async for cw in open_unit(tmp_path, world, "vn.blo-mocbai"):
        yield cw


async def reminded(cw: CaseWork) -> list[tuple[str, str, datetime]]:
    async with cw.node.engine.connect() as conn:
        found = await conn.execute(sa.select(notifications.c.username, notifications.c.doc_type,
                                             notifications.c.due_at)
                                   .where(notifications.c.kind == "report-due")
                                   .order_by(notifications.c.id))
        return [(r.username, r.doc_type, r.due_at.astimezone(UTC)) for r in found]


def at_border(text: str) -> datetime:
    """A moment written at the border's time (UTC+7)."""
    return datetime.fromisoformat(f"{text}+07:00").astimezone(UTC)


def test_the_periods_to_remind_begin_ten_days_before_the_due_day() -> None:
    assert reminders.periods_to_remind(date(2027, 5, 9)) == []
    assert [p.name for p in reminders.periods_to_remind(date(2027, 5, 10))] == ["2027-H1"]
    assert [p.name for p in reminders.periods_to_remind(date(2027, 6, 19))] == ["2027-H1"]
    assert reminders.periods_to_remind(date(2027, 6, 20)) == []
    assert [p.name for p in reminders.periods_to_remind(date(2027, 11, 10))] == ["2027"]


async def test_supervisors_are_reminded_once_until_the_report_is_sent(
        mocbai: CaseWork, world: World) -> None:
    world.now = at_border("2027-05-09T23:59")
    await housekeeping.run_once(mocbai, [reminders.remind])
    assert await reminded(mocbai) == []  # eleven days before: not yet

    world.now = at_border("2027-05-10T00:01")
    await housekeeping.run_once(mocbai, [reminders.remind])
    due = at_border("2027-05-21T00:00")  # the end of 20 May at the border
    assert await reminded(mocbai) == [("chief", "periodic-report", due),
                                      ("deputy", "periodic-report", due)]
    world.now = at_border("2027-05-12T09:00")
    await housekeeping.run_once(mocbai, [reminders.remind])
    assert len(await reminded(mocbai)) == 2  # once, not at every round

    report = await make_report(mocbai.node, parse_period("2027-H1"))
    await send_report(mocbai.node, report, "vn.c02", actor="chief")
    async with mocbai.node.engine.begin() as conn:
        await users.add_user.within(conn, mocbai, "test", username="newcomer",
                                    display_name="Newcomer", role="supervisor",
                                    unit="vn.blo-mocbai", password="a long enough password")
    await housekeeping.run_once(mocbai, [reminders.remind])
    assert len(await reminded(mocbai)) == 2  # sent: nobody else is reminded of it

    world.now = at_border("2027-11-10T08:00")  # the annual report's turn
    await housekeeping.run_once(mocbai, [reminders.remind])
    annual = at_border("2027-11-21T00:00")
    assert [r for r in await reminded(mocbai) if r[2] == annual] == [
        ("chief", "periodic-report", annual), ("deputy", "periodic-report", annual),
        ("newcomer", "periodic-report", annual)]


async def test_the_collecting_node_is_never_reminded(tmp_path: Path, world: World) -> None:
    async for c02 in open_unit(tmp_path, world, "vn.c02", partner="vn.blo-mocbai"):
        world.now = at_border("2027-05-15T08:00")
        await housekeeping.run_once(c02, [reminders.remind])
        assert await reminded(c02) == []
        async with c02.node.db.transaction() as conn:
            assert await reminders.remind(conn, c02) == 0


async def test_the_supervisor_sees_the_reminder_in_the_console(tmp_path: Path,
                                                               world: World) -> None:
    settings = load_settings(node_id="vn.blo-mocbai", data_dir=tmp_path / "mocbai")
    KeyStore(settings.key_path, settings.node_id).generate("EdDSA", None, NOW)
    write_partner(settings.partners_path, "vn.c02", world.sender_key)
    world.now = at_border("2027-05-11T08:00")
    app = create_app(settings, clock=world.clock, run_worker=False)
    async with app.router.lifespan_context(app):
        cw = app.state.cases
        async with cw.node.engine.begin() as conn:
            await users.add_user.within(conn, cw, "test", username="chief",
                                        display_name="Chief", role="supervisor",
                                        unit=settings.node_id, password="a long enough password")
        await housekeeping.run_once(cw, [reminders.remind])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vn.test") as client:
            answer = await client.post("/login", data={"username": "chief",
                                                       "password": "a long enough password"},
                                       headers={"Origin": "http://vn.test"})
            assert answer.status_code == 303, answer.text
            assert (await client.get("/notices/count")).json() == {"unread": 1, "urgent": 0}
            page = (await client.get("/notices", headers={"Accept-Language": "vi"})).text
    said = WORDS.get("vi").pgettext("code", "notice:report-due")
    assert said != "notice:report-due"
    assert said in page
    assert 'href="/reports"' in page
    assert "2027-05-21 00:00" in page or "21/05/2027" in page  # the due time, at the border
