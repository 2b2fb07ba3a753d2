"""The probe against small partners that each get one thing wrong (tests/e2e/probe_partner.py,
served by uvicorn on loopback): each defect is reported by the check named for it, and
nothing else fails; a partner that gets nothing wrong fails nothing. The probe runs here
in-process, as ``gateway probe`` runs it."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path

import httpx
import pytest

from gateway.documents.registry import SchemaRegistry
from gateway.exchange.probe.forge import Forge
from gateway.exchange.probe.report import as_json, junit_xml
from gateway.exchange.probe.results import MESSAGE_CHECKS, TOKEN_CHECKS, ProbeRun
from gateway.exchange.probe.run import planned, run_probe
from gateway.exchange.probe.setup import ProbeSetup, load_samples
from gateway.protocol.encoding import canonical_json
from gateway.protocol.inbound import PartnerPolicy
from gateway.protocol.jose import SigningKey
from tests.conftest import SCHEMAS, example, make_key, pin
from tests.e2e.probe_partner import Defects, Partner, now, serving

pytestmark = pytest.mark.e2e
ME, THEM = "vn.c02", "kh.ahtjp"
#: A bearer token whole (header, claims and signature): never in a report.
WHOLE_TOKEN = re.compile(rb"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}")


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def keys() -> tuple[SigningKey, SigningKey]:
    return make_key(ME), make_key(THEM)


def probe(registry: SchemaRegistry, keys: tuple[SigningKey, SigningKey], defects: Defects,
          *, waiting: list[bytes] | None = None, bundle: Path | None = None) -> ProbeRun:
    mine, theirs = keys
    partner = Partner(THEM, theirs, ME, pin(mine), registry, defects,
                      waiting=list(waiting or []))
    with serving(partner) as base:
        setup = ProbeSetup(
            me=ME, key=mine, base=base, partner=THEM, pinned={theirs.kid: pin(theirs)},
            policy=PartnerPolicy(THEM, {theirs.kid: pin(theirs)}, frozenset(registry.types())),
            per_minute=100_000, registry=registry, samples=load_samples(SCHEMAS, registry),
            clock=now, bundle=bundle)

        async def run() -> ProbeRun:
            async with httpx.AsyncClient(timeout=30) as client:
                return await run_probe(setup, client)

        made = asyncio.run(run())
    assert len(made.results) == planned(setup)  # every check ends in one result
    return made


def failing(run: ProbeRun) -> set[str]:
    return {r.check.id for r in run.results if r.status in ("FAIL", "WARN")}


def their_message(keys: tuple[SigningKey, SigningKey], doc_type: str = "alert") -> bytes:
    """A message the partner holds for this node."""
    return Forge(keys[1], THEM, ME).message(doc_type, example(doc_type), now()).raw


def test_a_partner_that_gets_nothing_wrong_fails_nothing(
        registry: SchemaRegistry, keys: tuple[SigningKey, SigningKey], tmp_path: Path) -> None:
    bundle = tmp_path / "from-kh.zip"
    held = their_message(keys, "verification-request")
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("manifest.json", canonical_json(
            {"bx_bundle": 1, "from": THEM, "to": ME, "created": "2026-12-07T00:00:00Z",
             "count": 1}))
        archive.writestr(f"messages/{Forge.identity(held)}.json", held)
    run = probe(registry, keys, Defects(), waiting=[their_message(keys)], bundle=bundle)
    assert failing(run) == set()
    statuses = {r.check.id: r.status for r in run.results}
    assert statuses["4.4-pull-messages"] == statuses["4.6-bundle-messages"] == "PASS"
    assert statuses["4.2-refused-not-stored"] == statuses["4.3-receipts"] == "PASS"
    assert run.passed
    # the evidence: every request kept, no token whole, no pulled message shown
    for written in (as_json(run), junit_xml(run)):
        assert WHOLE_TOKEN.search(written) is None
        assert b"signature cut" in written
    pulled = next(r for r in run.results if r.check.id == "4.4-pull")
    assert "not shown" in pulled.received[0]


@pytest.mark.parametrize(("defects", "expected"), [
    (Defects(accepts_everything=True),
     {"4.2-duplicate", "4.2-conflict", *TOKEN_CHECKS, *MESSAGE_CHECKS}),
    (Defects(wrong_receipt_key=True), {"4.3-receipts"}),
    (Defects(accepts_alg_none=True), {"4.2-alg-none"}),
    (Defects(stores_refused=True), {"4.2-refused-not-stored"}),
    (Defects(private_key_in_jwks=True), {"2-jwks-no-private"}),
], ids=["202-to-everything", "wrong-receipt-key", "alg-none", "stores-refused",
        "private-key-published"])
def test_each_defect_fails_the_check_named_for_it_and_nothing_else(
        registry: SchemaRegistry, keys: tuple[SigningKey, SigningKey], defects: Defects,
        expected: set[str]) -> None:
    run = probe(registry, keys, defects)
    assert failing(run) == expected
    assert not run.passed
    for result in run.failed:  # each failure with its evidence, secrets cut
        assert result.sent, result.check.id
        assert len(result.received) == len(result.sent)
        assert WHOLE_TOKEN.search("".join(result.sent).encode()) is None
    if defects.private_key_in_jwks:
        (leak,) = run.failed
        assert '"d":"<private key cut>"' in leak.received[0]


def test_a_bundle_with_a_forged_message_fails_its_check(
        registry: SchemaRegistry, keys: tuple[SigningKey, SigningKey], tmp_path: Path) -> None:
    held = their_message(keys)
    forged = Forge(make_key(THEM), THEM, ME).message("alert", example("alert"), now()).raw
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", canonical_json(
            {"bx_bundle": 1, "from": THEM, "to": ME, "created": "2026-12-07T00:00:00Z",
             "count": 2}))
        archive.writestr(f"messages/{Forge.identity(held)}.json", held)
        archive.writestr(f"messages/{Forge.identity(forged)}.json", forged)
    bundle = tmp_path / "forged.zip"
    bundle.write_bytes(buffer.getvalue())
    run = probe(registry, keys, Defects(), bundle=bundle)
    assert failing(run) == {"4.6-bundle-messages"}
    (result,) = run.failed
    assert Forge.identity(forged) in result.detail
    assert "bad-signature" in result.detail
