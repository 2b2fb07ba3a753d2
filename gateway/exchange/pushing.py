"""Pushing one message to a partner (PROTOCOL.md §4.3): the HTTP request and its answer.

The delivery worker (:mod:`gateway.exchange.delivery`) pushes through a :class:`Pusher`, one
per push in flight, each keeping its one connection alive. ``gateway serve`` pushes with
aiohttp (:class:`AiohttpPusher`): a push and its answer cost the sender about 0.12 ms of CPU
with it and 0.6 ms with httpx, measured against the same endpoint in the same run (the
sender's CPU was mostly httpx's under a backlog, bench/drain.py). Everything else the node
says over HTTP (pulls, acknowledgements, keys, the probe) and every test that runs a node's
worker against another node's app in process goes through httpx (:class:`HttpxPusher`).

Both answer alike: the status, at most :data:`MAX_ANSWER_BYTES` of the body (a receipt or a
problem document; a partner answering more is a failure to retry, not memory to fill), and
``Retry-After``. A redirect is an answer like any other, never followed: a message and its
bearer token go to the endpoint of the partner file and nowhere else. A failure to get an
answer (refused, reset, timed out, too large) is a :class:`PushFailedError` naming what
happened, for the retry's log line.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Final, Protocol

import aiohttp
import httpx

from gateway.protocol.errors import GatewayError

#: The most of an answer read: receipts and problem documents are a few kilobytes.
MAX_ANSWER_BYTES: Final = 1024 * 1024
#: Seconds to connect (aiohttp: taking a connection too), to wait between bytes of the
#: answer, and for the whole push (a 20 MiB message on a slow link included).
CONNECT_S: Final = 10.0
READ_S: Final = 30.0
WHOLE_S: Final = 300.0


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


class HttpxPusher:
    """A :class:`Pusher` over an httpx client (which the caller owns and closes)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def push(self, url: str, body: bytes, headers: dict[str, str]) -> PushAnswer:
        try:
            async with self.client.stream("POST", url, content=body, headers=headers,
                                          follow_redirects=False) as response:
                answer = bytearray()
                async for chunk in response.aiter_bytes():
                    answer += chunk
                    if len(answer) > MAX_ANSWER_BYTES:
                        raise PushFailedError("answer larger than {limit} bytes",
                                              limit=MAX_ANSWER_BYTES)
                return PushAnswer(response.status_code, bytes(answer),
                                  response.headers.get("Retry-After"))
        except httpx.HTTPError as exc:
            raise PushFailedError(type(exc).__name__) from exc

    async def close(self) -> None:
        """The client is its owner's to close."""


class AiohttpPusher:
    """A :class:`Pusher` with an aiohttp session of one connection (see the module's text).
    Made on the loop it pushes from; closed with :meth:`close`."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        # trust_env: HTTPS_PROXY, NO_PROXY and .netrc as httpx honours them by default
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, ssl=tls),
            timeout=aiohttp.ClientTimeout(total=WHOLE_S, connect=CONNECT_S, sock_read=READ_S),
            trust_env=True)

    async def push(self, url: str, body: bytes, headers: dict[str, str]) -> PushAnswer:
        try:
            async with self.session.post(url, data=body, headers=headers,
                                         allow_redirects=False) as response:
                answer = bytearray()
                async for chunk in response.content.iter_any():
                    answer += chunk
                    if len(answer) > MAX_ANSWER_BYTES:
                        raise PushFailedError("answer larger than {limit} bytes",
                                              limit=MAX_ANSWER_BYTES)
                return PushAnswer(response.status, bytes(answer),
                                  response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PushFailedError(type(exc).__name__) from exc

    async def close(self) -> None:
        await self.session.close()
