"""A probe from start to end: every check of :data:`~gateway.exchange.probe.results.CHECKS`
in order, each ending in one result (a check that cannot be made is skipped, with why), so
that a report always lists them all.

Read-only (``--read-only``), nothing is pushed: the keys, the pull mailbox (never
acknowledged), the tokens against ``GET /messages``, a bundle and the history this node
holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import httpx

from gateway.exchange.probe import authchecks, historychecks, keychecks, offline, pushchecks
from gateway.exchange.probe.context import Probe
from gateway.exchange.probe.results import (
    CHECKS,
    MESSAGE_CHECKS,
    TOKEN_CHECKS,
    ProbeRun,
    Result,
    accept_check,
)
from gateway.exchange.probe.setup import ProbeSetup
from gateway.exchange.probe.wire import Answer, Wire
from gateway.protocol.errors import N_, Message, said


def planned(setup: ProbeSetup) -> int:
    """How many results a probe makes (for a progress bar)."""
    return len(CHECKS) + len(setup.samples.types)


async def run_probe(setup: ProbeSetup, client: httpx.AsyncClient, *,
                    on_result: Callable[[Result], None] | None = None,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> ProbeRun:
    """Probe the partner's endpoint; every result is also handed to ``on_result`` as it
    is made."""
    run = ProbeRun(me=setup.me, base=setup.base, partner=setup.partner,
                   read_only=setup.read_only, started=setup.clock())
    p = Probe(setup, Wire(client, setup.base, setup.per_minute, sleep), setup.partner,
              on_result=on_result)
    answer_box = []

    async def up() -> Result:
        result, answer = await keychecks.health(p)
        answer_box.append(answer)
        return result

    reached = await p.run(CHECKS["4.7-health"], up)
    answer = answer_box[0] if answer_box else Answer(0, httpx.Headers(), b"", reached.detail)
    if answer.error is not None or p.partner is None:
        why = said(N_("the endpoint does not answer")) if answer.error is not None else \
            said(N_("the partner's node id is not known (no partner file, no /health)"))
        _skip_rest(p, why, reached)
    else:
        run.partner = p.partner
        await _keys(p, answer)
        await _mailbox(p)
        if setup.read_only:
            await _read_only(p)
        else:
            await _pushes(p)
        for result in [*offline.bundle(p), *historychecks.history(p)]:
            p.add(result)
    run.results = p.results
    run.finished = setup.clock()
    return run


def _skip_rest(p: Probe, why: Message, *done: Result) -> None:
    made = {r.check.id for r in done}
    for doc_type in p.setup.samples.types:
        p.skip(accept_check(doc_type), why)
    for check in CHECKS.values():
        if check.id not in made:
            p.skip(check, why)


async def _keys(p: Probe, health_answer: Answer) -> None:
    """§2 and the clock."""
    keys_box: list[list[object] | None] = []

    async def served() -> Result:
        result, keys = await keychecks.jwks(p)
        keys_box.append(keys)
        return result

    await p.run(CHECKS["2-jwks"], served)
    keys = keys_box[0] if keys_box else None
    judged = p.wire.log[-1:]  # the JWK Set: the evidence of the checks made on it
    no_keys = said(N_("no JWK Set to look at"))
    no_pins = said(N_("no key is pinned for the partner: enrol it first"))
    if keys is None:
        for check_id in ("2-jwks-members", "2-jwks-no-private", "2-jwks-pinned",
                         "2-jwks-signed", "2-checkpoint-key"):
            p.skip(CHECKS[check_id], no_keys)
    else:
        listed = list(keys)
        await p.run(CHECKS["2-jwks-members"], lambda: keychecks.members(p, listed), judged)
        await p.run(CHECKS["2-jwks-no-private"], lambda: keychecks.no_private(listed), judged)
        if p.setup.pinned:
            await p.run(CHECKS["2-jwks-pinned"], lambda: keychecks.pinned(p, listed), judged)
            await p.run(CHECKS["2-jwks-signed"], lambda: keychecks.signed(p, listed), judged)
        else:
            p.skip(CHECKS["2-jwks-pinned"], no_pins)
            p.skip(CHECKS["2-jwks-signed"], no_pins)
        await p.run(CHECKS["2-checkpoint-key"], lambda: keychecks.checkpoint_key(listed),
                    judged)
    await p.run(CHECKS["4.1-clock"], lambda: keychecks.clock(p, health_answer), p.wire.log[:1])


async def _mailbox(p: Probe) -> None:
    """§4.4."""
    box: list[list[bytes]] = []

    async def pulled() -> Result:
        result, listed = await offline.pull(p)
        box.append(listed)
        return result

    await p.run(CHECKS["4.4-pull"], pulled)
    await p.run(CHECKS["4.4-pull-messages"], lambda: offline.pulled(p, box[0] if box else []))


async def _tokens(p: Probe) -> None:
    """§4.1, in order."""
    variants = dict(authchecks.variants(p))
    for check_id in TOKEN_CHECKS:
        if check_id == "4.1-replayed":
            await p.run(CHECKS[check_id], lambda: authchecks.replayed(p))
        elif check_id == "4.1-stranger":
            await p.run(CHECKS[check_id], lambda: authchecks.stranger(p))
        else:
            await p.run(CHECKS[check_id],
                        partial(authchecks.refused, p, check_id, variants[check_id]))


async def _read_only(p: Probe) -> None:
    read_only = said(N_("read-only: nothing is pushed"))
    for doc_type in p.setup.samples.types:
        p.skip(accept_check(doc_type), read_only)
    p.skip(CHECKS["4.2-duplicate"], read_only)
    p.skip(CHECKS["4.2-conflict"], read_only)
    if p.pull_answers:
        await _tokens(p)
    else:
        for check_id in TOKEN_CHECKS:
            p.skip(CHECKS[check_id], said(N_("read-only, and GET /messages does not answer "
                                             "this node: nowhere to send a token")))
    for check_id in (*MESSAGE_CHECKS, "4.2-refused-not-stored", "4.3-receipts"):
        p.skip(CHECKS[check_id], read_only)


async def _pushes(p: Probe) -> None:
    """§4.2, §4.3, §3.3, §4.1 over ``POST /messages``."""
    for doc_type in p.setup.samples.types:
        await p.run(accept_check(doc_type), partial(pushchecks.accept, p, doc_type))
    none = said(N_("no test message was accepted"))
    if p.accepted:
        await p.run(CHECKS["4.2-duplicate"], lambda: pushchecks.duplicate(p))
        await p.run(CHECKS["4.2-conflict"], lambda: pushchecks.conflict(p))
    else:
        p.skip(CHECKS["4.2-duplicate"], none)
        p.skip(CHECKS["4.2-conflict"], none)
    await _tokens(p)
    for check_id, status, code, make in pushchecks.wrong_messages(p):
        await p.run(CHECKS[check_id], partial(pushchecks.wrong, p, check_id, status, code, make))
    await p.run(CHECKS["4.2-refused-not-stored"], lambda: pushchecks.not_stored(p))
    if p.accepted and p.setup.pinned:
        await p.run(CHECKS["4.3-receipts"], lambda: pushchecks.receipts(p))
    else:
        p.skip(CHECKS["4.3-receipts"], none if not p.accepted else said(
            N_("no key is pinned for the partner: enrol it first")))
