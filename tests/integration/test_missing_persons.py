"""Missing-person reports in-process over a real SQLite file: recorded sealed (the raw database
holds no name, phone or narrative in clear), listed without names, read with an audit line,
closed by the recording unit only, the reporter kept apart for its unit's supervisor; who may
call (sessions, the machine token, not another node's); and hostile bodies, each refused 422
with the path it names and nothing stored."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.protocol.encoding import MAX_JSON_DEPTH
from gateway.store.missing_persons import open_persons
from tests.integration.conftest import Desk

pytestmark = pytest.mark.anyio

JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA=")
PERSON: dict[str, Any] = {
    "name_latin": "NGUYEN Thi Lan", "name_native": "Nguyễn Thị Lan", "sex": "female",
    "birth": "2011-03", "estimated_age": None, "nationality": "VN",
    "home": {"country": "VN", "province": "Tây Ninh", "district": "Bến Cầu",
             "commune": "Long Thuận"},
    "papers": [{"kind": "national-id", "number": "072311000123", "country": "VN"}],
    "phones": ["+84 98 765 4321"]}
REPORT: dict[str, Any] = {
    "person": PERSON,
    "last_seen": {"time": "2026-11-02T18:30:00+07:00",
                  "place": {"country": "VN", "province": "Tây Ninh",
                            "details": "Chợ cửa khẩu Mộc Bài"}},
    "reporter_relation": "parent",
    "narrative": "Đi với một phụ nữ hứa việc làm ở nhà hàng Phnom Penh, mất liên lạc.",
    "reporter": {"name": "Nguyễn Văn Hùng", "phone": "+84 91 222 3333"},
    "photo": {"media_type": "image/jpeg", "data": base64.b64encode(JPEG).decode()}}
#: What must never be found in clear in the database file.
SECRETS = ("Nguyễn Thị Lan", "NGUYEN Thi Lan", "072311000123", "765 4321", "Nguyễn Văn Hùng",
           "222 3333", "Phnom Penh", "Chợ cửa khẩu")


@pytest.fixture
async def people(desk: Desk) -> Desk:
    """The desk's officer and chief (unit ``kh.ahtjp``), a hotline operator and its chief
    (``kh.hotline-1280``), an investigator, an administrator and an auditor."""
    await desk.add_user("hoa.operator", "hotline-operator", unit="kh.hotline-1280")
    await desk.add_user("duty", "supervisor", unit="kh.hotline-1280")
    await desk.add_user("c02", "investigator", unit="kh.c02")
    await desk.add_user("root", "admin")
    await desk.add_user("reader", "auditor")
    return desk


def raw_database(desk: Desk) -> bytes:
    """Every byte SQLite keeps for the node: the file and its write-ahead log."""
    folder = desk.receiver.settings.data_path
    return b"".join(p.read_bytes() for p in sorted(folder.glob("gateway.db*")))


def audit(desk: Desk, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with sqlite3.connect(desk.receiver.db) as conn:
        rows = conn.execute("SELECT actor, subject, detail FROM audit_log WHERE action = ? "
                            "ORDER BY seq", (action,)).fetchall()
    return [(a, s, json.loads(d or "{}")) for a, s, d in rows]


async def test_a_report_is_sealed_listed_without_names_read_with_an_audit_line_and_closed(
        people: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    made = await people.call("hoa.operator", "POST", "/api/missing-persons", json=REPORT)
    assert made.status_code == 201, made.text
    report = made.json()
    assert set(report) == {"id", "reference"}
    assert report["reference"].startswith("KH-HOTLINE-1280-2026-MP-")
    stored = raw_database(people)
    assert [s for s in SECRETS if s.encode() in stored] == []  # sealed, every field
    listed = await people.ok("officer", "GET", "/api/missing-persons")  # open by default
    line = listed["reports"][0]
    assert (line["id"], line["state"], line["unit"], line["sex"]) == (
        report["id"], "open", "kh.hotline-1280", "female")
    assert line["presumed_child"] is True
    assert line["has_photo"] is True
    assert line["days_missing"] == 21
    assert line["own_unit"] is False
    assert not any(s in json.dumps(listed, ensure_ascii=False) for s in SECRETS)
    assert audit(people, "special.read") == []  # a list opens nothing
    read = await people.ok("officer", "GET", f"/api/missing-persons/{report['id']}")
    assert read["person"] == PERSON  # the PERSON as sent, whole
    assert read["last_seen"] == {"time": "2026-11-02T11:30:00+00:00",
                                 "place": REPORT["last_seen"]["place"]}
    assert read["narrative"] == REPORT["narrative"]
    assert read["photo"] == {"media_type": "image/jpeg", "size": len(JPEG)}
    assert "reporter" not in read
    assert "Hùng" not in json.dumps(read, ensure_ascii=False)
    assert audit(people, "special.read") == [
        ("officer", report["reference"], {"kind": "missing-person"})]
    assert audit(people, "missing.recorded") == [
        ("hoa.operator", report["reference"], {"child": True})]
    # The officer's unit did not record it: the hotline closes it, with a reason.
    path = f"/api/missing-persons/{report['id']}/close"
    refused = await people.call("officer", "POST", path, json={"reason": "found-safe"})
    assert refused.status_code == 403
    unexplained = await people.call("hoa.operator", "POST", path, json={"reason": "other"})
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["path"] == "note"
    closed = await people.ok("hoa.operator", "POST", path, json={
        "reason": "returned-home", "note": "Về nhà ngày 20/11, mẹ gọi báo."})
    assert (closed["state"], closed["close_reason"]) == ("closed", "returned-home")
    assert (await people.call("hoa.operator", "POST", path,
                              json={"reason": "duplicate"})).status_code == 409
    assert (await people.ok("officer", "GET", "/api/missing-persons"))["reports"] == []
    gone = await people.ok("officer", "GET", "/api/missing-persons", params={"state": "closed"})
    assert [r["id"] for r in gone["reports"]] == [report["id"]]
    assert audit(people, "missing.closed") == [
        ("hoa.operator", report["reference"], {"reason": "returned-home"})]
    assert b"20/11" not in raw_database(people)  # the note is sealed too
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert [s for s in SECRETS if s in logged] == []


async def test_who_may_record_list_read_and_close(people: Desk, tmp_path: Path) -> None:
    machine = {"Authorization": f"Bearer {people.receiver.app.state.api_token}"}
    made = await people.client.post("/api/missing-persons", json=REPORT, headers=machine)
    assert made.status_code == 201, made.text  # the node's own automation
    report_id = made.json()["id"]
    listed = await people.client.get("/api/missing-persons", headers=machine)
    assert [r["id"] for r in listed.json()["reports"]] == [report_id]
    for who in ("officer", "chief", "c02", "hoa.operator"):  # every role that takes people in
        assert (await people.call(who, "POST", "/api/missing-persons",
                                  json=REPORT)).status_code == 201, who
    assert people.receiver.count("missing_persons") == 5
    for who in ("root", "reader"):  # roles that may not read special data
        for method, path, body in (("POST", "/api/missing-persons", REPORT),
                                   ("GET", "/api/missing-persons", None),
                                   ("GET", f"/api/missing-persons/{report_id}", None),
                                   ("POST", f"/api/missing-persons/{report_id}/close",
                                    {"reason": "duplicate"})):
            answer = await people.call(who, method, path, json=body)
            assert answer.status_code == 403, (who, method, path)
    other_node = {"Authorization": "Bearer " + base64.urlsafe_b64encode(b"x" * 32).decode()}
    for headers in ({}, other_node):  # no session; another node's machine token
        answer = await people.client.post("/api/missing-persons", json=REPORT, headers=headers)
        assert answer.status_code == 401
        assert (await people.client.get(f"/api/missing-persons/{report_id}",
                                        headers=headers)).status_code == 401
    assert people.receiver.count("missing_persons") == 5  # nothing stored by the refused
    assert audit(people, "special.read") == []  # nor read
    # C02's investigator answers for every unit: closes the machine's report
    await people.ok("c02", "POST", f"/api/missing-persons/{report_id}/close",
                    json={"reason": "duplicate"})
    assert (await people.call("c02", "GET", "/api/missing-persons/999")).status_code == 404


async def test_the_reporter_is_for_a_supervisor_of_the_recording_unit(people: Desk) -> None:
    report = await people.ok("hoa.operator", "POST", "/api/missing-persons", json=REPORT)
    path = f"/api/missing-persons/{report['id']}/reporter"
    why = {"reason": "call the father back"}
    assert (await people.call("hoa.operator", "GET", path, params=why)).status_code == 403
    assert (await people.call("chief", "GET", path, params=why)).status_code == 403  # not its unit
    assert (await people.call("duty", "GET", path)).status_code == 422  # no reason
    shown = await people.ok("duty", "GET", path, params=why)
    assert shown["reporter"] == REPORT["reporter"]
    assert audit(people, "missing.reporter-read") == [
        ("duty", report["reference"], {"reason": "call the father back"})]
    unreported = await people.ok("hoa.operator", "POST", "/api/missing-persons",
                                 json={k: v for k, v in REPORT.items() if k != "reporter"})
    none = await people.ok("duty", "GET", f"/api/missing-persons/{unreported['id']}/reporter",
                           params=why)
    assert none["reporter"] is None


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def with_person(**changes: Any) -> dict[str, Any]:
    return {**REPORT, "person": {**PERSON, **changes}}


#: Hostile bodies (a dict, or raw text) and the path each refusal must name.
HOSTILE: list[tuple[str, Any, str]] = [
    ("a forged field", {**REPORT, "case_id": 1}, "body.case_id"),
    ("a forged field of the person", with_person(alias="Lan"), "body.person.alias"),
    ("a forged field of the place", {**REPORT, "last_seen": {
        "time": "2026-11-02T18:30:00+07:00", "place": {"gate": "Moc Bai"}}},
     "body.last_seen.place.gate"),
    ("an oversized name", with_person(name_latin="A" * 201), "body.person.name_latin"),
    ("an oversized narrative", {**REPORT, "narrative": "x" * 4001}, "body.narrative"),
    ("an oversized place of the home (matching keeps 120 characters)",
     with_person(home={"province": "x" * 121}), "body.person.home.province"),
    ("too many phones", with_person(phones=["+84 98 765 4321"] * 6), "body.person.phones"),
    ("a name in another script", with_person(name_latin="Нгуен"), "body.person.name_latin"),
    ("a control character", with_person(name_native="Lan\u0000"), "body.person.name_native"),
    ("a day not in the calendar", with_person(birth="2011-02-30"), "body.person.birth"),
    ("a month not in the calendar", with_person(birth="2011-13"), "body.person.birth"),
    ("a birth not in the form", with_person(birth="11/03/2011"), "body.person.birth"),
    ("a birth in the future", with_person(birth="2027"), "person.birth"),
    ("an age as text", with_person(estimated_age="15"), "body.person.estimated_age"),
    ("an age as a boolean", with_person(estimated_age=True), "body.person.estimated_age"),
    ("an age beyond 120", with_person(estimated_age=121), "body.person.estimated_age"),
    ("a name as a number", with_person(name_latin=123), "body.person.name_latin"),
    ("papers as an object", with_person(papers={"kind": "passport"}), "body.person.papers"),
    ("a country that does not exist", with_person(nationality="XX"),
     "body.person.nationality"),
    ("a country by its name", with_person(home={"country": "Vietnam"}),
     "body.person.home.country"),
    ("a sex not in the list", with_person(sex="f"), "body.person.sex"),
    ("a relation not in the list", {**REPORT, "reporter_relation": "cousin"},
     "body.reporter_relation"),
    ("a time without its offset", {**REPORT, "last_seen": {"time": "2026-11-02T18:30:00"}},
     "body.last_seen.time"),
    ("a time as a number", {**REPORT, "last_seen": {"time": 1764000000}},
     "body.last_seen.time"),
    ("a time before any calendar", {**REPORT, "last_seen": {"time": "0001-01-01T00:00:00+01:00"}},
     "body.last_seen.time"),
    ("a time in the future", {**REPORT, "last_seen": {"time": "2026-12-24T18:30:00Z"}},
     "last_seen.time"),
    ("a photo that is a PDF", {**REPORT, "photo": {
        "media_type": "image/jpeg", "data": base64.b64encode(b"%PDF-1.7 not a face").decode()}},
     "body.photo.data"),
    ("a photo that says PNG and is a JPEG", {**REPORT, "photo": {
        "media_type": "image/png", "data": REPORT["photo"]["data"]}}, "body.photo.data"),
    ("a photo not in base64", {**REPORT, "photo": {"media_type": "image/jpeg",
                                                    "data": "not base64!"}}, "body.photo.data"),
    ("a photo over 5 MiB", {**REPORT, "photo": {
        "media_type": "image/jpeg",
        "data": base64.b64encode(JPEG + b"\0" * (5 * 1024 * 1024)).decode()}},
     "body.photo.data"),
    ("a photo as an SVG", {**REPORT, "photo": {"media_type": "image/svg+xml", "data": "PHN2Zz4="}},
     "body.photo.media_type"),
    ("a member given twice", json.dumps(REPORT, ensure_ascii=False).replace(
        '"sex": "female"', '"sex": "female", "sex": "male"'), "body.person.sex"),
    ("a top member given twice", json.dumps(REPORT).replace(
        '"reporter_relation": "parent"',
        '"reporter_relation": "parent", "reporter_relation": "self"'), "body.reporter_relation"),
    ("nesting beyond the limit", json.dumps(REPORT).replace(
        '"province": "T\\u00e2y Ninh", "district"', f'"province": {deep(40)}, "district"'),
     "body.person.home.province" + ".0" * (MAX_JSON_DEPTH - 3)),  # the first level beyond
    ("nesting beyond the parser", '{"person": ' + deep(100_000) + "}", "body"),
    ("not JSON", '{"person": ', "body"),
    ("NaN for an age", json.dumps(REPORT).replace('"estimated_age": null',
                                                  '"estimated_age": NaN'), "body"),
]


async def test_hostile_bodies_are_refused_with_their_path_and_nothing_stored(
        people: Desk) -> None:
    for what, body, path in HOSTILE:
        if isinstance(body, str):
            answer = await people.call("hoa.operator", "POST", "/api/missing-persons",
                                       content=body.encode(),
                                       headers={"Content-Type": "application/json"})
        else:
            answer = await people.call("hoa.operator", "POST", "/api/missing-persons",
                                       json=body)
        assert answer.status_code == 422, (what, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"] == "application/problem+json", what
        assert answer.json()["errors"][0]["path"] == path, (what, answer.json()["errors"])
    assert people.receiver.count("missing_persons") == 0
    assert people.receiver.count("missing_person_reporters") == 0
    assert people.receiver.count("audit_log", "action = 'missing.recorded'") == 0


async def test_open_persons_yields_each_open_report_opened_in_memory(people: Desk) -> None:
    ids = []
    for name in ("NGUYEN Thi Lan", "SOK Srey Mom", "PHOMMAVONG Souksavanh"):
        made = await people.ok("officer", "POST", "/api/missing-persons",
                               json=with_person(name_latin=name))
        ids.append(made["id"])
    await people.ok("officer", "POST", f"/api/missing-persons/{ids[1]}/close",
                    json={"reason": "recorded-in-error"})
    node = people.receiver.app.state.node
    async with node.engine.connect() as conn:
        found = [p async for p in open_persons(conn, node.sealer, batch=1)]  # page by page
    assert [(p.id, p.person["name_latin"]) for p in found] == [
        (ids[0], "NGUYEN Thi Lan"), (ids[2], "PHOMMAVONG Souksavanh")]
    assert found[0].person == {**PERSON, "name_latin": "NGUYEN Thi Lan"}
    assert found[0].created_at == people.receiver.world.now
