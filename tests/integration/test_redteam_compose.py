"""Red team of issue 22: what a signed document can be made to say, and what goes out that
the partner cannot take, in-process over a real SQLite file.

The tests FAIL on the code as red-teamed (branch wt-redteam): each failure is a finding of
the report; the lead fixes the product code.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.protocol.envelope import MAX_MESSAGE_BYTES
from gateway.store.crypto import load_sealer
from gateway.store.messages import RAW_COLUMN
from tests.integration.conftest import Desk
from tests.integration.test_both_sides import (
    case_of,
    conversation_of,
    document,
    receive,
    send,
)
from tests.integration.test_compose_prefill import form_of, options
from tests.integration.test_console_work import PASSWORD, Browser

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sophea(desk: Desk) -> AsyncIterator[Browser]:
    """An officer of kh.ahtjp at her console."""
    import httpx  # noqa: PLC0415

    await desk.add_user("sophea", "blo-officer", password=PASSWORD)
    browser = Browser(desk.receiver, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=desk.receiver.app), base_url="http://kh.test"))
    await browser.login("sophea")
    yield browser
    await browser.client.aclose()


async def verified_child(desk: Desk, registry: Any) -> tuple[int, str, str]:
    """Our case of a presumed child, verified by vn.c02 and cleared by a supervisor's
    best-interests record: (case id, conversation, the confirming answer's id)."""
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    request = await send(desk, found["id"], "verification-request",
                         document(registry, "verification-request"))
    conversation = await conversation_of(desk, found["id"])
    confirmed = await receive(desk, registry, "verification-response",
                              document(registry, "verification-response", result="confirmed"),
                              ref=request, conversation=conversation)
    await desk.ok("chief", "POST", f"/api/cases/{found['id']}/best-interests",
                  json={"note": "Mother traced; return is in the child's best interests."})
    assert (await case_of(desk, found["id"]))["state"] == "verified"
    return int(found["id"]), conversation, confirmed


async def test_the_verification_a_return_relies_on_is_a_confirmation(
        desk: Desk, registry: Any, sophea: Browser) -> None:
    """The repatriation request's returnee names "the verification-response that verified
    this person" (schema). The compose page prefills the NEWEST received
    verification-response, whatever it said: after a confirmation, the partner asks a
    question (need-more-information), and the signed proposal now says the child was
    verified by that question."""
    case_id, conversation, confirmed = await verified_child(desk, registry)
    question = await receive(desk, registry, "verification-response",
                             document(registry, "verification-response", 1),
                             conversation=conversation)
    assert document(registry, "verification-response", 1)["result"] == "need-more-information"
    page = await sophea.get(f"/cases/{case_id}/compose/repatriation-request")
    prefilled = form_of(page)["returnee.0.@verification"]
    offered = [value for value, _ in options(page, "returnee.0.@verification") if value]
    # FAILS: the question's id is prefilled (and offered) as the verification
    assert prefilled == confirmed, (prefilled, question)
    assert question not in offered


async def test_a_return_cannot_cite_a_verification_the_case_never_received(
        desk: Desk, registry: Any) -> None:
    """``ref`` and person ids are checked against the case; the returnee's
    ``@verification`` (a message id the partner will look up as the proof of identity) is
    not: any UUID, or our own request's id, is signed as the verification."""
    case_id, _, _ = await verified_child(desk, registry)
    own_request = next(m["id"] for m in (await case_of(desk, case_id))["messages"]
                       if m["direction"] == "out")
    for forged in ("3f1c2a9e-7b4d-4c1e-9a55-0d6e2b8f4a10", own_request):
        proposal = document(registry, "repatriation-request")
        proposal["returnee"] = [{"@person-id": "P1", "@verification": forged}]
        drafted = await desk.call("officer", "POST", f"/api/cases/{case_id}/drafts", json={
            "type": "repatriation-request", "to": "vn.c02", "handling": "H1",
            "document": proposal})
        # FAILS: 201 both times
        assert drafted.status_code == 422, (forged, drafted.text)
        assert drafted.json()["errors"][0]["path"] == "returnee.0.@verification"


def jpeg(size: int) -> str:
    return base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * (size - 4)).decode()


async def test_what_the_partner_cannot_accept_is_refused_before_it_is_signed(
        desk: Desk, registry: Any) -> None:
    """A draft takes 10 attachments of 5 MiB; the protocol (PROTOCOL.md, §3) takes 20 MiB
    per message as sent, and the partner answers 413 to more: a permanent refusal, so the
    message goes to the dead letters. Yet it is signed and queued, and the case moves on
    release as if the partner had it: "verification-requested", an answer awaited that
    can never come."""
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    request = document(registry, "verification-request")
    names = ["p1-photo.jpg", *(f"page-{i}.jpg" for i in range(1, 4))]
    drafted = await desk.ok("officer", "POST", f"/api/cases/{found['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "handling": "H1",
        "document": request, "attachments": [
            {"name": name, "media_type": "image/jpeg", "data": jpeg(5 * 1024 * 1024)}
            for name in names]})
    submitted = await desk.call("officer", "POST", f"/api/drafts/{drafted['id']}/submit")
    # (the lead's reading: refused at submission already, with the reason beside the files;
    # the release checks the signed bytes themselves)
    released = submitted if submitted.status_code != 200 else await desk.call(
        "chief", "POST", f"/api/drafts/{drafted['id']}/release")
    assert released.json()["errors"][0]["path"] == "attachments", released.text
    case = await case_of(desk, found["id"])
    with sqlite3.connect(desk.receiver.db) as conn:
        rows = conn.execute("SELECT raw FROM messages WHERE direction = 'out'").fetchall()
    sealer = load_sealer(desk.receiver.settings.secret_key_path)
    sizes = [len(sealer.open(bytes(raw), RAW_COLUMN)) for (raw,) in rows]
    # FAILS: released (200), one message of ~28 MB queued, the case moved
    assert released.status_code == 422, (released.status_code, sizes)
    assert all(size <= MAX_MESSAGE_BYTES for size in sizes), sizes
    assert case["state"] == "detected"


