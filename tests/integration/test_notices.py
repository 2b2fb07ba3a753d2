"""Notices in-process, checked where they land: in each person's header count, list and home
page, only for what that person may open (each link followed); the supervisors told of an
alert released without review; an immediate alert received opening its special data in one
step, with its own reason in the audit line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.cases import housekeeping
from gateway.documents.convert import DocumentForms
from tests.conftest import example
from tests.integration.conftest import Desk
from tests.integration.test_console_work import PASSWORD, Browser, audit_lines, rows
from tests.integration.test_hotline import TIP

pytestmark = pytest.mark.anyio
#: kh.ahtjp's people, and the hotline unit's (its chief is a supervisor of that unit).
PEOPLE = {"sophea": ("blo-officer", "kh.ahtjp"), "boss": ("supervisor", "kh.ahtjp"),
          "line": ("hotline-operator", "kh.ahtjp"), "audra": ("auditor", "kh.ahtjp"),
          "adam": ("admin", "kh.ahtjp"), "hoa.operator": ("hotline-operator", "kh.hotline-1280"),
          "duty": ("supervisor", "kh.hotline-1280"), "night": ("supervisor", "kh.hotline-1280")}
NOTICE_LINK = re.compile(r'<li class="notice-item[^"]*">\s*<span class="badge[^"]*">[^<]*</span>'
                         r'\s*<a href="([^"]+)">')


@pytest.fixture
async def people(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """Everyone of :data:`PEOPLE` with an API session (``desk``) and a console session."""
    transport = httpx.ASGITransport(app=desk.receiver.app)
    browsers: dict[str, Browser] = {}
    for name, (role, unit) in PEOPLE.items():
        await desk.add_user(name, role, unit=unit, password=PASSWORD)
    for name in PEOPLE:
        client = httpx.AsyncClient(transport=transport, base_url="http://kh.test")
        browsers[name] = Browser(desk.receiver, client)
        await browsers[name].login(name)
    yield browsers
    for browser in browsers.values():
        await browser.client.aclose()


async def count(who: Browser) -> dict[str, int]:
    response = await who.get("/notices/count")
    assert response.status_code == 200
    counted: dict[str, int] = response.json()
    return counted


async def links(who: Browser, path: str = "/notices") -> list[str]:
    """The links of the notices a page lists."""
    response = await who.get(path)
    assert response.status_code == 200
    return NOTICE_LINK.findall(response.text)


async def follow(who: Browser) -> list[str]:
    """Every notice's link on the list and the home page, followed: each answers 200."""
    found = await links(who)
    assert set(await links(who, "/")) <= set(found)
    for href in found:
        assert (await who.get(href)).status_code == 200, href
    return found


def kinds_for(desk: Desk, username: str) -> list[tuple[Any, ...]]:
    return rows(desk.receiver, "SELECT kind, case_id, task_id, message_id, urgent FROM "
                               "notifications WHERE username = ? ORDER BY id", username)


