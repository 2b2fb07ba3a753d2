"""Checkpoints of the audit log (PROTOCOL.md §4.8): C2SP ``tlog-checkpoint`` signed notes,
origin ``bx/<node id>/audit``, signed with the node's Ed25519 signing key under its kid.

A checkpoint is made when the log has grown (at most every :data:`EVERY`, and on demand),
under the append lock, so its size and root are the tree's at one moment. Before signing,
the new tree is proved consistent with the latest checkpoint from the stored subtrees: a
node whose tree was tampered with refuses to sign rather than sign two inconsistent
checkpoints. Cosignatures that partners return are added to the stored note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.tree import consistency, head, root_at
from gateway.protocol import tlog
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.jose import SigningKey
from gateway.store import audit_checkpoints as repo
from gateway.store import audit_log

#: The shortest time between two checkpoints made on the node's own schedule.
EVERY: Final = timedelta(minutes=1)


class CheckpointError(GatewayError):
    """A checkpoint that cannot be made (no Ed25519 key, a tree that is not consistent)."""


class CheckpointKeyError(CheckpointError):
    """No Ed25519 key to sign checkpoints with (an ES256 node without its checkpoint key)."""


def origin_of(node_id: str) -> str:
    """The checkpoint origin of a node's audit log."""
    return f"bx/{node_id}/audit"


@dataclass(frozen=True)
class Stored:
    """A checkpoint as kept: size, root, the signed note (with any cosignatures), when."""

    size: int
    root: bytes
    note: bytes
    made_at: datetime

    def parsed(self) -> tlog.Note:
        """The note."""
        return tlog.parse_note(self.note)


def _ed25519(key: SigningKey) -> Ed25519PrivateKey:
    if not isinstance(key.private_key, Ed25519PrivateKey):
        raise CheckpointKeyError(N_("checkpoints are signed with an Ed25519 key; {kid} is "
                                 "{alg}"), kid=key.kid, alg=key.alg)
    return key.private_key


def _stored(row: Any | None) -> Stored | None:
    if row is None:
        return None
    return Stored(int(row.size), bytes(row.root), bytes(row.note), row.made_at)


async def latest(conn: AsyncConnection) -> Stored | None:
    """The newest checkpoint this node signed."""
    return _stored(await repo.latest(conn))


async def at_size(conn: AsyncConnection, size: int) -> Stored | None:
    """The checkpoint of one size, if this node signed one."""
    return _stored(await repo.at_size(conn, size))


async def make(conn: AsyncConnection, node_id: str, key: SigningKey, now: datetime,
               force: bool = False) -> Stored | None:
    """Sign a checkpoint of the tree as it is, in the caller's transaction, if the log has
    grown since the latest one and (unless ``force``) that one is older than
    :data:`EVERY`. Returns the new checkpoint, or None when none was due."""
    private = _ed25519(key)
    # the append lock: no entry is added while the size and root are read
    await audit_log.lock_head(conn)
    tree = await head(conn)
    last = await latest(conn)
    if tree.size == 0 or (last is not None and last.size >= tree.size):
        return None
    if last is not None and not force and now - last.made_at < EVERY:
        return None
    if last is not None:
        try:
            if await root_at(conn, last.size) != last.root:
                raise tlog.TlogError("the tree's root at the last checkpoint has changed")
            tlog.verify_consistency(last.size, last.root, tree.size, tree.root,
                                    await consistency(conn, last.size, tree.size))
        except tlog.TlogError as exc:
            raise CheckpointError(N_("refusing to sign a checkpoint of size {size}: {why}"),
                                  size=tree.size, why=str(exc)) from exc
    checkpoint = tlog.Checkpoint(origin_of(node_id), tree.size, tree.root)
    note = tlog.sign_note(checkpoint.text(), key.kid, private).encode()
    await repo.add(conn, tree.size, tree.root, note, now)
    return Stored(tree.size, tree.root, note, now)


async def add_cosignature(conn: AsyncConnection, size: int,
                          signature: tlog.Signature) -> None:
    """Keep a partner's cosignature with the checkpoint it signed."""
    stored = await at_size(conn, size)
    if stored is None:
        raise CheckpointError(N_("no checkpoint of size {size} to add a cosignature to"),
                              size=size)
    note = stored.parsed().with_signature(signature).encode()
    await repo.set_note(conn, size, note)


def cosigner_keys(pinned: dict[str, dict[str, Ed25519PublicKey]]) -> list[tlog.Verifier]:
    """The cosignature keys of partners (``pinned``: partner id -> kid -> Ed25519 key)."""
    return [tlog.Verifier(kid, tlog.COSIGNATURE_V1, key)
            for keys in pinned.values() for kid, key in keys.items()]


def cosigners(stored: Stored, keys: list[tlog.Verifier]) -> list[tuple[str, int]]:
    """Which of ``keys`` cosigned the checkpoint, and when (POSIX time)."""
    note = stored.parsed()
    found = []
    for key in keys:
        when = tlog.verify_cosignature(note, key)
        if when is not None:
            found.append((key.name, when))
    return found
