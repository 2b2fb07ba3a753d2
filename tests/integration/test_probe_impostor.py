"""Red team: an endpoint that no partner file names says, on ``/health``, that it is one of
this node's enrolled partners. The probe must not sign bearer tokens for that partner and
hand them to the impostor: a token is good at the real partner for its lifetime (nothing in
it binds the endpoint), and there ``GET /messages`` would hand the impostor this node's
mailbox (casework)."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.exchange.probe.run import run_probe
from gateway.exchange.probe.setup import setup_for
from tests.integration.conftest import Receiver

pytestmark = pytest.mark.anyio

IMPOSTOR = "http://impostor.test/bx/v1"


@pytest.mark.parametrize("read_only", [True, False])
async def test_an_endpoint_claiming_an_enrolled_partners_id_gets_no_token_of_it(
        receiver: Receiver, read_only: bool) -> None:
    node = receiver.app.state.node
    assert node.partners.get("vn.c02") is not None  # enrolled here, at another endpoint
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/health"):
            return httpx.Response(200, json={"status": "ok", "node": "vn.c02",
                                             "protocol": [1]})
        if request.url.path.endswith("jwks.json"):
            return httpx.Response(200, json={"keys": []})
        return httpx.Response(200, json={"messages": []})

    async def no_sleep(_seconds: float) -> None:
        return None

    setup = setup_for(node, partner_id=None, base_url=IMPOSTOR, read_only=read_only,
                      bundle=None, per_minute=60_000)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        run = await run_probe(setup, client, sleep=no_sleep)
    assert [r.url.path for r in seen][:1] == ["/bx/v1/health"]
    assert [r.headers["authorization"] for r in seen if "authorization" in r.headers] == []
    assert [r.method for r in seen if r.method != "GET"] == []
    health = next(r for r in run.results if r.check.id == "4.7-health")
    assert health.status == "FAIL"
    assert "vn.c02" in json.dumps(str(health.detail))
    assert not run.passed


async def test_a_partner_probed_at_another_address_than_its_endpoint_is_a_usage_error(
        receiver: Receiver) -> None:
    """``--partner vn.c02`` with a BASE_URL other than vn.c02's endpoint would hand that
    address tokens good at vn.c02's mailbox: refused before anything is sent (exit 2); the
    partner's own endpoint, with or without a trailing slash, is fine."""
    from gateway.exchange.probe.setup import ProbeSetupError  # noqa: PLC0415

    node = receiver.app.state.node
    endpoint = node.partners.get("vn.c02").file.endpoint
    with pytest.raises(ProbeSetupError, match="endpoint"):
        setup_for(node, partner_id="vn.c02", base_url=IMPOSTOR, read_only=True, bundle=None,
                  per_minute=60)
    for same in (endpoint, endpoint + "/"):
        assert setup_for(node, partner_id="vn.c02", base_url=same, read_only=True,
                         bundle=None, per_minute=60).partner == "vn.c02"
