"""The sender's side of a push: what a push and its answer cost the process that pushes.

The node's two pushers (gateway/exchange/pushing.py), httpx's (the baseline) and aiohttp's
(what ``gateway serve`` uses), each 32 in flight on one connection each as the delivery
worker keeps them, post the same 3 KB body to the bare endpoint (bench/bare_app.py, another
process). Here the client is what is measured, so the load comes from this process: prints
pushes a second and this process's CPU time a push for each, and aiohttp's as a ratio of
httpx's, measured in the same run, twice, alternating.

    .venv/bin/python bench/push.py [--pushes 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import free_port, serve, stop

from gateway.exchange.pushing import AiohttpPusher, HttpxPusher, Pusher

BODY = os.urandom(1500).hex().encode()  # 3 KB, as a handover record's message
HEADERS = {"Content-Type": "application/jose+json", "Authorization": "Bearer x"}
IN_FLIGHT = 32


def _httpx(tls: ssl.SSLContext) -> Pusher:
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return HttpxPusher(httpx.AsyncClient(verify=tls, limits=one))


def _aiohttp(tls: ssl.SSLContext) -> Pusher:
    return AiohttpPusher(tls)


async def measure(make: Callable[[ssl.SSLContext], Pusher], url: str,
                  pushes: int) -> tuple[float, float]:
    """(pushes a second, CPU seconds a push) with :data:`IN_FLIGHT` pushers."""
    tls = httpx.create_ssl_context()
    idle: asyncio.Queue[Pusher] = asyncio.Queue()
    made = [make(tls) for _ in range(IN_FLIGHT)]
    for pusher in made:
        idle.put_nowait(pusher)

    async def one() -> None:
        pusher = await idle.get()
        try:
            answer = await pusher.push(url, BODY, HEADERS)
            assert answer.status == 202, answer
        finally:
            idle.put_nowait(pusher)

    try:
        await asyncio.gather(*(one() for _ in range(IN_FLIGHT * 4)))  # connections open
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(pushes)))
        return pushes / (time.perf_counter() - wall), (time.process_time() - cpu) / pushes
    finally:
        for pusher in made:
            await pusher.close()
            if isinstance(pusher, HttpxPusher):
                await pusher.client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=4000)
    args = parser.parse_args()
    import uvloop  # noqa: PLC0415 -- the serving loop gateway serve runs (uvicorn's choice)

    port = free_port()
    server = serve([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                    "bare_app:app", "--port", str(port), "--no-access-log",
                    "--log-level", "warning"], dict(os.environ), port)
    url = f"http://127.0.0.1:{port}/bx/v1/messages"
    try:
        for run in (1, 2):
            rate_h, cpu_h = uvloop.run(measure(_httpx, url, args.pushes))
            rate_a, cpu_a = uvloop.run(measure(_aiohttp, url, args.pushes))
            print(f"run {run}: httpx {rate_h:6.0f} pushes/s, {cpu_h * 1e6:4.0f} us CPU a push "
                  f"(the baseline); aiohttp {rate_a:6.0f} pushes/s, {cpu_a * 1e6:4.0f} us "
                  f"CPU a push: ratio {cpu_a / cpu_h:.2f}", flush=True)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
