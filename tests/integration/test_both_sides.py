"""Both sides keep one case (MESSAGES.md): what each document does to the case of the side
that sends it and of the side that receives it, in-process over a real SQLite file. The full
repatriation across two real nodes is in tests/e2e/test_casework.py; here, the branches: a
question instead of an answer, a refused or moved return, a move the lifecycle forbids, and
the referral's and the drafts' hostile inputs."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

import pytest

from gateway.cases import effects
from gateway.documents.catalog import catalogs
from gateway.documents.convert import DocumentForms
from gateway.protocol.errors import from_record
from tests.conftest import REPO, example
from tests.integration.conftest import Desk

pytestmark = pytest.mark.anyio


def document(registry: Any, doc_type: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = DocumentForms(registry).read(doc_type, "1.0",
                                                         example(doc_type, index))
    found.update(changes)
    return found


async def receive(desk: Desk, registry: Any, doc_type: str, data: dict[str, Any],
                  **draft: Any) -> str:
    """A partner's (vn.c02's) signed message, received and attached; answers its id."""
    xml = DocumentForms(registry).build(doc_type, "1.0", data)
    raw = desk.receiver.world.message(doc_type, xml, **draft)
    response = await desk.receiver.post(raw)
    assert response.status_code == 202, response.text
    protected = json.loads(raw)["protected"]
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    return str(header["bx"]["id"])


async def send(desk: Desk, case_id: int, doc_type: str, data: dict[str, Any],
               ref: str | None = None) -> str:
    """Drafted by the officer, released by the chief; answers the message id."""
    drafted = await desk.ok("officer", "POST", f"/api/cases/{case_id}/drafts", json={
        "type": doc_type, "to": "vn.c02", "ref": ref, "handling": "H1", "document": data})
    submitted = await desk.ok("officer", "POST", f"/api/drafts/{drafted['id']}/submit")
    if submitted["state"] == "sent":
        return str(submitted["message_id"])
    return str((await desk.ok("chief", "POST", f"/api/drafts/{drafted['id']}/release"))[
        "message_id"])


async def case_of(desk: Desk, case_id: int) -> dict[str, Any]:
    return dict(await desk.ok("officer", "GET", f"/api/cases/{case_id}"))


async def conversation_of(desk: Desk, case_id: int) -> str:
    return str((await case_of(desk, case_id))["messages"][0]["conversation"])


def open_tasks(case: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [t for t in case["tasks"] if t["kind"] == kind and not t["done_at"]]


async def test_a_question_instead_of_an_answer_pauses_the_home_side_and_tasks_the_finder(
        desk: Desk, registry: Any) -> None:
    # The home side: a request opens its case; it asks for more instead of answering.
    request = await receive(desk, registry, "verification-request",
                            document(registry, "verification-request"))
    home = next(c for c in (await desk.ok("officer", "GET", "/api/cases"))["cases"])
    conversation = await conversation_of(desk, home["id"])
    assert len(open_tasks(await case_of(desk, home["id"]), "answer")) == 1
    question = document(registry, "verification-response", result="need-more-information")
    await send(desk, home["id"], "verification-response", question, ref=request)
    paused = await case_of(desk, home["id"])
    assert paused["state"] == "verification-requested"  # it stays
    assert open_tasks(paused, "answer") == []  # the clock is paused until the next request
    await receive(desk, registry, "verification-request",
                  document(registry, "verification-request"), conversation=conversation)
    again = await case_of(desk, home["id"])
    assert again["state"] == "verification-requested"
    assert len(open_tasks(again, "answer")) == 1
    assert not [e for e in again["events"] if e["event"] == "state-not-changed"]

    # The finding side: its request is answered with a question; a new request answers it.
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    ours = await send(desk, found["id"], "verification-request",
                      document(registry, "verification-request"))
    assert (await case_of(desk, found["id"]))["state"] == "verification-requested"
    await receive(desk, registry, "verification-response", question, ref=ours,
                  conversation=await conversation_of(desk, found["id"]))
    asked = await case_of(desk, found["id"])
    assert asked["state"] == "verification-requested"
    assert [t["partner"] for t in open_tasks(asked, "answer-question")] == ["vn.c02"]
    assert open_tasks(asked, "await-answer") == []
    await send(desk, found["id"], "verification-request",
               document(registry, "verification-request"))
    answered = await case_of(desk, found["id"])
    assert open_tasks(answered, "answer-question") == []
    assert len(open_tasks(answered, "await-answer")) == 1


async def test_a_return_refused_proposed_again_and_refused_again(desk: Desk,
                                                                registry: Any) -> None:
    found = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    request = await send(desk, found["id"], "verification-request",
                         document(registry, "verification-request"))
    conversation = await conversation_of(desk, found["id"])
    confirmed = await receive(desk, registry, "verification-response",
                              document(registry, "verification-response", result="confirmed"),
                              ref=request, conversation=conversation)
    case = await case_of(desk, found["id"])
    assert case["state"] == "verified"
    assert case["partner_reference"] == document(registry, "verification-response")[
        "case-reference"]
    await desk.ok("chief", "POST", f"/api/cases/{found['id']}/best-interests",
                  json={"note": "Mother traced; return is in the child's best interests."})
    cited = document(registry, "repatriation-request")
    cited["returnee"] = [{"@person-id": "P1", "@verification": confirmed}]
    proposal = await send(desk, found["id"], "repatriation-request", cited)
    assert (await case_of(desk, found["id"]))["state"] == "verified"  # it stays

    reasons = [{"@lang": "vi", "#text": "Chưa xác minh được gia đình."},
               {"@lang": "en", "#text": "The family could not be traced yet."}]
    await receive(desk, registry, "repatriation-response", document(
        registry, "repatriation-response", decision="refused", reason=reasons),
        ref=proposal, conversation=conversation)
    refused = await case_of(desk, found["id"])
    assert refused["state"] == "verified"
    assert refused["refusal"] == reasons
    assert refused["return"] is None

    other_date = document(registry, "repatriation-response", 1)
    await receive(desk, registry, "repatriation-response", other_date, ref=proposal,
                  conversation=conversation)
    planned = await case_of(desk, found["id"])
    assert planned["state"] == "repatriation-planned"
    assert planned["return"] == {"date": other_date["alternative-date"],
                                 "gate": other_date["alternative-gate"]}
    assert planned["refusal"] is None
    moves = [e for e in planned["events"] if e["event"] == "state"]
    assert moves[-1]["to"] == "repatriation-planned"
    assert moves[-1]["message_id"] is not None  # the message that moved it

    await receive(desk, registry, "repatriation-response", document(
        registry, "repatriation-response", decision="refused", reason=reasons),
        ref=proposal, conversation=conversation)
    back = await case_of(desk, found["id"])
    assert (back["state"], back["return"]) == ("verified", None)


async def test_a_move_the_lifecycle_forbids_becomes_a_task_with_the_documents_words(
        desk: Desk, registry: Any) -> None:
    await receive(desk, registry, "verification-request",
                  document(registry, "verification-request"))
    home = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    conversation = await conversation_of(desk, home["id"])
    await desk.ok("officer", "POST", f"/api/cases/{home['id']}/transitions",
                  json={"to": "on-hold-proceedings", "reason": "The court hears the case"})
    closure = document(registry, "case-closure", 1)
    message_id = await receive(desk, registry, "case-closure", closure,
                               conversation=conversation)
    case = await case_of(desk, home["id"])
    assert case["state"] == "on-hold-proceedings"  # no silent drift either way
    [task] = open_tasks(case, "document-not-applied")
    assert (task["message_id"], task["partner"], task["title"]) == (
        message_id, "vn.c02", "case-closure")
    detail = task["detail"]
    assert detail["wanted"] == "closed"
    assert detail["said"] == {"outcome": "reintegrated", "closure-reason": "completed",
                              "closed-on": closure["closed-on"]}
    assert "legal proceedings" in detail["refusal"]
    event = next(e for e in case["events"] if e["event"] == "state-not-changed")
    assert (event["from"], event["to"], event["message_id"]) == (
        "on-hold-proceedings", "closed", message_id)
    with sqlite3.connect(desk.receiver.db) as conn:
        notices = conn.execute("SELECT kind, unit, task_id, urgent FROM notifications WHERE "
                               "message_id = ? AND kind = 'case-not-moved'",
                               (message_id,)).fetchall()
        audited = conn.execute("SELECT detail FROM audit_log WHERE action = "
                               "'case.state-not-changed'").fetchall()
    assert notices == [("case-not-moved", "kh.ahtjp", task["id"], 1)]
    assert [json.loads(a[0])["message"] for a in audited] == [message_id]
    # the task's words, in the reader's language
    with sqlite3.connect(desk.receiver.db) as conn:
        kept = json.loads(conn.execute("SELECT detail FROM tasks WHERE id = ?",
                                       (task["id"],)).fetchone()[0])
    refusal = from_record(kept["refusal"])
    assert refusal is not None
    book = catalogs(REPO / "translations")
    khmer = refusal.speak(book.get("km").gettext, lambda code: book.code("km", code))
    assert khmer != str(refusal)
    assert "legal proceedings" not in khmer


async def test_documents_of_no_case_and_bad_referrals_are_refused_and_change_nothing(
        desk: Desk, registry: Any) -> None:
    case = await desk.ok("officer", "POST", "/api/cases", json={
        "kind": "repatriation", "partner": "vn.c02"})
    for doc_type in sorted(effects.WITHOUT_CASE):
        refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
            "type": doc_type, "to": "vn.c02", "document": {}})
        assert refused.status_code == 422, (doc_type, refused.text)
        assert doc_type in refused.json()["detail"]
    path = f"/api/cases/{case['id']}/referral"
    not_yet = await desk.call("officer", "POST", path, json={
        "kind": "shelter", "facility": "Tây Ninh shelter"})
    assert not_yet.status_code == 409
    assert "handed over" in not_yet.json()["detail"]
    for body, field in (({"kind": "prison", "facility": "x"}, "kind"),
                        ({"kind": "shelter", "facility": ""}, "facility"),
                        ({"kind": "shelter"}, "facility"),
                        ({"kind": "shelter", "facility": "x" * 201}, "facility"),
                        ({"kind": "shelter", "facility": "x", "extra": 1}, "extra")):
        bad = await desk.call("officer", "POST", path, json=body)
        assert bad.status_code == 422, body
        assert field in bad.text, (body, bad.text)
    auditor = await desk.add_user("reader", "auditor")
    assert (await desk.client.post(path, headers=auditor, json={
        "kind": "shelter", "facility": "x"})).status_code == 403
    other_unit = await desk.add_user("elsewhere", "blo-officer", unit="kh.blo-bavet")
    assert (await desk.client.post(path, headers=other_unit, json={
        "kind": "shelter", "facility": "x"})).status_code == 404
    after = await case_of(desk, case["id"])
    assert after["referral"] is None
    assert after["drafts"] == []
    assert [e["event"] for e in after["events"]] == ["opened"]


async def test_a_person_the_conversation_names_by_id_only_can_be_referred_to(
        desk: Desk, registry: Any) -> None:
    """A suspect notice names its victims by ``person-id`` only (MESSAGES.md); the case then
    knows them by that id, and an answer may refer to them, but to nobody else."""
    notice = document(registry, "suspect-notice")
    victims = [v["@person-id"] for v in notice["victim"]]
    await receive(desk, registry, "suspect-notice", notice)
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    held = (await case_of(desk, case["id"]))["persons"]
    by_id = [p for p in held if p["person_ref"] in victims]
    assert [(p["role"], p["name_native"], p["name_latin"]) for p in by_id] == [
        ("victim", None, None)] * len(victims)
    update = document(registry, "investigation-update")
    update["linked-person"] = [{"@person-id": victims[0], "@role": "victim"}]
    drafted = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "investigation-update", "to": "vn.c02", "document": update})
    assert drafted.status_code == 201, drafted.text
    update["linked-person"] = [{"@person-id": "V-unknown", "@role": "victim"}]
    refused = await desk.call("officer", "POST", f"/api/cases/{case['id']}/drafts", json={
        "type": "investigation-update", "to": "vn.c02", "document": update})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "linked-person.0.@person-id"


async def test_a_document_that_says_nothing_new_of_a_person_writes_nothing(
        desk: Desk, registry: Any) -> None:
    """Every document of a conversation names its persons again: one that says nothing new of
    a person the case holds writes nothing (no re-sealing, no re-indexing, no new matching);
    one that tells more (another name she goes by) is kept, and she is found by it."""
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    request = document(registry, "verification-request")
    assert "other-name" not in request["person"]
    conversation = "7a1f3c52-0d7e-4c1b-9d35-3f3b1b6f0a11"
    await receive(desk, registry, "verification-request", request, conversation=conversation)
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    before = (await case_of(desk, case["id"]))["persons"]
    statements: list[str] = []

    def seen(_c: object, _cu: object, statement: str, *_: object) -> None:
        statements.append(statement)

    def writes_to_her() -> list[str]:
        return [s for s in statements if s.startswith(
            ("UPDATE persons", "DELETE FROM search_terms", "INSERT INTO search_terms"))]

    async def found(name: str) -> list[int]:
        answer = await desk.ok("officer", "POST", "/api/search", json={"q": name})
        return [hit["id"] for hit in answer["results"]]

    assert await found("Bounmy") == []
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        await receive(desk, registry, "verification-request", request, conversation=conversation)
        assert writes_to_her() == []
        statements.clear()
        request["person"]["other-name"] = [{"latin": "BOUNMY Keo"}]
        await receive(desk, registry, "verification-request", request, conversation=conversation)
        assert len(writes_to_her()) == 3  # refreshed, her terms replaced
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert (await case_of(desk, case["id"]))["persons"] == before
    assert await found("Bounmy") == [case["id"]]


async def test_a_consent_period_told_later_applies_to_a_person_known_without_one(
        desk: Desk, registry: Any) -> None:
    """A person the case first knew without a retention date (named in an alert, which
    records no consent) gets the period a later document states at consent (MESSAGES.md:
    victim data is kept for the period stated at consent); a later, shorter one never
    shortens it."""
    conversation = "0c6b8d0e-5f2a-4f7e-8c3e-2d9a4b1e7f10"
    alert = document(registry, "alert", 1)
    victim = alert["person"][0]["@person-id"]
    await receive(desk, registry, "alert", alert, conversation=conversation,
                  priority="urgent")
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]

    async def retention() -> object:
        held = next(p for p in (await case_of(desk, case["id"]))["persons"]
                    if p["person_ref"] == victim and p["role"] == "victim")
        return (await desk.ok("officer", "GET", f"/api/cases/{case['id']}/persons/{held['id']}",
                              params={"reason": "retention check"}))["retention_until"]

    assert await retention() is None
    request = document(registry, "verification-request")
    request["person"]["@person-id"] = victim
    await receive(desk, registry, "verification-request", request, conversation=conversation)
    stated = request["consent"]["retention-until"]
    assert await retention() == stated
    request["consent"]["retention-until"] = "2027-01-31"
    await receive(desk, registry, "verification-request", request, conversation=conversation)
    assert await retention() == stated
