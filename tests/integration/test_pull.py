"""PROTOCOL.md §4.4: a pull answers at most N messages and at most 32 MiB, stopping before
the message that would pass the cap, but always with at least one waiting message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.exchange import mailbox
from gateway.exchange.outbound import send_message
from gateway.protocol.envelope import MessageDraft, mailbox_messages
from tests.conftest import World, example
from tests.integration.conftest import Receiver, start_receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
async def puller(tmp_path: Path, world: World) -> AsyncIterator[Receiver]:
    """kh.ahtjp, with vn.c02 as a partner that pulls its mail."""
    async for running in start_receiver(tmp_path, world, delivery="pull"):
        yield running


async def waiting(receiver: Receiver, count: int) -> list[str]:
    node = receiver.app.state.node
    return [await send_message(node, MessageDraft(type="case-closure", version="1.0",
                                                  to="vn.c02"), example("case-closure"))
            for _ in range(count)]


async def pull(receiver: Receiver, limit: int = 50) -> list[bytes]:
    answer = await receiver.client.get("/bx/v1/messages", params={"limit": limit}, headers={
        "Authorization": f"Bearer {receiver.world.bearer()}"})
    assert answer.status_code == 200, answer.text
    return mailbox_messages(answer.content)


async def test_a_pull_stops_before_the_byte_cap(puller: Receiver,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await waiting(puller, 3)
    one = len((await pull(puller))[0])
    monkeypatch.setattr(mailbox, "MAX_PULL_BYTES", int(one * 2.5) + 64)
    got = await pull(puller)
    assert [json.loads(m)["protected"] for m in got]  # whole messages, as stored
    assert len(got) == 2  # a third would pass the cap
    monkeypatch.setattr(mailbox, "MAX_PULL_BYTES", one // 2)
    assert len(await pull(puller)) == 1  # never an empty answer while something waits
    monkeypatch.setattr(mailbox, "MAX_PULL_BYTES", 32 * 1024 * 1024)
    assert len(await pull(puller, limit=2)) == 2
    assert len(await pull(puller)) == len(ids)
