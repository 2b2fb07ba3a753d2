"""Key continuity (PROTOCOL.md §2): pin a partner's next key on the word of a key already
pinned, so that its rotation costs nobody an outage.

``refresh`` fetches the partner's signed key set (``{base}/.well-known/jwks.jws``), verifies it
with a pinned, valid, unrevoked key of that partner, and for every key it lists that is not
pinned yet decides by the partner file's ``key_continuity``:

- ``auto``: pinned at once;
- ``confirm`` (the default): listed for an administrator (``gateway partners pending``, the
  console's partners page), pinned when accepted;
- ``off``: pinned only if its thumbprint was handed over (``--thumbprint``).

A key whose thumbprint was handed over is pinned whatever the policy. A set that contradicts
what is pinned vouches for nothing: a key id that comes back with another key (a
substitution, never a rotation), a pinned key listed under another key id, or a key pinned
for checkpoints only listed for every use (PROTOCOL.md §4.8) is refused and audited as an
alarm, and no other key of that set is pinned or offered (``withheld``, audited). A pinned
key that the set newly marks for checkpoints only is narrowed so (trust only shrinks).
Every pin, acceptance and refusal is in the audit log. Pinning writes the partner file; the
serving node re-reads it on its own (:meth:`PartnerDirectory.reload_if_changed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.exchange.pushing import ASKED, PushFailedError, refuse_compressed
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.jose import JwkError, checkpoint_marking, checkpoints_only
from gateway.protocol.keyset import OfferedKey, VouchedSet, verify_key_set
from gateway.protocol.problems import Problem
from gateway.runtime.node import Node
from gateway.store import partner_keys as offers
from gateway.store.transactions import reads, writes
from gateway.trust.partners import KeyEntry, PartnerFileError, pin_keys

log = logging.getLogger("gateway.keys")

#: How often the node re-reads its partners' signed key sets on its own, and how long after
#: start it does so first (partners starting together need not answer at once).
REFRESH_EVERY: Final = timedelta(hours=24)
FIRST_REFRESH_AFTER: Final = timedelta(minutes=5)
#: How often it looks for partner files changed by another process.
WATCH_EVERY_S: Final = 2.0
#: The most a signed key set may weigh.
MAX_KEYSET_BYTES: Final = 64 * 1024
#: How a key of a signed set can contradict what is pinned: its kid pinned with another key,
#: its key pinned under another kid, its key pinned for checkpoints only and offered for
#: every use.
CONTRADICTIONS: Final = ("substitution", "alias", "widened")


class KeyRefreshError(GatewayError):
    """A refresh that could not be done (no endpoint, unreachable, a set that fails)."""

    code = "invalid-request"


class KeyDecisionError(KeyRefreshError):
    """No key waiting for a decision under that number (decided already, or its partner
    gone)."""

    code = "state-conflict"


@dataclass
class RefreshOutcome:
    """What one refresh did."""

    partner: str
    vouched_by: str = ""
    pinned: list[OfferedKey] = field(default_factory=list)
    pending: list[OfferedKey] = field(default_factory=list)
    ignored: list[OfferedKey] = field(default_factory=list)
    #: Keys that contradict what is pinned, with why (:data:`CONTRADICTIONS`).
    refused: list[OfferedKey] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)
    #: New keys of a set that contradicts what is pinned: neither pinned nor offered.
    withheld: list[OfferedKey] = field(default_factory=list)
    #: Pinned keys the set newly marks for checkpoints only, narrowed so.
    narrowed: list[OfferedKey] = field(default_factory=list)
    known: int = 0


@dataclass(frozen=True)
class WaitingKey:
    """A partner's key waiting for an administrator."""

    id: int
    partner: str
    kid: str
    thumbprint: str
    vouched_by: str
    offered_at: datetime


@dataclass(frozen=True)
class KeyDecision:
    """What an administrator decided on a waiting key."""

    id: int
    partner: str
    kid: str
    state: Literal["accepted", "rejected"]


