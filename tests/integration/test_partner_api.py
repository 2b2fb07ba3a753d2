"""The partner API against the app and a real SQLite file: outcomes, rejections, metrics."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.protocol.encoding import b64url_decode, b64url_encode
from gateway.protocol.envelope import MAX_MESSAGE_BYTES, Attachment
from gateway.protocol.receipts import verify_receipt
from gateway.runtime import stopping
from tests.conftest import World, example, make_key, pin, resign
from tests.integration.conftest import Receiver, scraper, start_receiver

pytestmark = pytest.mark.anyio


async def test_accepted_message_gets_a_receipt_after_commit(receiver: Receiver) -> None:
    raw = receiver.world.message()
    response = await receiver.post(raw)
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/jose+json"
    receiver.world.set_policy("kh.ahtjp", [pin(receiver.world.receiver_key)])
    receipt = verify_receipt(response.content, receiver.world.ctx.pinned, receiver.world.now,
                             signer="kh.ahtjp", recipient="vn.c02")
    assert receipt.payload.status == "accepted"
    assert receiver.count("messages", "direction = 'in'") == 1
    assert receiver.count("receipts") == 1


async def test_duplicate_gets_the_original_receipt_byte_for_byte(receiver: Receiver) -> None:
    raw = receiver.world.message()
    first = await receiver.post(raw)
    receiver.world.now += timedelta(seconds=5)
    again = await receiver.post(raw)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.content == first.content
    assert receiver.count("messages") == 1


async def test_same_id_with_another_digest_is_a_conflict(receiver: Receiver) -> None:
    world = receiver.world
    raw = world.message()
    assert (await receiver.post(raw)).status_code == 202
    body = json.loads(raw)
    header = json.loads(b64url_decode(body["protected"]))
    other = resign(world.sender_key, body, header=header,
                   payload=example("verification-response", 1))
    response = await receiver.post(other)
    assert response.status_code == 409
    assert response.json()["type"] == "urn:bx:problem:conflict"
    assert receiver.count("messages") == 1




def _tamper_signature(raw: bytes) -> bytes:
    body = json.loads(raw)
    signature = bytearray(b64url_decode(body["signature"]))
    signature[5] ^= 0x10
    body["signature"] = b64url_encode(bytes(signature))
    return json.dumps(body).encode()


REJECTIONS = {
    "malformed": (400, lambda w: b"{not json"),
    "bad-signature": (401, lambda w: _tamper_signature(w.message())),
    "not-permitted": (403, lambda w: w.message("suspect-notice")),
    "wrong-recipient": (421, lambda w: w.message(to="la.atd")),
    "stale": (422, lambda w: w.message(created=w.now - timedelta(days=31))),
    "future": (422, lambda w: w.message(created=w.now + timedelta(minutes=6))),
    "unsupported-type": (422, lambda w: w.message(version="2.0")),
    "attachment-mismatch": (422, lambda w: w.message(
        "verification-request", attachments=(Attachment("a.png", "image/png", b"x"),)
    ).replace(b'"data":"eA"', b'"data":"eQ"')),
    "schema-invalid": (422, lambda w: w.message(document=example("alert"))),
}


@pytest.mark.parametrize("code", sorted(REJECTIONS))
async def test_every_rejection_answers_its_problem_and_stores_nothing(
        tmp_path: Path, world: World, code: str) -> None:
    async for receiver in start_receiver(tmp_path, world, may_send=sorted(
            {"verification-request", "verification-response", "alert"})):
        status, build = REJECTIONS[code]
        response = await receiver.post(build(world))
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == f"urn:bx:problem:{code}"
        assert problem["status"] == status
        assert problem["title"]
        assert problem["detail"]
        if code == "schema-invalid":
            assert problem["errors"][0]["line"] >= 1
            assert problem["errors"][0]["path"]
        assert receiver.count("messages") == 0
        assert receiver.count("receipts") == 0
        assert receiver.count("audit_log", "action = 'message.rejected'") == 1
        # The node keeps serving.
        assert (await receiver.post(world.message())).status_code == 202


async def test_missing_expired_and_replayed_tokens_are_unauthenticated(
        receiver: Receiver) -> None:
    world = receiver.world
    assert (await receiver.post(world.message(), bearer=None)).status_code == 401
    old = world.bearer(now=world.now - timedelta(minutes=5))
    assert (await receiver.post(world.message(), bearer=old)).status_code == 401
    token = world.bearer()
    assert (await receiver.post(world.message(), bearer=token)).status_code == 202
    replay = await receiver.post(world.message(), bearer=token)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]
    assert receiver.count("messages") == 1


async def test_a_body_over_the_limit_is_refused_before_it_is_read(receiver: Receiver) -> None:
    async def endless() -> object:
        chunk = b"x" * (1024 * 1024)
        for _ in range(64):
            yield chunk

    response = await receiver.client.post("/bx/v1/messages", content=endless(),
                                          headers={"Authorization": "Bearer x"})
    assert response.status_code == 413
    declared = await receiver.client.post(
        "/bx/v1/messages", content=b"{}",
        headers={"Content-Length": str(MAX_MESSAGE_BYTES + 1)})
    assert declared.status_code == 413
    assert receiver.count("messages") == 0
    # The endless body was refused before any route: audited all the same, with the path.
    assert receiver.count("audit_log", "action = 'request.rejected' AND detail LIKE "
                                       "'%too-large%' AND detail LIKE '%/bx/v1/messages%'") == 1
    huge = await receiver.client.get("/bx/v1/health", headers={"X-Big": "y" * 40_000})
    assert huge.status_code == 431
    assert receiver.count("audit_log", "action = 'request.rejected' AND detail LIKE "
                                       "'%headers-too-large%'") == 1


async def test_health_answers_503_stopping_while_the_node_drains(receiver: Receiver) -> None:
    """Between SIGTERM and its stop (BX_STOP_DRAIN_S), a load balancer routes around the node,
    which still serves what reaches it (tests/unit/runtime/test_stopping.py)."""
    try:
        stopping.begin()
        answer = await receiver.client.get("/bx/v1/health")
        assert answer.status_code == 503
        assert answer.json() == {"status": "stopping", "node": "kh.ahtjp", "protocol": [1]}
        assert (await receiver.post(receiver.world.message())).status_code == 202
    finally:
        stopping._STOPPING.clear()  # the flag is the process's
    assert (await receiver.client.get("/bx/v1/health")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after(tmp_path: Path, world: World) -> None:
    async for receiver in start_receiver(tmp_path, world, rate_per_minute=2):
        assert (await receiver.post(world.message())).status_code == 202
        assert (await receiver.post(world.message())).status_code == 202
        limited = await receiver.post(world.message())
        assert limited.status_code == 429
        assert limited.json()["type"] == "urn:bx:problem:rate-limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert receiver.count("messages") == 2


async def test_jwks_health_and_metrics(receiver: Receiver) -> None:
    jwks = (await receiver.client.get("/bx/v1/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kid"] == "kh.ahtjp#2026-11"
    assert {"use", "alg"} <= set(jwks["keys"][0])
    health = (await receiver.client.get("/bx/v1/health")).json()
    assert health == {"status": "ok", "node": "kh.ahtjp", "protocol": [1]}
    await receiver.post(receiver.world.message())
    await receiver.post(b"nope")
    metrics = (await receiver.client.get("/metrics", headers=scraper(receiver))).text
    assert 'bx_messages_in_total{partner="vn.c02",type="verification-response"} 1.0' in metrics
    assert 'bx_rejections_total{code="malformed"} 1.0' in metrics
    for headers in ({}, {"Authorization": "Bearer guess"},
                    {"Authorization": f"Bearer {receiver.world.bearer()}"}):
        refused = await receiver.client.get("/metrics", headers=headers)
        assert refused.status_code == 401  # partner ids and counts are not for everyone
        assert "vn.c02" not in refused.text
    assert oct(receiver.settings.metrics_token_path.stat().st_mode)[-3:] == "600"


async def test_local_api_needs_the_token(receiver: Receiver) -> None:
    assert (await receiver.client.get("/api/messages")).status_code == 401
    token = receiver.app.state.api_token
    ok = await receiver.client.get("/api/messages",
                                   headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


async def test_outbox_and_key_gauges(tmp_path: Path, world: World) -> None:
    async for receiver in start_receiver(tmp_path, world, delivery="push"):
        node = receiver.app.state.node
        partner_file = receiver.settings.partners_path / "vn.c02.toml"
        text = partner_file.read_text()
        partner_file.write_text(text.replace("[[keys]]", "[[keys]]\nnot_after = "
                                             "\"2026-12-24T08:00:00Z\"", 1))
        assert node.reload_partners() == []
        token = receiver.app.state.api_token
        sent = await receiver.client.post(
            "/api/messages", headers={"Authorization": f"Bearer {token}"},
            json={"to": "vn.c02", "type": "alert", "document": example("alert").decode()})
        assert sent.status_code == 202, sent.text
        world.now += timedelta(minutes=10)
        await receiver.app.state.worker.refresh_gauges()
        metrics = (await receiver.client.get("/metrics", headers=scraper(receiver))).text
        assert 'bx_outbox_depth{partner="vn.c02"} 1.0' in metrics
        assert 'bx_outbox_oldest_age_seconds{partner="vn.c02"} 600.0' in metrics
        assert 'bx_pinned_key_expiry_days{kid="vn.c02#k1",partner="vn.c02"}' in metrics


async def test_local_api_refuses_an_invalid_document_and_stores_nothing(
        receiver: Receiver) -> None:
    token = receiver.app.state.api_token
    bad = re.sub(r"<danger>[^<]*</danger>", "<danger>soon</danger>", example("alert").decode())
    response = await receiver.client.post(
        "/api/messages", headers={"Authorization": f"Bearer {token}"},
        json={"to": "vn.c02", "type": "alert", "document": bad})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:bx:problem:schema-invalid"
    assert problem["errors"][0]["path"] == "/alert/danger"
    unknown = await receiver.client.post(
        "/api/messages", headers={"Authorization": f"Bearer {token}"},
        json={"to": "th.dsi", "type": "alert", "document": example("alert").decode()})
    assert unknown.status_code == 422
    assert "not in the partner directory" in unknown.json()["detail"]
    assert receiver.count("messages") == 0


async def test_spent_token_ids_are_forgotten_once_expired(receiver: Receiver) -> None:
    assert (await receiver.post(receiver.world.message())).status_code == 202
    assert receiver.count("replay_cache") == 1
    worker = receiver.app.state.worker
    await worker.run_once()
    assert receiver.count("replay_cache") == 1  # still live
    receiver.world.now += timedelta(minutes=11)
    await worker.run_once()
    assert receiver.count("replay_cache") == 0


async def test_a_refusal_is_audited_in_the_name_of_who_authenticated(
        receiver: Receiver) -> None:
    """A partner with a valid token pushes a message claiming another sender: refused, and
    the audit line's actor is the partner that authenticated, never the name it claimed."""
    world = receiver.world
    response = await receiver.post(world.message(key=make_key("la.atd"), sender="la.atd"))
    assert response.status_code == 401
    with sqlite3.connect(receiver.db) as conn:
        [(actor, detail)] = conn.execute("SELECT actor, detail FROM audit_log "
                                         "WHERE action = 'message.rejected'").fetchall()
    assert actor == "vn.c02"
    assert json.loads(detail)["claimed_from"] == "la.atd"
