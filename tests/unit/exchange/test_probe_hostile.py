"""A hostile partner endpoint against the probe's wire (red team): an answer trickled a byte
at a time must not hold the probe forever, and an endless answer must not fill its memory.
A real server on a local socket: httpx's timeouts are per read, so only a real slow peer
shows whether a request has a deadline of its own."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.exchange.probe import wire as wire_module
from gateway.exchange.probe.wire import Wire

pytestmark = pytest.mark.anyio


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
