"""The console's work in-process over a real SQLite file, checked where it lands: the bytes
queued for the partner, the stored draft, the audit line, the other user's notifications."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.cases import housekeeping
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import Attachment, parse_body, parse_envelope
from gateway.protocol.jose import public_jwk, thumbprint
from gateway.store.messages import RAW_COLUMN
from tests.conftest import example
from tests.integration.conftest import Desk, Receiver, write_partner

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA=")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
#: A complete verification request as the form posts it (the photo named in the document).
REQUEST = {
    "to": "vn.c02", "priority": "urgent", "handling": "H1", "lang": "vi",
    "case-reference": "KH-AHTJP-2026-0042", "response-wanted-by": "2026-12-10",
    "reason": "repatriation",
    "person.@person-id": "P1", "person.name.native": "Nguyễn Thị Hoa",
    "person.name.latin": "NGUYEN Thi Hoa", "person.sex": "female",
    "person.claimed-nationality": "VN", "person.birth.estimated-age": "16",
    "person.photo.0.@attachment": "p1-photo.jpg",
    "victim-status.status": "possible-victim",
    "victim-status.decided-by.name.latin": "CHAN Sophea",
    "victim-status.decided-by.unit.name.0.#text": "AHTJP",
    "victim-status.decided-by.unit.name.0.@lang": "en",
    "victim-status.decided-on": "2026-11-23", "found.place.country": "KH",
    "found.time": "2026-11-22T21:00", "found.unit.name.0.#text": "AHTJP",
    "found.unit.name.0.@lang": "en",
    "consent.given": "true", "consent.recorded-on": "2026-11-23",
    "consent.informed-in-language": "vi", "consent.retention-until": "2031-11-23",
    "requesting-officer.name.latin": "CHAN Sophea",
    "requesting-officer.unit.name.0.#text": "AHTJP", "requesting-officer.unit.name.0.@lang": "en",
}


class Browser:
    """One person's console session (its own cookie jar) on the in-process node. The people
    of these tests chose Vietnamese (``lang``) on the Cambodian node, which speaks Khmer to
    those who chose nothing (test_console_names)."""

    def __init__(self, receiver: Receiver, client: httpx.AsyncClient,
                 lang: str | None = "vi") -> None:
        self.receiver = receiver
        self.client = client
        self.csrf = ""
        if lang:
            client.cookies.set("bx_lang", lang)

    async def login(self, username: str) -> None:
        response = await self.client.post("/login", data={"username": username,
                                                          "password": PASSWORD},
                                          headers={"Origin": "http://kh.test"})
        assert response.status_code == 303, response.text
        await self.get("/")

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found[1]
        return response

    async def post(self, path: str, data: dict[str, Any] | None = None,
                   files: Any = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf": self.csrf, **(data or {})},
                                      files=files)


@pytest.fixture
async def people(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """An officer, a second officer, a supervisor and a hotline operator of kh.ahtjp."""
    receiver = desk.receiver
    await desk.add_user("sophea", "blo-officer", password=PASSWORD)
    await desk.add_user("dara", "blo-officer", password=PASSWORD)
    await desk.add_user("boss", "supervisor", password=PASSWORD)
    await desk.add_user("line", "hotline-operator", password=PASSWORD)
    transport = httpx.ASGITransport(app=receiver.app)
    clients = {name: httpx.AsyncClient(transport=transport, base_url="http://kh.test")
               for name in ("sophea", "dara", "boss", "line")}
    browsers = {}
    for name, client in clients.items():
        browsers[name] = Browser(receiver, client)
        await browsers[name].login(name)
    yield browsers
    for client in clients.values():
        await client.aclose()


def rows(receiver: Receiver, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(receiver.db) as conn:
        return conn.execute(sql, args).fetchall()


def audit_lines(receiver: Receiver, action: str) -> list[dict[str, Any]]:
    return [json.loads(d) for (d,) in rows(receiver, "SELECT detail FROM audit_log WHERE "
                                                     "action = ? ORDER BY seq", action)]


async def new_case(who: Browser, partner: str = "vn.c02") -> int:
    response = await who.post("/cases/new", {"kind": "repatriation", "partner": partner})
    assert response.status_code == 303
    return int(response.headers["location"].split("/")[2].split("?")[0])


async def look_and_release(boss: Browser, draft_id: int) -> httpx.Response:
    """What a supervisor does in the release queue: she sees the draft's preview, opens
    each of its attachments, then releases it."""
    queue = await boss.get("/release")
    assert (await boss.get(f"/release/{draft_id}/preview")).status_code == 200
    for name in re.findall(rf'href="/release/{draft_id}/attachments/([^"]+)"', queue.text):
        assert (await boss.get(f"/release/{draft_id}/attachments/{name}")).status_code == 200
    return await boss.post(f"/release/{draft_id}", {"action": "release"})


async def request_released(people: dict[str, Browser]) -> int:
    """A new case of Sophea's whose verification request the supervisor has released;
    answers the case's id."""
    sophea, boss = people["sophea"], people["boss"]
    case_id = await new_case(sophea)
    await sophea.post(f"/cases/{case_id}/compose/verification-request",
                      {**REQUEST, "action": "submit"},
                      files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    (draft_id,) = rows(sophea.receiver, "SELECT id FROM drafts")[0]
    assert (await look_and_release(boss, draft_id)).status_code == 303
    return case_id


def queued_attachments(receiver: Receiver) -> dict[str, bytes]:
    """The attachments of the one outbound message, as they will go on the wire."""
    (raw,) = rows(receiver, "SELECT raw FROM messages WHERE direction = 'out'")[0:1]
    sealer = receiver.app.state.node.sealer
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw[0]), RAW_COLUMN)))
    return {name: b64url_decode(data) for name, data in envelope.attachments.items()}


