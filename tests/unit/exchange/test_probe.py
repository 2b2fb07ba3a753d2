"""The probe's parts that need no partner: the wrong messages it forges are wrong in exactly
the way their check says, its evidence never holds a whole token or a private key, the
history checks of §4.8 judge real signed notes and proofs, and its three reports read back
(JUnit XML with the standard library's parser, JSON, and the bilingual page)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.documents.catalog import catalogs
from gateway.documents.registry import SchemaRegistry
from gateway.exchange.probe import historychecks
from gateway.exchange.probe.context import Probe, problem_verdict
from gateway.exchange.probe.forge import Forge, in_utf16, oversized, token, with_doctype
from gateway.exchange.probe.history import PartnerHistory, ReceivedCheckpoint
from gateway.exchange.probe.report import as_json, html, junit_xml, summary_lines
from gateway.exchange.probe.results import CHECKS, ProbeRun, Result, accept_check, verdict
from gateway.exchange.probe.setup import ProbeSetup, load_samples
from gateway.exchange.probe.wire import Answer, Wire, show_token
from gateway.protocol import tlog
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import MAX_DOCUMENT_BYTES, parse_body, parse_envelope
from gateway.protocol.errors import N_, said
from gateway.protocol.jose import PinnedKey
from gateway.protocol.problems import Problem
from gateway.settings import REPOSITORY
from tests.conftest import SCHEMAS, example, make_key

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ME, THEM = "vn.c02", "kh.ahtjp"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


def header_of(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw)
    return dict(json.loads(b64url_decode(body["protected"])))


# -- what the probe sends -------------------------------------------------------------------

def test_every_message_is_a_test_message_and_each_wrong_one_is_wrong_one_way(
        registry: SchemaRegistry) -> None:
    key = make_key(ME)
    forge = Forge(key, ME, THEM)
    valid = forge.message("alert", example("alert"), NOW)
    assert header_of(valid.raw)["bx"]["test"] is True
    envelope = parse_envelope(parse_body(valid.raw))
    assert envelope.digest == valid.digest
    registry.check("alert", "1.0", envelope.document)  # the example itself is valid
    assert header_of(forge.resigned(valid, alg="none").raw)["alg"] == "none"
    assert json.loads(forge.resigned(valid, alg="none").raw)["signature"] == ""
    hs256 = forge.resigned(valid, alg="HS256")
    assert header_of(hs256.raw)["alg"] == "HS256"
    assert hs256.message_id == valid.message_id
    assert header_of(forge.bad_signature(valid).raw) == header_of(valid.raw)
    assert forge.bad_signature(valid).raw != valid.raw
    missing = forge.without_attachment("alert", example("alert"), NOW)
    assert header_of(missing.raw)["bx"]["attachments"][0]["name"] == "probe.png"
    assert "attachments" not in json.loads(missing.raw)
    deep = forge.nested(valid)
    with pytest.raises(Problem, match="deeper than 32"):
        parse_body(deep.raw)
    with pytest.raises(Problem, match="malformed"):
        parse_envelope(parse_body(forge.not_a_jws(valid).raw))


def test_the_documents_wrong_one_way_each(registry: SchemaRegistry) -> None:
    document = example("verification-request")
    doctype = with_doctype(document)
    assert b"<!DOCTYPE verification-request>" in doctype
    # after the declaration and the comment before the root element
    assert doctype.index(b"<!DOCTYPE") > doctype.index(b"-->")
    assert doctype.replace(b"<!DOCTYPE verification-request>\n", b"") == document
    utf16 = in_utf16(document)
    assert utf16.startswith(b"\xff\xfe")
    assert 'encoding="UTF-16"' in utf16.decode("utf-16")
    big = oversized(document)
    assert MAX_DOCUMENT_BYTES < len(big) < MAX_DOCUMENT_BYTES + 4096
    for wrong in (doctype, utf16):
        with pytest.raises(Problem, match="schema-invalid"):
            registry.check("verification-request", "1.0", wrong)
    samples = load_samples(SCHEMAS, registry)
    assert "checkpoint" not in samples.types
    assert "cosignature" not in samples.types
    with pytest.raises(Problem, match="schema-invalid"):
        registry.check(samples.invalid_type, "1.0", samples.invalid)


def test_tokens_wrong_one_way_each_and_shown_without_their_signature() -> None:
    key = make_key(ME)
    claims = [json.loads(b64url_decode(token(key, ME, THEM, NOW, **how).split(".")[1]))
              for how in ({}, {"iat_shift": -700, "lifetime": 300}, {"nbf": 240},
                          {"lifetime": 600})]
    stamp = int(NOW.timestamp())
    assert claims[0]["exp"] - claims[0]["iat"] == 120
    assert claims[1]["exp"] == stamp - 400
    assert claims[2]["nbf"] == stamp + 240
    assert claims[3]["exp"] - claims[3]["iat"] == 600
    assert token(key, ME, THEM, NOW, alg="none").endswith(".")
    whole = token(key, ME, THEM, NOW)
    shown = show_token(whole)
    assert whole.split(".")[2] not in shown
    assert '"iss":"vn.c02"' in shown
    assert shown.endswith("<signature cut>")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_evidence_cuts_tokens_private_keys_and_pulled_messages() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("jwks.json"):
            return httpx.Response(200, json={"keys": [{"kty": "OKP", "d": "SECRET-D"}]})
        return httpx.Response(200, content=b'{"messages":[{"payload":"PERSONAL"}]}')

    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        wire = Wire(client, "http://kh.test/bx/v1", per_minute=6, sleep=sleep)
        bearer = token(make_key(ME), ME, THEM, NOW)
        await wire.request("GET", "/.well-known/jwks.json")
        await wire.request("GET", "/messages", token=lambda: bearer, keep_body=False)
    assert seen[1].headers["authorization"] == f"Bearer {bearer}"  # sent whole...
    text = "".join(e.sent + e.received for e in wire.log)
    assert bearer.split(".")[2] not in text  # ...kept cut
    assert "SECRET-D" not in text
    assert '"d":"<private key cut>"' in text
    assert "PERSONAL" not in text
    assert sleeps
    assert sleeps[0] > 9


def test_a_problem_is_judged_by_status_media_type_and_urn() -> None:
    def answered(status: int, body: dict[str, Any], media: str = "application/problem+json"
                 ) -> Answer:
        return Answer(status, httpx.Headers({"content-type": media}),
                      json.dumps(body).encode())

    good = {"type": "urn:bx:problem:wrong-recipient", "title": "t", "status": 421,
            "detail": "d"}
    assert problem_verdict(answered(421, good), 421, "wrong-recipient")[0]
    for wrong in (answered(400, good), answered(421, good, "application/json"),
                  answered(421, {**good, "type": "about:blank"}),
                  answered(421, {k: v for k, v in good.items() if k != "detail"}),
                  Answer(0, httpx.Headers(), b"", "ConnectError: refused")):
        ok, detail = problem_verdict(wrong, 421, "wrong-recipient")
        assert not ok, detail


# -- §4.8 ------------------------------------------------------------------------------------

def leaves(count: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(count)]


def reader(entries: list[bytes]) -> tlog.NodeReader:
    def node(level: int, index: int) -> bytes:
        start, size = index << level, 1 << level
        if size == 1:
            return tlog.leaf_hash(entries[start])
        return tlog.node_hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))
    return node


def received(key: Ed25519PrivateKey, kid: str, entries: list[bytes], old: int,
             at: datetime, origin: str = f"bx/{THEM}/audit") -> ReceivedCheckpoint:
    size = len(entries)
    root = tlog.root_hash(size, reader(entries))
    note = tlog.sign_note(tlog.Checkpoint(origin, size, root).text(), kid, key)
    proof = tuple(tlog.consistency_proof(old, size, reader(entries))) if 0 < old < size \
        else ()
    return ReceivedCheckpoint(f"00000000-0000-4000-8000-{size:012d}", at, origin, size, old,
                              proof, note.encode())


def probe_with(history: PartnerHistory, key: Ed25519PrivateKey, registry: SchemaRegistry,
               not_after: datetime | None = None) -> Probe:
    pinned = {f"{THEM}#k1": PinnedKey(f"{THEM}#k1", key.public_key(), not_after=not_after)}
    setup = ProbeSetup(me=ME, key=make_key(ME), base="http://kh.test/bx/v1", partner=THEM,
                       pinned=pinned, policy=None, per_minute=60, registry=registry,
                       samples=load_samples(SCHEMAS, registry), clock=lambda: NOW,
                       history=history)
    return Probe(setup, Wire(httpx.AsyncClient(), setup.base, 60), THEM)


def statuses(results: list[Result]) -> dict[str, str]:
    return {r.check.id: r.status for r in results}


def test_the_history_checks_judge_signed_notes_and_proofs(registry: SchemaRegistry) -> None:
    key = Ed25519PrivateKey.generate()
    kid = f"{THEM}#k1"
    log = leaves(11)
    first = received(key, kid, log[:6], 0, NOW - timedelta(hours=2))
    second = received(key, kid, log, 6, NOW - timedelta(hours=1))
    good = PartnerHistory(THEM, (first, second), (11, b""), 0)
    assert statuses(historychecks.history(probe_with(good, key, registry))) == {
        "4.8-checkpoint": "PASS", "4.8-consistency": "PASS", "4.8-no-fork": "PASS",
        "4.8-cosigned": "PASS"}
    # a second log that does not extend the first: the proof fails
    forked = received(key, kid, [*log[:5], b"rewritten", *log[6:]], 6, NOW)
    fork = PartnerHistory(THEM, (first, forked), (6, b""), 1)
    assert statuses(historychecks.history(probe_with(fork, key, registry))) == {
        "4.8-checkpoint": "PASS", "4.8-consistency": "FAIL", "4.8-no-fork": "FAIL",
        "4.8-cosigned": "WARN"}
    # signed by a key not pinned, or by the pinned one after its window
    stranger = received(Ed25519PrivateKey.generate(), kid, log, 6, NOW)
    results = historychecks.history(probe_with(
        PartnerHistory(THEM, (first, stranger), (11, b""), 0), key, registry))
    assert statuses(results)["4.8-checkpoint"] == "FAIL"
    late = historychecks.history(probe_with(good, key, registry,
                                            not_after=NOW - timedelta(hours=3)))
    assert statuses(late)["4.8-checkpoint"] == "FAIL"
    # another node's log under the partner's name
    theirs = received(key, kid, log, 6, NOW, origin="bx/la.atd/audit")
    results = historychecks.history(probe_with(
        PartnerHistory(THEM, (first, theirs), (11, b""), 0), key, registry))
    assert statuses(results)["4.8-checkpoint"] == "FAIL"
    # nothing held: skipped, said why
    empty = historychecks.history(probe_with(PartnerHistory(THEM, (), None, 0), key,
                                             registry))
    assert set(statuses(empty).values()) == {"SKIP"}


# -- the reports ----------------------------------------------------------------------------

def a_run() -> ProbeRun:
    run = ProbeRun(me=ME, base="http://kh.test/bx/v1", partner=THEM, read_only=False,
                   started=NOW, finished=NOW + timedelta(seconds=3))
    failed = verdict(CHECKS["4.2-wrong-recipient"], False, said(
        N_("expected {status} {code}, got {got}"), status=421, code="wrong-recipient",
        got="202"))
    failed.sent.append("POST http://kh.test/bx/v1/messages\nAuthorization: Bearer "
                       '{"alg":"EdDSA"} . {"iss":"vn.c02"} . <signature cut>')
    failed.received.append("HTTP 202")
    warned = verdict(CHECKS["4.1-clock"], False, said(N_("the clocks differ by {seconds} s"),
                                                      seconds=90))
    passed = verdict(accept_check("alert"), True, said(N_("accepted: 202, message {id}"),
                                                       id="m-1"))
    skipped = Result(CHECKS["4.6-bundle"], "SKIP", said(N_("no bundle given (--bundle FILE)")))
    run.results = [passed, failed, warned, skipped]
    return run


def test_the_junit_xml_has_one_testcase_per_check_and_failures_as_failures() -> None:
    suites = ET.fromstring(junit_xml(a_run()))
    (suite,) = suites.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name", "").split(":")[0] for c in cases] == [
        "4.2-accept", "4.2-wrong-recipient", "4.1-clock", "4.6-bundle"]
    assert cases[0].get("name") == ("4.2-accept:alert: a valid alert test message is "
                                    "accepted: 202 and a receipt")
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected 421 wrong-recipient, got 202"
    assert "<signature cut>" in (failure.text or "")
    assert cases[1].get("classname") == "PROTOCOL.md §4.2"
    assert cases[2].find("failure") is None
    assert "WARN" in (cases[2].findtext("system-err") or "")
    assert cases[3].find("skipped") is not None


def test_the_json_and_the_terminal_lines() -> None:
    run = a_run()
    data = json.loads(as_json(run))
    assert data["summary"] == {"PASS": 1, "FAIL": 1, "WARN": 1, "SKIP": 1}
    assert data["probe"]["passed"] is False
    assert [r["status"] for r in data["results"]] == ["PASS", "FAIL", "WARN", "SKIP"]
    assert data["results"][1]["exchanges"][0]["received"] == "HTTP 202"
    lines = summary_lines(run, str)
    assert lines[1].startswith("FAIL  4.2-wrong-recipient")
    assert lines[2].strip() == "expected 421 wrong-recipient, got 202"


def test_the_page_speaks_the_operators_language_with_english_beside_it() -> None:
    words = catalogs(REPOSITORY / "translations")
    page = html(a_run(), words.get("vi"), words.get("en"), "vi")
    assert '<html lang="vi">' in page
    assert "BX/1 conformance probe" in page  # the English beside
    vietnamese = words.get("vi").gettext("BX/1 conformance probe")
    assert vietnamese != "BX/1 conformance probe"
    assert vietnamese in page
    said_vi = words.get("vi").gettext("expected {status} {code}, got {got}")
    assert said_vi.format(status=421, code="wrong-recipient", got="202") in page
    assert "&lt;signature cut&gt;" in page


def test_docs_probe_md_explains_every_check_with_its_section_and_level() -> None:
    text = (REPOSITORY / "docs" / "probe.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2:4]
            for line in text.splitlines() if line.startswith("| `")}
    for check in CHECKS.values():
        assert check.id in rows, check.id
        section, level = (cell.strip() for cell in rows[check.id])
        assert section.split(",")[0] == check.section, check.id
        assert level == check.level, check.id
    assert "4.2-accept:<type>" in rows
