"""Pushing one message (gateway.exchange.pushing), over real sockets on loopback.

Both pushers go through the same cases against one small HTTP/1.1 server in this process:
the request as it arrives, an answer, a transient refusal with Retry-After, a redirect that is
never followed, an answer too large to read, a partner that never answers, a closed port.
TLS: tests/unit/web/test_clients.py (every client the node makes, pushers included).
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway.exchange import pushing
from gateway.exchange.pushing import (
    MAX_ANSWER_BYTES,
    AiohttpPusher,
    HttpxPusher,
    Pusher,
    PushFailedError,
)

pytestmark = pytest.mark.anyio
MESSAGE = b'{"payload":"' + b"x" * 3000 + b'"}'
HEADERS = {"Content-Type": "application/jose+json", "Authorization": "Bearer token-1"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Seen:
    """What the server received: one (method, path, headers, body) per request."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/ok/messages": (202, {"Content-Type": "application/jose+json"}, b"the-receipt"),
    "/busy/messages": (503, {"Retry-After": "7", "Content-Type": "application/problem+json"},
                       b'{"type":"urn:bx:problem:unavailable"}'),
    "/moved/messages": (307, {"Location": "/ok/messages"}, b""),
    "/huge/messages": (200, {}, b"y" * (MAX_ANSWER_BYTES + 10)),
    "/packed/messages": (202, {"Content-Encoding": "gzip"}, gzip.compress(b"0" * 100_000)),
}


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 seen: Seen) -> None:
    """HTTP/1.1 with keep-alive, enough for one client's requests."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            seen.targets.append(target)  # absolute when it came through us as a proxy
            path = "/" + target.split("/", 3)[3] if target.startswith("http://") else target
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            seen.requests.append((method, path, headers, body))
            if path == "/silent/messages":
                await reader.read()  # no answer, until the client gives up and closes
                return
            status, extra, answer = ANSWERS[path]
            out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(answer)}",
                   *(f"{k}: {v}" for k, v in extra.items())]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    listening = await asyncio.start_server(lambda r, w: _serve(r, w, seen), "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}", seen
        listening.close()


def _aiohttp() -> Pusher:
    return AiohttpPusher(ssl.create_default_context())


def _httpx() -> Pusher:
    return HttpxPusher(httpx.AsyncClient(timeout=httpx.Timeout(pushing.READ_S,
                                                               connect=pushing.CONNECT_S)))


async def _close(pusher: Pusher) -> None:
    await pusher.close()
    if isinstance(pusher, HttpxPusher):
        await pusher.client.aclose()


MAKERS: dict[str, Callable[[], Pusher]] = {"aiohttp": _aiohttp, "httpx": _httpx}


@pytest.fixture(params=sorted(MAKERS))
async def pusher(request: pytest.FixtureRequest) -> AsyncIterator[Pusher]:
    made = MAKERS[request.param]()
    try:
        yield made
    finally:
        await _close(made)


async def test_the_message_arrives_whole_and_the_answer_comes_back(
        server: tuple[str, Seen], pusher: Pusher) -> None:
    base, seen = server
    answer = await pusher.push(f"{base}/ok/messages", MESSAGE, HEADERS)
    again = await pusher.push(f"{base}/ok/messages", MESSAGE + b" ", HEADERS)
    assert (answer.status, answer.body, answer.retry_after) == (202, b"the-receipt", None)
    assert again.status == 202
    method, path, headers, body = seen.requests[0]
    assert (method, path, body) == ("POST", "/ok/messages", MESSAGE)
    assert headers["authorization"] == "Bearer token-1"
    assert headers["content-type"] == "application/jose+json"
    assert seen.requests[1][3] == MESSAGE + b" "


async def test_a_refusal_is_an_answer_with_its_retry_after(
        server: tuple[str, Seen], pusher: Pusher) -> None:
    base, _ = server
    answer = await pusher.push(f"{base}/busy/messages", MESSAGE, HEADERS)
    assert (answer.status, answer.retry_after) == (503, "7")
    assert answer.body == b'{"type":"urn:bx:problem:unavailable"}'


async def test_a_redirect_is_never_followed(server: tuple[str, Seen], pusher: Pusher) -> None:
    """The message and its bearer token go to the partner file's endpoint only."""
    base, seen = server
    answer = await pusher.push(f"{base}/moved/messages", MESSAGE, HEADERS)
    assert answer.status == 307
    assert [path for _, path, _, _ in seen.requests] == ["/moved/messages"]