async def test_an_attached_photo_is_queued_byte_for_byte(people: dict[str, Browser]) -> None:
    sophea, boss = people["sophea"], people["boss"]
    case_id = await new_case(sophea)
    form = await sophea.get(f"/cases/{case_id}/compose/verification-request")
    assert 'type="datetime-local"' in form.text
    assert '<option value="KH" ' in form.text  # countries are a select
    response = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                 {**REQUEST, "action": "submit"},
                                 files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert response.status_code == 303, response.text
    assert "done=submitted" in response.headers["location"]
    (draft_id,) = rows(sophea.receiver, "SELECT id FROM drafts WHERE state = 'submitted'")[0]
    queue = await boss.get("/release")
    assert "p1-photo.jpg" in queue.text  # the supervisor sees what goes with it
    link = f'href="/release/{draft_id}/attachments/p1-photo.jpg"'
    assert link in queue.text
    assert re.search(r"p1-photo\.jpg</a> \([^)]*\) <span class=\"badge bad attachment-state\">"
                     r"chưa mở</span>", queue.text)  # not opened yet: shown
    # she releases what she has seen: the preview and the photo, opened since submission
    await boss.get(f"/release/{draft_id}/preview")
    early = await boss.post(f"/release/{draft_id}", {"action": "release"})
    assert early.status_code == 409
    assert "chưa mở: p1-photo.jpg" in early.text  # the refusal names what is not opened
    assert rows(sophea.receiver, "SELECT count(*) FROM messages") == [(0,)]
    photo = await boss.get(f"/release/{draft_id}/attachments/p1-photo.jpg")
    assert photo.status_code == 200
    assert photo.content == JPEG  # as it will go, with its media type, never cached
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["cache-control"] == "no-store"
    assert photo.headers["content-disposition"] == 'inline; filename="p1-photo.jpg"'
    assert audit_lines(sophea.receiver, "attachment.read") == [
        {"draft": draft_id, "name": "p1-photo.jpg", "special": True}]  # a read, audited
    assert (await sophea.get(f"/release/{draft_id}/attachments/p1-photo.jpg")
            ).status_code == 403  # the queue is the supervisors'
    assert (await boss.get(f"/release/{draft_id}/attachments/other.jpg")).status_code == 404
    after = await boss.get("/release")
    assert 'p1-photo.jpg</a> (image/jpeg, 0.1 KiB) <span class="badge ok attachment-state">' \
        in after.text
    released = await boss.post(f"/release/{draft_id}", {"action": "release"})
    assert released.headers["location"] == "/release?done=released"
    assert queued_attachments(sophea.receiver) == {"p1-photo.jpg": JPEG}
    stored = rows(sophea.receiver, "SELECT doc_type FROM messages WHERE direction = 'out'")
    assert stored == [("verification-request",)]
    # the found time was picked in the node's zone (UTC+7) and travels in UTC
    (raw,) = rows(sophea.receiver, "SELECT raw FROM messages WHERE direction = 'out'")[0]
    sealer = sophea.receiver.app.state.node.sealer
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw), RAW_COLUMN)))
    assert b"2026-11-22T14:00:00Z" in envelope.document


@pytest.mark.parametrize(("name", "data", "said"), [
    ("fake.jpg", b"this is a text file, not a photo", "không phải tệp JPEG, PNG hoặc PDF"),
    ("photo.jpg", PNG, "tên ghi image/jpeg nhưng nội dung là image/png"),
])
async def test_a_file_that_is_not_what_it_says_is_refused_beside_the_field(
        people: dict[str, Browser], name: str, data: bytes, said: str) -> None:
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    response = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                 {**REQUEST, "action": "submit"},
                                 files=[("files", (name, data, "image/jpeg"))])
    assert response.status_code == 422
    assert said in response.text
    assert re.search(r'data-key="attachments"[^>]*>|class="has-error" data-key="attachments"',
                     response.text)
    assert rows(sophea.receiver, "SELECT count(*) FROM drafts") == [(0,)]
    assert rows(sophea.receiver, "SELECT count(*) FROM held_files") == [(0,)]


async def test_a_chosen_file_is_kept_when_the_form_comes_back(
        people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    incomplete = {k: v for k, v in REQUEST.items() if k != "reason"}
    response = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                 {**incomplete, "action": "submit"},
                                 files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert response.status_code == 422
    assert rows(sophea.receiver, "SELECT count(*) FROM drafts") == [(0,)]
    (handle,) = re.findall(r'name="held" value="([0-9a-f]{32})" checked', response.text)
    assert 'value="NGUYEN Thi Hoa"' in response.text  # what was typed stays
    again = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                              {**REQUEST, "action": "save", "held": handle})
    assert again.status_code == 303, again.text
    (sealed,) = rows(sophea.receiver, "SELECT attachments_sealed FROM drafts")[0]
    files = json.loads(sophea.receiver.app.state.node.sealer.open(sealed, "drafts.attachments"))
    assert [(f["name"], base64.b64decode(f["data"])) for f in files] == [("p1-photo.jpg", JPEG)]
    assert rows(sophea.receiver, "SELECT count(*) FROM held_files") == [(0,)]


async def test_every_missing_field_is_reported_in_one_round(people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    response = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                 {"to": "vn.c02", "action": "submit",
                                  "case-reference": "X-1"})
    assert response.status_code == 422
    errors = response.text.count('class="field-error"')
    assert errors >= 5, errors
    for key in ("reason", "response-wanted-by"):
        assert re.search(rf'class="has-error" data-key="{re.escape(key)}"', response.text)