async def fetch_signed_set(client: httpx.AsyncClient, endpoint: str) -> bytes:
    """The bytes of a partner's signed key set (capped)."""
    url = f"{endpoint.rstrip('/')}/.well-known/jwks.jws"
    try:
        async with client.stream("GET", url, timeout=15, headers=ASKED) as response:
            if response.status_code != 200:
                raise KeyRefreshError(N_("{url} answered {status}"), url=url,
                                      status=response.status_code)
            try:
                refuse_compressed(response.headers.get("Content-Encoding"))
            except PushFailedError as exc:
                raise KeyRefreshError(N_("{url} cannot be read: {error}"), url=url,
                                      error=str(exc)) from exc
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_KEYSET_BYTES:
                    raise KeyRefreshError(N_("{url}: the signed key set is larger than {limit} "
                                             "bytes"), url=url, limit=MAX_KEYSET_BYTES)
            return body
    except httpx.HTTPError as exc:
        raise KeyRefreshError(N_("{url} cannot be read: {error}"), url=url,
                              error=type(exc).__name__) from exc


def verify_for(node: Node, partner_id: str, raw: bytes) -> VouchedSet:
    """The partner's signed key set, verified with the keys pinned for it now."""
    if node.partners.get(partner_id) is None:
        raise KeyRefreshError(N_("{partner_id} is not in the partner directory"),
                              partner_id=partner_id)
    try:
        return verify_key_set(raw, node.partners.pinned, node.clock(), signer=partner_id)
    except Problem as exc:
        raise KeyRefreshError(N_("{partner_id}: {error}"), partner_id=partner_id,
                              error=exc.detail) from exc


async def apply_vouched(node: Node, vouched: VouchedSet, *, thumbprints: Iterable[str] = (),
                        actor: str = "system") -> RefreshOutcome:
    """Decide on every key of a verified set that is not pinned yet (see the module)."""
    return await _apply(node, vouched, tuple(thumbprints), actor)


@writes
async def _apply(conn: AsyncConnection, node: Node, vouched: VouchedSet,
                 thumbprints: tuple[str, ...], actor: str) -> RefreshOutcome:
    partner = node.partners.get(vouched.signer)
    if partner is None:
        raise KeyRefreshError(N_("{partner_id} is not in the partner directory"),
                              partner_id=vouched.signer)
    handed = set(thumbprints)
    unknown = handed - {k.thumbprint for k in vouched.keys}
    if unknown:
        raise KeyRefreshError(N_("thumbprint {thumbprint} matches no key of the signed set"),
                              thumbprint=sorted(unknown)[0])
    policy = partner.file.key_continuity
    pinned = {k.kid: k for k in partner.file.keys}
    outcome = RefreshOutcome(partner.node_id, vouched.vouching_kid)
    now = node.clock()
    if await _contradictions(conn, node, vouched, pinned, outcome, actor):
        return outcome
    to_pin: list[tuple[OfferedKey, str]] = []
    for key in vouched.keys:
        entry = pinned.get(key.kid)
        if entry is not None:
            outcome.known += 1
            if key.checkpoints_only and not entry.checkpoints_only:
                outcome.narrowed.append(key)
        elif key.thumbprint in handed:
            to_pin.append((key, "thumbprint"))
        elif policy == "auto":
            to_pin.append((key, "auto"))
        elif policy == "confirm":
            if await _offer(conn, partner.node_id, key, vouched.vouching_kid, now):
                await audit.append(conn, node.clock, actor, "partner.key-offered",
                                   partner.node_id, {"kid": key.kid,
                                                     "thumbprint": key.thumbprint,
                                                     "vouched_by": vouched.vouching_kid})
            outcome.pending.append(key)
        else:
            outcome.ignored.append(key)
    if to_pin or outcome.narrowed:
        await _pin(node, conn, partner.node_id, to_pin, vouched.vouching_kid, actor,
                   narrowed=outcome.narrowed)
        outcome.pinned.extend(k for k, _ in to_pin)
    return outcome


