"""The checks of what a partner serves without authentication: ``/health`` (PROTOCOL.md
§4.7), its JWK Set and signed key set (§2), and whether its clock agrees with ours (§4.1:
tokens are judged with 60 s of skew)."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Final

from gateway.exchange.probe.context import Probe, shown
from gateway.exchange.probe.results import CHECKS, Result, verdict
from gateway.exchange.probe.wire import Answer, json_of
from gateway.protocol import ids
from gateway.protocol.bearer import CLOCK_SKEW_S
from gateway.protocol.errors import N_, Message, said
from gateway.protocol.jose import (
    ALLOWED_ALGS,
    JwkError,
    alg_of,
    checkpoints_only,
    jwk_to_public_key,
    public_jwk,
    thumbprint,
)
from gateway.protocol.keyset import verify_key_set
from gateway.protocol.problems import Problem

#: Members of a JWK that hold a private key (RFC 7518 §6): none may be published.
PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC: Final = ("kty", "crv", "x", "y")


async def health(p: Probe) -> tuple[Result, Answer]:
    """§4.7: ``/health`` answers ``{"status": "ok", "node": <id>, "protocol": [1]}``; the
    partner's node id is learnt here when no partner file names the endpoint."""
    answer = await p.wire.request("GET", "/health")
    check = CHECKS["4.7-health"]
    if answer.error is not None:
        return verdict(check, False, said(N_("the endpoint does not answer: {error}"),
                                          error=answer.error)), answer
    body = json_of(answer)
    if answer.status != 200 or not isinstance(body, dict):
        return verdict(check, False, said(N_("expected 200 and a JSON object, got {got}"),
                                          got=shown(answer))), answer
    node, protocol = body.get("node"), body.get("protocol")
    if p.partner is None and node in p.setup.enrolled:
        return verdict(check, False, said(N_(
            "the endpoint says it is {node}, a partner of this node at another endpoint: "
            "nothing is signed for {node} here (probe it with --partner {node})"),
            node=node)), answer
    if p.partner is None and isinstance(node, str) and ids.is_node_id(node):
        p.partner = node
    ok = (body.get("status") == "ok" and node == p.partner and isinstance(protocol, list)
          and 1 in protocol)
    if ok:
        return verdict(check, True, said(N_("{node} is up and speaks BX/1"), node=node)), answer
    return verdict(check, False, said(N_("status {status}, node {node}, protocol {protocol}: "
                                         "expected ok, {partner} and [1]"),
                                      status=body.get("status"), node=node, protocol=protocol,
                                      partner=p.partner)), answer


def clock(p: Probe, answer: Answer) -> Result:
    """§4.1: the partner's ``Date`` within 60 s of this node's clock (else one side's
    tokens look expired, or issued in the future, to the other)."""
    check = CHECKS["4.1-clock"]
    stamp = answer.headers.get("date")
    try:
        theirs = parsedate_to_datetime(stamp) if stamp else None
    except (TypeError, ValueError):
        theirs = None
    if theirs is None:
        return verdict(check, False, said(N_("the answer has no Date header to compare")))
    skew = (theirs.astimezone(UTC) - p.setup.clock().astimezone(UTC)).total_seconds()
    if abs(skew) <= CLOCK_SKEW_S:
        return verdict(check, True, said(N_("the clocks differ by {seconds} s"),
                                         seconds=round(skew)))
    return verdict(check, False, said(N_("the partner's clock is {seconds} s off this "
                                         "node's: tokens are refused beyond 60 s; set both "
                                         "clocks by NTP"), seconds=round(skew)))


def _keys_of(answer: Answer) -> list[Any] | None:
    body = json_of(answer)
    keys = body.get("keys") if isinstance(body, dict) else None
    return keys if isinstance(keys, list) and keys else None


async def jwks(p: Probe) -> tuple[Result, list[Any] | None]:
    """§2: the JWK Set is served (a JSON object with a non-empty ``keys`` array)."""
    answer = await p.wire.request("GET", "/.well-known/jwks.json")
    keys = _keys_of(answer) if answer.status == 200 else None
    if keys is None:
        return verdict(CHECKS["2-jwks"], False, said(N_(
            "expected 200 and a JWK Set with keys, got {got}"), got=shown(answer))), None
    return verdict(CHECKS["2-jwks"], True, said(N_("{count} keys published"),
                                                count=len(keys))), keys


def members(p: Probe, keys: list[Any]) -> Result:
    """§2: each key has a ``kid`` of the partner's node, ``use: "sig"`` and its ``alg``."""
    problems: list[Message] = []
    for index, jwk in enumerate(keys):
        if not isinstance(jwk, dict):
            problems.append(said(N_("keys[{index}] is not a JWK"), index=index))
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or ids.kid_node(kid) != p.partner:
            problems.append(said(N_("keys[{index}]: kid {kid} is not <{node}>#<label>"),
                                 index=index, kid=kid, node=p.partner))
        if jwk.get("use") != "sig":
            problems.append(said(N_("keys[{index}]: use is {use}, not sig"), index=index,
                                 use=jwk.get("use")))
        try:
            alg = alg_of(jwk_to_public_key({m: jwk[m] for m in _PUBLIC if m in jwk}))
        except JwkError as exc:
            problems.append(said(N_("keys[{index}]: {error}"), index=index, error=exc))
            continue
        if jwk.get("alg") not in ALLOWED_ALGS or jwk.get("alg") != alg:
            problems.append(said(N_("keys[{index}]: alg is {alg}; the key signs with "
                                    "{expected}"), index=index, alg=jwk.get("alg"),
                                 expected=alg))
    if problems:
        return verdict(CHECKS["2-jwks-members"], False, _joined(problems))
    return verdict(CHECKS["2-jwks-members"], True, said(N_("every key is named, marked for "
                                                           "signing and has its alg")))