async def test_the_form_is_filled_in_from_the_case_and_the_user(
        people: dict[str, Browser], desk: Desk) -> None:
    raw = desk.receiver.world.message("verification-request",
                                      example("verification-request"))
    assert (await desk.receiver.post(raw)).status_code == 202
    sophea = people["sophea"]
    case_page = await sophea.get("/cases/1")
    # the answer to what was received is offered first
    menu = re.search(r'<select name="type">(.*?)</select>', case_page.text, re.S)
    assert menu is not None
    assert menu[1].index('value="verification-response"') < menu[1].index("optgroup")
    form = await sophea.get("/cases/1/compose/verification-response")
    assert re.search(r'name="case-reference" value="KH-AHTJP-2026-\d+"', form.text)
    # the person answered about is picked among the case's persons, in words
    picker = re.search(r'<select id="subject.@person-id"[^>]*>(.*?)</select>', form.text, re.S)
    assert picker is not None
    assert re.search(r'<option value="P1" selected>NGUYEN Thi Hoa', picker[1]) \
        or re.search(r'<option value="P1" selected>[^<]*\(NGUYEN Thi Hoa\)', picker[1])
    # the partner's case reference and the request answered, picked, not typed
    assert re.search(r'<option value="[^"]+" selected>[^<]*·', form.text)
    answered = re.search(r'<select id="ref" name="ref"[^>]*>(.*?)</select>', form.text, re.S)
    assert answered is not None
    assert " selected>" in answered[1]


async def test_special_data_opens_with_a_reason_and_attachments_with_it(
        people: dict[str, Browser], desk: Desk) -> None:
    photo = Attachment("p1-photo.jpg", "image/jpeg", JPEG)
    raw = desk.receiver.world.message("verification-request",
                                      example("verification-request"),
                                      attachments=(photo,))
    assert (await desk.receiver.post(raw)).status_code == 202
    (message_id,) = rows(desk.receiver, "SELECT message_id FROM messages")[0]
    sophea, line = people["sophea"], people["line"]
    base = f"/cases/1/messages/{message_id}"
    page = await sophea.get(base)
    assert page.status_code == 200
    assert "/pdf" in page.text  # a print
    assert 'href="/cases/1">← ' in page.text  # and the way back
    # the handling code in words, as the compose form offers it, never the bare "H1"
    assert 'id="handling">H0 – không hạn chế</span>' in page.text
    document = await sophea.get(f"{base}/document")
    assert "NGUYEN Thi Hoa" not in document.text  # special: withheld until asked
    refused = await sophea.get(f"{base}/attachments/p1-photo.jpg")
    assert refused.status_code == 303  # back to the page: a reason first
    opened = await sophea.post(f"{base}/special", {"reason": "",
                                                   "reason_text": "x"})
    assert opened.status_code == 422  # a reason of 3 characters at least
    opened = await sophea.post(f"{base}/special", {"reason": "identity-verification"})
    assert opened.status_code == 303
    assert "done=special-opened" in opened.headers["location"]
    assert "NGUYEN Thi Hoa" in (await sophea.get(f"{base}/document")).text
    shown = await sophea.get(f"{base}/attachments/p1-photo.jpg")
    assert shown.status_code == 200
    assert shown.content == JPEG
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["content-disposition"].startswith("inline")
    opened_lines = audit_lines(desk.receiver, "special.opened")
    assert opened_lines == [{"message": message_id, "reason": "identity-verification"}]
    reads = audit_lines(desk.receiver, "attachment.read")
    assert reads == [{"message": message_id, "name": "p1-photo.jpg",
                      "reason": "identity-verification"}]
    # a role that may not read special data never can, whatever it posts or asks
    assert (await line.post(f"{base}/special", {"reason": "investigation"})).status_code == 403
    assert (await line.get(f"{base}/attachments/p1-photo.jpg")).status_code == 403
    assert "NGUYEN Thi Hoa" not in (await line.get(f"{base}/document?special=true")).text


async def test_a_file_is_served_under_a_name_of_what_its_bytes_are(
        people: dict[str, Browser]) -> None:
    """An officer attaches ``scan.html`` whose bytes are a PDF with a page after its
    signature (as a partner can send one: tests/e2e/test_replicas.py): the supervisor who
    opens it before release gets a PDF named ``scan.pdf``, never a page to open; a photo
    keeps its name, and a name without an extension gets one."""
    sophea, boss = people["sophea"], people["boss"]
    hostile = b"%PDF-1.4\n<html><script>document.title = 'owned'</script></html>\n"
    case_id = await new_case(sophea)
    saved = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                              {**REQUEST, "action": "submit"},
                              files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg")),
                                     ("files", ("scan.html", hostile, "text/html")),
                                     ("files", ("photo", PNG, "image/png"))])
    assert saved.status_code == 303, saved.text
    (draft_id,) = rows(sophea.receiver, "SELECT id FROM drafts")[0]
    served = {name: await boss.get(f"/release/{draft_id}/attachments/{name}")
              for name in ("scan.html", "p1-photo.jpg", "photo")}
    assert {name: (r.status_code, r.headers["content-type"], r.headers["content-disposition"])
            for name, r in served.items()} == {
        "scan.html": (200, "application/pdf", 'attachment; filename="scan.pdf"'),
        "p1-photo.jpg": (200, "image/jpeg", 'inline; filename="p1-photo.jpg"'),
        "photo": (200, "image/png", 'inline; filename="photo.png"')}
    assert served["scan.html"].content == hostile  # the bytes as they will go
    for answer in served.values():
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"]