async def test_the_compose_page_escapes_what_a_partner_wrote(
        desk: Desk, registry: Any, sophea: Browser) -> None:
    """HELD (passes): a partner's refusal reason, names and a person's details full of markup
    are shown as text on the case page and in the compose pickers, never as markup."""
    payload = '"><script>alert(1)</script><img src=x onerror=alert(1)>'
    case_id, conversation, _ = await verified_child(desk, registry)
    request = document(registry, "verification-request")
    request["person"] = {**request["person"], "@person-id": "P2",
                         "name": {"native": payload, "latin": "EVIL Name"}}
    await receive(desk, registry, "verification-request", request, conversation=conversation)
    refusal = document(registry, "repatriation-response", decision="refused",
                       reason=[{"@lang": "en", "#text": payload}])
    await receive(desk, registry, "repatriation-response", refusal, conversation=conversation)
    shown: list[bool] = []
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/compose/repatriation-request",
                 f"/cases/{case_id}/compose/repatriation-request?person={payload}"):
        page = await sophea.get(path)
        assert page.status_code == 200, path
        assert "<script>alert(1)" not in page.text, path
        assert "<img src=x" not in page.text, path
        shown.append("&lt;script&gt;alert(1)&lt;/script&gt;" in page.text)
    assert shown[:2] == [True, True], shown  # the case page and the picker show it, as text
    case = json.dumps(await case_of(desk, case_id), ensure_ascii=False)
    assert payload.replace('"', '\\"') in case  # it did land, as text


async def test_the_partners_case_reference_is_kept_whole_and_signed_whole(
        desk: Desk, registry: Any, sophea: Browser) -> None:
    """A partner's case reference may be 80 characters (common-1.xsd ``Reference``); the case
    keeps 48 (``partner_reference[:48]``) and every document we compose then cites a
    reference that is not the partner's, signed as evidence. (The comparison with the stored
    value never matches again, so each message of the conversation rewrites it.)"""
    reference = "KH-BAVET-2026-0112/SVAY-RIENG-PROVINCIAL-POLICE/ANTI-TRAFFICKING-OFFICE-7"
    assert 48 < len(reference) <= 80
    await receive(desk, registry, "verification-request",
                  document(registry, "verification-request", **{"case-reference": reference}))
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    page = await sophea.get(f"/cases/{case['id']}/compose/verification-response")
    cited = form_of(page).get("partner-case-reference")
    # FAILS: 'KH-BAVET-2026-0112/SVAY-RIENG-PROVINCIAL-POLICE/' (48 characters)
    assert cited == reference
    assert (await case_of(desk, case["id"]))["partner_reference"] == reference


async def test_refused_forms_cannot_pile_up_files_on_the_server(
        desk: Desk, sophea: Browser) -> None:
    """A refused compose form keeps its chosen files on the server (sealed, for a day) so
    that they come back with it. Nothing bounds how many: a form with 12 photos (a draft
    takes 10) is refused and all 12 are held; each refusal holds more, up to the 48 MiB a
    console request may carry, so one officer's session fills the disk in a day."""
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (1024 * 1024 - 4)
    path = f"/cases/{case['id']}/compose/verification-request"
    await sophea.get(path)
    for _ in range(3):
        refused = await sophea.post(path, {"to": "vn.c02", "action": "save"}, files=[
            ("files", (f"scan-{i}.jpg", photo, "image/jpeg")) for i in range(12)])
        assert refused.status_code == 422
    with sqlite3.connect(desk.receiver.db) as conn:
        held = conn.execute("SELECT count(*) FROM held_files WHERE owner = 'sophea'"
                            ).fetchone()[0]
    # FAILS: 36 files (36 MiB) held for one officer, from three refused forms
    assert held <= 10, held


async def test_two_photos_from_a_phone_both_named_image_jpg_can_be_sent(
        desk: Desk, sophea: Browser) -> None:
    """Phones name every photo they upload "image.jpg". The verification request offers a
    photo and a scan of the identity paper, each chosen at its field; the two files carry
    the same name and the form is refused with "attachments[2].name: a unique file name of
    letters, digits, '.', '_' or '-'", an internal path beside no field, about a name the
    officer never typed and cannot change from the phone."""
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02", "person": {
            "role": "victim", "name_native": "Nguyễn Thị Hoa", "estimated_age": 15}})
    path = f"/cases/{case['id']}/compose/verification-request"
    form = form_of(await sophea.get(path))
    photo = b"\xff\xd8\xff\xe0" + b"\0" * 100
    saved = await sophea.post(path, {**form, "action": "save"}, files=[
        ("file:person.photo.0.@attachment", ("image.jpg", photo, "image/jpeg")),
        ("file:person.identity-paper.0.scan.0.@attachment",
         ("image.jpg", photo + b"\1", "image/jpeg"))])
    # FAILS: 422, "attachments[2].name: ..." (nothing else in the form is wrong for a save)
    assert saved.status_code == 303, saved.status_code