def no_private(keys: list[Any]) -> Result:
    """§2: a JWK Set is public: no key carries ``d`` (or another private member)."""
    leaks = [(i, m) for i, jwk in enumerate(keys) if isinstance(jwk, dict)
             for m in PRIVATE_MEMBERS if m in jwk]
    if leaks:
        return verdict(CHECKS["2-jwks-no-private"], False, said(N_(
            "keys[{index}] carries the private member {member}: the key is compromised; "
            "revoke it and publish a new one"), index=leaks[0][0], member=leaks[0][1]))
    return verdict(CHECKS["2-jwks-no-private"], True, said(N_("no private member")))


def _public(jwk: dict[str, Any]) -> dict[str, str]:
    return {m: str(jwk[m]) for m in _PUBLIC if m in jwk}


def pinned(p: Probe, keys: list[Any]) -> Result:
    """§2: the keys match what this node pinned: no pinned kid with another key, no key
    pinned for checkpoints only published for every use, and a usable pinned key among
    them."""
    check = CHECKS["2-jwks-pinned"]
    now = p.setup.clock()
    published: dict[str, tuple[str, bool]] = {}
    for jwk in keys:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            try:
                published[jwk["kid"]] = (thumbprint(_public(jwk)), checkpoints_only(jwk))
            except JwkError:
                continue
    problems: list[Message] = []
    usable = []
    for kid, pin in p.setup.pinned.items():
        if kid not in published:
            continue
        found, marked = published[kid]
        if found != _thumbprint_of(pin.public_key):
            problems.append(said(N_("{kid} is published with the key {found}, not the key "
                                    "pinned"), kid=kid, found=found))
        elif pin.checkpoints_only and not marked:
            problems.append(said(N_("{kid} is pinned for checkpoints only and published for "
                                    "every use"), kid=kid))
        elif pin.usable_at(now):
            usable.append(kid)
    if problems:
        return verdict(check, False, _joined(problems))
    if not usable:
        return verdict(check, False, said(N_("no key pinned for {partner} and valid now is "
                                             "published"), partner=p.partner))
    waiting = sorted(set(published) - set(p.setup.pinned))
    if waiting:
        return verdict(check, True, said(N_("pinned and published: {usable}; not pinned yet "
                                            "(a next key? gateway partners refresh): "
                                            "{waiting}"), usable=", ".join(sorted(usable)),
                                         waiting=", ".join(waiting)))
    return verdict(check, True, said(N_("pinned and published: {usable}"),
                                     usable=", ".join(sorted(usable))))


def _thumbprint_of(key: Any) -> str:
    return thumbprint(public_jwk(key))


async def signed(p: Probe, keys: list[Any]) -> Result:
    """§2: ``jwks.jws`` verifies under a pinned key that is valid now, and lists the keys of
    ``jwks.json``."""
    check = CHECKS["2-jwks-signed"]
    answer = await p.wire.request("GET", "/.well-known/jwks.jws")
    assert p.partner is not None
    if answer.status != 200:
        return verdict(check, False, said(N_("expected 200 and the signed key set, got "
                                             "{got}"), got=shown(answer)))
    try:
        vouched = verify_key_set(answer.content, p.setup.pinned_key, p.setup.clock(),
                                 signer=p.partner)
    except Problem as problem:
        return verdict(check, False, said(N_("the signed key set is refused: {code}: "
                                             "{detail}"), code=problem.code,
                                          detail=problem.detail))
    listed = {k.thumbprint for k in vouched.keys}
    served = set()
    for jwk in keys:
        if isinstance(jwk, dict):
            try:
                served.add(thumbprint(_public(jwk)))
            except JwkError:
                continue
    if listed != served:
        return verdict(check, False, said(N_("the signed set lists {signed} keys, the JWK Set "
                                             "{served}: they differ"), signed=len(listed),
                                          served=len(served)))
    return verdict(check, True, said(N_("signed by {kid}; the same {count} keys"),
                                     kid=vouched.vouching_kid, count=len(listed)))


def checkpoint_key(keys: list[Any]) -> Result:
    """§2, §4.8: an Ed25519 key signs the checkpoints (the signing key, or a key marked
    for checkpoints only), and every marking is one a receiver understands."""
    check = CHECKS["2-checkpoint-key"]
    ed25519 = []
    for index, jwk in enumerate(keys):
        if not isinstance(jwk, dict):
            continue
        try:
            marked = checkpoints_only(jwk)
        except JwkError as exc:
            return verdict(check, False, said(N_("keys[{index}]: {error}"), index=index,
                                              error=exc))
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            ed25519.append((str(jwk.get("kid")), marked))
    if not ed25519:
        return verdict(check, False, said(N_("no Ed25519 key: the partner cannot sign "
                                             "checkpoints (an ES256 node publishes one "
                                             "marked bx_use \"checkpoints\")")))
    kid, marked = ed25519[-1]
    if marked:
        return verdict(check, True, said(N_("{kid} signs the checkpoints, marked for them "
                                            "only"), kid=kid))
    return verdict(check, True, said(N_("{kid} is Ed25519: it signs the checkpoints "
                                        "itself"), kid=kid))


def _joined(problems: list[Message]) -> Message:
    """Several problems as one detail: the first, and how many more."""
    if len(problems) == 1:
        return problems[0]
    return said(N_("{first}; and {more} more"), first=problems[0], more=len(problems) - 1)