async def test_a_returned_draft_reopens_with_its_values_and_goes_again(
        people: dict[str, Browser]) -> None:
    sophea, boss = people["sophea"], people["boss"]
    case_id = await new_case(sophea)
    saved = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                              {**REQUEST, "action": "submit"},
                              files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert saved.status_code == 303
    (draft_id,) = rows(sophea.receiver, "SELECT id FROM drafts")[0]
    await boss.get(f"/release/{draft_id}/preview")  # she looks at it, then sends it back
    await boss.get(f"/release/{draft_id}/attachments/p1-photo.jpg")
    back = await boss.post(f"/release/{draft_id}", {"action": "return",
                                                    "reason": "Add the place found"})
    assert back.headers["location"] == "/release?done=returned"
    home = await sophea.get("/")
    assert "Add the place found" in home.text
    assert f'href="/drafts/{draft_id}"' in home.text
    assert "Your draft was sent back" in home.text or "Bản nháp của bạn bị trả lại" in home.text
    draft = await sophea.get(f"/drafts/{draft_id}")
    assert draft.status_code == 200
    assert 'id="return-reason"' in draft.text
    assert 'value="NGUYEN Thi Hoa"' in draft.text
    assert 'name="found.time" type="datetime-local" value="2026-11-22T21:00"' in draft.text
    assert 'name="keep" value="p1-photo.jpg" checked' in draft.text
    others = await people["dara"].get(f"/drafts/{draft_id}")
    assert others.status_code == 403  # only the author goes on with a draft
    sophea.receiver.world.now += timedelta(minutes=5)
    again = await sophea.post(f"/drafts/{draft_id}", {**REQUEST, "action": "submit",
                                                      "keep": "p1-photo.jpg",
                                                      "found.place.country": "KH"})
    assert again.status_code == 303, again.text
    assert rows(sophea.receiver, "SELECT state, return_reason FROM drafts") == [
        ("submitted", None)]
    stale = await boss.post(f"/release/{draft_id}", {"action": "release"})
    assert stale.status_code == 409  # what she opened before it changed does not count
    released = await look_and_release(boss, draft_id)
    assert released.status_code == 303
    assert queued_attachments(sophea.receiver) == {"p1-photo.jpg": JPEG}


async def test_people_are_told_what_concerns_them(people: dict[str, Browser],
                                                 desk: Desk) -> None:
    sophea, dara = people["sophea"], people["dara"]
    await request_released(people)
    counted = (await sophea.get("/notices/count")).json()
    assert counted == {"unread": 1, "urgent": 0}  # my draft was released
    (sent_id, conversation) = rows(sophea.receiver, "SELECT message_id, conversation FROM "
                                                    "messages WHERE direction = 'out'")[0]
    answer = desk.receiver.world.message(
        "verification-response", example("verification-response"), ref=sent_id,
        conversation=conversation, priority="urgent")
    assert (await desk.receiver.post(answer)).status_code == 202
    mine = (await sophea.get("/notices/count")).json()
    # released, my answer; the unit's notice of the same message is read for me: told once
    assert mine == {"unread": 2, "urgent": 1}
    assert (await dara.get("/notices/count")).json() == {"unread": 1, "urgent": 1}
    listing = await sophea.get("/notices")
    assert listing.text.count('class="notice-item urgent ') == 2
    await sophea.post("/notices/read", {})
    assert (await sophea.get("/notices/count")).json() == {"unread": 0, "urgent": 0}
    assert (await dara.get("/notices/count")).json()["unread"] == 1  # read per person

    alert = desk.receiver.world.message("alert", example("alert"), priority="immediate")
    assert (await desk.receiver.post(alert)).status_code == 202
    home = await dara.get("/")
    assert "notice-item urgent" in home.text
    cw = desk.receiver.app.state.cases
    desk.receiver.world.now += timedelta(hours=1, minutes=40)  # the 2-hour clock nears
    await housekeeping.run_once(cw)
    kinds = rows(desk.receiver, "SELECT kind FROM notifications WHERE kind IN "
                                "('due-soon', 'overdue') ORDER BY id")
    assert ("due-soon",) in kinds
    desk.receiver.world.now += timedelta(hours=1)
    await housekeeping.run_once(cw)
    await housekeeping.run_once(cw)  # told once, not at every round
    kinds = rows(desk.receiver, "SELECT kind, count(*) FROM notifications WHERE kind IN "
                                "('due-soon', 'overdue') GROUP BY kind")
    assert dict(kinds)["overdue"] >= 1
    assert dict(kinds)["due-soon"] == len(rows(desk.receiver, "SELECT id FROM tasks WHERE "
                                                              "due_soon_noted_at IS NOT NULL"))


async def test_case_work_the_console_can_do(people: dict[str, Browser], desk: Desk) -> None:
    sophea, boss = people["sophea"], people["boss"]
    alert = desk.receiver.world.message("alert", example("alert"), priority="immediate")
    assert (await desk.receiver.post(alert)).status_code == 202
    page = await sophea.get("/cases/1")
    (task_id,) = re.findall(r'action="/cases/1/tasks/(\d+)/done"', page.text)[:1]
    done = await sophea.post(f"/cases/1/tasks/{task_id}/done", {"note": "team sent"})
    assert done.headers["location"] == "/cases/1?done=task-done"
    assert rows(desk.receiver, "SELECT done_by, done_at IS NOT NULL FROM tasks WHERE id = ?",
                int(task_id)) == [("sophea", 1)]
    twice = await sophea.post(f"/cases/1/tasks/{task_id}/done", {})
    assert twice.status_code == 409  # done already: said beside the task

    bad = await sophea.post("/cases/1/persons", {"role": "suspect"})
    assert bad.status_code == 422
    assert "hãy nhập tên" in bad.text  # give a name, in the officer's language
    added = await sophea.post("/cases/1/persons", {"role": "suspect", "name_latin": "TRAN Van B",
                                                   "sex": "male", "birth_year": "1990"})
    assert added.status_code == 303
    assert ("suspect",) in rows(desk.receiver, "SELECT role FROM persons")
    noted = await sophea.post("/cases/1/notes", {"text": "Called the Bavet duty officer."})
    assert noted.status_code == 303
    assert "Called the Bavet duty officer." in (await sophea.get("/cases/1")).text

    # a child's case: the review ends with the supervisor's decision, and the case moves on
    case_id = await new_case(sophea)
    await sophea.post(f"/cases/{case_id}/persons", {"role": "victim", "name_latin": "A",
                                                    "birth_year": "2012"})
    for state in ("screening", "best-interests-review"):
        moved = await sophea.post(f"/cases/{case_id}/move", {"to": state})
        assert moved.status_code == 303, moved.text
    review = await boss.get(f"/cases/{case_id}")
    assert 'id="best-interests"' in review.text
    refused = await sophea.post(f"/cases/{case_id}/best-interests",
                                {"decision": "return", "note": "x"})
    assert refused.status_code == 403  # a supervisor's decision
    empty = await boss.post(f"/cases/{case_id}/best-interests", {"decision": "no-return"})
    assert empty.status_code == 422
    decided = await boss.post(f"/cases/{case_id}/best-interests",
                              {"decision": "no-return", "note": "family unsafe"})
    assert decided.status_code == 303
    assert rows(desk.receiver, "SELECT state, best_interests_decision FROM cases WHERE id = ?",
                case_id) == [("screening", "no-return")]