async def _contradictions(conn: AsyncConnection, node: Node, vouched: VouchedSet,
                          pinned: dict[str, KeyEntry], outcome: RefreshOutcome,
                          actor: str) -> bool:
    """Whether the set contradicts what is pinned (:data:`CONTRADICTIONS`); if so each
    contradiction is refused and audited as an alarm, and the set's new keys are withheld
    (audited once): a set that contradicts the pins vouches for nothing."""
    kid_of = {k.thumbprint: k.kid for k in pinned.values()}
    for key in vouched.keys:
        entry = pinned.get(key.kid)
        by = vouched.vouching_kid
        if entry is not None and entry.thumbprint != key.thumbprint:
            outcome.why[key.kid] = "substitution"
            await audit.append(conn, node.clock, actor, "partner.key-substitution",
                               vouched.signer, {"kid": key.kid, "pinned": entry.thumbprint,
                                                "offered": key.thumbprint, "vouched_by": by})
        elif kid_of.get(key.thumbprint, key.kid) != key.kid:
            outcome.why[key.kid] = "alias"
            await audit.append(conn, node.clock, actor, "partner.key-substitution",
                               vouched.signer, {"kid": key.kid,
                                                "pinned_as": kid_of[key.thumbprint],
                                                "offered": key.thumbprint, "vouched_by": by})
        elif entry is not None and entry.checkpoints_only and not key.checkpoints_only:
            outcome.why[key.kid] = "widened"
            await audit.append(conn, node.clock, actor, "partner.key-purpose-widened",
                               vouched.signer, {"kid": key.kid, "offered": key.thumbprint,
                                                "vouched_by": by})
        else:
            continue
        outcome.refused.append(key)
    if not outcome.refused:
        return False
    refused = {k.kid for k in outcome.refused}
    outcome.known = sum(1 for k in vouched.keys
                        if k.kid not in refused and k.kid in pinned)
    outcome.withheld = [k for k in vouched.keys
                        if k.kid not in refused and k.kid not in pinned]
    await audit.append(conn, node.clock, actor, "partner.keyset-refused", vouched.signer,
                       {"vouched_by": vouched.vouching_kid, "refused": sorted(refused),
                        "withheld": [k.kid for k in outcome.withheld]})
    return True


async def _offer(conn: AsyncConnection, partner_id: str, key: OfferedKey, vouched_by: str,
                 now: datetime) -> bool:
    """Record a key waiting for an administrator; False if it was offered before. The JWK is
    kept as offered, with its checkpoint marking (PROTOCOL.md §4.8), so that an acceptance
    pins it for what it was offered for."""
    jwk = {**key.jwk, **(checkpoint_marking() if key.checkpoints_only else {})}
    return await offers.add_offer(conn, partner=partner_id, kid=key.kid,
                                  thumbprint=key.thumbprint,
                                  jwk=json.dumps(jwk, sort_keys=True),
                                  vouched_by=vouched_by, offered_at=now)


