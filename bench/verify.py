"""How fast is verify_message? Messages verified per second, as a ratio to a bare Ed25519 verify.

Run with ``make bench`` (or ``.venv/bin/python bench/verify.py``). Both figures are measured in
the same run, on the same 3 KB document and the same signing input, so the ratio holds on a
shared, noisy machine where absolute numbers do not. Also prints where the time goes.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.documents.registry import SchemaRegistry
from gateway.protocol.bearer import verify_bearer
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import parse_body, parse_envelope
from gateway.protocol.inbound import verify_message
from tests.conftest import SCHEMAS, World

DOCUMENT = SCHEMAS / "verification-request" / "examples" / "kh-bavet-presumed-child.xml"
ROUNDS = 5
PER_ROUND = 400


def rate(work: Callable[[int], object], count: int) -> float:
    """Best-of-rounds operations per second (the least disturbed round)."""
    best = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for i in range(count):
            work(i)
        best.append(count / (time.perf_counter() - start))
    return statistics.median(best)


def main() -> None:
    world = World(SchemaRegistry.load(SCHEMAS))
    document = DOCUMENT.read_bytes()
    raw = world.message("verification-request", document=document)
    total = ROUNDS * PER_ROUND
    tokens = [world.bearer() for _ in range(total * 3)]
    token_iter = iter(tokens)
    envelope = parse_envelope(parse_body(raw))
    public = world.sender_key.public_key()
    signing_input, signature = envelope.signing_input, envelope.signature

    bare = rate(lambda _: public.verify(signature, signing_input), PER_ROUND)
    full = rate(lambda _: verify_message(raw, next(token_iter), world.ctx), PER_ROUND)
    bearer = rate(lambda _: verify_bearer(next(token_iter), world.receiver, world.ctx.pinned,
                                          world.replay, world.clock), PER_ROUND)
    structure = rate(lambda _: parse_envelope(parse_body(raw)), PER_ROUND)
    schema = rate(lambda _: world.registry.check("verification-request", "1.0",
                                                 b64url_decode(envelope.payload)), PER_ROUND)

    print(f"document: {DOCUMENT.name}, {len(document)} bytes; message {len(raw)} bytes")
    print(f"bare Ed25519 verify (cryptography):   {bare:10.0f} /s   ratio 1.00")
    print(f"verify_message (all of PROTOCOL 4.2): {full:10.0f} /s   ratio {full / bare:.3f}")
    print("where the time goes, each as a ratio to the bare verify (higher is cheaper):")
    print(f"  bearer JWT (PyJWT decode + checks):  {bearer / bare:.3f}")
    print(f"  JSON + header structure (pydantic):  {structure / bare:.3f}")
    print(f"  safe XML parse + XSD validation:     {schema / bare:.3f}")


if __name__ == "__main__":
    main()
