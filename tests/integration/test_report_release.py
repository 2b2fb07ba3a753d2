"""The periodic report's four eyes where supervisors look: a supervisor of Moc Bai submits it
on /reports (by default the period due next), it waits in /release and on the home page of
the unit's other supervisor, who sees its preview (read back from the bytes that will be
signed) and releases it or sends it back with a reason. Checked where it lands: the signed
periodic-report that C02 (a second node in-process) has received and counts, the audit
lines, the submitter's home page."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import escape

from gateway.access import users
from gateway.documents.catalog import catalogs
from gateway.exchange.delivery import DeliveryWorker
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.reports.labels import LABELS
from gateway.settings import REPOSITORY, Settings, load_settings
from gateway.store.messages import RAW_COLUMN
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app
from tests.conftest import NOW
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"
WORDS = catalogs(REPOSITORY / "translations")
MOCBAI, C02 = "vn.blo-mocbai", "vn.c02"


def at_border(text: str) -> datetime:
    """A moment written at the border's time (UTC+7)."""
    return datetime.fromisoformat(f"{text}+07:00").astimezone(UTC)


@dataclass
class Node:
    """A node running in-process."""

    app: FastAPI
    settings: Settings

    def rows(self, sql: str, *args: Any) -> list[Any]:
        with sqlite3.connect(self.settings.data_path / "gateway.db") as conn:
            return conn.execute(sql, args).fetchall()

    async def add_user(self, username: str, role: str, unit: str | None = None) -> None:
        cw = self.app.state.cases
        async with cw.node.engine.begin() as conn:
            await users.add_user.within(conn, cw, "test", username=username,
                                        display_name=username.title(), role=role,
                                        unit=unit or self.settings.node_id, password=PASSWORD)


class Person:
    """One person's console session (own cookies) at a node."""

    def __init__(self, node: Node, lang: str = "vi") -> None:
        self.node = node
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app),
                                        base_url="http://node.test",
                                        cookies={"bx_lang": lang})
        self.csrf = ""

    async def login(self, username: str) -> Person:
        answer = await self.client.post("/login", data={"username": username,
                                                        "password": PASSWORD},
                                        headers={"Origin": "http://node.test"})
        assert answer.status_code == 303, answer.text
        await self.get("/")
        return self

    async def get(self, path: str) -> httpx.Response:
        answer = await self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
        if found:
            self.csrf = found[1]
        return answer

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf": self.csrf, **(data or {})})


class Clock:
    """The two nodes' clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory, clock: Clock
                ) -> AsyncIterator[dict[str, Node]]:
    """Moc Bai and C02, each with its own keys and the other pinned; Moc Bai has two
    supervisors (chief, deputy) and a supervisor of its hotline unit; C02 one supervisor.
    Shared by the module's tests (each works on its own period)."""
    root = tmp_path_factory.mktemp("report-release")
    settings = {n: load_settings(node_id=n, data_dir=root / n) for n in (MOCBAI, C02)}
    keys = {n: KeyStore(s.key_path, n).generate("EdDSA", "2026-11", NOW)
            for n, s in settings.items()}
    write_partner(settings[MOCBAI].partners_path, C02, keys[C02],
                  endpoint="http://c02.test/bx/v1")
    write_partner(settings[C02].partners_path, MOCBAI, keys[MOCBAI],
                  endpoint="http://mocbai.test/bx/v1")
    apps = {n: create_app(s, clock=clock, run_worker=False) for n, s in settings.items()}
    async with apps[MOCBAI].router.lifespan_context(apps[MOCBAI]), \
            apps[C02].router.lifespan_context(apps[C02]):
        running = {n: Node(apps[n], settings[n]) for n in apps}
        for name in ("chief", "deputy"):
            await running[MOCBAI].add_user(name, "supervisor")
        await running[MOCBAI].add_user("hotline.chief", "supervisor", unit="vn.hotline")
        await running[C02].add_user("c02.chief", "supervisor")
        yield running


def report_actions(node: Node, period: str) -> list[str]:
    """The audit log's report lines for a period, in order."""
    return [a for (a,) in node.rows("SELECT action FROM audit_log WHERE action LIKE "
                                    "'report.%' AND subject = ? ORDER BY seq", period)]