def _offered_key(kid: str, stored_jwk: str, thumbprint: str) -> OfferedKey:
    """A key waiting for an administrator, as it was offered (a marking that is not
    understood pins it for nothing: refused)."""
    jwk = json.loads(stored_jwk)
    try:
        marked = checkpoints_only(jwk)
    except JwkError as exc:
        raise KeyDecisionError(N_("{kid}: {error}"), kid=kid, error=exc) from exc
    public = {k: str(v) for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
    return OfferedKey(kid, public, thumbprint, marked)


async def _pin(node: Node, conn: AsyncConnection, partner_id: str,
               keys: list[tuple[OfferedKey, str]], vouched_by: str, actor: str,
               narrowed: list[OfferedKey] | None = None) -> None:
    """Write the keys into the partner file and audit each pin (and each pinned key narrowed
    to checkpoints only), in the caller's transaction (the file is written last: if the
    audit line cannot be written, nothing is pinned)."""
    for key, how in keys:
        await audit.append(conn, node.clock, actor, "partner.key-pinned", partner_id,
                           {"kid": key.kid, "thumbprint": key.thumbprint, "how": how,
                            "vouched_by": vouched_by,
                            **({"checkpoints_only": True} if key.checkpoints_only else {})})
    for key in narrowed or []:
        await audit.append(conn, node.clock, actor, "partner.key-checkpoints-only", partner_id,
                           {"kid": key.kid, "thumbprint": key.thumbprint,
                            "vouched_by": vouched_by})
    entries = [KeyEntry(kid=k.kid, thumbprint=k.thumbprint, jwk=k.jwk,
                        checkpoints_only=k.checkpoints_only)
               for k in [*(k for k, _ in keys), *(narrowed or [])]]
    try:
        await asyncio.to_thread(pin_keys, node.settings.partners_path, partner_id,
                                node.registry.types(), entries)
    except PartnerFileError as exc:
        raise KeyRefreshError(N_("{partner_id}: {error}"), partner_id=partner_id,
                              error=exc) from exc
    node.reload_partners()


async def refresh(node: Node, client: httpx.AsyncClient, partner_id: str, *,
                  thumbprints: Iterable[str] = (), actor: str = "system") -> RefreshOutcome:
    """Fetch, verify and apply one partner's signed key set (audited when it fails)."""
    partner = node.partners.get(partner_id)
    try:
        if partner is None:
            raise KeyRefreshError(N_("{partner_id} is not in the partner directory"),
                                  partner_id=partner_id)
        if not partner.file.endpoint:
            raise KeyRefreshError(N_("{partner_id} has no endpoint to read its keys from"),
                                  partner_id=partner_id)
        raw = await fetch_signed_set(client, partner.file.endpoint)
        vouched = verify_for(node, partner_id, raw)
    except KeyRefreshError as exc:
        await node.audit(actor, "partner.refresh-failed", partner_id, reason=str(exc))
        raise
    return await apply_vouched(node, vouched, thumbprints=thumbprints, actor=actor)


@reads
async def pending(conn: AsyncConnection, _node: Node) -> list[WaitingKey]:
    """Keys waiting for an administrator, oldest first."""
    return [WaitingKey(r.id, r.partner, r.kid, r.thumbprint, r.vouched_by, r.offered_at)
            for r in await offers.pending(conn)]


@writes
async def decide(conn: AsyncConnection, node: Node, offer_id: int, accept: bool,
                 actor: str) -> KeyDecision:
    """An administrator accepts (pins) or rejects a key waiting for them."""
    row = await offers.offer(conn, offer_id)
    if row is None or row.state != "pending":
        raise KeyDecisionError(N_("no key waiting with number {number}"), number=offer_id)
    if node.partners.get(row.partner) is None:
        raise KeyDecisionError(N_("{partner_id} is not in the partner directory"),
                               partner_id=row.partner)
    voucher = node.partners.pinned(row.partner, row.vouched_by)
    if accept and (voucher is None or not voucher.usable_at(node.clock())):
        # The key that vouched for it was revoked (stolen, perhaps) or has lapsed since: its
        # word pins nothing now. The offer stays for a rejection; the way to pin the key is
        # enrolment with a thumbprint handed over.
        raise KeyDecisionError(N_("{kid} vouched for this key and is no longer pinned and "
                                  "valid: its offer cannot be accepted"), kid=row.vouched_by)
    state: Literal["accepted", "rejected"] = "accepted" if accept else "rejected"
    await offers.decide(conn, row.id, state=state, by=actor, at=node.clock())
    key = _offered_key(row.kid, row.jwk, row.thumbprint)
    if accept:
        try:
            await _pin(node, conn, row.partner, [(key, "confirmed")], row.vouched_by, actor)
        except KeyDecisionError:
            raise
        except KeyRefreshError as exc:  # its partner file changed under the decision
            raise KeyDecisionError(exc.template, **exc.values) from exc
    else:
        await audit.append(conn, node.clock, actor, "partner.key-rejected", row.partner,
                           {"kid": row.kid, "thumbprint": row.thumbprint})
    return KeyDecision(row.id, row.partner, row.kid, state)


class TrustKeeper:
    """Re-reads partner files changed by another process (every :data:`WATCH_EVERY_S`) and
    every partner's signed key set (soon after start, then every :data:`REFRESH_EVERY`)."""

    def __init__(self, node: Node, client: httpx.AsyncClient) -> None:
        self.node = node
        self.client = client
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()

    async def refresh_all(self) -> None:
        """One refresh of every partner the node can reach (push partners)."""
        for partner in self.node.partners.all():
            if not partner.file.endpoint or partner.file.delivery != "push":
                continue
            try:
                outcome = await refresh(self.node, self.client, partner.node_id)
            except KeyRefreshError as exc:
                log.warning("key refresh failed", extra={"partner": partner.node_id,
                                                         "reason": str(exc)})
                continue
            if outcome.pinned or outcome.pending or outcome.refused:
                log.info("partner keys refreshed", extra={
                    "partner": partner.node_id, "pinned": len(outcome.pinned),
                    "pending": len(outcome.pending), "refused": len(outcome.refused)})

    async def run(self) -> None:
        """Until stopped."""
        next_refresh = self.node.clock() + FIRST_REFRESH_AFTER
        while not self._stop.is_set():
            problems = self.node.partners.reload_if_changed()
            if problems is not None:
                await self.node.audit("system", "partners.reloaded", None,
                                      problems=len(problems), via="file-change")
            if self.node.clock() >= next_refresh:
                next_refresh = self.node.clock() + REFRESH_EVERY
                # One replica refreshes (it writes the partner files the others watch).
                if await self.node.holds("key-refresh", REFRESH_EVERY / 2):
                    await self.refresh_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), WATCH_EVERY_S)