async def test_an_answer_too_large_is_a_failure(server: tuple[str, Seen],
                                                pusher: Pusher) -> None:
    base, _ = server
    with pytest.raises(PushFailedError, match="answer larger than"):
        await pusher.push(f"{base}/huge/messages", MESSAGE, HEADERS)


async def test_a_closed_port_is_a_failure_naming_what_happened(pusher: Pusher) -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(PushFailedError) as failed:
        await pusher.push(f"http://127.0.0.1:{port}/ok/messages", MESSAGE, HEADERS)
    assert "Connect" in str(failed.value)


async def test_a_partner_that_never_answers_times_out(
        server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = server
    monkeypatch.setattr(pushing, "READ_S", 0.3)
    for make in MAKERS.values():
        made = make()
        try:
            with pytest.raises(PushFailedError, match="Timeout"):
                await asyncio.wait_for(made.push(f"{base}/silent/messages", MESSAGE, HEADERS),
                                       10)
        finally:
            await _close(made)


async def test_an_answer_is_asked_for_as_sent_and_a_compressed_one_is_a_failure(
        server: tuple[str, Seen], pusher: Pusher) -> None:
    """Never decompressed: a few hundred bytes of brotli unpack into gigabytes."""
    base, seen = server
    with pytest.raises(PushFailedError, match="compressed"):
        await pusher.push(f"{base}/packed/messages", MESSAGE, HEADERS)
    assert seen.requests[0][2]["accept-encoding"] == "identity"


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_push_goes_through_the_proxy_the_environment_names(
        server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY and ALL_PROXY carry a push (the partner itself is not reached directly);
    NO_PROXY goes around them; a proxy that cannot carry it fails the push, never bypassed."""
    base, seen = server
    partner = f"{_closed_port()}/ok/messages"  # reachable only through the proxy
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for variable in ("HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, base)
        pusher = AiohttpPusher(ssl.create_default_context())
        try:
            answer = await pusher.push(partner, MESSAGE, HEADERS)
        finally:
            await pusher.close()
            monkeypatch.delenv(variable)
        assert answer.status == 202
        assert seen.targets[-1] == partner
    monkeypatch.setenv("ALL_PROXY", base)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await _refused(partner, "Connect")
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1")
    await _refused(partner, "socks5 proxy cannot carry a push")
    assert len(seen.requests) == 2


async def _refused(url: str, match: str) -> None:
    """A push to ``url`` by a pusher made now (from the environment as it is) fails so."""
    pusher = AiohttpPusher(ssl.create_default_context())
    try:
        with pytest.raises(PushFailedError, match=match):
            await pusher.push(url, MESSAGE, HEADERS)
    finally:
        await pusher.close()


async def test_a_netrc_file_is_never_read(server: tuple[str, Seen], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The only credentials a push carries are its bearer token."""
    base, seen = server
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    pusher = AiohttpPusher(ssl.create_default_context())
    try:
        answer = await pusher.push(f"{base}/ok/messages", MESSAGE, HEADERS)
    finally:
        await pusher.close()
    assert answer.status == 202
    assert seen.requests[0][2]["authorization"] == "Bearer token-1"


def test_a_large_message_may_take_longer_on_a_slow_link() -> None:
    assert pushing.whole_s(b"x" * 1000) == pushing.WHOLE_S
    assert pushing.whole_s(b"x" * (20 * 1024 * 1024)) == 1280.0  # 20 MiB at 16 KiB/s
