"""The checks of PROTOCOL.md §4.1: a request whose bearer token is missing, expired, not yet
valid, too long-lived, replayed, for another node, unsigned, or a stranger's is refused 401
``unauthenticated``, a stranger's exactly as a forged one's.

Each carries a valid test message (``POST /messages``): a partner that skipped the token
would accept it, which shows. Read-only, the same tokens go to ``GET /messages``, which
stores nothing. A refused message is handed on to be sent again with a valid token
(:func:`gateway.exchange.probe.pushchecks.not_stored`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.exchange.probe.context import Probe, problem_verdict, shown
from gateway.exchange.probe.forge import STRANGER, Forged, token
from gateway.exchange.probe.results import CHECKS, Result, verdict
from gateway.exchange.probe.wire import Answer, json_of
from gateway.protocol.errors import N_, said

Bearer = Callable[[], str | None]


async def _send(p: Probe, bearer: Bearer) -> tuple[Answer, Forged | None]:
    """One request with ``bearer``: a carrier message pushed, or (read-only) a pull."""
    if p.setup.read_only:
        return await p.wire.request("GET", "/messages", token=bearer,
                                    params={"limit": "1"}, keep_body=False), None
    forged = p.carrier_message()
    return await p.post(forged, bearer), forged


async def refused(p: Probe, check_id: str, bearer: Bearer) -> Result:
    """One token check: the request with ``bearer`` is refused 401 ``unauthenticated``."""
    answer, forged = await _send(p, bearer)
    ok, detail = problem_verdict(answer, 401, "unauthenticated")
    if forged is not None and answer.status != 202:
        p.refused.append((check_id, forged, True))
    elif forged is not None:
        p.keep(forged, answer)
    return verdict(CHECKS[check_id], ok, detail)


def variants(p: Probe) -> list[tuple[str, Bearer]]:
    """The token checks but the two that need more than one request, with their tokens."""
    setup = p.setup
    assert p.partner is not None
    partner = p.partner

    def made(**how: Any) -> Bearer:
        return lambda: token(setup.key, setup.me, partner, setup.clock(), **how)

    return [
        ("4.1-no-token", lambda: None),
        ("4.1-expired", made(iat_shift=-700, lifetime=300)),
        ("4.1-not-yet-valid", made(nbf=240, lifetime=290)),
        ("4.1-too-long", made(lifetime=600)),
        ("4.1-wrong-audience", lambda: token(setup.key, setup.me, setup.me, setup.clock())),
        ("4.1-alg-none", made(alg="none")),
    ]


async def replayed(p: Probe) -> Result:
    """A token accepted once is refused the second time (its ``jti``)."""
    check = CHECKS["4.1-replayed"]
    spent = p.now_token()
    first, forged = await _send(p, lambda: spent)
    if first.status not in (200, 202):
        return verdict(check, False, said(N_("the token's first use was not accepted: got "
                                             "{got}"), got=shown(first)))
    if forged is not None:
        p.keep(forged, first)
    return await refused(p, "4.1-replayed", lambda: spent)


async def stranger(p: Probe) -> Result:
    """A stranger's token (a node the partner does not know) is refused as a token whose
    signature does not verify: 401 ``unauthenticated``, the same title and detail
    (PROTOCOL.md §4.1: a stranger learns nothing of whom a node exchanges with)."""
    check = CHECKS["4.1-stranger"]
    setup = p.setup
    assert p.partner is not None
    partner = p.partner
    answers = []
    for bearer in (lambda: token(setup.key, STRANGER, partner, setup.clock(),
                                 kid=f"{STRANGER}#probe"),
                   lambda: token(setup.key, setup.me, partner, setup.clock(), corrupt=True)):
        answer, forged = await _send(p, bearer)
        ok, detail = problem_verdict(answer, 401, "unauthenticated")
        if forged is not None and answer.status != 202:
            p.refused.append(("4.1-stranger", forged, True))
        if not ok:
            return verdict(check, False, detail)
        answers.append(json_of(answer))
    words = [(a.get("title"), a.get("detail")) if isinstance(a, dict) else None
             for a in answers]
    if words[0] != words[1]:
        return verdict(check, False, said(N_("a stranger is told {stranger!r}, a forged "
                                             "token {forged!r}: a stranger learns that the "
                                             "node does not know it"),
                                          stranger=words[0], forged=words[1]))
    return verdict(check, True, said(N_("both refused: 401 unauthenticated, in the same "
                                        "words")))
