"""Matching in-process over a real SQLite file: a report recorded and a partner's verification
request about the same girl, her name written otherwise, find each other through the blind
index (which holds no clear name); reasons in the reader's language; a case never matched
against its own persons; closed reports and purged persons leave the index; the index rebuilt
by the reindex use case; every look audited with ids only; and hostile calls refused."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.cases import housekeeping, matcher, matching
from gateway.protocol.encoding import MAX_JSON_DEPTH, b64url_encode
from gateway.protocol.envelope import Attachment
from gateway.store.messages import RAW_COLUMN
from tests.integration.conftest import Desk
from tests.integration.test_casework import only_case, receive
from tests.integration.test_console_work import JPEG, PASSWORD, Browser
from tests.integration.test_missing_persons import raw_database

pytestmark = pytest.mark.anyio

#: The girl of the verification request's example (``NGUYEN Thi Hoa``, estimated 15 in
#: 2026, Tây Ninh), as her mother reported her: born 2011, without accents.
GIRL: dict[str, Any] = {
    "name_latin": "Nguyen Thi Hoa", "name_native": None, "sex": "female", "birth": "2011",
    "nationality": "VN", "home": {"country": "VN", "province": "Tay Ninh", "district": None,
                                  "commune": None}, "papers": [], "phones": []}
OTHER: dict[str, Any] = {
    "name_latin": "Lo Van Sang", "sex": "male", "birth": "1990-05-02", "nationality": "VN",
    "papers": [], "phones": []}


async def report(desk: Desk, person: dict[str, Any]) -> int:
    made = await desk.ok("hoa.operator", "POST", "/api/missing-persons", json={
        "person": person, "last_seen": None, "reporter_relation": "parent",
        "narrative": None})
    return int(made["id"])


@pytest.fixture
async def people(desk: Desk) -> Desk:
    await desk.add_user("hoa.operator", "hotline-operator", unit="kh.hotline-1280")
    await desk.add_user("other.officer", "blo-officer", unit="kh.elsewhere")
    return desk


def rows(desk: Desk, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(desk.receiver.db) as conn:
        return conn.execute(sql, args).fetchall()


async def test_a_report_and_a_partners_request_about_the_same_girl_find_each_other(
        people: Desk) -> None:
    girl = await report(people, GIRL)
    stranger = await report(people, OTHER)
    stored = raw_database(people).lower()
    assert b"nguyen" not in stored
    assert b"tayninh" not in stored
    keys = rows(people, "SELECT kind, record_id, key FROM match_keys")
    assert {(k, r) for k, r, _ in keys} == {("missing-person", girl),
                                            ("missing-person", stranger)}
    assert all(len(key) == 32 and "hoa" not in key for _, _, key in keys)
    await receive(people, "verification-request")  # NGUYEN Thi Hoa, estimated 15
    await matcher.run_once(people.receiver.app.state.cases)  # the case's persons indexed
    case = await only_case(people)
    victim = next(p for p in case["persons"] if p["role"] == "victim")
    found = await people.ok("officer", "GET", f"/api/cases/{case['id']}/matches",
                            headers={"Accept-Language": "en"})
    by_person = {p["person_id"]: p["matches"] for p in found["persons"]}
    best = by_person[victim["id"]][0]
    assert (best["kind"], best["id"], best["case_id"]) == ("missing-person", girl, None)
    assert best["suggested"] is True
    assert best["score"] > 0.98
    why = {w["field"]: w for w in best["why"]}
    assert why["name"]["agreement"] in ("accents", "exact")
    assert why["birth"]["agreement"] == "range"
    assert "Tay Ninh" in why["home"]["words"] or "Tây Ninh" in why["home"]["words"]
    # never the case's own persons (the victim's mother is one of them)
    assert all(m["case_id"] != case["id"] for ms in by_person.values() for m in ms)
    # the same, said in Vietnamese
    said = await people.ok("officer", "GET", f"/api/cases/{case['id']}/matches",
                           headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    vi = next(p for p in said["persons"] if p["person_id"] == victim["id"])["matches"][0]
    assert vi["why"][0]["words"] != best["why"][0]["words"]
    # a found person asked about directly: the report first, then the case's victim
    asked = await people.ok("officer", "POST", "/api/matches", json={
        "person": {**GIRL, "name_latin": "NGUYEN T. HOA", "birth": None,
                   "estimated_age": 16}, "limit": 5})
    kinds = [(m["kind"], m["id"]) for m in asked["matches"]]
    assert kinds[0] == ("missing-person", girl)
    assert ("case-person", victim["id"]) in kinds
    assert ("missing-person", stranger) not in kinds  # shares no key
    audited = rows(people, "SELECT actor, subject, detail FROM audit_log WHERE action = "
                   "'special.read' AND detail LIKE '%matches%' ORDER BY seq")
    assert [a for a, _, _ in audited] == ["officer", "officer", "officer"]
    assert audited[0][1] == case["reference"]
    details = [json.loads(d) for _, _, d in audited]
    assert details[2]["matches"][0] == f"missing-person:{girl}"
    assert not any("Hoa" in d or "Nguyen" in d for _, _, d in audited)  # ids, not names


async def test_closed_reports_and_purged_persons_leave_the_index_and_reindex_rebuilds_it(
        people: Desk) -> None:
    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    case = await only_case(people)
    cw = people.receiver.app.state.cases
    await matcher.run_once(cw)
    await people.ok("hoa.operator", "POST", f"/api/missing-persons/{girl}/close",
                    json={"reason": "found-safe"})
    assert rows(people, "SELECT count(*) FROM match_keys WHERE kind = 'missing-person'") == [
        (0,)]
    asked = await people.ok("officer", "POST", "/api/matches", json={"person": GIRL})
    assert all(m["kind"] == "case-person" for m in asked["matches"])
    assert asked["matches"]
    rows(people, "DELETE FROM match_keys")
    assert await matching.index_needed(cw) is True
    assert await matching.reindex(cw) == (0, 2)  # the victim and her mother
    assert await matching.index_needed(cw) is False
    again = await people.ok("officer", "POST", "/api/matches", json={"person": GIRL})
    assert [m["id"] for m in again["matches"]] == [m["id"] for m in asked["matches"]]
    await people.later(timedelta(days=365 * 6))  # consent: kept until 2031-11-20
    await housekeeping.run_once(cw)
    assert rows(people, "SELECT count(*) FROM match_keys") == [(0,)]
    gone = await people.ok("officer", "POST", "/api/matches", json={"person": GIRL})
    assert gone["matches"] == []
    purged = await people.ok("officer", "GET", f"/api/cases/{case['id']}/matches")
    assert purged["persons"] == []


async def test_who_may_look_for_matches(people: Desk) -> None:
    await report(people, GIRL)
    await receive(people, "verification-request")
    case = await only_case(people)
    body = {"person": GIRL}
    machine = {"Authorization": f"Bearer {people.receiver.app.state.api_token}"}
    assert (await people.client.post("/api/matches", json=body, headers=machine)
            ).status_code == 200
    assert (await people.client.get(f"/api/cases/{case['id']}/matches", headers=machine)
            ).status_code == 200
    assert (await people.client.post("/api/matches", json=body)).status_code == 401
    for path, method in ((f"/api/cases/{case['id']}/matches", "GET"),
                         ("/api/matches", "POST")):
        refused = await people.call("hoa.operator", method, path, json=body)
        assert refused.status_code == 403  # the hotline may not read special data
    # another unit's case is no case for this officer
    other = await people.call("other.officer", "GET", f"/api/cases/{case['id']}/matches")
    assert other.status_code == 404
    assert (await people.call("officer", "GET", "/api/cases/999999/matches")
            ).status_code == 404


BAD_QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"limit": 0}, "limit"), ({"limit": 51}, "limit"), ({"limit": "5"}, "limit"),
    ({"person": None}, "person"), ({"person.name_latin": 7}, "name_latin"),
    ({"person.sex": "girl"}, "sex"), ({"person.birth": "2011-13"}, "birth"),
    ({"person.estimated_age": True}, "estimated_age"),
    ({"person.estimated_age": 500}, "estimated_age"),
    ({"person.nationality": "XX"}, "nationality"), ({"person.home": "Tay Ninh"}, "home"),
    ({"person.home.planet": "Earth"}, "planet"),
    ({"person.papers": [{"kind": "passport"}]}, "papers"),
    ({"person.phones": ["call me"]}, "phones"),
    ({"person.phones": ["+84 912 345 678"] * 6}, "phones"),
    ({"person.name_native": "x" * 201}, "name_native"),
    ({"person.extra": 1}, "extra"), ({"other": 1}, "other"),
]


async def test_a_bad_query_is_refused_with_its_path(people: Desk) -> None:
    for change, path in BAD_QUERIES:
        body: dict[str, Any] = {"person": copy.deepcopy(GIRL), "limit": 10}
        for dotted, value in change.items():
            *parents, last = dotted.split(".")
            target = body
            for part in parents:
                target = target[part]
            target[last] = value
        refused = await people.call("officer", "POST", "/api/matches", json=body)
        assert refused.status_code == 422, (change, refused.text)
        assert path in json.dumps(refused.json()["errors"]), (change, refused.text)
    assert rows(people, "SELECT count(*) FROM audit_log WHERE action = 'special.read'") == [
        (0,)]


async def test_a_duplicated_member_or_a_deep_body_is_refused(people: Desk) -> None:
    twice = ('{"person": {"name_latin": "Nguyen Thi Hoa", "sex": "female", '
             '"sex": "male"}, "limit": 5}')
    refused = await people.call("officer", "POST", "/api/matches", content=twice,
                                headers={"Content-Type": "application/json"})
    assert refused.status_code == 422
    assert "body.person.sex" in refused.text
    deep = "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5)
    nested = '{"person": {"name_latin": "A", "sex": "female", "papers": ' + deep + "}}"
    refused = await people.call("officer", "POST", "/api/matches", content=nested,
                                headers={"Content-Type": "application/json"})
    assert refused.status_code == 422
    for limit in ("0", "51", "x"):
        bad = await people.call("officer", "GET", f"/api/cases/1/matches?limit={limit}")
        assert bad.status_code == 422


async def test_matching_runs_after_the_commit_suggests_once_and_an_officer_decides(
        people: Desk) -> None:
    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    case = await only_case(people)
    victim = next(p for p in case["persons"] if p["role"] == "victim")
    # attaching only queued the case's persons (the report its own row): nothing indexed for
    # them, nothing suggested yet
    assert sorted(rows(people, "SELECT kind, record_id FROM match_queue")) == sorted(
        [("case-person", p["id"]) for p in case["persons"]] + [("missing-person", girl)])
    assert rows(people, "SELECT count(*) FROM match_keys WHERE kind = 'case-person'") == [
        (0,)]
    assert rows(people, "SELECT count(*) FROM match_suggestions") == [(0,)]
    cw = people.receiver.app.state.cases
    assert await matcher.run_once(cw) == 1  # the pair once, though both sides were queued
    assert rows(people, "SELECT count(*) FROM match_queue") == [(0,)]
    (suggestion, reasons), = rows(people, "SELECT id, reasons FROM match_suggestions WHERE "
                                  "person_id = ? AND report_id = ? AND state = 'suggested'",
                                  victim["id"], girl)
    assert "name:" in reasons
    assert "hoa" not in reasons.lower()  # codes, no value
    assert rows(people, "SELECT unit, case_id FROM notifications WHERE kind = 'match'") == [
        ("kh.ahtjp", case["id"])]
    # the hotline may not decide; another unit's officer finds no such suggestion
    assert (await people.call("hoa.operator", "POST", f"/api/matches/{suggestion}/confirm")
            ).status_code == 403
    assert (await people.call("other.officer", "POST", f"/api/matches/{suggestion}/confirm")
            ).status_code == 404
    assert (await people.call("officer", "POST", f"/api/matches/{suggestion}/maybe")
            ).status_code == 422
    before = await people.ok("officer", "GET", f"/api/cases/{case['id']}")
    assert (before["suggestions_waiting"], before["linked_reports"]) == (1, [])
    decided = await people.ok("officer", "POST", f"/api/matches/{suggestion}/confirm")
    assert decided == {"id": suggestion, "state": "confirmed"}
    after = await people.ok("officer", "GET", f"/api/cases/{case['id']}")
    reference = rows(people, "SELECT reference FROM missing_persons WHERE id = ?", girl)[0][0]
    assert (after["suggestions_waiting"], after["linked_reports"]) == (
        0, [{"id": girl, "reference": reference}])
    assert (await people.call("officer", "POST", f"/api/matches/{suggestion}/reject")
            ).status_code == 409
    read = await people.ok("officer", "GET", f"/api/missing-persons/{girl}")
    assert (read["state"], read["case_id"]) == ("linked", case["id"])
    assert (await people.ok("officer", "GET", "/api/missing-persons"))["reports"] == []
    assert rows(people, "SELECT count(*) FROM match_keys WHERE kind = 'missing-person'") == [
        (0,)]
    assert rows(people, "SELECT unit, kind FROM notifications WHERE kind = "
                "'match-confirmed'") == [("kh.hotline-1280", "match-confirmed")]
    decisions = rows(people, "SELECT actor, detail FROM audit_log WHERE action = "
                     "'special.read' AND detail LIKE '%outcome%'")
    assert [(a, json.loads(d)["outcome"]) for a, d in decisions] == [
        ("officer", "confirmed")]


async def test_matching_writes_in_the_group_commit_never_beside_it(people: Desk) -> None:
    """On SQLite a write transaction of the serving loop's own would hold the write lock
    while the group-commit writer (receipts, the case work) waits for it: the matcher only
    reads there, and writes in the group commit."""
    from sqlalchemy import event  # noqa: PLC0415

    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    cw = people.receiver.app.state.cases
    begun: list[bool] = []

    def begin(conn: Any) -> None:
        begun.append(bool(conn.get_execution_options().get("bx_read_only", False)))

    event.listen(cw.node.engine.sync_engine, "begin", begin)
    try:
        assert await matcher.run_once(cw) == 1
    finally:
        event.remove(cw.node.engine.sync_engine, "begin", begin)
    assert begun
    assert all(begun)  # snapshots only
    assert rows(people, "SELECT count(*) FROM match_queue") == [(0,)]
    assert rows(people, "SELECT report_id FROM match_suggestions") == [(girl,)]


async def test_a_rejected_pair_is_never_suggested_again(people: Desk) -> None:
    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    cw = people.receiver.app.state.cases
    assert await matcher.run_once(cw) == 1
    (suggestion,), = rows(people, "SELECT id FROM match_suggestions")
    assert (await people.ok("officer", "POST", f"/api/matches/{suggestion}/reject")
            )["state"] == "rejected"
    rows(people, "INSERT INTO match_queue VALUES ('missing-person', ?, '2026-11-24')", girl)
    assert await matcher.run_once(cw) == 0
    assert rows(people, "SELECT state FROM match_suggestions") == [("rejected",)]
    read = await people.ok("officer", "GET", f"/api/missing-persons/{girl}")
    assert read["state"] == "open"


async def test_the_console_shows_a_suggestion_side_by_side_and_asks_before_deciding(
        people: Desk) -> None:
    girl = await report(people, {**GIRL, "papers": [], "phones": []})
    await receive(people, "verification-request")
    case = await only_case(people)
    await matcher.run_once(people.receiver.app.state.cases)
    (suggestion,), = rows(people, "SELECT id FROM match_suggestions")
    await people.add_user("sophea", "blo-officer", password=PASSWORD)
    transport = httpx.ASGITransport(app=people.receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        browser = Browser(people.receiver, client, lang="en")
        await browser.login("sophea")
        told = await browser.get("/notices")  # the notice leads to the suggestion itself
        assert f'<a href="/cases/{case["id"]}/matches">' in told.text
        shown = await browser.get(f"/cases/{case['id']}")
        assert f'href="/cases/{case["id"]}/matches"' in shown.text
        assert 'id="suggestions-waiting">1<' in shown.text  # one waits to be decided
        page = await browser.get(f"/cases/{case['id']}/matches")
        assert page.status_code == 200
        assert "NGUYEN Thi Hoa" in page.text  # ours, beside theirs
        assert "Nguyen Thi Hoa" in page.text
        assert "same once accents are removed" in page.text or "are the same" in page.text
        assert "nationality: the same, Vietnam" in page.text  # the country by its name
        from_report = await browser.get(f"/missing/{girl}")
        assert f'href="/missing/{girl}/matches"' in from_report.text
        listed = await browser.get(f"/missing/{girl}/matches")
        assert f'id="suggestion-{suggestion}"' in listed.text
        assert f'href="/cases/{case["id"]}/matches"' in listed.text
        assert 'id="same-' not in listed.text  # decided on the case's page
        asked = await browser.post(f"/cases/{case['id']}/matches/{suggestion}",
                                   {"decision": "confirm"})
        assert 'id="confirm-match"' in asked.text
        assert rows(people, "SELECT state FROM match_suggestions") == [("suggested",)]
        done = await browser.post(f"/cases/{case['id']}/matches/{suggestion}",
                                  {"decision": "confirm", "confirmed": "yes"})
        assert done.status_code == 303
    assert rows(people, "SELECT state, case_id FROM missing_persons WHERE id = ?", girl) == [
        ("linked", case["id"])]
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        browser = Browser(people.receiver, client, lang="en")
        await browser.login("sophea")
        shown = await browser.get(f"/cases/{case['id']}")
        assert re.search(rf'id="linked-reports">[^<]*<a href="/missing/{girl}">', shown.text)
        assert 'id="suggestions-waiting"' not in shown.text
    shown_audit = rows(people, "SELECT detail FROM audit_log WHERE actor = 'sophea' AND "
                       "action = 'special.read' AND detail LIKE '%matches%'")
    # the case's page twice and the report's once (each showing audited), the decision
    assert len(shown_audit) == 4


async def test_the_case_persons_photo_is_shown_beside_the_reports_to_its_unit_only(
        people: Desk) -> None:
    """Issue 25: both photos side by side. The case person's is the attachment the partner's
    document names, read from the message as exchanged (its digest checked), audited with the
    suggestion; nobody else's case, no other suggestion, no role without special data."""
    await report(people, GIRL)
    await receive(people, "verification-request",
                  attachments=(Attachment("p1-photo.jpg", "image/jpeg", JPEG),))
    case = await only_case(people)
    await matcher.run_once(people.receiver.app.state.cases)
    (suggestion,), = rows(people, "SELECT id FROM match_suggestions")
    await people.add_user("sophea", "blo-officer", password=PASSWORD)
    await people.add_user("dara", "blo-officer", password=PASSWORD, unit="kh.elsewhere")
    await people.add_user("vanna", "hotline-operator", password=PASSWORD)
    transport = httpx.ASGITransport(app=people.receiver.app)
    photo = f"/cases/{case['id']}/matches/{suggestion}/photo"
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        browser = Browser(people.receiver, client, lang="en")
        await browser.login("sophea")
        page = await browser.get(f"/cases/{case['id']}/matches")
        assert f'src="{photo}"' in page.text
        assert f'src="/missing/{rows(people, "SELECT id FROM missing_persons")[0][0]}' \
               '/photo"' not in page.text  # the report was recorded without one
        shown = await browser.get(photo)
        assert shown.status_code == 200
        assert (shown.content, shown.headers["content-type"]) == (JPEG, "image/jpeg")
        read = rows(people, "SELECT subject, detail FROM audit_log WHERE actor = 'sophea' "
                    "AND action = 'attachment.read'")
        assert [(s, json.loads(d)) for s, d in read] == [(case["reference"], {
            "message": json.loads(read[0][1])["message"], "name": "p1-photo.jpg",
            "reason": "matches", "suggestion": suggestion})]
        # another case's path, an unknown suggestion: the console's refusal (403 for what is
        # not found, as for what is not allowed), nothing shown, nothing audited
        for elsewhere in (f"/cases/{case['id'] + 1}/matches/{suggestion}/photo",
                          f"/cases/{case['id']}/matches/{suggestion + 1}/photo"):
            refused = await browser.get(elsewhere)
            assert (refused.status_code, refused.headers["content-type"][:9]) == (
                403, "text/html"), elsewhere
        no_page = await browser.get(f"/cases/{case['id']}/matches/x/photo")  # no such address
        assert (no_page.status_code, no_page.headers["content-type"][:9]) == (404, "text/html")
        assert len(rows(people, "SELECT 1 FROM audit_log WHERE action = 'attachment.read'")
                   ) == 1
    for who in ("dara", "vanna"):  # another unit's officer; a role without special data
        async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
            other = Browser(people.receiver, client, lang="en")
            await other.login(who)
            refused = await other.get(photo)
            assert refused.status_code in (403, 404), who
            assert refused.content != JPEG
    assert len(rows(people, "SELECT 1 FROM audit_log WHERE action = 'attachment.read'")) == 1


