"""The probe's side of the wire: requests to a partner's endpoint, paced under its rate limit
(PROTOCOL.md §3.3, §4.2 ``rate-limited``), each kept as evidence with its secrets cut.

A bearer token is shown as its decoded header and claims, its signature cut (a token is a
credential for as long as it lives); a body as its first bytes; the body of a pull answer
(messages addressed to this node, possibly real casework) not at all.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import httpx

from gateway.protocol.encoding import EncodingError, b64url_decode, strict_json_loads

#: How much of a body the evidence keeps.
SENT_BYTES: Final = 400
RECEIVED_BYTES: Final = 1200
#: The longest ``Retry-After`` the probe waits for before it gives up on a request.
MAX_WAIT_S: Final = 60
#: The most of an answer the probe reads: a pull answer's 32 MiB (PROTOCOL.md §4.4) and
#: some; a longer one is no answer (a hostile endpoint cannot fill the probe's memory).
MAX_ANSWER_BYTES: Final = 33 * 1024 * 1024
#: The longest a request may take, answer and all (the client's timeouts are per read: an
#: answer trickled a byte at a time would otherwise hold the probe for ever).
ANSWER_DEADLINE_S: Final = 180.0
#: Headers of an answer worth showing (the rest is the server's business).
_SHOWN: Final = ("content-type", "content-length", "retry-after", "date", "location")


@dataclass(frozen=True)
class Answer:
    """A partner's answer (``status`` 0: no answer at all, ``error`` says why)."""

    status: int
    headers: httpx.Headers
    content: bytes
    error: str | None = None

    @property
    def media_type(self) -> str:
        """The media type of the body, without parameters."""
        value: str = self.headers.get("content-type", "")
        return value.split(";", maxsplit=1)[0].strip().lower()


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the report shows them."""

    sent: str
    received: str


def show_token(token: str) -> str:
    """A bearer token as evidence: its header and claims decoded, its signature cut."""
    parts = token.split(".")
    if len(parts) != 3:
        return f"<{len(token)} characters, not a compact JWS>"
    shown = []
    for part in parts[:2]:
        try:
            shown.append(b64url_decode(part).decode("utf-8", "replace"))
        except EncodingError:
            shown.append(part[:80])
    return f"{shown[0]} . {shown[1]} . <signature cut>"


def _preview(data: bytes, limit: int) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return text + (f" … ({len(data)} bytes in all)" if len(data) > limit else "")


def _sent(method: str, url: str, headers: dict[str, str], body: bytes | None) -> str:
    lines = [f"{method} {url}"]
    for name, value in headers.items():
        scheme, _, token = value.partition(" ")
        lines.append(f"{name}: {scheme} {show_token(token)}" if name.lower() == "authorization"
                     else f"{name}: {value}")
    if body is not None:
        lines += ["", _preview(body, SENT_BYTES)]
    return "\n".join(lines)


#: A private member of a JWK in an answer (RFC 7518 §6): its value is cut from the evidence.
_PRIVATE: Final = re.compile(rb'"(d|p|q|dp|dq|qi|k)"(\s*:\s*)"[^"]*"')


def _received(answer: Answer, keep_body: bool) -> str:
    if answer.error is not None:
        return f"(no answer: {answer.error})"
    lines = [f"HTTP {answer.status}"]
    lines += [f"{name}: {answer.headers[name]}" for name in _SHOWN if name in answer.headers]
    if answer.content:
        body = _preview(_PRIVATE.sub(rb'"\1"\2"<private key cut>"', answer.content),
                        RECEIVED_BYTES) if keep_body else \
            f"<{len(answer.content)} bytes: messages addressed to this node, not shown>"
        lines += ["", body]
    return "\n".join(lines)


@dataclass
class Wire:
    """Requests to one endpoint, at most ``per_minute`` a minute, each one kept."""

    client: httpx.AsyncClient
    base: str
    per_minute: int
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    log: list[Exchange] = field(default_factory=list)
    _last: float = field(default=0.0, init=False)

    def mark(self) -> int:
        """Where the log stands now (see :meth:`since`)."""
        return len(self.log)

    def since(self, mark: int) -> list[Exchange]:
        """The exchanges since ``mark``."""
        return self.log[mark:]

    async def _pace(self) -> None:
        gap = 60.0 / max(1, self.per_minute)
        wait = self._last + gap - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        self._last = time.monotonic()

    async def request(self, method: str, path: str, *, body: bytes | None = None,
                      token: Callable[[], str | None] | None = None,
                      media_type: str | None = None, params: dict[str, str] | None = None,
                      keep_body: bool = True) -> Answer:
        """Send one request (a fresh token from ``token`` each time it is sent); once more
        after a ``429`` whose ``Retry-After`` is at most :data:`MAX_WAIT_S`."""
        answer = await self._once(method, path, body, token, media_type, params, keep_body)
        if answer.status == 429:
            wait = answer.headers.get("retry-after", "")
            if wait.isdigit() and int(wait) <= MAX_WAIT_S:
                await self.sleep(int(wait))
                answer = await self._once(method, path, body, token, media_type, params,
                                          keep_body)
        return answer

    async def _once(self, method: str, path: str, body: bytes | None,
                    token: Callable[[], str | None] | None, media_type: str | None,
                    params: dict[str, str] | None, keep_body: bool) -> Answer:
        await self._pace()
        url = f"{self.base}{path}"
        headers: dict[str, str] = {}
        if media_type is not None:
            headers["Content-Type"] = media_type
        bearer = token() if token is not None else None
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        shown_url = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items())
                           if params else "")
        try:
            async with asyncio.timeout(ANSWER_DEADLINE_S):
                answer = await self._read(method, url, body, headers, params)
        except httpx.HTTPError as exc:
            answer = Answer(0, httpx.Headers(), b"", f"{type(exc).__name__}: {exc}"[:300])
        except TimeoutError:
            answer = Answer(0, httpx.Headers(), b"",
                            f"no whole answer within {ANSWER_DEADLINE_S:g} s")
        self.log.append(Exchange(_sent(method, shown_url, headers, body),
                                 _received(answer, keep_body)))
        return answer


    async def _read(self, method: str, url: str, body: bytes | None,
                    headers: dict[str, str], params: dict[str, str] | None) -> Answer:
        """The answer, read up to :data:`MAX_ANSWER_BYTES` (beyond: no answer)."""
        async with self.client.stream(method, url, content=body, headers=headers,
                                      params=params) as response:
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > MAX_ANSWER_BYTES:
                    return Answer(0, httpx.Headers(), b"",
                                  f"an answer of more than {MAX_ANSWER_BYTES} bytes")
            return Answer(response.status_code, response.headers, bytes(content))


def json_of(answer: Answer) -> object:
    """The answer's body as strict JSON (None if it is not JSON)."""
    try:
        return strict_json_loads(answer.content)
    except EncodingError:
        return None
