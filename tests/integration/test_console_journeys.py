"""What a new user met walking the console (issue 22's usability round), each checked where
it lands: nothing classified that nobody chose, nothing said to have happened in the
future, an error beside the field that is missing (never an optional one before it), the
child's best-interests decision asked of the supervisors when it is due, a draft waiting for
a second person told to her, a case and its person opened together or not at all, no
document offered twice or on a closed case, the referral's facility from the handover
record, and language lists in the reader's language only."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from babel import Locale

from gateway.documents.convert import DocumentForms
from gateway.documents.fielderrors import field_errors
from gateway.protocol.problems import Problem
from gateway.web.console.codelists import FIRST_LANGUAGES, languages
from tests.conftest import example
from tests.integration.conftest import Desk
from tests.integration.test_both_sides import (
    case_of,
    conversation_of,
    document,
    open_tasks,
    receive,
    send,
)
from tests.integration.test_console_work import PASSWORD, TIP_FORM, Browser

pytestmark = pytest.mark.anyio


@pytest.fixture
async def people(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """An officer, two supervisors and a hotline operator of kh.ahtjp at their consoles."""
    transport = httpx.ASGITransport(app=desk.receiver.app)
    browsers = {}
    for name, role, unit in (("sophea", "blo-officer", "kh.ahtjp"),
                             ("boss", "supervisor", "kh.ahtjp"),
                             ("deputy", "supervisor", "kh.ahtjp"),
                             ("line", "hotline-operator", "kh.hotline-1280")):
        await desk.add_user(name, role, unit=unit, password=PASSWORD)
        browsers[name] = Browser(desk.receiver, httpx.AsyncClient(
            transport=transport, base_url="http://kh.test"))
        await browsers[name].login(name)
    yield browsers
    for browser in browsers.values():
        await browser.client.aclose()


def rows(desk: Desk, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(desk.receiver.db) as conn:
        return conn.execute(sql, args).fetchall()


async def test_a_tip_is_never_classified_by_the_page(desk: Desk,
                                                     people: dict[str, Browser]) -> None:
    line = people["line"]
    recorded = await line.post("/hotline", TIP_FORM)
    tip_path = recorded.headers["location"].split("?")[0]
    page = await line.get(tip_path)
    for name in ("classification", "urgency"):  # a blank choice, and it is the one shown
        select = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', page.text,
                           re.S)
        assert select is not None
        assert select[1].startswith('<option value="">')
        assert "selected" not in select[1]
    refused = await line.post(tip_path, {"action": "escalate", "classification": "",
                                         "urgency": "", "alert_to": "vn.c02"})
    assert refused.status_code == 409
    assert rows(desk, "SELECT status, classification, urgency, case_id FROM tips") == [
        ("new", None, None, None)]
    assert rows(desk, "SELECT count(*) FROM cases") == [(0,)]


async def test_nothing_signed_says_it_happened_in_the_future(desk: Desk,
                                                             registry: Any) -> None:
    await receive(desk, registry, "verification-request",
                  document(registry, "verification-request"))
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    record = document(registry, "handover-record", time="2026-12-20T02:30:00Z")  # NOW + 26 d
    record["person"][0]["@person-id"] = "P1"
    drafted = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "handover-record", "to": "vn.c02", "handling": "H1", "document": record})
    refused = await desk.call("officer", "POST", f"/api/drafts/{drafted['id']}/submit")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "time"
    assert "future" in refused.json()["detail"]
    assert rows(desk, "SELECT state FROM drafts") == [("draft",)]


def test_a_missing_field_is_marked_never_the_optional_one_before_it(registry: Any) -> None:
    forms = DocumentForms(registry)
    record = forms.read("handover-record", "1.0", example("handover-record"))
    for optional in ("item", "condition"):
        record.pop(optional, None)
    record.pop("receiving-agency")
    with pytest.raises(Problem) as refused:
        forms.build("handover-record", "1.0", record)
    errors = field_errors(forms.model("handover-record"), record, list(refused.value.errors),
                          "handover-record")
    assert list(errors) == ["receiving-agency"]


async def verified_child(desk: Desk, registry: Any) -> int:
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    request = await send(desk, found["id"], "verification-request",
                         document(registry, "verification-request"))
    await receive(desk, registry, "verification-response",
                  document(registry, "verification-response", result="confirmed"),
                  ref=request, conversation=await conversation_of(desk, found["id"]))
    return int(found["id"])


async def test_the_best_interests_decision_is_asked_when_it_is_due(
        desk: Desk, registry: Any, people: dict[str, Browser]) -> None:
    case_id = await verified_child(desk, registry)
    case = await case_of(desk, case_id)
    assert (case["state"], case["presumed_child"]) == ("verified", True)
    assert len(open_tasks(case, "best-interests")) == 1
    told = rows(desk, "SELECT username, urgent FROM notifications WHERE kind = "
                      "'best-interests-due' ORDER BY username")
    assert told == [("boss", 1), ("chief", 1), ("deputy", 1)]  # every supervisor of the unit
    # the officer reads why before she fills in a return, not after
    page = await people["sophea"].get(f"/cases/{case_id}/compose/repatriation-request")
    assert 'id="blocked"' in page.text
    # the supervisor decides from the case page as it is (no move by hand first)
    boss = people["boss"]
    assert 'id="best-interests"' in (await boss.get(f"/cases/{case_id}")).text
    decided = await boss.post(f"/cases/{case_id}/best-interests", {
        "decision": "return", "note": "Mother traced by the provincial social affairs."})
    assert decided.status_code == 303
    after = await case_of(desk, case_id)
    assert after["best_interests"] is not None
    assert open_tasks(after, "best-interests") == []
    assert after["state"] == "verified"
    page = await people["sophea"].get(f"/cases/{case_id}/compose/repatriation-request")
    assert 'id="blocked"' not in page.text


async def test_a_draft_waiting_for_release_is_told_to_the_other_supervisors(
        desk: Desk, registry: Any, people: dict[str, Browser]) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    drafted = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "handling": "H1",
        "document": document(registry, "verification-request")})
    await desk.ok("officer", "POST", f"/api/drafts/{drafted['id']}/submit")
    for name in ("boss", "deputy"):
        count = (await people[name].get("/notices/count")).json()
        assert count["unread"] == 1, name
        listing = await people[name].get("/notices")
        assert 'href="/release"' in listing.text
    assert (await people["sophea"].get("/notices/count")).json()["unread"] == 0


async def test_found_a_person_opens_a_case_with_the_person_or_nothing(
        desk: Desk, people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    await sophea.get("/")
    empty = await sophea.post("/cases/new", {"kind": "repatriation", "found": "1",
                                             "partner": "vn.c02", "priority": "urgent"})
    assert empty.status_code == 422
    assert rows(desk, "SELECT count(*) FROM cases") == [(0,)]
    opened = await sophea.post("/cases/new", {
        "kind": "repatriation", "found": "1", "partner": "vn.c02", "priority": "urgent",
        "person_name_latin": "NGUYEN Thi Hoa", "person_estimated_age": "14",
        "person_nationality": "VN", "person_sex": "female"})
    assert opened.status_code == 303
    assert rows(desk, "SELECT person_ref, role, nationality FROM persons") == [
        ("L1", "victim", "VN")]


async def test_no_document_is_offered_twice_nor_on_a_closed_case(
        desk: Desk, registry: Any, people: dict[str, Browser]) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    sophea = people["sophea"]
    offered = await sophea.get(f"/cases/{case['id']}")
    assert 'href="/cases/1/compose/verification-request"' in offered.text
    await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "handling": "H1",
        "document": document(registry, "verification-request")})
    waiting = await sophea.get(f"/cases/{case['id']}")
    assert 'href="/cases/1/compose/verification-request"' not in waiting.text
    await desk.ok("officer", "POST", f"/api/cases/{case['id']}/transitions",
                  json={"to": "withdrawn", "reason": "Opened twice by mistake"})
    closed = await sophea.get(f"/cases/{case['id']}")
    assert 'id="next-documents"' not in closed.text
    assert 'action="/cases/1/compose"' not in closed.text


async def test_the_referral_is_proposed_from_the_handover_record(
        desk: Desk, registry: Any, people: dict[str, Browser]) -> None:
    await receive(desk, registry, "verification-request",
                  document(registry, "verification-request"))
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    cw = desk.receiver.app.state.cases
    from gateway.cases import service  # noqa: PLC0415 - a shortcut a test may take

    async with cw.node.engine.begin() as conn:  # verified and agreed (by phone)
        await service.set_identity_status(conn, case["id"], None, "verified")
    for step in ("verified", "repatriation-planned"):
        await desk.ok("officer", "POST", f"/api/cases/{case['id']}/transitions",
                      json={"to": step})
    record = document(registry, "handover-record")
    record["person"] = [{**record["person"][0], "@person-id": "P1"}]  # the case's girl
    for key in ("item", "condition"):
        record.pop(key, None)
    await send(desk, case["id"], "handover-record", record)
    assert (await case_of(desk, case["id"]))["state"] == "handed-over"
    page = await people["sophea"].get(f"/cases/{case['id']}")
    facility = re.search(r'id="referral-facility" name="facility" value="([^"]*)"', page.text)
    assert facility is not None
    assert facility[1] == record["receiving-agency"]["name"][0]["#text"]


def test_language_lists_are_in_the_readers_language_only() -> None:
    for lang in ("vi", "km", "lo"):
        named = {str(k) for k in Locale.parse(lang).languages}
        shown = languages(lang)
        assert len(shown) > 100
        assert [tag for tag, _ in shown if tag not in named and tag not in FIRST_LANGUAGES] == []