async def test_unknown_pages_answer_a_console_page_and_pages_are_compressed(
        people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    missing = await sophea.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert 'href="/cases"' in missing.text  # the menu is there
    api = await sophea.client.get("/api/no-such-route")
    assert api.status_code == 404
    assert not api.headers["content-type"].startswith("text/html")
    page = await sophea.client.get("/cases", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    refused = await sophea.get("/audit")
    assert refused.status_code == 403
    assert 'href="/cases"' in refused.text


TIP_FORM = {
    "channel": "phone", "reporter_relation": "parent", "danger": "imminent",
    "received_at": "2026-11-24T14:50", "last_seen_at": "2026-11-24T05:30",
    "narrative": "Con gái 15 tuổi bị giữ ở nhà nghỉ tại Bavet.", "child_involved": "on",
    "foreign_country": "VN", "person_name_latin": "LO Thi Suong", "person_sex": "female",
    "person_age": "15", "reporter_name": "Lò Văn Tâm", "reporter_phone": "+84 98 765 4321",
}


async def test_a_tip_is_taken_with_its_times_reopened_and_escalated(
        people: dict[str, Browser], desk: Desk) -> None:
    line, boss = people["line"], people["boss"]
    form = await line.get("/hotline")
    for name in ("danger", "reporter_relation"):  # nothing chosen for the operator
        select = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', form.text)
        assert select is not None
        assert "selected" not in select[1]
    missing = await line.post("/hotline", {k: v for k, v in TIP_FORM.items() if k != "danger"})
    assert missing.status_code == 422
    assert re.search(r'class="has-error"><label for="danger"', missing.text)
    assert rows(desk.receiver, "SELECT count(*) FROM tips") == [(0,)]
    recorded = await line.post("/hotline", TIP_FORM)
    assert recorded.status_code == 303
    tip_path = recorded.headers["location"].split("?")[0]
    assert rows(desk.receiver, "SELECT received_at, last_seen_at FROM tips") == [
        ("2026-11-24 07:50:00.000000", "2026-11-23 22:30:00.000000")]  # UTC+7 -> UTC
    listing = await line.get("/hotline")
    assert f'href="{tip_path}"' in listing.text
    assert 'class="countdown clock' in listing.text  # the 24-hour and 12-hour clocks
    tip = await line.get(tip_path)
    assert "Con gái 15 tuổi" in tip.text
    assert "Lò Văn Tâm" not in tip.text  # the reporter is kept apart
    escalated = await line.post(tip_path, {"action": "escalate", "classification": "trafficking",
                                           "urgency": "immediate", "alert_to": "vn.c02",
                                           "duty_phone": "+84 24 3826 9111"})
    assert escalated.status_code == 303, escalated.text
    (raw,) = rows(desk.receiver, "SELECT raw FROM messages WHERE doc_type = 'alert'")[0]
    sealer = desk.receiver.app.state.node.sealer
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw), RAW_COLUMN)))
    assert b"<last-seen>2026-11-23T22:30:00Z</last-seen>" in envelope.document

    chief_view = await boss.get("/hotline")
    assert 'id="release-reviews"' in chief_view.text  # released alone: the chief reviews it
    assert (await line.post(f"{tip_path}/reporter", {"reason": "call back"})).status_code == 403
    shown = await boss.post(f"{tip_path}/reporter", {"reason": "call the mother back"})
    assert shown.status_code == 200
    assert "Lò Văn Tâm" in shown.text
    assert audit_lines(desk.receiver, "tip.reporter-read") == [
        {"reason": "call the mother back"}]


