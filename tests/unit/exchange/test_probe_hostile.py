"""A hostile partner endpoint against the probe (red team): an answer trickled a byte at a
time must not hold the probe forever, an endless answer must not fill its memory, and what
the partner says must neither break probe.xml nor drive the operator's terminal.
A real server on a local socket: httpx's timeouts are per read, so only a real slow peer
shows whether a request has a deadline of its own."""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.documents.registry import SchemaRegistry
from gateway.exchange.probe import offline
from gateway.exchange.probe import wire as wire_module
from gateway.exchange.probe.context import Probe
from gateway.exchange.probe.report import as_json, junit_xml, summary_lines
from gateway.exchange.probe.results import CHECKS, ProbeRun, verdict
from gateway.exchange.probe.setup import ProbeSetup, load_samples
from gateway.exchange.probe.wire import Wire
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.errors import N_, said
from gateway.protocol.inbound import PartnerPolicy
from tests.conftest import SCHEMAS, example, make_key, pin

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


async def _serve(body_chunks: int, chunk: bytes, pause: float) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        try:
            for _ in range(body_chunks):
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.anyio
async def test_a_trickled_answer_does_not_hold_the_probe_forever(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_module, "ANSWER_DEADLINE_S", 1.5, raising=False)
    # a byte every 0.2 s, for ever (well: 10 minutes), each read well within the timeout
    server, port = await _serve(3000, b" ", 0.2)
    async with server, httpx.AsyncClient(timeout=30) as client:
        wire = Wire(client, f"http://127.0.0.1:{port}", per_minute=60_000, sleep=_no_sleep)
        started = time.monotonic()
        answer = await asyncio.wait_for(wire.request("GET", "/health"), 20)
    assert time.monotonic() - started < 10
    assert answer.status == 0
    assert answer.error is not None
    assert "no answer" in wire.log[-1].received


@pytest.mark.anyio
async def test_an_endless_answer_is_cut_not_kept_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_module, "MAX_ANSWER_BYTES", 1024 * 1024, raising=False)
    server, port = await _serve(64, b"x" * 65536, 0)  # 4 MiB
    async with server, httpx.AsyncClient(timeout=30) as client:
        wire = Wire(client, f"http://127.0.0.1:{port}", per_minute=60_000, sleep=_no_sleep)
        answer = await wire.request("GET", "/messages")
    assert answer.status == 0
    assert answer.error is not None
    assert len(answer.content) <= 1024 * 1024


def _hostile_run() -> ProbeRun:
    run = ProbeRun(me="vn.c02", base="http://kh.test/bx/v1", partner="kh.ahtjp",
                   read_only=False, started=NOW, finished=NOW + timedelta(seconds=1))
    # the partner's own words reach the report: the problem type it answered with, and its
    # body as evidence (here with a NUL, a form feed and a terminal's escape sequences)
    failed = verdict(CHECKS["4.1-no-token"], False, said(
        N_("answered {status} with the problem type {type}, not urn:bx:problem:{code}"),
        status=401, type="\x1b]0;owned\x07\x1b[2J\rPASS", code="unauthenticated"))
    failed.sent.append("GET http://kh.test/bx/v1/messages")
    failed.received.append("HTTP 401\n\n{\"type\": \"x\x00\x0c\x1b[31m\ufffe\"}")
    run.results = [failed]
    return run


def test_a_partners_control_characters_neither_break_probe_xml_nor_reach_the_terminal(
        ) -> None:
    run = _hostile_run()
    suites = ET.fromstring(junit_xml(run))  # well-formed, whatever the partner sent
    failure = suites.find("testsuite/testcase/failure")
    assert failure is not None
    assert "owned" in (failure.get("message") or "")  # shown, made harmless
    assert "HTTP 401" in (failure.text or "")
    lines = summary_lines(run, str)
    assert not any(c in line for line in lines for c in "\x1b\x07\r\x00")
    assert json.loads(as_json(run))["results"][0]["status"] == "FAIL"


def test_a_pulled_message_that_fails_is_named_by_id_and_problem_never_by_its_values(
        ) -> None:
    """A pulled message is the partner's casework for this node (PROTOCOL.md §4.4): when it
    fails this node's checks, the report (shared with an implementer, kept by a CI) names
    its id, the problem and where, never the values the schema error quotes."""
    registry = SchemaRegistry.load(SCHEMAS)
    them = make_key("kh.ahtjp")
    policy = PartnerPolicy("kh.ahtjp", {them.kid: pin(them)},
                           frozenset({"verification-request"}))
    setup = ProbeSetup(me="vn.c02", key=make_key("vn.c02"), base="http://kh.test/bx/v1",
                       partner="kh.ahtjp", pinned={them.kid: pin(them)}, policy=policy,
                       per_minute=60, registry=registry,
                       samples=load_samples(SCHEMAS, registry), clock=lambda: NOW)
    document = example("verification-request").replace(
        b"<sex>female</sex>", b"<sex>Hoa 0987654321</sex>")
    raw = compose_message(them, "kh.ahtjp", MessageDraft(
        type="verification-request", version="1.0", to="vn.c02"), document, created=NOW)
    probe = Probe(setup, Wire(httpx.AsyncClient(), setup.base, 60), "kh.ahtjp")
    result = offline.pulled(probe, [raw])
    assert result.status == "FAIL"
    text = str(result.detail)
    assert "schema-invalid" in text
    assert "sex" in text  # where
    assert "0987654321" not in text
    assert "Hoa" not in text