async def test_a_message_is_told_only_to_those_who_may_open_it(
        people: dict[str, Browser], desk: Desk) -> None:
    raw = desk.receiver.world.message("verification-request", example("verification-request"),
                                      priority="urgent")
    assert (await desk.receiver.post(raw)).status_code == 202
    ((case_id, message_id),) = rows(desk.receiver, "SELECT c.id, m.message_id FROM cases c, "
                                                   "messages m WHERE m.direction = 'in'")
    assert rows(desk.receiver, "SELECT unit, kind FROM notifications") == [
        ("kh.ahtjp", "message")]  # one notice, to the whole unit
    page = f"/cases/{case_id}/messages/{message_id}"
    for reader in ("sophea", "boss", "line"):
        assert await count(people[reader]) == {"unread": 1, "urgent": 1}
        assert await follow(people[reader]) == [page]
    for outsider in ("audra", "adam"):  # their role reads no case: not told of one
        assert await count(people[outsider]) == {"unread": 0, "urgent": 0}
        assert await follow(people[outsider]) == []
        assert "notice-item" not in (await people[outsider].get("/")).text
        assert (await people[outsider].get(page)).status_code == 403  # what it would open
    assert await follow(people["duty"]) == []  # another unit's case

    # a tip's clocks: told to those who may open the tip, not to the officer
    tip = await desk.ok("line", "POST", "/api/tips", json=TIP)
    await desk.later(timedelta(hours=19))
    await housekeeping.run_once(desk.receiver.app.state.cases)
    told = rows(desk.receiver, "SELECT kind FROM notifications WHERE tip_id = ?", tip["id"])
    assert {kind for (kind,) in told} == {"due-soon", "overdue"}  # classify; a child's 12 h
    for name in ("line", "sophea", "audra"):
        await people[name].login(name)  # the console's sessions lapsed with the clock
    assert await follow(people["line"]) == [f"/hotline/{tip['id']}"] * len(told) + [page]
    assert await follow(people["sophea"]) == [page]
    assert await count(people["sophea"]) == {"unread": 1, "urgent": 1}
    assert await count(people["audra"]) == {"unread": 0, "urgent": 0}

    # marked read, back to the page it was marked on: never to another site
    ((notice_id,),) = rows(desk.receiver, "SELECT id FROM notifications WHERE kind = "
                                          "'message'")
    for target, landing in (("/\\evil.example", "/notices"), ("//evil.example", "/notices"),
                            ("/\t/evil.example", "/notices"), ("https://evil.example",
                                                               "/notices"), ("/", "/")):
        marked = await people["sophea"].post("/notices/read", {"id": notice_id,
                                                               "next": target})
        assert marked.headers["location"] == landing, target
    assert await count(people["sophea"]) == {"unread": 0, "urgent": 0}
    assert await count(people["line"]) == {"unread": 3, "urgent": 3}  # read per person


async def test_a_returned_draft_links_to_itself_while_it_may_change(
        people: dict[str, Browser], desk: Desk, registry: Any) -> None:
    case = await desk.ok("sophea", "POST", "/api/cases", json={"kind": "repatriation",
                                                               "partner": "vn.c02"})
    await desk.ok("sophea", "POST", f"/api/cases/{case['id']}/transitions",
                  json={"to": "screening"})  # a case the closure may close
    document = DocumentForms(registry).read("case-closure", "1.0", example("case-closure"))
    draft = await desk.ok("sophea", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "case-closure", "to": "vn.c02", "handling": "H1", "document": document})
    assert (await desk.ok("sophea", "POST", f"/api/drafts/{draft['id']}/submit"))[
        "state"] == "submitted"
    await desk.ok("boss", "POST", f"/api/drafts/{draft['id']}/return",
                  json={"reason": "Say which family support"})
    assert await follow(people["sophea"]) == [f"/drafts/{draft['id']}"]
    await desk.ok("sophea", "POST", f"/api/drafts/{draft['id']}/submit")
    # the supervisor is told it waits for her (twice: once a submission)
    assert await follow(people["boss"]) == ["/release"] * 2
    assert (await count(people["boss"]))["unread"] == 2
    await desk.ok("boss", "POST", f"/api/drafts/{draft['id']}/release")
    # sent now: the old notice leads to the case, the new one to the message sent
    found = await follow(people["sophea"])
    assert found[1] == f"/cases/{case['id']}"
    assert found[0].startswith(f"/cases/{case['id']}/messages/")
    # sent now, it waits no more: "waiting for release" is gone from her list, her home
    # page and her count (the walk: released drafts still said they waited)
    assert await follow(people["boss"]) == []
    assert (await count(people["boss"]))["unread"] == 0