async def test_the_auditor_reads_the_log_in_words_and_exports_it_with_a_reason(
        people: dict[str, Browser], desk: Desk) -> None:
    await desk.add_user("watch", "auditor", password=PASSWORD)
    transport = httpx.ASGITransport(app=desk.receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        auditor = Browser(desk.receiver, client, lang=None)
        await auditor.login("watch")
        await client.get("/lang/km", headers={"referer": "http://kh.test/"})
        for _ in range(3):  # searches are audited
            await people["sophea"].post("/cases/search", {"q": "Nguyen"})
        page = await auditor.get("/audit")
        assert "ចូលប្រព័ន្ធ" in page.text  # "login" in Khmer, not the code
        assert "15:00" in page.text  # 08:00 UTC shown in the node's zone
        assert 'class="kv"' in page.text
        empty = await auditor.get("/audit", params={"from": "2026-11-25", "to": "2026-11-26"})
        assert "<td>1</td>" not in empty.text  # nothing that day
        today = await auditor.get("/audit", params={"from": "2026-11-24", "to": "2026-11-24",
                                                    "action": "login"})
        assert today.text.count('class="clock"') >= 5
        refused = await auditor.post("/audit/export", {"reason": ""})
        assert refused.status_code == 422
        exported = await auditor.post("/audit/export", {"reason": "quarterly review",
                                                        "action": "search"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert table[0][:3] == ["#", "ពេលវេលា (UTC+7)", "អ្នកធ្វើ"]  # in the reader's words
        assert table[0][6:] == ["seq", "at", "actor", "action", "subject", "detail"]
        assert len(table) == 4  # the header and the three searches
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                   for row in table for cell in row)
        assert audit_lines(desk.receiver, "audit.exported")[-1]["reason"] == "quarterly review"
        case_id = await new_case(people["sophea"])
        for _ in range(101):  # more than a page: paging back
            await people["sophea"].get(f"/cases/{case_id}")
        first = await auditor.get("/audit")
        older = re.search(r'href="(/audit\?before=\d+)" id="older"', first.text)
        assert older is not None
        assert (await auditor.get(older[1])).status_code == 200


async def test_the_partners_page_shows_thumbprints_key_ends_and_our_keys(
        people: dict[str, Browser], desk: Desk) -> None:
    receiver = desk.receiver
    world = receiver.world
    write_partner(receiver.settings.partners_path, "vn.c02", world.sender_key,
                  keys=[{"kid": world.sender_key.kid,
                         "thumbprint": thumbprint(public_jwk(world.sender_key.public_key())),
                         "jwk": public_jwk(world.sender_key.public_key()),
                         "not_after": (world.now + timedelta(days=10)).strftime(
                             "%Y-%m-%dT%H:%M:%SZ")}])
    assert receiver.app.state.node.reload_partners() == []

    sophea = people["sophea"]
    page = await sophea.get("/partners")
    assert 'id="key-warning"' in page.text
    assert thumbprint(public_jwk(world.sender_key.public_key())) in page.text
    own = re.search(r'id="own-keys">(.*?)</section>', page.text, re.S)
    assert own is not None
    assert receiver.app.state.node.signing_key.kid in own[1]


async def test_the_investigator_has_a_desk(people: dict[str, Browser], desk: Desk) -> None:
    await desk.add_user("inv", "investigator", password=PASSWORD)
    case_id = await request_released(people)
    notice = desk.receiver.world.message("suspect-notice", example("suspect-notice"))
    assert (await desk.receiver.post(notice)).status_code == 202
    assert (await people["line"].get("/desk")).status_code == 403  # not a hotline desk
    desk.receiver.world.now += timedelta(days=40)
    transport = httpx.ASGITransport(app=desk.receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        inv = Browser(desk.receiver, client)
        await inv.login("inv")
        page = await inv.get("/desk")
        assert page.status_code == 200
        waiting = re.search(r"<h3>(.*?)</h3>\s*<table>(.*?)</table>", page.text, re.S)
        assert waiting is not None
        assert "Criminal Police" in waiting[1] or "Cục Cảnh sát" in waiting[1]  # by name
        assert f'href="/cases/{case_id}"' in waiting[2]
        assert "<td>40</td>" in waiting[2]  # its age in days
        assert "badge bad" in waiting[2]  # and overdue
        investigations = page.text.split("Điều tra phối hợp")[1]
        assert 'href="/cases/2"' in investigations  # the case the suspect notice opened


async def test_the_move_form_preselects_nothing_and_an_ending_is_confirmed_with_a_reason(
        people: dict[str, Browser], desk: Desk) -> None:
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    path = f"/cases/{case_id}/move"

    def state() -> str:
        return str(rows(desk.receiver, "SELECT state FROM cases WHERE id = ?", case_id)[0][0])

    assert (await sophea.post(path, {"to": "screening"})).status_code == 303
    page = await sophea.get(f"/cases/{case_id}")
    select = re.search(r'<select name="to" id="move-to" required>(.*?)</select>', page.text)
    assert select is not None
    options = re.findall(r'<option value="([^"]*)"( selected)?>', select[1])
    assert options[0] == ("", " selected")  # "choose" first: nothing else is preselected
    assert [value for value, chosen in options[1:] if chosen] == []
    assert {"closed", "withdrawn", "verification-requested"} <= {v for v, _ in options}

    unchosen = await sophea.post(path, {"to": "", "reason": ""})
    assert unchosen.status_code == 422
    assert "Hãy chọn trạng thái" in unchosen.text  # said beside the form, in her language
    asked = await sophea.post(path, {"to": "closed", "reason": "family found"})
    assert asked.status_code == 200
    confirm = re.search(r'<form [^>]*id="confirm-move">(.*?)</form>', asked.text, re.S)
    assert confirm is not None
    assert '<input type="hidden" name="to" value="closed">' in confirm[1]
    assert 'value="family found"' in confirm[1]  # what she wrote is kept for the second step
    assert 'id="move-form"' not in asked.text
    unsaid = await sophea.post(path, {"to": "withdrawn", "confirmed": "yes", "reason": " "})
    assert unsaid.status_code == 422
    assert 'id="confirm-move"' in unsaid.text
    assert state() == "screening"  # neither step moved the case
    assert audit_lines(desk.receiver, "case.state")[-1]["to"] == "screening"

    done = await sophea.post(path, {"to": "closed", "confirmed": "yes",
                                    "reason": "the family was found; no trafficking"})
    assert done.status_code == 303
    assert state() == "closed"
    assert audit_lines(desk.receiver, "case.state")[-1] == {
        "from": "screening", "to": "closed", "message": None, "reason_given": True}
    # an ordinary step is not asked twice
    other = await new_case(sophea)
    assert (await sophea.post(f"/cases/{other}/move", {"to": "screening"})).status_code == 303


async def test_refusals_are_said_in_the_users_language(people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    sophea.client.cookies.set("bx_lang", "km")
    empty = await sophea.post(f"/cases/{case_id}/notes", {"text": "   "})
    assert "កំណត់ចំណាំទទេ" in empty.text  # the note is empty
    aged = await sophea.post(f"/cases/{case_id}/persons", {
        "role": "victim", "name_native": "Hoa", "birth_year": "fifteen"})
    # a form problem, in the catalog's words, the input named as the form labels it
    assert "ឆ្នាំកំណើត: ចំនួនគត់" in aged.text
    assert "birth_year:" not in aged.text  # the key is for the API's reader
    assert "valid integer" not in aged.text
    sophea.client.cookies.set("bx_lang", "lo")
    moved = await sophea.post(f"/cases/{case_id}/move", {"to": "repatriation-planned"})
    assert moved.status_code == 409
    # A lifecycle refusal, its states named by their labels, and the case page's reasons.
    assert "ຄະດີບໍ່ສາມາດໄປຈາກ" in moved.text or "ຕ້ອງມີ" in moved.text
    assert "cannot go from" not in moved.text
    page = await sophea.get(f"/cases/{case_id}")
    assert "repatriation needs a victim" not in page.text


async def test_a_refused_case_form_names_its_input_by_its_label_and_changes_nothing(
        people: dict[str, Browser], desk: Desk) -> None:
    """What an officer typed wrong is named as the form labels it, in her language; the
    case keeps what it had."""
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    said = {}
    for form, path in ((({"role": "relative", "name_latin": "NGUYEN Van A",
                          "birth_year": "3026"}), "persons"),
                       ({"role": "relative", "name_latin": "X" * 5000}, "persons"),
                       ({"name_latin": "NGUYEN Van A"}, "persons"),
                       ({"text": ""}, "notes")):
        refused = await sophea.post(f"/cases/{case_id}/{path}", form)
        assert refused.status_code == 422, refused.text
        (error,) = re.findall(r'<span class="field-error" role="alert">([^<]*)</span>',
                              refused.text)
        said[next(iter(form)) if path == "notes" else len(said)] = error
    assert said == {0: "Năm sinh: tối đa 2100", 1: "Họ tên (chữ Latinh): tối đa 200 ký tự",
                    2: "Vai trò: bắt buộc", "text": "Ghi chú mới: bắt buộc"}
    assert rows(desk.receiver, "SELECT count(*) FROM persons WHERE case_id = ?",
                case_id) == [(0,)]
    assert rows(desk.receiver, "SELECT count(*) FROM notes WHERE case_id = ?",
                case_id) == [(0,)]


async def test_found_a_person_refused_keeps_every_choice_and_names_the_input(
        people: dict[str, Browser], desk: Desk) -> None:
    sophea = people["sophea"]
    before = rows(desk.receiver, "SELECT count(*) FROM cases")
    refused = await sophea.post("/cases/new", {
        "kind": "repatriation", "found": "1", "person_name_latin": "SREY Pov",
        "person_sex": "female", "person_estimated_age": "200", "person_age_uncertain": "true",
        "person_nationality": "KH", "partner": "vn.c02", "priority": "urgent"})
    assert refused.status_code == 422
    assert "Tuổi ước tính: tối đa 120" in refused.text  # the label, not person.estimated_age
    assert "person.estimated_age" not in refused.text
    form = refused.text.split('id="found-person"')[1].split("</form>")[0]
    for kept in ('value="SREY Pov"', '<option value="female" selected>',
                 'value="200"', 'value="true" checked>', '<option value="KH" selected>',
                 '<option value="vn.c02" selected>', '<option value="urgent" selected>'):
        assert kept in form, kept
    assert rows(desk.receiver, "SELECT count(*) FROM cases") == before


async def test_a_case_address_that_is_no_number_answers_the_console_page(
        people: dict[str, Browser]) -> None:
    sophea = people["sophea"]
    for path in ("/cases/abc", "/drafts/abc", "/cases/99999999999/messages/x"):
        page = await sophea.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "Không tìm thấy trang" in page.text, path  # "page not found", with the menu
        assert 'href="/cases"' in page.text, path
        assert "Input should be" not in page.text
        assert "urn:bx:problem" not in page.text
    api = await sophea.client.get("/api/cases/abc")  # the API still answers its problem
    assert api.status_code == 422
    assert api.json()["type"] == "urn:bx:problem:invalid-request"


async def test_the_reports_page_refuses_bad_input_and_audits_each_export(
        people: dict[str, Browser], desk: Desk) -> None:
    boss, officer = people["boss"], people["sophea"]
    assert (await officer.get("/reports")).status_code == 403
    shown = await boss.get("/reports", params={"period": "2027-H1"})
    assert shown.status_code == 200
    assert 'id="chart-tips"' in shown.text
    assert 'id="chart-verification"' in shown.text
    assert "<script" not in shown.text.split("<main", 1)[-1]  # the charts are drawn, not run
    wrong = await boss.get("/reports", params={"period": "2026-H3"})
    assert wrong.status_code == 422
    assert "2026-H3" in wrong.text
    range_ = await boss.get("/reports", params={"from": "2026-11-01", "to": "2026-11-30"})
    assert "2026-11-01..2026-11-30" in range_.text
    before = len(audit_lines(desk.receiver, "report.exported"))
    for refused in ({"period": "2027-H1", "format": "xlsx", "reason": " "},
                    {"period": "2027-H1", "format": "docx", "reason": "for C02"},
                    {"period": "2027-H9", "format": "csv", "reason": "for C02"}):
        answer = await boss.post("/reports/export", refused)
        assert answer.status_code == 422, refused
    assert len(audit_lines(desk.receiver, "report.exported")) == before  # nothing recorded
    made = await boss.post("/reports/export", {"period": "2027-H1", "format": "csv",
                                               "reason": "six-month report for C02"})
    assert made.status_code == 200
    assert made.headers["content-type"].startswith("text/csv")
    assert 'filename="report-kh.ahtjp-2027-H1.csv"' in made.headers["content-disposition"]
    assert made.content.startswith(b"\xef\xbb\xbf")
    line = audit_lines(desk.receiver, "report.exported")[-1]
    assert line == {"format": "csv", "reason": "six-month report for C02", "unit": "kh.ahtjp",
                    "first": "2026-11-16", "last": "2027-05-15"}
    data = await boss.get("/api/reports", params={"period": "2027-H1"})
    assert data.status_code == 200, data.text
    assert data.json()["period"]["name"] == "2027-H1"


async def test_the_case_page_tells_the_cases_history_newest_first(
        people: dict[str, Browser], desk: Desk) -> None:
    """What happened to the case, when and by whom, in the reader's words: opened, the
    request sent, the partner's answer received (linked to the message) and the state it
    moved the case to, newest first; no code or event name shown raw."""
    sophea = people["sophea"]
    case_id = await request_released(people)
    (sent_id, conversation) = rows(sophea.receiver, "SELECT message_id, conversation FROM "
                                                    "messages WHERE direction = 'out'")[0]
    answer = desk.receiver.world.message(
        "verification-response", example("verification-response"), ref=sent_id,
        conversation=conversation)
    assert (await desk.receiver.post(answer)).status_code == 202
    (answer_id,) = rows(sophea.receiver, "SELECT message_id FROM messages "
                                         "WHERE direction = 'in'")[0]
    page = (await sophea.get(f"/cases/{case_id}")).text
    history = page[page.index('id="history"'):page.index("</section>", page.index('id="history"'))]
    kinds = re.findall(r'<tr class="event-([a-z-]+)">', history)
    assert kinds[0] == "state"
    assert kinds[-1] == "opened"
    assert kinds.index("message-in") < kinds.index("message-out")
    assert history.count(f'href="/cases/{case_id}/messages/{answer_id}"') == 2  # received, moved
    assert history.count(f'href="/cases/{case_id}/messages/{sent_id}"') >= 1
    assert "Lịch sử vụ việc" in history
    assert "Đã nhận văn bản" in history
    assert "Mở vụ việc" in history
    assert "Heng Sophea" in history  # who opened it, by name
    assert ">sophea<" not in history
    for raw in ("message-in<", "message-out<", "verified<", ">state<", "vn.c02<"):
        assert raw not in history, raw  # codes and ids said in words
    # the request's deadline closed by the partner's answer, and said so: by whom
    assert rows(sophea.receiver, "SELECT kind, done_by FROM tasks WHERE case_id = ? AND "
                                 "done_at IS NOT NULL", case_id) == [("await-answer", "vn.c02")]
    tasks = page[page.index('id="tasks"'):page.index("</section>", page.index('id="tasks"'))]
    assert "· Cục Cảnh sát hình sự, Bộ Công an" in tasks
    khmer = Browser(desk.receiver, sophea.client, lang="km")
    in_khmer = (await khmer.get(f"/cases/{case_id}")).text
    assert "ប្រវត្តិសំណុំរឿង" in in_khmer
    assert "បានទទួលឯកសារ" in in_khmer


async def test_the_compose_page_says_when_the_same_document_already_waits(
        people: dict[str, Browser]) -> None:
    """A form sent again after going back would queue the same request twice: the compose
    page says the case already has that document waiting (not for another type), and
    changes nothing."""
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    fresh = await sophea.get(f"/cases/{case_id}/compose/verification-request")
    assert 'id="already-waiting"' not in fresh.text
    submitted = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                  {**REQUEST, "action": "submit"},
                                  files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert submitted.status_code == 303
    again = await sophea.get(f"/cases/{case_id}/compose/verification-request")
    warning = re.search(r'<p class="notice warn" id="already-waiting">([^<]*)</p>', again.text)
    assert warning is not None
    assert warning[1].startswith("Vụ việc này đã có một văn bản cùng loại đang chờ (Chờ duyệt "
                                 "gửi, do Heng Sophea soạn, ")
    other = await sophea.get(f"/cases/{case_id}/compose/repatriation-request")
    assert 'id="already-waiting"' not in other.text
    assert len(rows(sophea.receiver, "SELECT id FROM drafts")) == 1  # a warning, nothing more


async def test_a_value_too_long_for_its_field_is_refused_with_the_length_allowed(
        people: dict[str, Browser]) -> None:
    """The schema's length limit is said with its number, in the reader's language (not
    "too long or too short"); nothing is saved."""
    sophea = people["sophea"]
    case_id = await new_case(sophea)
    refused = await sophea.post(f"/cases/{case_id}/compose/verification-request",
                                {**REQUEST, "person.name.latin": "N" * 250, "action": "submit"},
                                files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert refused.status_code == 422
    summary = refused.text[refused.text.index('id="error-summary"'):]
    assert "Tối đa 200 ký tự" in summary[:summary.index("</div>")]
    assert rows(sophea.receiver, "SELECT id FROM drafts") == []
    khmer = Browser(sophea.receiver, sophea.client, lang="km")
    khmer.csrf = sophea.csrf
    again = await khmer.post(f"/cases/{case_id}/compose/verification-request",
                             {**REQUEST, "person.name.latin": "N" * 250, "action": "submit"},
                             files=[("files", ("p1-photo.jpg", JPEG, "image/jpeg"))])
    assert "យ៉ាងច្រើន 200 តួអក្សរ" in again.text
