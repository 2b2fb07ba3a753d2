"""A document composed in the console says only what is true, checked in the signed bytes the
node queues for the partner (what the partner receives, byte for byte): this Khmer node's own
units in Khmer with English beside, each tagged with its language; the partner's units from
the partner directory, never this node's in their place; the persons and the verification a
return relies on picked from the case, in words."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from lxml import etree, html

from gateway.cases import service
from gateway.documents.convert import DocumentForms
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.store.crypto import load_sealer
from gateway.store.messages import RAW_COLUMN
from tests.conftest import REPO, example
from tests.integration.conftest import Desk
from tests.integration.test_console_work import PASSWORD, Browser

pytestmark = pytest.mark.anyio


def names(node_id: str) -> dict[str, str]:
    profile = tomllib.loads((REPO / "partners" / f"{node_id}.toml").read_text(encoding="utf-8"))
    return dict(profile["name"])


def as_unit(node_id: str, home: str) -> tuple[str, list[tuple[str, str]]]:
    return node_id, [(lang, names(node_id)[lang]) for lang in (home, "en")]


def form_of(page: httpx.Response) -> dict[str, str]:
    """What the compose form holds as the officer first sees it (inputs, picks)."""
    tree = html.fromstring(page.text)
    [form] = [f for f in tree.forms if "/compose/" in (f.action or "")]
    values: dict[str, str] = {}
    for name, value in form.fields.items():
        if name and name != "csrf" and value and not name.startswith("file:"):
            values[name] = str(value)
    return values


def options(page: httpx.Response, name: str) -> list[tuple[str, str]]:
    tree = html.fromstring(page.text)
    return [(o.get("value"), o.text_content()) for o in
            tree.xpath(f'//select[@name="{name}"]/option')]


def signed(desk: Desk, message_id: str) -> etree._Element:
    """The document of the signed message queued for the partner."""
    with sqlite3.connect(desk.receiver.db) as conn:
        (raw,) = conn.execute("SELECT raw FROM messages WHERE message_id = ? AND direction = "
                              "'out'", (message_id,)).fetchone()
    sealer = load_sealer(desk.receiver.settings.secret_key_path)
    envelope = parse_envelope(parse_body(sealer.open(bytes(raw), RAW_COLUMN)))
    return etree.fromstring(envelope.document)


def unit(element: etree._Element | None) -> tuple[str | None, list[tuple[str, str]]]:
    assert element is not None
    return element.get("node"), [(n.get("lang"), n.text) for n in element
                                 if etree.QName(n).localname == "name"]


@pytest.fixture
async def people(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """An officer and a supervisor of kh.ahtjp at their consoles."""
    transport = httpx.ASGITransport(app=desk.receiver.app)
    browsers = {}
    for name, role in (("sophea", "blo-officer"), ("boss", "supervisor")):
        await desk.add_user(name, role, password=PASSWORD)
        browsers[name] = Browser(desk.receiver, httpx.AsyncClient(
            transport=transport, base_url="http://kh.test"))
        await browsers[name].login(name)
    yield browsers
    for browser in browsers.values():
        await browser.client.aclose()


async def release(people: dict[str, Browser], form: dict[str, str], path: str) -> str:
    """Submitted by the officer, released by the supervisor; the message id."""
    sent = await people["sophea"].post(path, {**form, "action": "submit"})
    assert sent.status_code == 303, sent.text
    queue = await people["boss"].get("/release")
    draft_id = re.findall(r'id="release-(\d+)"', queue.text)[-1]
    assert (await people["boss"].get(f"/release/{draft_id}/preview")).status_code == 200
    released = await people["boss"].post(f"/release/{draft_id}")  # what she has seen
    assert released.status_code == 303, released.text
    with sqlite3.connect(people["boss"].receiver.db) as conn:
        (message_id,) = conn.execute("SELECT message_id FROM drafts WHERE id = ?",
                                     (int(draft_id),)).fetchone()
    return str(message_id)


async def test_the_home_sides_handover_record_names_each_side_truly(
        desk: Desk, people: dict[str, Browser]) -> None:
    raw = desk.receiver.world.message("verification-request", example("verification-request"))
    assert (await desk.receiver.post(raw)).status_code == 202  # the home side of her return
    cw = desk.receiver.app.state.cases
    async with cw.node.engine.begin() as conn:  # verified, the return agreed (by phone)
        await service.set_identity_status(conn, 1, None, "verified")
    for step in ("verified", "repatriation-planned"):
        await desk.ok("officer", "POST", "/api/cases/1/transitions", json={"to": step})
    sophea = people["sophea"]
    page = await sophea.get("/cases/1/compose/handover-record")
    form = form_of(page)
    # the persons of the case, offered in words (name, age), never as a bare code
    offered = dict(options(page, "person.0.@person-id"))
    assert offered["P1"].startswith("Nguyễn Thị Hoa (NGUYEN Thi Hoa)")
    assert form["receiving-side.agency.name.0.@lang"] == "km"
    assert form["receiving-side.agency.name.0.#text"] == names("kh.ahtjp")["km"]
    assert form["handing-over-side.agency.name.0.#text"] == names("vn.c02")["vi"]
    assert "receiving-agency.name.0.#text" not in form  # the onward agency: nobody's guess
    assert "place.country" not in form  # where the record is signed: not guessed either
    form.update({"record-number": "BB-2026-7", "time": "2026-11-23T10:30", "gate":
                 "mocbai-bavet", "place.country": "KH",
                 "handing-over-side.official.0.name.latin": "VO Thanh Tung",
                 "receiving-side.official.0.name.latin": "CHAN Sophea",
                 "receiving-agency.name.0.@lang": "km",
                 "receiving-agency.name.0.#text": "មណ្ឌលសង្គមកិច្ចខេត្តស្វាយរៀង"})
    record = signed(desk, await release(people, form, "/cases/1/compose/handover-record"))
    ns = {"h": "urn:bx:doc:handover-record:1"}
    assert unit(record.find("h:receiving-side/h:agency", ns)) == as_unit("kh.ahtjp", "km")
    assert unit(record.find("h:receiving-side/h:official/h:unit", ns)) == as_unit(
        "kh.ahtjp", "km")
    assert unit(record.find("h:handing-over-side/h:agency", ns)) == as_unit("vn.c02", "vi")
    assert unit(record.find("h:handing-over-side/h:official/h:unit", ns)) == as_unit(
        "vn.c02", "vi")
    assert unit(record.find("h:receiving-agency", ns)) == (None, [
        ("km", "មណ្ឌលសង្គមកិច្ចខេត្តស្វាយរៀង")])
    person = record.find("h:person", ns)
    assert person is not None
    assert (person.get("person-id"), person.findtext("h:name/h:latin", namespaces=ns),
            person.findtext("h:nationality", namespaces=ns)) == ("P1", "NGUYEN Thi Hoa", "VN")


async def test_a_return_proposed_refers_to_the_answer_received_in_words(
        desk: Desk, people: dict[str, Browser], registry: Any) -> None:
    sophea = people["sophea"]
    opened = await sophea.post("/cases/new", {
        "kind": "repatriation", "partner": "vn.c02", "priority": "urgent",
        "person_name_native": "Nguyễn Thị Hoa", "person_name_latin": "NGUYEN Thi Hoa",
        "person_sex": "female", "person_estimated_age": "15", "person_nationality": "VN"})
    assert opened.status_code == 303
    case_path = opened.headers["location"].split("?")[0]
    request = form_of(await sophea.get(f"{case_path}/compose/verification-request"))
    assert request["priority"] == "urgent"  # the case's
    request.update({"reason": "repatriation", "victim-status.status": "possible-victim",
                    "victim-status.decided-by.name.latin": "CHAN Sophea",
                    "victim-status.decided-on": "2026-11-23", "found.time": "2026-11-22T21:00",
                    "consent.given": "true", "consent.recorded-on": "2026-11-23",
                    "consent.informed-in-language": "vi",
                    "consent.retention-until": "2031-11-23",
                    "requesting-officer.name.latin": "CHAN Sophea"})
    request_id = await release(people, request, f"{case_path}/compose/verification-request")
    sent = signed(desk, request_id)
    ns = {"v": "urn:bx:doc:verification-request:1"}
    assert sent.findtext("v:person/v:birth/v:estimated-age", namespaces=ns) == "15"
    for where in ("v:found/v:unit", "v:requesting-officer/v:unit",
                  "v:victim-status/v:decided-by/v:unit"):
        assert unit(sent.find(where, ns)) == as_unit("kh.ahtjp", "km"), where
    assert sent.findtext("v:found/v:place/v:country", namespaces=ns) == "KH"

    conversation = (await desk.ok("sophea", "GET", f"/api{case_path}"))["messages"][0][
        "conversation"]
    confirmation = DocumentForms(registry).read("verification-response", "1.0",
                                                example("verification-response"))
    confirmation["subject"] = {"@person-id": "L1"}  # about the girl the case holds
    answer = desk.receiver.world.message(
        "verification-response",
        DocumentForms(registry).build("verification-response", "1.0", confirmation),
        conversation=conversation, ref=request_id)
    assert (await desk.receiver.post(answer)).status_code == 202
    with sqlite3.connect(desk.receiver.db) as conn:
        (answer_id,) = conn.execute("SELECT message_id FROM messages WHERE direction = 'in' "
                                    "AND doc_type = 'verification-response'").fetchone()
    await desk.ok("boss", "POST", f"/api{case_path}/best-interests",
                  json={"note": "Mother traced; return is in her best interests."})
    page = await sophea.get(f"{case_path}/compose/repatriation-request")
    proposal = form_of(page)
    assert proposal["returnee.0.@verification"] == answer_id
    label = dict(options(page, "returnee.0.@verification"))[answer_id]
    assert "·" in label  # the answer in words: type, date, partner
    assert answer_id not in label
    assert proposal["returnee.0.@person-id"] == "L1"
    assert "vn.c02" not in dict(options(page, "ref")).get(answer_id, "")
    proposal.update({"proposed-date": "2026-12-18", "proposed-gate": "mocbai-bavet",
                     "security-risk.level": "low", "legal-proceedings.status": "none",
                     "requesting-officer.name.latin": "CHAN Sophea"})
    proposed = signed(desk, await release(people, proposal,
                                          f"{case_path}/compose/repatriation-request"))
    ns = {"r": "urn:bx:doc:repatriation-request:1"}
    returnee = proposed.find("r:returnee", ns)
    assert returnee is not None
    assert (returnee.get("person-id"), returnee.get("verification")) == ("L1", answer_id)


async def test_pickers_refuse_what_the_case_does_not_hold(
        desk: Desk, people: dict[str, Browser]) -> None:
    """A picked value is checked where it lands: a person the case does not hold, or a
    forged message id, is refused beside its field and nothing is queued."""
    raw = desk.receiver.world.message("verification-request", example("verification-request"))
    assert (await desk.receiver.post(raw)).status_code == 202
    sophea = people["sophea"]
    form = form_of(await sophea.get("/cases/1/compose/verification-response"))
    form.update({"result": "confirmed", "officer.name.latin": "CHAN Sophea"})
    for key, bad in (("subject.@person-id", "P9"), ("subject.@person-id", "../etc"),
                     ("ref", "00000000-0000-4000-8000-000000000000")):
        refused = await sophea.post("/cases/1/compose/verification-response",
                                    {**form, key: bad, "action": "submit"})
        assert refused.status_code in (404, 409, 422), (key, bad, refused.status_code)
        assert "field-error" in refused.text, (key, bad)
    with sqlite3.connect(desk.receiver.db) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE direction = 'out'"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM drafts WHERE state != 'draft'"
                            ).fetchone() == (0,)
