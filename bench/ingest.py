"""Ingest throughput: a real node against a bare FastAPI endpoint, in the same run.

Pre-signs N distinct messages (about 3 KB documents) with their bearer tokens, posts them with
32 concurrent connections to ``gateway serve`` (every message verified, stored with a durable
commit and receipted), then to a bare endpoint that only reads the body and answers 202.
Prints accepted messages per second for both and the ratio. Run: ``make bench``.
Options: ``--count N`` (default 20000), ``--connections C`` (default 32).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.protocol.bearer import issue_bearer
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.jose import public_jwk, thumbprint
from gateway.settings import REPOSITORY
from gateway.trust.keys import KeyStore

DOCUMENT = REPOSITORY / "schemas" / "handover-record" / "examples" / "mocbai-bavet-child.xml"
WORK = REPOSITORY / "var" / "bench-ingest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_node() -> tuple[dict[str, str], object]:
    """A receiving node kh.ahtjp with vn.c02 pinned; returns its environment and vn.c02's key."""
    shutil.rmtree(WORK, ignore_errors=True)
    now = datetime.now(UTC)
    receiver_env = {**os.environ, "BX_NODE_ID": "kh.ahtjp", "BX_DATA_DIR": str(WORK / "kh")}
    KeyStore(WORK / "kh" / "keys" / "signing.pem", "kh.ahtjp").generate("EdDSA", None, now)
    sender = KeyStore(WORK / "vn" / "keys" / "signing.pem", "vn.c02").generate("EdDSA", None, now)
    profile = tomllib.loads((REPOSITORY / "partners" / "vn.c02.toml").read_text())
    jwk = public_jwk(sender.public_key())
    profile.update(endpoint="http://127.0.0.1:9/bx/v1", rate_per_minute=1_000_000,
                   keys=[{"kid": sender.kid, "thumbprint": thumbprint(jwk), "jwk": jwk}])
    (WORK / "kh" / "partners").mkdir(parents=True)
    (WORK / "kh" / "partners" / "vn.c02.toml").write_text(tomli_w.dumps(profile))
    return receiver_env, sender


def presign(sender: object, count: int) -> list[tuple[bytes, str]]:
    document = DOCUMENT.read_bytes()
    now = datetime.now(UTC)
    draft = MessageDraft("handover-record", "1.0", "kh.ahtjp", handling="H1")
    return [(compose_message(sender, "vn.c02", draft, document, created=now),  # type: ignore[arg-type]
             issue_bearer(sender, "vn.c02", "kh.ahtjp", now, lifetime_s=300))  # type: ignore[arg-type]
            for _ in range(count)]


def serve(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env={**env, "BX_PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/bx/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


async def blast(url: str, messages: list[tuple[bytes, str]], connections: int) -> tuple[float, int]:
    """Post everything with ``connections`` workers; (seconds, count accepted with 202/200)."""
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in messages:
        queue.put_nowait(item)
    accepted = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                raw, token = queue.get_nowait()
                response = await client.post(url, content=raw, headers={
                    "Content-Type": "application/jose+json", "Authorization": f"Bearer {token}"})
                accepted += response.status_code in (200, 202)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - start, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    env, sender = prepare_node()
    print(f"pre-signing {args.count} messages of {DOCUMENT.stat().st_size} bytes ...", flush=True)
    messages = presign(sender, args.count)
    port = free_port()
    node = serve([sys.executable, "-m", "gateway", "serve"], env, port)
    try:
        node_s, node_ok = asyncio.run(blast(f"http://127.0.0.1:{port}/bx/v1/messages", messages,
                                            args.connections))
    finally:
        node.terminate()
        node.wait(60)
    bare_port = free_port()
    bare = serve([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
                  "bare_app:app", "--port", str(bare_port), "--no-access-log",
                  "--log-level", "warning"], env, bare_port)
    try:
        bare_s, bare_ok = asyncio.run(blast(f"http://127.0.0.1:{bare_port}/bx/v1/messages",
                                            messages, args.connections))
    finally:
        bare.terminate()
        bare.wait(60)
    node_rate, bare_rate = node_ok / node_s, bare_ok / bare_s
    print(f"node (verify, durable commit, receipt): {node_ok} accepted, {node_rate:8.0f} /s")
    print(f"bare FastAPI (read body, 202):          {bare_ok} accepted, {bare_rate:8.0f} /s")
    print(f"ratio node / bare: {node_rate / bare_rate:.3f}  (target >= 0.4)")


if __name__ == "__main__":
    main()
