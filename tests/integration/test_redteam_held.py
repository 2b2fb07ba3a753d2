"""Red team of issue 22: attacks that HELD (these tests pass), kept so that the fixes of the
findings do not open them: the referral on the wrong side, without CSRF or by the wrong
role; system document types through the console; a case and its person by a role that may
not add persons; the release queue's attachments across units and with forged names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Desk
from tests.integration.test_both_sides import case_of, document, receive, send
from tests.integration.test_console_work import PASSWORD, Browser
from tests.integration.test_redteam_compose import jpeg, verified_child

pytestmark = pytest.mark.anyio


@pytest.fixture
async def browsers(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """Consoles: an officer and a supervisor of kh.ahtjp, a supervisor of another unit."""
    made = {}
    for name, role, unit in (("sophea", "blo-officer", "kh.ahtjp"),
                             ("boss", "supervisor", "kh.ahtjp"),
                             ("other", "supervisor", "kh.blo-bavet")):
        await desk.add_user(name, role, unit=unit, password=PASSWORD)
        made[name] = Browser(desk.receiver, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=desk.receiver.app), base_url="http://kh.test"))
        await made[name].login(name)
    yield made
    for browser in made.values():
        await browser.client.aclose()


async def test_the_finding_side_cannot_record_a_referral_nor_anyone_without_csrf(
        desk: Desk, registry: Any, browsers: dict[str, Browser]) -> None:
    case_id, conversation, confirmed = await verified_child(desk, registry)
    proposal = document(registry, "repatriation-request")
    proposal["returnee"] = [{"@person-id": "P1", "@verification": confirmed}]
    request = await send(desk, case_id, "repatriation-request", proposal)
    await receive(desk, registry, "repatriation-response",
                  document(registry, "repatriation-response"), ref=request,
                  conversation=conversation)
    await send(desk, case_id, "handover-record", document(registry, "handover-record", 1))
    assert (await case_of(desk, case_id))["state"] == "handed-over"
    refused = await desk.call("officer", "POST", f"/api/cases/{case_id}/referral", json={
        "kind": "shelter", "facility": "Svay Rieng shelter"})
    assert refused.status_code == 409
    sophea = browsers["sophea"]
    await sophea.get(f"/cases/{case_id}")
    forged = await sophea.client.post(f"/cases/{case_id}/referral", data={
        "csrf": "forged", "kind": "shelter", "facility": "Svay Rieng shelter"})
    assert forged.status_code == 403
    after = await case_of(desk, case_id)
    assert (after["state"], after["referral"]) == ("handed-over", None)


async def test_system_types_are_never_composed_on_a_case(
        desk: Desk, browsers: dict[str, Browser]) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    sophea = browsers["sophea"]
    for doc_type in ("checkpoint", "cosignature", "periodic-report", "../audit"):
        page = await sophea.get(f"/cases/{case['id']}/compose/{doc_type}")
        assert page.status_code in (403, 404), doc_type  # Refused("not-found") answers 403
        posted = await sophea.post(f"/cases/{case['id']}/compose/{doc_type}",
                                   {"to": "vn.c02", "action": "submit"})
        assert posted.status_code in (403, 404), doc_type
        menu = await sophea.client.get(f"/cases/{case['id']}/compose",
                                       params={"type": doc_type})
        assert menu.headers["location"] == f"/cases/{case['id']}", doc_type
    assert (await case_of(desk, case["id"]))["drafts"] == []


async def test_a_role_that_may_not_add_persons_opens_no_case_with_one(desk: Desk) -> None:
    line = await desk.add_user("line", "hotline-operator")
    refused = await desk.client.post("/api/cases", headers=line, json={
        "kind": "hotline", "person": {"role": "victim", "name_native": "Lò Thị Sương"}})
    assert refused.status_code == 403
    assert (await desk.ok("officer", "GET", "/api/cases"))["cases"] == []


async def test_the_release_queues_attachments_stay_in_their_unit(
        desk: Desk, registry: Any, browsers: dict[str, Browser]) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    drafted = await desk.ok("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "verification-request", "to": "vn.c02", "handling": "H1",
        "document": document(registry, "verification-request"), "attachments": [
            {"name": "p1-photo.jpg", "media_type": "image/jpeg", "data": jpeg(64)}]})
    await desk.ok("officer", "POST", f"/api/drafts/{drafted['id']}/submit")
    path = f"/release/{drafted['id']}/attachments"
    assert (await browsers["other"].get(f"{path}/p1-photo.jpg")).status_code == 404
    for name in ("..%2Fp1-photo.jpg", "P1-PHOTO.JPG", "p1-photo.jpg%00"):
        assert (await browsers["boss"].get(f"{path}/{name}")).status_code == 404, name
    assert (await browsers["boss"].get(f"{path}/p1-photo.jpg")).status_code == 200
    assert (await browsers["other"].post(f"/release/{drafted['id']}")).status_code in (
        403, 404)
    assert (await desk.ok("officer", "GET", f"/api/drafts/{drafted['id']}"))["state"] == (
        "submitted")
