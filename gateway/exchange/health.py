"""The partner directory's health, as the administrators watch it: per partner its keys (warned
ahead of their end), its outbox (how many messages wait, since when) and its last receipt,
and what it cosigned of this node's audit log; this node's own keys; and the alarm of the
witnessing (PROTOCOL.md §4.8): a partner's log seen forked, or a partner refusing this
node's checkpoint because it is inconsistent or rolled back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import checkpoints, witness
from gateway.exchange import witnessing
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads

#: A key that ends within this time is shown with a warning.
KEY_WARNING: Final = timedelta(days=30)


@dataclass(frozen=True)
class PartnerKeyHealth:
    """One key of a partner's file: its state now and whether it ends soon."""

    kid: str
    thumbprint: str
    state: str | None
    not_after: datetime | None
    ending: bool


@dataclass(frozen=True)
class PartnerHealth:
    """One partner: its keys, its outbox, its last receipt and what it cosigned of our log
    (its row of ``checkpoint_witnesses``, None before the first checkpoint sent)."""

    id: str
    country: str
    delivery: str
    keys: list[PartnerKeyHealth]
    depth: int
    oldest: datetime | None
    last_receipt: datetime | None
    witness: Mapping[str, object] | None


@dataclass(frozen=True)
class OwnKey:
    """One of this node's published keys and what it does."""

    kid: str
    alg: str
    thumbprint: str
    created: str
    signs: bool
    next: bool
    checkpoints: bool


@dataclass(frozen=True)
class DirectoryHealth:
    """The partners page: every partner's health, this node's keys, the forks seen as a
    witness, the partners that refuse our checkpoint (``alarms``), our log's latest
    checkpointed size and how many partner keys end soon (``warnings``)."""

    partners: list[PartnerHealth]
    own: list[OwnKey]
    forks: list[dict[str, object]]
    alarms: list[PartnerHealth]
    latest: int | None
    warnings: int


def refuses_our_log(status: Mapping[str, object] | None, latest: int | None) -> bool:
    """The alarm rule: a partner says our checkpoint is inconsistent with one it cosigned,
    or stale while it holds a larger one than our latest (our log was rolled back)."""
    if not status:
        return False
    refusal, held = status.get("refusal"), status.get("held_size")
    return refusal == "inconsistent" or (
        refusal == "stale" and latest is not None and isinstance(held, int) and held > latest)


def _own_keys(node: Node) -> list[OwnKey]:
    signing = node.signing_key.kid
    try:
        checkpointing: str | None = node.checkpoint_key().kid
    except checkpoints.CheckpointKeyError:
        checkpointing = None
    return [OwnKey(kid=k.kid, alg=k.alg, thumbprint=k.thumbprint, created=k.created,
                   signs=k.kid == signing, next=k.next,
                   checkpoints=k.kid == checkpointing and k.kid != signing)
            for k in node.keystore.published()]


@reads
async def directory_health(conn: AsyncConnection, node: Node) -> DirectoryHealth:
    """The partner directory with each partner's delivery and witnessing health, and the
    alarms (see the module docstring)."""
    stats, last = await repo.delivery_health(conn)
    witnessed_by = await witnessing.statuses(conn)
    stored = await checkpoints.latest(conn)
    latest = stored.size if stored is not None else None
    now = node.clock()
    partners = []
    for p in node.partners.all():
        states = dict(p.key_states(now))
        outbox = stats.get(p.node_id)
        partners.append(PartnerHealth(
            id=p.node_id, country=p.file.country, delivery=p.file.delivery,
            keys=[PartnerKeyHealth(kid=k.kid, thumbprint=k.thumbprint, state=states.get(k.kid),
                                   not_after=k.not_after,
                                   ending=k.not_after is not None
                                   and now <= k.not_after < now + KEY_WARNING)
                  for k in p.file.keys],
            depth=int(outbox.depth) if outbox is not None else 0,
            oldest=outbox.oldest if outbox is not None else None,
            last_receipt=last.get(p.node_id), witness=witnessed_by.get(p.node_id)))
    return DirectoryHealth(
        partners=partners, own=_own_keys(node), forks=await witness.forks(conn),
        alarms=[p for p in partners if refuses_our_log(p.witness, latest)], latest=latest,
        warnings=sum(1 for p in partners for k in p.keys if k.ending))
