"""Hotline tips in-process: the clocks, the reporter kept apart, triage, duplicates, and the
escalation that opens a case and queues an alert in the same call."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree

from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.store.messages import RAW_COLUMN
from gateway.trust.names import units_file, write_unit_names
from tests.conftest import make_key
from tests.integration.conftest import Desk, write_partner

pytestmark = pytest.mark.anyio

TIP: dict[str, Any] = {
    "channel": "phone", "reporter_relation": "parent", "danger": "imminent",
    "narrative": "Con gái 15 tuổi bị giữ ở nhà nghỉ phía sau dãy casino, sắp bị chuyển đi.",
    "location": {"country": "VN", "province": "Tây Ninh", "details": "Nhà nghỉ cổng xanh"},
    "foreign_country": "VN",
    "persons": [{"name_native": "Lò Thị Sương", "name_latin": "LO Thi Suong",
                 "sex": "female", "estimated_age": 15, "age_uncertain": True,
                 "nationality": "VN"}],
    "reporter_identity": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"},
    "received_at": "2026-11-24T07:50:00+00:00", "last_seen_at": "2026-11-23T22:30:00+00:00",
}


@pytest.fixture
async def hotline(desk: Desk) -> Desk:
    await desk.add_user("hoa.operator", "hotline-operator", unit="kh.hotline-1280")
    await desk.add_user("duty", "supervisor", unit="kh.hotline-1280")
    return desk


async def test_a_tip_about_a_child_becomes_a_case_and_an_alert_in_one_call(
        hotline: Desk) -> None:
    tip = await hotline.ok("hoa.operator", "POST", "/api/tips", json=TIP)
    assert tip["emergency_by"] is not None  # a child at imminent risk: the 12-hour clock
    await hotline.later(timedelta(hours=11))  # within the 12 hours
    shown = await hotline.ok("hoa.operator", "GET", f"/api/tips/{tip['id']}")
    assert "reporter_identity" not in shown
    assert shown["persons"][0]["name_latin"] == "LO Thi Suong"
    assert shown["child_involved"] is True
    escalated = await hotline.ok("hoa.operator", "POST", f"/api/tips/{tip['id']}/escalate", json={
        "classification": "trafficking", "urgency": "immediate", "alert_to": "vn.c02",
        "duty_phone": "+84 24 3826 9111"})
    assert escalated["message_id"]
    case = await hotline.ok("hoa.operator", "GET", f"/api/cases/{escalated['case_id']}")
    assert (case["kind"], case["origin"], case["owner_unit"]) == (
        "hotline", "hotline", "kh.hotline-1280")
    assert case["presumed_child"] is True
    out = case["messages"]
    assert [(m["type"], m["priority"], m["to"], m["state"]) for m in out] == [
        ("alert", "immediate", "vn.c02", "queued")]
    tasks = {t["kind"] for t in case["tasks"]}
    assert tasks == {"review-immediate-release"}  # the supervisors are told at once
    document = await hotline.ok("hoa.operator", "GET",
                                f"/api/cases/{case['id']}/messages/{out[0]['id']}")
    assert document["document"]["case-reference"] == case["reference"]
    assert document["document"]["reporter-relation"] == "parent"
    # when the child was last seen, as the caller said: not when the call was taken
    special = await hotline.ok("duty", "GET", f"/api/cases/{case['id']}/messages/{out[0]['id']}",
                               params={"reason": "review the alert"})
    assert special["document"]["last-seen"] == "2026-11-23T22:30:00Z"
    listed = await hotline.ok("hoa.operator", "GET", "/api/tips")
    assert listed["tips"][0]["status"] == "escalated"
    assert listed["tips"][0]["classification_overdue"] is False
    overdue = await hotline.ok("hoa.operator", "GET", "/api/overdue")
    assert overdue["overdue"] == []  # classified and acted on within the clocks


async def test_the_reporter_is_for_supervisors_with_a_reason(hotline: Desk) -> None:
    tip = await hotline.ok("hoa.operator", "POST", "/api/tips", json=TIP)
    path = f"/api/tips/{tip['id']}/reporter"
    assert (await hotline.call("hoa.operator", "GET", path, params={"reason": "call back"})
            ).status_code == 403
    assert (await hotline.call("duty", "GET", path)).status_code == 422
    reporter = await hotline.ok("duty", "GET", path, params={"reason": "call the mother back"})
    assert reporter["reporter"]["name"] == "Lò Văn Tâm"
    other_unit = await hotline.call("chief", "GET", path, params={"reason": "curious"})
    assert other_unit.status_code == 404


async def test_an_unclassified_tip_goes_overdue_after_24_hours(hotline: Desk) -> None:
    calm = {**TIP, "danger": "not-imminent", "persons": [], "foreign_country": None}
    tip = await hotline.ok("hoa.operator", "POST", "/api/tips", json=calm)
    assert tip["emergency_by"] is None
    await hotline.later(timedelta(hours=25))
    overdue = (await hotline.ok("hoa.operator", "GET", "/api/overdue"))["overdue"]
    assert [o["kind"] for o in overdue] == ["classify-tip"]
    listed = await hotline.ok("hoa.operator", "GET", "/api/tips")
    assert listed["tips"][0]["classification_overdue"] is True
    await hotline.ok("hoa.operator", "POST", f"/api/tips/{tip['id']}/triage",
                     json={"classification": "labour-dispute", "urgency": "routine"})
    assert (await hotline.ok("hoa.operator", "GET", "/api/overdue"))["overdue"] == []


async def test_duplicates_are_linked_and_escalation_needs_what_an_alert_needs(
        hotline: Desk) -> None:
    first = await hotline.ok("hoa.operator", "POST", "/api/tips", json=TIP)
    second = await hotline.ok("hoa.operator", "POST", "/api/tips", json=TIP)
    missing = await hotline.call("hoa.operator", "POST", f"/api/tips/{second['id']}/triage",
                                 json={"classification": "duplicate", "urgency": "routine"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["path"] == "duplicate_of"
    await hotline.ok("hoa.operator", "POST", f"/api/tips/{second['id']}/triage", json={
        "classification": "duplicate", "urgency": "routine", "duplicate_of": first["id"]})
    linked = await hotline.ok("hoa.operator", "GET", f"/api/tips/{second['id']}")
    assert (linked["duplicate_of"], linked["status"]) == (first["id"], "resolved")
    unclassified = await hotline.call("hoa.operator", "POST",
                                      f"/api/tips/{first['id']}/escalate", json={})
    assert unclassified.status_code == 409
    no_phone = await hotline.call("hoa.operator", "POST", f"/api/tips/{first['id']}/escalate",
                                  json={"classification": "trafficking", "urgency": "immediate",
                                        "alert_to": "vn.c02"})
    assert no_phone.status_code == 422
    assert no_phone.json()["errors"][0]["path"] == "duty_phone"
    unseen = await hotline.ok("hoa.operator", "POST", "/api/tips",
                              json={k: v for k, v in TIP.items() if k != "last_seen_at"})
    no_time = await hotline.call("hoa.operator", "POST", f"/api/tips/{unseen['id']}/escalate",
                                 json={"classification": "trafficking", "urgency": "immediate",
                                       "alert_to": "vn.c02", "duty_phone": "+84 24 3826 9111"})
    assert no_time.status_code == 422  # an alert says when the person was last seen
    assert no_time.json()["errors"][0]["path"] == "last_seen"
    tip = await hotline.ok("hoa.operator", "GET", f"/api/tips/{first['id']}")
    assert tip["status"] == "new"  # the refused call changed nothing
    assert tip["case_id"] is None
    assert hotline.receiver.count("cases") == 0


async def test_bad_tips_are_refused_with_the_field(hotline: Desk) -> None:
    for change, field in (({"channel": "pigeon"}, "body.channel"),
                          ({"narrative": ""}, "body.narrative"),
                          ({"foreign_country": "Cambodia"}, "body.foreign_country")):
        refused = await hotline.call("hoa.operator", "POST", "/api/tips", json={**TIP, **change})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["path"] == field
    assert hotline.receiver.count("tips") == 0


def contact_of(desk: Desk, message_id: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The contact unit of a queued alert as the partner will read it: from the signed bytes
    in the outbox (sent as they are), its node and its names with their languages."""
    with sqlite3.connect(desk.receiver.db) as conn:
        (raw,) = conn.execute("SELECT raw FROM messages WHERE message_id = ?",
                              (message_id,)).fetchone()
    sealer = desk.receiver.app.state.node.sealer
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw), RAW_COLUMN)))
    assert envelope.header.bx.type == "alert"
    ns = "{urn:bx:doc:alert:1}"
    unit = etree.fromstring(envelope.document).find(f"{ns}contact/{ns}unit")
    assert unit is not None
    return unit.get("node"), [(str(n.get("lang")), str(n.text))
                              for n in unit.findall(f"{ns}name")]


