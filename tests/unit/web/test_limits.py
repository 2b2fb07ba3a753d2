"""Request limits before any route: header size, body size, and bodies that must keep
arriving (an idle gap, or a rate too low after the grace period, ends the request)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.web import limits

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Seen:
    def __init__(self) -> None:
        self.body: bytes | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.body = message["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(chunks: list[bytes], *, headers: list[tuple[bytes, bytes]] | None = None,
               path: str = "/bx/v1/messages", gap: float = 0.0) -> tuple[int, Any, Seen]:
    app = Seen()
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(gap)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": headers or []}
    await limits.RequestLimits(app)(scope, receive, send)
    body = json.loads(sent[1]["body"]) if sent[0]["status"] != 200 else sent[1]["body"]
    return sent[0]["status"], body, app


async def test_a_body_within_the_limits_reaches_the_route_whole() -> None:
    status, _, app = await call([b"ab", b"cd", b"ef"])
    assert status == 200
    assert app.body == b"abcdef"


async def test_huge_headers_are_refused_431() -> None:
    status, body, app = await call([b"x"], headers=[(b"x-junk", b"a" * 40_000)])
    assert (status, body["type"]) == (431, "urn:bx:problem:headers-too-large")
    assert app.body is None  # the route never ran


async def test_a_declared_or_actual_body_over_the_limit_is_refused_413() -> None:
    status, _, app = await call([b"x"], headers=[(b"content-length", b"999999999")])
    assert status == 413
    assert app.body is None
    receipt_limit = limits.body_limit("/bx/v1/receipts")
    status, _, app = await call([b"a" * receipt_limit, b"a"], path="/bx/v1/receipts")
    assert status == 413
    assert app.body is None


async def test_a_stalled_body_is_cut_after_the_idle_time(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(limits, "IDLE_S", 0.05)
    status, body, app = await call([b"a", b"b"], gap=0.2)
    assert (status, body["type"]) == (408, "urn:bx:problem:timeout")
    assert app.body is None


async def test_a_trickling_body_is_cut_after_the_grace_period(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(limits, "GRACE_S", 0.05)
    status, body, app = await call([b"a"] * 20, gap=0.02)  # 1 byte per 20 ms: 50 B/s
    assert (status, body["detail"]) == (408, "body arriving slower than 1 KiB/s")
    assert app.body is None


async def test_the_consoles_login_takes_a_logins_few_bytes() -> None:
    """The console's login form is parsed before anyone is known: 16 KiB, not the 48 MiB of
    the console's other forms (posted by people logged in)."""
    assert limits.body_limit("/login") == limits.LOGIN_BODY == 16 * 1024
    assert limits.body_limit("/cases/1/compose/alert") == 48 * 1024 * 1024
    status, _, app = await call([b"x"], headers=[(b"content-length", b"16385")], path="/login")
    assert (status, app.body) == (413, None)
    status, _, app = await call([b"a" * 16 * 1024, b"a"], path="/login")
    assert (status, app.body) == (413, None)


async def test_a_local_api_body_is_left_unread_for_its_route() -> None:
    """``/api/`` bodies are read by their routes once the caller is known
    (gateway.web.routing); here only a declared size beyond any route's is refused."""
    asked: list[int] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        asked.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await limits.RequestLimits(route)({"type": "http", "path": "/api/search", "headers": [
        (b"content-length", b"41943040")]}, receive, send)
    assert (sent[0]["status"], asked) == (401, [])
    sent.clear()
    too_big = str(limits.DRAFT_BODY + 1).encode()
    await limits.RequestLimits(route)({"type": "http", "path": "/api/search", "headers": [
        (b"content-length", too_big)]}, receive, send)
    assert (sent[0]["status"], asked) == (413, [])
