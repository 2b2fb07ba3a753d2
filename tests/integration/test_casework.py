"""Case work through the local API, in-process over a real SQLite file: inbound messages open
and move cases, drafts need four eyes, deadlines fall due, special data is sealed and audited."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from gateway.cases import housekeeping, service
from gateway.documents.convert import DocumentForms
from tests.conftest import example
from tests.integration.conftest import Desk, scraper

pytestmark = pytest.mark.anyio


def as_json(registry: Any, doc_type: str, index: int = 0) -> Any:
    return DocumentForms(registry).read(doc_type, "1.0", example(doc_type, index))


async def receive(desk: Desk, doc_type: str, index: int = 0, **draft: Any) -> str:
    raw = desk.receiver.world.message(doc_type, example(doc_type, index), **draft)
    response = await desk.receiver.post(raw)
    assert response.status_code == 202, response.text
    rows = await desk.ok("chief", "GET", "/api/messages")
    return str(rows["messages"][0]["id"])


async def only_case(desk: Desk) -> dict[str, Any]:
    listed = (await desk.ok("officer", "GET", "/api/cases"))["cases"]
    assert len(listed) == 1
    return dict(await desk.ok("officer", "GET", f"/api/cases/{listed[0]['id']}"))


async def test_a_request_opens_a_case_and_a_released_answer_verifies_it(
        desk: Desk, registry: Any) -> None:
    request_id = await receive(desk, "verification-request", conversation=None)
    case = await only_case(desk)
    # MESSAGES.md: a received request opens a verification case at verification-requested
    assert (case["kind"], case["origin"], case["state"]) == ("verification", "partner",
                                                           "verification-requested")
    assert [(e["event"], e["to"]) for e in case["events"]][:1] == [
        ("opened", "verification-requested")]
    assert case["home_side"] is True
    victim = next(p for p in case["persons"] if p["role"] == "victim")
    assert victim["name_latin"] == "NGUYEN Thi Hoa"
    assert victim["presumed_child"]
    assert case["presumed_child"]
    assert {p["role"] for p in case["persons"]} == {"victim", "relative"}
    answer = next(t for t in case["tasks"] if t["kind"] == "answer")
    # 20 Cambodian working days from Tue 24 Nov 2026 (Water Festival 23-25 Nov):
    assert answer["due_at"].startswith("2026-12-23")
    assert answer["message_id"] == request_id

    document = as_json(registry, "verification-response")
    document["result"] = "confirmed"
    document["subject"] = {"@person-id": victim["person_ref"]}
    draft = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-response", "to": "vn.c02", "ref": request_id,
        "document": document})
    submitted = await desk.ok("officer", "POST", f"/api/drafts/{draft['id']}/submit")
    assert submitted["state"] == "submitted"  # personal data: a second person releases
    refused = await desk.call("officer", "POST", f"/api/drafts/{draft['id']}/release")
    assert refused.status_code == 403
    queue = await desk.ok("chief", "GET", "/api/drafts", params={"state": "submitted"})
    assert [d["id"] for d in queue["drafts"]] == [draft["id"]]
    released = await desk.ok("chief", "POST", f"/api/drafts/{draft['id']}/release")

    case = await only_case(desk)
    assert case["state"] == "verified"
    assert next(p for p in case["persons"] if p["role"] == "victim")[
        "identity_status"] == "verified"
    assert next(t for t in case["tasks"] if t["kind"] == "answer")["done_at"]
    sent = [m for m in case["messages"] if m["direction"] == "out"]
    assert [(m["id"], m["type"], m["state"]) for m in sent] == [
        (released["message_id"], "verification-response", "queued")]
    assert sent[0]["conversation"] == case["messages"][0]["conversation"]


async def test_the_author_cannot_release_their_own_draft(desk: Desk, registry: Any) -> None:
    await receive(desk, "verification-request")
    case = await only_case(desk)
    draft = await desk.ok("chief", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-response", "to": "vn.c02",
        "document": as_json(registry, "verification-response")})
    await desk.ok("chief", "POST", f"/api/drafts/{draft['id']}/submit")
    refused = await desk.call("chief", "POST", f"/api/drafts/{draft['id']}/release")
    assert refused.status_code == 403
    assert "four eyes" in refused.json()["detail"]
    back = await desk.call("chief", "POST", f"/api/drafts/{draft['id']}/return",
                           json={"reason": "Check the consent record"})
    assert back.status_code == 200
    assert (await desk.ok("chief", "GET", f"/api/drafts/{draft['id']}"))["return_reason"] \
        == "Check the consent record"


async def test_an_immediate_alert_goes_out_alone_and_tells_the_supervisors(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "hotline", "origin": "blo", "partner": "vn.c02", "priority": "immediate"})
    draft = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "alert", "to": "vn.c02", "priority": "immediate",
        "document": as_json(registry, "alert", 1)})
    sent = await desk.ok("officer", "POST", f"/api/drafts/{draft['id']}/submit")
    assert sent["state"] == "sent"
    assert sent["message_id"]
    detail = await desk.ok("chief", "GET", f"/api/cases/{case['id']}")
    assert [t["kind"] for t in detail["tasks"]] == ["review-immediate-release"]


async def test_a_routine_alert_with_personal_data_waits_for_release(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={"kind": "hotline"})
    draft = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "alert", "to": "vn.c02", "priority": "urgent",
        "document": as_json(registry, "alert", 1)})
    assert (await desk.ok("officer", "POST", f"/api/drafts/{draft['id']}/submit"))[
        "state"] == "submitted"


async def test_victim_objects_blocks_a_verification_request(desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    await desk.ok("officer", "POST", f"/api/cases/{case['id']}/transitions",
                  json={"to": "screening"})
    await desk.ok("officer", "POST", f"/api/cases/{case['id']}/transitions",
                  json={"to": "victim-objects", "reason": "She asked us not to tell them"})
    refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02",
        "document": as_json(registry, "verification-request")})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["path"] == "type"
    moved = await desk.call("officer", "POST", f"/api/cases/{case['id']}/transitions",
                            json={"to": "verification-requested"})
    assert moved.status_code == 409
    back = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/transitions",
                         json={"to": "screening"})
    assert back["state"] == "screening"


async def test_repatriation_needs_a_verified_victim_and_for_a_child_best_interests(
        desk: Desk, registry: Any) -> None:
    """The finding side's gate (MESSAGES.md): the side where the child is records that
    return is in her best interests before it plans it; the home side has no gate of its
    own (a received document never opens one there)."""
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    path = f"/api/cases/{found['id']}/transitions"
    await desk.ok("officer", "POST", f"/api/cases/{found['id']}/persons", json={
        "role": "victim", "name_latin": "NGUYEN Thi Hoa", "estimated_age": 15})
    for step in ("screening", "verification-requested", "verified"):
        await desk.ok("officer", "POST", path, json={"to": step})  # the answer came by phone
    not_yet = await desk.call("officer", "POST", path, json={"to": "repatriation-planned"})
    assert not_yet.status_code == 409
    assert "verified" in not_yet.json()["detail"]
    cw = desk.receiver.app.state.cases
    async with cw.node.engine.begin() as conn:  # the answer arrived by phone: mark her
        await service.set_identity_status(conn, found["id"], None, "verified")
    child = await desk.call("officer", "POST", path, json={"to": "repatriation-planned"})
    assert child.status_code == 409
    assert "best interests" in child.json()["detail"]
    officer_record = await desk.call("officer", "POST",
                                     f"/api/cases/{found['id']}/best-interests",
                                     json={"note": "Family assessed"})
    assert officer_record.status_code == 403
    await desk.ok("chief", "POST", f"/api/cases/{found['id']}/best-interests",
                  json={"note": "Mother located by the provincial social affairs office"})
    assert (await desk.ok("officer", "POST", path, json={"to": "repatriation-planned"}))[
        "state"] == "repatriation-planned"

    await receive(desk, "verification-request")  # the home side of another child
    home = next(c for c in (await desk.ok("officer", "GET", "/api/cases"))["cases"]
                if c["origin"] == "partner")
    async with cw.node.engine.begin() as conn:
        await service.set_identity_status(conn, home["id"], None, "verified")
    home_path = f"/api/cases/{home['id']}/transitions"
    await desk.ok("officer", "POST", home_path, json={"to": "verified"})
    planned = await desk.ok("officer", "POST", home_path, json={"to": "repatriation-planned"})
    assert planned["state"] == "repatriation-planned"
    assert (await desk.ok("officer", "GET", f"/api/cases/{home['id']}"))[
        "best_interests"] is None


async def test_h2_messages_cannot_be_forwarded_to_another_partner(
        desk: Desk, registry: Any) -> None:
    h2 = await receive(desk, "suspect-notice", handling="H2")
    listed = (await desk.ok("officer", "GET", "/api/cases"))["cases"]
    update = as_json(registry, "investigation-update")  # about the suspect the case holds
    update["linked-person"] = [{"@person-id": "S-1450-1", "@role": "suspect"}]
    refused = await desk.call("officer", "POST", f"/api/cases/{listed[0]['id']}/drafts", json={
        "type": "investigation-update", "to": "la.atd", "ref": h2, "document": update})
    assert refused.status_code in (403, 422)  # forbidden, or la.atd not a partner here
    assert "person" not in refused.json()["detail"]
    answer = await desk.call("officer", "POST", f"/api/cases/{listed[0]['id']}/drafts", json={
        "type": "investigation-update", "to": "vn.c02", "ref": h2, "document": update})
    assert answer.status_code == 201, answer.text


async def test_special_data_needs_a_reason_and_every_read_is_audited(
        desk: Desk, registry: Any) -> None:
    message_id = await receive(desk, "verification-request")
    case = await only_case(desk)
    victim = next(p for p in case["persons"] if p["role"] == "victim")
    path = f"/api/cases/{case['id']}/persons/{victim['id']}"
    assert (await desk.call("officer", "GET", path)).status_code == 422
    person = await desk.ok("officer", "GET", path, params={"reason": "prepare the interview"})
    assert person["details"]["birth"]["estimated-age"] == 15

    document_path = f"/api/cases/{case['id']}/messages/{message_id}"
    redacted = await desk.ok("officer", "GET", document_path)
    assert redacted["document"]["person"] == {"redacted": "special"}
    assert redacted["document"]["case-reference"] == "KH-BAVET-2026-0112"
    full = await desk.ok("officer", "GET", document_path, params={"reason": "answer it"})
    assert full["document"]["person"]["name"]["latin"] == "NGUYEN Thi Hoa"

    auditor = await desk.add_user("auditor", "auditor")
    log = (await desk.client.get("/api/audit", headers=auditor,
                                 params={"limit": 500})).json()["entries"]
    reads = [(e["action"], e["actor"], e["detail"].get("reason")) for e in log
             if e["action"] in ("special.read", "document.read", "case.read")]
    assert ("special.read", "officer", "prepare the interview") in reads
    assert ("document.read", "officer", "answer it") in reads
    assert ("document.read", "officer", None) in reads
    assert any(r[0] == "case.read" for r in reads)
    assert (await desk.client.get(f"/api/cases/{case['id']}", headers=auditor)
            ).status_code == 403
    denied = (await desk.client.get("/api/audit", headers=auditor,
                                    params={"action": "access.denied"})).json()["entries"]
    assert [(e["actor"], e["detail"]["action"]) for e in denied] == [("auditor", "cases.read")]
    verdict = (await desk.client.get("/api/audit/verify", headers=auditor)).json()
    assert verdict["intact"]
    assert verdict["entries"] == len(log) + 1


async def test_personal_data_is_sealed_at_rest(desk: Desk) -> None:
    await receive(desk, "verification-request")
    await only_case(desk)
    data = desk.receiver.db.read_bytes()
    wal = desk.receiver.db.with_name("gateway.db-wal")
    everything = data + (wal.read_bytes() if wal.exists() else b"")
    for clear in ("NGUYEN Thi Hoa", "Nguyễn Thị Hoa", "912 345 678", "Hảo Đước"):
        assert clear.encode() not in everything, clear


async def test_search_finds_names_without_accents_phones_and_references(desk: Desk) -> None:
    await receive(desk, "verification-request")
    case = await only_case(desk)
    for query in ("nguyen hoa", "Nguyễn Thị Hoa", "NGUYEN", "0912345678", "+84 912 345 678",
                  case["reference"], "ចាន់"):
        found = await desk.ok("officer", "POST", "/api/search", json={"q": query})
        if query == "ចាន់":  # the requesting officer is not a person of the case
            assert found["results"] == []
            continue
        assert [r["id"] for r in found["results"]] == [case["id"]], query
    assert (await desk.ok("officer", "POST", "/api/search", json={"q": "nguyen lan"})
            )["results"] == []
    refused = await desk.call("officer", "GET", "/api/search", params={"q": "hoa"})
    assert refused.status_code == 405  # a name never travels in a URL
    with sqlite3.connect(desk.receiver.db) as conn:
        audited = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'search'"
                               ).fetchone()[0]
    assert audited == 8  # every search, also those that found nothing


async def test_deadlines_fall_due_on_the_overdue_lists_and_in_the_metric(desk: Desk) -> None:
    await receive(desk, "verification-request")
    assert (await desk.ok("officer", "GET", "/api/overdue"))["overdue"] == []
    await desk.later(timedelta(days=40))
    overdue = (await desk.ok("officer", "GET", "/api/overdue"))["overdue"]
    assert [(o["kind"], o["owner_unit"]) for o in overdue] == [("answer", "kh.ahtjp")]
    assert (await desk.call("officer", "GET", "/api/overdue", params={"scope": "all"})
            ).status_code == 403
    investigator = await desk.add_user("c02", "investigator", unit="kh.c02")
    everyone = (await desk.client.get("/api/overdue", headers=investigator,
                                      params={"scope": "all"})).json()["overdue"]
    assert len(everyone) == 1
    listed = await desk.ok("officer", "GET", "/api/cases", params={"overdue": True})
    assert listed["cases"][0]["overdue"] == 1

    cw = desk.receiver.app.state.cases
    first = await housekeeping.run_once(cw)
    again = await housekeeping.run_once(cw)
    assert (first.overdue, first.newly_overdue, again.newly_overdue) == (1, 1, 0)
    metrics = (await desk.client.get("/metrics", headers=scraper(desk.receiver))).text
    assert 'bx_deadlines_overdue{unit="kh.ahtjp"} 1.0' in metrics


async def test_retention_purges_personal_fields_and_leaves_an_audit_line(desk: Desk) -> None:
    await receive(desk, "verification-request")
    case = await only_case(desk)
    await desk.later(timedelta(days=365 * 6))  # consent: kept until 2031-11-20
    done = await housekeeping.run_once(desk.receiver.app.state.cases)
    assert done.purged == 2  # the victim and her mother
    case = await only_case(desk)
    assert all(p["purged"] for p in case["persons"])
    assert all(p["name_latin"] is None for p in case["persons"])
    assert (await desk.ok("officer", "POST", "/api/search", json={"q": "hoa"}))[
        "results"] == []
    with sqlite3.connect(desk.receiver.db) as conn:
        purged = conn.execute("SELECT count(*) FROM audit_log WHERE action = "
                              "'retention.purged'").fetchone()[0]
    assert purged == 2


async def test_a_partner_answer_moves_our_case_and_closes_the_wait(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02", "summary": "Found at the gate"})
    document = as_json(registry, "verification-request")
    draft = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "priority": "urgent",
        "document": document})
    await desk.ok("officer", "POST", f"/api/drafts/{draft['id']}/submit")
    released = await desk.ok("chief", "POST", f"/api/drafts/{draft['id']}/release")
    detail = await desk.ok("officer", "GET", f"/api/cases/{case['id']}")
    assert detail["state"] == "verification-requested"
    wait = next(t for t in detail["tasks"] if t["kind"] == "await-answer")
    # urgent: 5 Vietnamese working days from Tue 24 Nov 2026
    assert wait["due_at"].startswith("2026-12-01")
    conversation = detail["messages"][0]["conversation"]
    answer = as_json(registry, "verification-response")
    answer["result"] = "not-national"
    xml = DocumentForms(registry).build("verification-response", "1.0", answer)
    raw = desk.receiver.world.message("verification-response", xml, conversation=conversation,
                                      ref=released["message_id"])
    assert (await desk.receiver.post(raw)).status_code == 202
    detail = await desk.ok("officer", "GET", f"/api/cases/{case['id']}")
    assert detail["state"] == "not-national"
    assert next(t for t in detail["tasks"] if t["kind"] == "await-answer")["done_at"]


async def test_bad_drafts_are_refused_with_the_field_and_change_nothing(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={"kind": "verification"})
    document = as_json(registry, "verification-request")
    document["person"]["favourite-colour"] = "blue"
    refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "document": document})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == \
        "/verification-request/person/favourite-colour"
    del document["person"]["favourite-colour"]
    document["reason"] = "holiday"
    draft = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "document": document})
    invalid = await desk.call("officer", "POST", f"/api/drafts/{draft['id']}/submit")
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["path"] == "/verification-request/reason"
    assert (await desk.ok("officer", "GET", f"/api/drafts/{draft['id']}"))["state"] == "draft"
    assert desk.receiver.count("messages") == 0


async def test_text_that_is_not_unicode_is_refused_and_changes_nothing(desk: Desk) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={"kind": "verification"})
    body = json.dumps({"text": "lone \ud800 surrogate"})  # ASCII JSON with "\\ud800"
    broken = await desk.call("officer", "POST", f"/api/cases/{case['id']}/notes", content=body,
                             headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["path"] == "body.text"
    assert desk.receiver.count("notes") == 0
    for text in ("lone \ud800", "control \u0001 char"):
        draft = json.dumps({"type": "case-closure", "to": "vn.c02",
                            "document": {"case-reference": text}})
        refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts",
                                  content=draft, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["path"] == "/case-closure/case-reference"
    assert desk.receiver.count("drafts") == 0
    token = desk.receiver.app.state.api_token
    raw = await desk.client.post("/api/messages", headers={"Authorization": f"Bearer {token}"},
                                 json={"to": "vn.c02", "type": "alert", "document": "<a/>",
                                       "attachments": [{"name": "x.png", "media_type":
                                                        "image/png", "data": "é"}]})
    assert raw.status_code == 422
    assert desk.receiver.count("messages") == 0


async def test_a_return_is_proposed_only_when_the_case_may_plan_it(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "repatriation-request", "to": "vn.c02",
        "document": as_json(registry, "repatriation-request")})
    assert refused.status_code == 409
    assert "verified" in refused.json()["detail"]