async def test_the_alert_names_its_contact_unit_in_words(hotline: Desk) -> None:
    receiver = hotline.receiver

    async def alert(to: str) -> str:
        tip = await hotline.ok("hoa.operator", "POST", "/api/tips", json=TIP)
        escalated = await hotline.ok("hoa.operator", "POST", f"/api/tips/{tip['id']}/escalate",
                                     json={"classification": "trafficking",
                                           "urgency": "immediate", "alert_to": to,
                                           "duty_phone": "+855 12 345 678"})
        return str(escalated["message_id"])

    # A unit nobody has named yet: the alert can only give its id (and is still sent).
    assert contact_of(hotline, await alert("vn.c02")) == (
        "kh.ahtjp", [("vi", "kh.hotline-1280")])
    # The operator names it (as `gateway users unit` does); the running node reads it.
    vi, en = "Đường dây nóng 1280, Campuchia", "Hotline 1280, Cambodia"
    km = "ខ្សែទូរស័ព្ទបន្ទាន់ ១២៨០"
    write_unit_names(units_file(receiver.settings.data_path), "kh.hotline-1280",
                     {"vi": vi, "en": en, "km": km})
    # To C02 (reads Vietnamese, the alert's language) and to Bavet (reads Khmer): the alert's
    # language first, then the reader's, then English, each tagged with its language.
    write_partner(receiver.settings.partners_path, "kh.blo-bavet", make_key("kh.blo-bavet"))
    assert receiver.app.state.node.partners.reload() == []
    assert contact_of(hotline, await alert("vn.c02")) == (
        "kh.ahtjp", [("vi", vi), ("en", en)])
    assert contact_of(hotline, await alert("kh.blo-bavet")) == (
        "kh.ahtjp", [("vi", vi), ("km", km), ("en", en)])
