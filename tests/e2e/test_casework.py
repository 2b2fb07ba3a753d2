"""Case work across two real nodes: the scripted repatriation through the local API, a hotline
tip escalated into an alert, deadlines with an injected clock, and no personal data in any log
line or in clear in any database file."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.settings import load_settings
from gateway.web.app import create_app
from tests.conftest import SCHEMAS, example
from tests.e2e.federation import NodeProcess, make_federation, wait_for

pytestmark = pytest.mark.e2e

#: A distinctive victim and relatives: none of these may appear in a log or in clear on disk.
VICTIM_NATIVE, VICTIM_LATIN = "Thạch Thị Kimquyênh", "THACH Thi Kimquyenh"
MOTHER_PHONE = "+84 913 572 468"
TIP_CHILD = "Lò Thị Sươngmai"
TIP_REPORTER = "Lò Văn Tâmhai"
#: The smallest JPEG: the photo of the verification request.
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA=")


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    return response.json()


def request_document(forms: DocumentForms) -> dict[str, Any]:
    document = forms.read("verification-request", "1.0", example("verification-request"))
    document["person"]["name"] = {"native": VICTIM_NATIVE, "latin": VICTIM_LATIN}
    document["person"]["relative"][0]["phone"] = [MOTHER_PHONE]
    document["case-reference"] = "VN-MOCBAI-2026-0042"
    return document


def case_state(client: httpx.Client, case_id: int) -> str:
    return str(ok(client.get(f"/cases/{case_id}"))["state"])


def delivered(node: NodeProcess, message_id: str) -> bool:
    return node.states("out").get(message_id, ("", None))[0] == "delivered"


async def overdue_later(node: NodeProcess, username: str, days: int) -> list[dict[str, Any]]:
    """The node's overdue list seen through its own app, with its clock ``days`` ahead."""
    settings = load_settings(node_id=node.node_id, data_dir=node.data_dir)
    later = datetime.now(UTC) + timedelta(days=days)
    app = create_app(settings, clock=lambda: later, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            login = await client.post("/api/session", json={
                "username": username, "password": "a long enough password"})
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            found = (await client.get("/api/overdue", headers=headers)).json()["overdue"]
            return list(found)


def test_the_scripted_repatriation_a_hotline_alert_and_clean_logs(tmp_path: Path) -> None:
    forms = DocumentForms(SchemaRegistry.load(SCHEMAS))
    nodes = make_federation(tmp_path, {"vn.blo-mocbai": "push", "kh.blo-bavet": "push"})
    mocbai, bavet = nodes["vn.blo-mocbai"], nodes["kh.blo-bavet"]
    try:
        mocbai.add_user("lan", "blo-officer")
        mocbai.add_user("chief.vn", "supervisor")
        mocbai.add_user("hoa.111", "hotline-operator", unit="vn.hotline-111")
        bavet.add_user("sophea", "blo-officer")
        bavet.add_user("chief.kh", "supervisor")
        lan, chief_vn = mocbai.session("lan"), mocbai.session("chief.vn")
        sophea, chief_kh = bavet.session("sophea"), bavet.session("chief.kh")

        # Moc Bai: a case, a verification request with a photo, four eyes.
        case = ok(lan.post("/cases", json={"kind": "repatriation", "origin": "blo",
                                           "partner": "kh.blo-bavet", "priority": "urgent"}))
        draft = ok(lan.post(f"/cases/{case['id']}/drafts", json={
            "type": "verification-request", "to": "kh.blo-bavet", "handling": "H1",
            "document": request_document(forms),
            "attachments": [{"name": "p1-photo.jpg", "media_type": "image/jpeg",
                             "data": base64.b64encode(PHOTO).decode()}]}))
        assert ok(lan.post(f"/drafts/{draft['id']}/submit"))["state"] == "submitted"
        assert lan.post(f"/drafts/{draft['id']}/release").status_code == 403
        request_id = ok(chief_vn.post(f"/drafts/{draft['id']}/release"))["message_id"]
        assert case_state(lan, case["id"]) == "verification-requested"
        wait_for(lambda: delivered(mocbai, request_id), "the request to be receipted")

        # Bavet: the request opened a case; an officer answers, a supervisor releases.
        theirs = wait_for(lambda: ok(sophea.get("/cases"))["cases"], "a case at Bavet")[0]
        theirs = ok(sophea.get(f"/cases/{theirs['id']}"))
        assert theirs["state"] == "verification-requested"
        assert theirs["origin"] == "partner"
        victim = next(p for p in theirs["persons"] if p["role"] == "victim")
        assert victim["name_latin"] == VICTIM_LATIN
        assert [m["id"] for m in theirs["messages"]] == [request_id]
        answer = forms.read("verification-response", "1.0", example("verification-response"))
        answer.update({"result": "confirmed", "subject": {"@person-id": victim["person_ref"]}})
        reply = ok(sophea.post(f"/cases/{theirs['id']}/drafts", json={
            "type": "verification-response", "to": "vn.blo-mocbai", "ref": request_id,
            "handling": "H1", "document": answer}))
        ok(sophea.post(f"/drafts/{reply['id']}/submit"))
        answer_id = ok(chief_kh.post(f"/drafts/{reply['id']}/release"))["message_id"]
        assert case_state(sophea, theirs["id"]) == "verified"

        # Moc Bai: the answer moves our case and closes the wait.
        wait_for(lambda: case_state(lan, case["id"]) == "verified", "Moc Bai's case verified")
        ours = ok(lan.get(f"/cases/{case['id']}"))
        assert [(m["type"], m["direction"]) for m in ours["messages"]] == [
            ("verification-request", "out"), ("verification-response", "in")]
        assert ours["messages"][1]["id"] == answer_id
        wait_task = next(t for t in ours["tasks"] if t["kind"] == "await-answer")
        assert wait_task["done_at"] is not None
        assert ok(lan.post("/search", json={"q": "kimquyenh"}))["results"][0]["id"] == case["id"]
        assert ours["partner_reference"] == answer["case-reference"]

        # The return, to its end: each document moves both cases, nobody moves them by hand
        # (MESSAGES.md, "Both sides keep one case"); the human decisions are the finding
        # side's best interests and the home side's referral.
        def send(officer: httpx.Client, chief: httpx.Client, case_id: int, doc_type: str,
                 to: str, document: dict[str, Any], ref: str | None = None) -> str:
            drafted = ok(officer.post(f"/cases/{case_id}/drafts", json={
                "type": doc_type, "to": to, "ref": ref, "handling": "H1",
                "document": document}))
            ok(officer.post(f"/drafts/{drafted['id']}/submit"))
            return str(ok(chief.post(f"/drafts/{drafted['id']}/release"))["message_id"])

        def both(state: str, what: str) -> None:
            assert case_state(lan, case["id"]) == state, what  # at once, on release
            wait_for(lambda: case_state(sophea, theirs["id"]) == state,
                     f"Bavet's case {state} after the {what}")

        ok(chief_vn.post(f"/cases/{case['id']}/best-interests", json={
            "note": "Family traced by the provincial police; return is in her interests."}))
        proposal = forms.read("repatriation-request", "1.0", example("repatriation-request"))
        proposal["returnee"] = [{"@person-id": "P1", "@verification": answer_id}]
        proposal_id = send(lan, chief_vn, case["id"], "repatriation-request", "kh.blo-bavet",
                           proposal)
        both("verified", "repatriation-request")
        wait_for(lambda: any(t["kind"] == "answer" and t["message_id"] == proposal_id
                             for t in ok(sophea.get(f"/cases/{theirs['id']}"))["tasks"]),
                 "Bavet's task to answer the proposal")
        reply = forms.read("repatriation-response", "1.0", example("repatriation-response"))
        reply.update({"decision": "accepted", "confirmed-date": "2026-12-18",
                      "confirmed-gate": "mocbai-bavet"})
        reply_id = send(sophea, chief_kh, theirs["id"], "repatriation-response", "vn.blo-mocbai",
                        reply, ref=proposal_id)
        assert case_state(sophea, theirs["id"]) == "repatriation-planned"
        wait_for(lambda: case_state(lan, case["id"]) == "repatriation-planned",
                 "Moc Bai's case planned after the repatriation-response")
        for client, case_id in ((lan, case["id"]), (sophea, theirs["id"])):
            planned = ok(client.get(f"/cases/{case_id}"))
            assert planned["return"] == {"date": "2026-12-18", "gate": "mocbai-bavet"}
        assert next(t for t in ok(lan.get(f"/cases/{case['id']}"))["tasks"]
                    if t["message_id"] == proposal_id)["done_at"]  # the wait is over
        record = forms.read("handover-record", "1.0", example("handover-record"))
        send(lan, chief_vn, case["id"], "handover-record", "kh.blo-bavet", record, ref=reply_id)
        both("handed-over", "handover-record")
        ok(sophea.post(f"/cases/{theirs['id']}/referral", json={
            "kind": "social-protection-centre", "facility": "Svay Rieng Social Affairs Centre"}))
        assert case_state(sophea, theirs["id"]) == "received-and-referred"
        closure = forms.read("case-closure", "1.0", example("case-closure", 1))
        send(sophea, chief_kh, theirs["id"], "case-closure", "vn.blo-mocbai", closure)
        assert case_state(sophea, theirs["id"]) == "closed"
        wait_for(lambda: case_state(lan, case["id"]) == "closed", "Moc Bai's case closed")
        ended = ok(lan.get(f"/cases/{case['id']}"))
        assert ended["closure"] == {"outcome": "reintegrated", "reason": "completed"}
        for client, case_id in ((lan, case["id"]), (sophea, theirs["id"])):
            story = ok(client.get(f"/cases/{case_id}"))["events"]
            by_hand = [e for e in story if e["event"] == "state" and not e["message_id"]]
            assert [e["to"] for e in by_hand] == (
                ["received-and-referred"] if client is sophea else []), by_hand
            assert not [e for e in story if e["event"] == "state-not-changed"]

        # A second request that Bavet leaves unanswered.
        other = ok(lan.post("/cases", json={"kind": "verification", "partner": "kh.blo-bavet"}))
        second = ok(lan.post(f"/cases/{other['id']}/drafts", json={
            "type": "verification-request", "to": "kh.blo-bavet",
            "document": request_document(forms)}))
        ok(lan.post(f"/drafts/{second['id']}/submit"))
        unanswered = ok(chief_vn.post(f"/drafts/{second['id']}/release"))["message_id"]
        wait_for(lambda: delivered(mocbai, unanswered), "the second request to be receipted")

        # The hotline: one call after the tip, a case and an alert delivered to Bavet.
        hotline = mocbai.session("hoa.111")
        tip = ok(hotline.post("/tips", json={
            "channel": "phone", "reporter_relation": "parent", "danger": "imminent",
            "narrative": "Con gái 15 tuổi bị giữ tại nhà nghỉ ở Bavet, sắp bị chuyển đi.",
            "location": {"country": "KH", "province": "Svay Rieng", "district": "Bavet"},
            "foreign_country": "KH",
            "persons": [{"name_native": TIP_CHILD, "name_latin": "LO Thi Suongmai",
                         "sex": "female", "estimated_age": 15, "nationality": "VN"}],
            "reporter_identity": {"name": TIP_REPORTER, "phone": "+84 98 111 2233"},
            "last_seen_at": "2026-11-23T22:30:00Z"}))
        escalated = ok(hotline.post(f"/tips/{tip['id']}/escalate", json={
            "classification": "trafficking", "urgency": "immediate",
            "alert_to": "kh.blo-bavet", "duty_phone": "+84 24 3826 9111"}))
        wait_for(lambda: delivered(mocbai, escalated["message_id"]), "the alert delivered")
        alerts = wait_for(lambda: ok(sophea.get("/cases", params={"kind": "hotline"}))["cases"],
                          "the alert's case at Bavet")
        alert_case = ok(sophea.get(f"/cases/{alerts[0]['id']}"))
        assert {t["kind"] for t in alert_case["tasks"]} == {"alert-first-action",
                                                            "child-emergency"}
        assert alert_case["priority"] == "immediate"
        # The signed alert as Bavet received it names the hotline in words, not vn.hotline-111:
        # in the alert's language, in Bavet's and in English (partners/units/vn.toml).
        (received,) = alert_case["messages"]
        contact = ok(sophea.get(f"/cases/{alert_case['id']}/messages/{received['id']}"))[
            "document"]["contact"]["unit"]
        assert contact["@node"] == "vn.blo-mocbai"
        assert contact["name"] == [
            {"@lang": "vi", "#text": "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111"},
            {"@lang": "km", "#text": "ខ្សែទូរស័ព្ទជាតិការពារកុមារ ១១១ វៀតណាម"},
            {"@lang": "en", "#text": "National Child Protection Hotline 111, Viet Nam"}]
    finally:
        for node in nodes.values():
            node.stop()

    # Deadlines, with the clock of Moc Bai's own app moved 40 days on.
    overdue = asyncio.run(overdue_later(mocbai, "lan", days=40))
    assert [(o["kind"], o["message_id"]) for o in overdue] == [("await-answer", unanswered)]

    # Nothing personal in any log line; nothing personal in clear in any database file.
    secrets = [VICTIM_NATIVE, VICTIM_LATIN, MOTHER_PHONE, TIP_CHILD, TIP_REPORTER,
               "Kimquyênh", "Sươngmai", "913 572 468"]
    for node in nodes.values():
        log = node.log_path.read_text(encoding="utf-8")
        assert "delivered" in log or "node started" in log  # the log is there and in use
        for secret in secrets:
            assert secret not in log, f"{secret} in {node.node_id}'s log"
        for path in node.data_dir.glob("gateway.db*"):
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} in clear in {path.name}"