async def test_a_photo_whose_bytes_changed_since_they_were_signed_is_refused(
        people: Desk) -> None:
    """A stored message whose attachment no longer matches its signed digest is never shown
    as the person's photo."""
    await report(people, GIRL)
    await receive(people, "verification-request",
                  attachments=(Attachment("p1-photo.jpg", "image/jpeg", JPEG),))
    case = await only_case(people)
    cw = people.receiver.app.state.cases
    await matcher.run_once(cw)
    (suggestion,), = rows(people, "SELECT id FROM match_suggestions")
    (pk, raw), = rows(people, "SELECT id, raw FROM messages WHERE doc_type = "
                      "'verification-request'")
    body = json.loads(cw.sealer.open(bytes(raw), RAW_COLUMN))
    (attached,) = body["attachments"]
    attached["data"] = b64url_encode(JPEG[:-2] + b"\x00\xd9")
    rows(people, "UPDATE messages SET raw = ? WHERE id = ?",
         cw.sealer.seal(json.dumps(body).encode(), RAW_COLUMN), pk)
    await people.add_user("sophea", "blo-officer", password=PASSWORD)
    transport = httpx.ASGITransport(app=people.receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        browser = Browser(people.receiver, client, lang="en")
        await browser.login("sophea")
        refused = await browser.get(f"/cases/{case['id']}/matches/{suggestion}/photo")
        assert (refused.status_code, refused.headers["content-type"][:9]) == (409, "text/html")
    assert rows(people, "SELECT 1 FROM audit_log WHERE action = 'attachment.read'") == []


async def test_a_victim_is_scored_against_the_reports_only_never_other_cases_namesakes(
        people: Desk) -> None:
    """On a busy border the same girl's name is in many cases: the matcher pairs a victim
    with the open reports only, so it never opens and scores the other cases' persons (the
    cost that stalled the node under a burst of handover records)."""
    girl = await report(people, GIRL)
    for _ in range(3):  # three cases about a girl of the same name
        await receive(people, "verification-request", conversation=str(uuid.uuid4()))
    cw = people.receiver.app.state.cases
    await matcher.run_once(cw)
    victims = rows(people, "SELECT id FROM persons WHERE role = 'victim' ORDER BY id")
    assert len(victims) == 3
    async with cw.db.snapshot() as conn:
        own_case, found = await matching.find_for(conn, cw, "case-person", victims[0][0])
        _, of_report = await matching.find_for(conn, cw, "missing-person", girl)
    assert [(f.kind, f.id) for f in found] == [("missing-person", girl)]
    assert own_case is not None
    assert {f.kind for f in of_report} == {"case-person"}
    assert {f.id for f in of_report} == {v for (v,) in victims}
    # the other cases' namesakes are still found when someone asks (POST /api/matches)
    asked = await people.ok("officer", "POST", "/api/matches", json={"person": {
        **GIRL, "name_latin": "NGUYEN Thi Hoa", "birth": None, "estimated_age": 15}})
    assert {m["kind"] for m in asked["matches"]} == {"missing-person", "case-person"}


async def test_the_unit_that_recorded_the_report_is_told_of_its_link(people: Desk) -> None:
    """Confirming tells the report's recording unit (the hotline, who may not open the
    finding unit's case): its notice leads to its own report, now linked."""
    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    case = await only_case(people)
    await matcher.run_once(people.receiver.app.state.cases)
    (suggestion,), = rows(people, "SELECT id FROM match_suggestions")
    await people.ok("officer", "POST", f"/api/matches/{suggestion}/confirm")
    await people.add_user("lina", "hotline-operator", unit="kh.hotline-1280",
                          password=PASSWORD)
    transport = httpx.ASGITransport(app=people.receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        hotline = Browser(people.receiver, client, lang="en")
        await hotline.login("lina")
        listed = await hotline.get("/notices")
        assert f'href="/missing/{girl}"' in listed.text
        assert f'href="/cases/{case["id"]}' not in listed.text  # not a case she may open
        assert "Missing-person report" in listed.text
        count = await hotline.get("/notices/count")
        assert count.json()["unread"] >= 1
        opened = await hotline.get(f"/missing/{girl}")
        assert opened.status_code == 200
        assert "Linked to a case of another unit" in opened.text  # named, not a dead link
        assert f'href="/cases/{case["id"]}"' not in opened.text
        assert case["reference"] not in opened.text
    await people.add_user("sophea", "blo-officer", password=PASSWORD)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        officer = Browser(people.receiver, client, lang="en")
        await officer.login("sophea")
        opened = await officer.get(f"/missing/{girl}")
        assert f'<a href="/cases/{case["id"]}">{case["reference"]}</a>' in opened.text
    api = await people.ok("officer", "GET", f"/api/missing-persons/{girl}")
    assert api["case_reference"] == case["reference"]
    assert (await people.ok("hoa.operator", "GET", f"/api/missing-persons/{girl}")
            )["case_reference"] is None