async def deliver(nodes: dict[str, Node]) -> None:
    """Moc Bai's delivery worker drains its outbox into C02's partner API; C02 then settles
    what it received (in its own task)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=nodes[C02].app)) as client:
        await DeliveryWorker(nodes[MOCBAI].app.state.node, client).drain()
    for _ in range(500):
        if not nodes[C02].rows("SELECT 1 FROM messages WHERE attach_pending"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("C02 did not settle the report")


def code(lang: str, value: str) -> str:
    return WORDS.code(lang, value)


async def test_a_report_released_from_the_queue_reaches_c02(nodes: dict[str, Node],
                                                            clock: Clock) -> None:
    mocbai, c02 = nodes[MOCBAI], nodes[C02]
    clock.now = at_border("2026-12-06T09:00")
    chief = await Person(mocbai).login("chief")
    form = await chief.get("/reports")
    assert '<option value="2027-H1" selected>' in form.text  # due next: 20 May 2027
    assert 'name="period" value="2027-H1"' in form.text  # and the submission's period
    assert "Từ ngày" in form.text
    assert "Đến ngày" in form.text
    submitted = await chief.post("/reports/submit", {"period": "2027-H1"})
    assert submitted.status_code == 303
    assert submitted.headers["location"] == "/reports?period=2027-H1&done=report-submitted"
    shown = await chief.get(submitted.headers["location"])
    assert f'id="flash">{code("vi", "done:report-submitted")}</p>' in shown.text
    assert "done:" not in shown.text
    (release_id, stored), = mocbai.rows("SELECT id, document FROM report_releases WHERE "
                                        "period = '2027-H1' AND state = 'submitted'")
    own = await chief.get("/release")
    assert f'id="report-{release_id}"' in own.text
    assert f'id="release-report-{release_id}"' not in own.text  # not one's own
    refused = await chief.post(f"/release/reports/{release_id}", {"action": "release"})
    assert refused.status_code == 403
    assert mocbai.rows("SELECT count(*) FROM messages") == [(0,)]

    deputy = await Person(mocbai).login("deputy")
    home = await deputy.get("/")
    mine = re.search(r'<section class="card" id="my-release">(.*?)</section>', home.text, re.S)
    assert mine is not None
    assert f'href="/release#report-{release_id}"' in mine[1]
    assert "2027-H1" in mine[1]
    assert "(Chief, " in mine[1]  # who submitted it, by name, not by login
    assert '<span class="badge warn">1</span>' in mine[1]
    queue = await deputy.get("/release")
    assert f'src="/release/reports/{release_id}/preview"' in queue.text
    assert "2026-11-16 – 2027-05-15" in queue.text  # the window, and when it is due
    assert "2027-05-20" in queue.text
    preview = await deputy.get(f"/release/reports/{release_id}/preview")
    assert preview.headers["content-security-policy"].startswith("default-src 'none'")
    vi = WORDS.get("vi")
    assert vi.pgettext("report", LABELS["tips"]) in preview.text
    assert 'id="preview-tips"' in preview.text
    assert 'id="preview-victims-received"' in preview.text
    khmer = await Person(mocbai, "km").login("deputy")
    in_khmer = await khmer.get(f"/release/reports/{release_id}/preview")
    assert WORDS.get("km").pgettext("report", LABELS["tips"]) in in_khmer.text
    assert str(escape(WORDS.get("km").pgettext("report", LABELS["preview-note"]))) in \
        in_khmer.text

    released = await deputy.post(f"/release/reports/{release_id}", {"action": "release"})
    assert released.status_code == 303
    assert released.headers["location"] == "/release?done=report-released"
    after = await deputy.get(released.headers["location"])
    assert code("vi", "done:report-released") in after.text
    assert f'id="report-{release_id}"' not in after.text  # no longer waiting
    (raw,), = mocbai.rows("SELECT raw FROM messages WHERE direction = 'out' AND "
                          "doc_type = 'periodic-report' AND recipient = ?", C02)
    sealer = mocbai.app.state.node.sealer
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw), RAW_COLUMN)))
    assert envelope.document == bytes(stored)  # exactly the bytes submitted
    assert report_actions(mocbai, "2027-H1") == ["report.submitted", "report.released"]

    await deliver(nodes)
    received = c02.rows("SELECT message_id FROM messages WHERE direction = 'in' AND "
                        "sender = ? AND doc_type = 'periodic-report'", MOCBAI)
    assert received == [(envelope.header.bx.id,)]
    login = await httpx.AsyncClient(transport=httpx.ASGITransport(app=c02.app),
                                    base_url="http://c02.test").post(
        "/api/session", json={"username": "c02.chief", "password": PASSWORD})
    token = login.json()["token"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=c02.app),
                                 base_url="http://c02.test") as api:
        answer = await api.get("/api/reports", params={"period": "2027-H1"},
                               headers={"Authorization": f"Bearer {token}"})
    collection = answer.json()["collection"]
    assert [r["unit"] for r in collection["reported"]] == [MOCBAI]  # C02 counts it


async def test_a_report_sent_back_goes_to_its_submitter_with_the_reason(
        nodes: dict[str, Node], clock: Clock) -> None:
    mocbai = nodes[MOCBAI]
    clock.now = at_border("2027-11-12T10:00")
    chief = await Person(mocbai).login("chief")
    await chief.get("/reports")
    first = await chief.post("/reports/submit", {"period": "2027"})
    again = await chief.post("/reports/submit", {"period": "2027"})  # figures renewed
    assert first.status_code == again.status_code == 303
    rows = mocbai.rows("SELECT id, state FROM report_releases WHERE period = '2027' "
                       "ORDER BY id")
    assert [state for _, state in rows] == ["withdrawn", "submitted"]  # the newer one waits
    waiting = rows[1][0]

    other_unit = await Person(mocbai).login("hotline.chief")
    assert f'id="report-{waiting}"' not in (await other_unit.get("/release")).text
    assert (await other_unit.post(f"/release/reports/{waiting}", {"action": "release"})
            ).status_code == 404  # only a supervisor of the submitter's unit

    deputy = await Person(mocbai).login("deputy")
    await deputy.get("/release")
    no_reason = await deputy.post(f"/release/reports/{waiting}",
                                  {"action": "return", "reason": " "})
    assert no_reason.status_code == 422
    assert "hãy nêu lý do trả lại báo cáo" in no_reason.text  # beside the report's form
    back = await deputy.post(f"/release/reports/{waiting}",
                             {"action": "return", "reason": "Thiếu số liệu tháng 11"})
    assert back.headers["location"] == "/release?done=report-returned"
    assert mocbai.rows("SELECT state, returned_by, return_reason FROM report_releases "
                       "WHERE id = ?", waiting) == [("returned", "deputy",
                                                     "Thiếu số liệu tháng 11")]
    sent = mocbai.rows("SELECT count(*) FROM report_releases WHERE period = '2027' AND "
                       "message_id IS NOT NULL")
    assert sent == [(0,)]  # nothing signed, nothing queued
    assert report_actions(mocbai, "2027") == [
        "report.submitted", "report.withdrawn", "report.submitted", "report.returned"]

    home = await chief.get("/")
    returned = re.search(r'id="my-reports-returned">(.*?)</section>', home.text, re.S)
    assert returned is not None
    assert "Thiếu số liệu tháng 11" in returned[1]
    page = await chief.get("/reports?period=2027")
    assert "Thiếu số liệu tháng 11" in page.text
    assert code("vi", "report:returned") in page.text
    await chief.post("/reports/submit", {"period": "2027"})  # submitted once more
    assert 'id="my-reports-returned"' not in (await chief.get("/")).text


#: Around the due days (20 November, 20 May, at the border): the period whose report is due
#: next, which the reports page offers and a submission without a period takes.
DUE_NEXT = (("2026-11-20T23:59", "2026"),  # the annual report's due day, to its last minute
            ("2026-11-21T00:00", "2027-H1"),  # then the six months to 15 May 2027
            ("2027-05-20T23:59", "2027-H1"),
            ("2027-05-21T00:00", "2027"))


async def test_the_period_offered_and_submitted_is_the_one_due_next(
        nodes: dict[str, Node], clock: Clock) -> None:
    for now, due in DUE_NEXT:
        clock.now = at_border(now)  # sessions lapse over months: log in each time
        chief = await Person(nodes[MOCBAI]).login("chief")
        form = await chief.get("/reports")
        assert f'<option value="{due}" selected>' in form.text, now
        assert re.search(rf'id="submit-form">\s*<input[^>]*><input type="hidden" '
                         rf'name="period" value="{due}">', form.text), now
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=nodes[MOCBAI].app),
                                     base_url="http://node.test") as api:
            token = (await api.post("/api/session", json={
                "username": "deputy", "password": PASSWORD})).json()["token"]
            bearer = {"Authorization": f"Bearer {token}"}
            answer = await api.post("/api/reports/submissions", json={}, headers=bearer)
            assert answer.status_code == 201, answer.text
            assert answer.json()["period"] == due, now  # the API's default too
            back = await api.post(f"/api/reports/submissions/{answer.json()['id']}/return",
                                  json={"reason": "x"}, headers=bearer)
            assert back.json() == {"id": answer.json()["id"], "state": "returned"}
