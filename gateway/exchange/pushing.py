"""Pushing one message to a partner (PROTOCOL.md §4.3): the HTTP request and its answer.

The delivery worker (:mod:`gateway.exchange.delivery`) pushes through a :class:`Pusher`, one
per push in flight, each keeping its one connection alive. ``gateway serve`` pushes with
aiohttp (:class:`AiohttpPusher`): a push and its answer cost the sender 0.18 to 0.19 times the
CPU they cost with httpx (116 to 132 µs against 648 to 687, bench/push.py, same run); under a
backlog, half of the sender's time had been httpx's (bench/drain.py). Everything else the node
says over HTTP (pulls, acknowledgements, keys, the probe) and every test that runs a node's
worker against another node's app in process goes through httpx (:class:`HttpxPusher`).

Both answer alike: the status, at most :data:`MAX_ANSWER_BYTES` of the body (a receipt or a
problem document; a partner answering more is a failure to retry, not memory to fill), and
``Retry-After``. A redirect is an answer like any other, never followed: a message and its
bearer token go to the endpoint of the partner file and nowhere else. A failure to get an
answer (refused, reset, timed out, too large) is a :class:`PushFailedError` naming what
happened, for the retry's log line. Answers are asked for as sent (``Accept-Encoding:
identity``); a compressed one is a failure, never decompressed (a few hundred bytes can
unpack into gigabytes). An outbound proxy comes from ``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY`` and ``NO_PROXY``, read once (:func:`proxy_for`, as httpx reads them); only an
``http://`` proxy can carry a push (none other is ever bypassed: the push fails). Nothing
else of the environment is read (no ``.netrc``: the only credentials a push carries are its
bearer token).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, Protocol

import aiohttp
import httpx

from gateway.protocol.errors import GatewayError

#: The most of an answer read: receipts and problem documents are a few kilobytes.
MAX_ANSWER_BYTES: Final = 1024 * 1024
#: Seconds to connect (aiohttp: taking a connection too), to wait between bytes of the
#: answer, and at least for the whole push: longer for a large message, as long as it moves
#: at :data:`SLOWEST_BYTES_S` (a 20 MiB message: 21 minutes, over a border post's slow link).
CONNECT_S: Final = 10.0
READ_S: Final = 30.0
WHOLE_S: Final = 300.0
SLOWEST_BYTES_S: Final = 16 * 1024


def whole_s(body: bytes) -> float:
    """How long a push of ``body`` may take in all."""
    return max(WHOLE_S, len(body) / SLOWEST_BYTES_S)


@dataclass(frozen=True)
class PushAnswer:
    """What the partner answered."""

    status: int
    body: bytes
    retry_after: str | None


class PushFailedError(GatewayError):
    """No answer: ``str()`` names what happened (an exception's class name, or why)."""


class Pusher(Protocol):
    """Posts one message and reads the answer."""

    async def push(self, url: str, body: bytes, headers: dict[str, str]) -> PushAnswer:
        """POST ``body`` to ``url``; :class:`PushFailedError` if no answer came."""

    async def close(self) -> None:
        """Release the connection."""


#: What every push asks for besides its own headers: the answer as sent.
ASKED: Final = {"Accept-Encoding": "identity"}


def proxy_for(url: str, proxies: dict[str, str]) -> str | None:
    """The proxy a push to ``url`` goes through (``proxies``: as
    :func:`urllib.request.getproxies_environment` reads them), or None;
    :class:`PushFailedError` for one that cannot carry it."""
    parts = urllib.parse.urlsplit(url)
    # in urllib.request since Python 3.2, missing from typeshed's stubs
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(parts.hostname or "", proxies):
        return None
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and urllib.parse.urlsplit(proxy).scheme != "http":
        raise PushFailedError("a {scheme} proxy cannot carry a push; only an http:// one can",
                              scheme=urllib.parse.urlsplit(proxy).scheme or "schemeless")
    return proxy or None


def refuse_compressed(encoding: str | None) -> None:
    """:class:`PushFailedError` for an answer compressed although :data:`ASKED` asked for it
    as sent: it is never unpacked (a few hundred bytes can unpack into gigabytes)."""
    if encoding and encoding.strip().lower() != "identity":
        raise PushFailedError("answer sent compressed ({encoding}) against Accept-Encoding",
                              encoding=encoding[:32])


async def read_answer(encoding: str | None, chunks: AsyncIterator[bytes],
                      limit: int = MAX_ANSWER_BYTES) -> bytes:
    """A partner's answer, as sent (:data:`ASKED`: a compressed one is refused, not read) and
    at most ``limit`` bytes of it (a pull's answer reads so too, with its own limit);
    :class:`PushFailedError` otherwise."""
    refuse_compressed(encoding)
    answer = bytearray()
    async for chunk in chunks:
        answer += chunk
        if len(answer) > limit:
            raise PushFailedError("answer larger than {limit} bytes", limit=limit)
    return bytes(answer)


class HttpxPusher:
    """A :class:`Pusher` over an httpx client (which the caller owns and closes)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def push(self, url: str, body: bytes, headers: dict[str, str]) -> PushAnswer:
        try:
            async with asyncio.timeout(whole_s(body)), self.client.stream(
                    "POST", url, content=body, headers={**headers, **ASKED},
                    follow_redirects=False) as response:
                # as sent: nothing to decode
                answer = await read_answer(response.headers.get("Content-Encoding"),
                                           response.aiter_bytes())
                return PushAnswer(response.status_code, answer,
                                  response.headers.get("Retry-After"))
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, ValueError) as exc:
            raise PushFailedError(type(exc).__name__) from exc

    async def close(self) -> None:
        """The client is its owner's to close."""


class AiohttpPusher:
    """A :class:`Pusher` with an aiohttp session of one connection (see the module's text).
    Made on the loop it pushes from; closed with :meth:`close`."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.proxies = urllib.request.getproxies_environment()
        # trust_env off: aiohttp would read .netrc and the proxies on every push, in a thread
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, ssl=tls),
            trust_env=False, auto_decompress=False)

    async def push(self, url: str, body: bytes, headers: dict[str, str]) -> PushAnswer:
        try:
            async with self.session.post(url, data=body, headers={**headers, **ASKED},
                                         proxy=proxy_for(url, self.proxies),
                                         timeout=aiohttp.ClientTimeout(
                                             total=whole_s(body), connect=CONNECT_S,
                                             sock_read=READ_S),
                                         allow_redirects=False) as response:
                answer = await read_answer(response.headers.get("Content-Encoding"),
                                           response.content.iter_any())
                return PushAnswer(response.status, answer, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PushFailedError(type(exc).__name__) from exc

    async def close(self) -> None:
        await self.session.close()