async def test_the_supervisors_are_told_of_an_alert_released_without_review(
        people: dict[str, Browser], desk: Desk) -> None:
    tip = await desk.ok("hoa.operator", "POST", "/api/tips", json=TIP)
    escalated = await desk.ok("hoa.operator", "POST", f"/api/tips/{tip['id']}/escalate", json={
        "classification": "trafficking", "urgency": "immediate", "alert_to": "vn.c02",
        "duty_phone": "+84 24 3826 9111"})
    case_id, message_id = escalated["case_id"], escalated["message_id"]
    ((task_id,),) = rows(desk.receiver, "SELECT id FROM tasks WHERE kind = "
                                        "'review-immediate-release' AND case_id = ?", case_id)
    for chief in ("duty", "night"):
        assert kinds_for(desk, chief) == [
            ("released-alone", case_id, task_id, message_id, 1)]
        assert await count(people[chief]) == {"unread": 1, "urgent": 1}
        assert await follow(people[chief]) == [f"/cases/{case_id}/messages/{message_id}"]
        listed = (await people[chief].get("/notices")).text
        assert "Cảnh báo đã gửi không qua duyệt" in listed  # in the console's language
    assert kinds_for(desk, "hoa.operator") == []  # the author is not told of their own act
    assert await follow(people["boss"]) == []  # another unit's supervisor
    told = audit_lines(desk.receiver, "supervisors.notified")
    assert told == [{"draft": 1, "message": message_id, "task": task_id,
                     "supervisors": ["duty", "night"]}]

    # a chief who sends one alone: the other chief is told, not the author
    second = await desk.ok("duty", "POST", "/api/tips", json=TIP)
    again = await desk.ok("duty", "POST", f"/api/tips/{second['id']}/escalate", json={
        "classification": "trafficking", "urgency": "immediate", "alert_to": "vn.c02",
        "duty_phone": "+84 24 3826 9111"})
    assert [k[0:2] for k in kinds_for(desk, "night")][-1] == ("released-alone",
                                                             again["case_id"])
    assert len(kinds_for(desk, "duty")) == 1
    assert audit_lines(desk.receiver, "supervisors.notified")[-1]["supervisors"] == ["night"]


async def test_an_immediate_alert_opens_in_one_step_with_its_reason(
        people: dict[str, Browser], desk: Desk) -> None:
    raw = desk.receiver.world.message("alert", example("alert"), priority="immediate")
    assert (await desk.receiver.post(raw)).status_code == 202
    sophea = people["sophea"]
    (href,) = await follow(sophea)
    shown = await sophea.get(href)
    assert 'id="immediate-alert"' in shown.text
    assert '<option value="immediate-alert" selected>' in shown.text  # one click to open
    assert audit_lines(desk.receiver, "special.opened") == []  # shown only once asked
    opened = await sophea.post(f"{href}/special", {"reason": "immediate-alert",
                                                    "reason_text": ""})
    assert opened.status_code == 303
    assert opened.headers["location"] == f"{href}?done=special-opened"
    message_id = href.rsplit("/", 1)[1]
    assert audit_lines(desk.receiver, "special.opened") == [
        {"message": message_id, "reason": "immediate-alert"}]
    assert rows(desk.receiver, "SELECT actor FROM audit_log WHERE action = "
                               "'special.opened'") == [("sophea",)]
    page = (await sophea.get(href)).text
    assert 'id="special-shown"' in page
    assert 'id="open-special"' not in page
    assert 'id="immediate-alert"' not in page

    # the reason belongs to an immediate alert received: refused on any other message
    other = desk.receiver.world.message("verification-request",
                                        example("verification-request"), priority="urgent")
    assert (await desk.receiver.post(other)).status_code == 202
    ((case_id, other_id),) = rows(desk.receiver, "SELECT case_id, message_id FROM "
                                                 "notifications WHERE kind = 'message'")
    path = f"/cases/{case_id}/messages/{other_id}"
    plain = (await sophea.get(path)).text
    assert 'value="immediate-alert"' not in plain
    assert 'id="immediate-alert"' not in plain
    refused = await sophea.post(f"{path}/special", {"reason": "immediate-alert"})
    assert refused.status_code == 422
    assert re.search(r'class="field-error" role="alert">lý do «cảnh báo khẩn cấp» chỉ dùng',
                     refused.text)  # said beside the reason, in the reader's language
    assert len(audit_lines(desk.receiver, "special.opened")) == 1  # nothing more opened
    assert rows(desk.receiver, "SELECT count(*) FROM special_grants WHERE message_id = ?",
                other_id) == [(0,)]
