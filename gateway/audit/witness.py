"""Witnessing partners' audit logs (PROTOCOL.md §4.8, C2SP ``tlog-witness`` semantics).

A partner sends its latest checkpoint with the size of the last one this node cosigned for it
(``old``) and a consistency proof from there. The witness checks, in order:

1. the origin is the sender's log (``bx/<sender>/audit``): else ``unknown-origin``;
2. the note is signed by a pinned Ed25519 key of the sender: else ``bad-signature``;
3. ``old`` is the size it holds for that origin, and the new size is not smaller: else
   ``stale``, with the size it holds;
4. the proof shows the new tree extends the one it holds (same root at the same size):
   else ``inconsistent``, a fork: both signed checkpoints are kept as evidence, the fork is
   audited and shown to administrators;

then signs a ``cosignature/v1`` and stores the new checkpoint as the one it holds, in the
same transaction (the row is locked first, so two checkpoints of one origin cannot both pass
step 3 against the same held size). Reads and writes through the caller's connection.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.audit.checkpoints import origin_of
from gateway.protocol import tlog
from gateway.store import witnessed as repo

REASONS: Final = ("unknown-origin", "bad-signature", "stale", "inconsistent")


@dataclass(frozen=True)
class Offer:
    """A partner's checkpoint as its document carries it."""

    sender: str
    origin: str
    size: int
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


@dataclass(frozen=True)
class Answer:
    """The witness's answer: a cosignature, or a refusal with its reason."""

    origin: str
    size: int
    root: bytes
    signature: tlog.Signature | None = None
    refusal: str | None = None
    held_size: int | None = None
    why: str = ""


async def held(conn: AsyncConnection, origin: str, lock: bool = False
               ) -> tuple[int, bytes, bytes] | None:
    """The checkpoint this node last cosigned for ``origin``: size, root, note."""
    row = await repo.held(conn, origin, lock)
    return None if row is None else (int(row.size), bytes(row.root), bytes(row.note))


async def witness(conn: AsyncConnection, clock_now: datetime, offer: Offer,
                  sender_keys: Sequence[tlog.Verifier], cosigner: str,
                  key: Ed25519PrivateKey) -> Answer:
    """Check a partner's checkpoint and cosign it, or refuse (module docstring); audited."""
    answer = await _decide(conn, clock_now, offer, sender_keys, cosigner, key)
    action = "witness.cosigned" if answer.signature is not None else "witness.refused"
    if answer.refusal == "inconsistent":
        action = "witness.fork"
    await audit.append(conn, lambda: clock_now, "system", action, offer.origin,
                       {"partner": offer.sender, "size": offer.size, "old": offer.old_size,
                        **({"reason": answer.refusal, "why": answer.why}
                           if answer.refusal else {})})
    return answer


async def _decide(conn: AsyncConnection, now: datetime, offer: Offer,
                  sender_keys: Sequence[tlog.Verifier], cosigner: str,
                  key: Ed25519PrivateKey) -> Answer:
    def refuse(reason: str, why: str, root: bytes = bytes(32),
               held_size: int | None = None) -> Answer:
        return Answer(offer.origin, offer.size, root, refusal=reason, held_size=held_size,
                      why=why)

    if offer.origin != origin_of(offer.sender):
        return refuse("unknown-origin", f"{offer.origin} is not the log of {offer.sender}")
    try:
        note = tlog.parse_note(offer.note)
        tlog.verify_note(note, [k for k in sender_keys if k.kind == tlog.ED25519])
        checkpoint = tlog.parse_checkpoint(note.text)
    except tlog.TlogError as exc:
        return refuse("bad-signature", str(exc))
    if (checkpoint.origin, checkpoint.size) != (offer.origin, offer.size):
        return refuse("bad-signature", "the document does not say what the note signs")
    holding = await held(conn, offer.origin, lock=True)
    held_size, held_root = (holding[0], holding[1]) if holding else (0, tlog.EMPTY_ROOT)
    if offer.old_size != held_size or checkpoint.size < held_size:
        return refuse("stale", f"this witness holds {held_size} entries, not {offer.old_size}",
                      checkpoint.root, held_size)
    try:
        tlog.verify_consistency(held_size, held_root, checkpoint.size, checkpoint.root,
                                offer.proof)
    except tlog.TlogError as exc:
        await repo.insert_fork(
            conn, origin=offer.origin, held_note=holding[2] if holding else b"",
            offered_note=offer.note, offered_old_size=offer.old_size,
            offered_proof=b"".join(offer.proof), why=str(exc)[:200], seen_at=now)
        return refuse("inconsistent", str(exc), checkpoint.root, held_size)
    signature = tlog.cosign(note, cosigner, key, max(1, int(now.timestamp())))
    values = {"size": checkpoint.size, "root": checkpoint.root, "note": offer.note,
              "cosigned_at": now}
    if holding is None:
        await repo.insert_held(conn, offer.origin, **values)
    else:
        await repo.update_held(conn, offer.origin, **values)
    return Answer(offer.origin, checkpoint.size, checkpoint.root, signature=signature)


async def forks(conn: AsyncConnection) -> list[dict[str, object]]:
    """Every fork seen, newest first, for the administrators' alarm."""
    rows = await repo.forks(conn)
    return [{"id": r.id, "origin": r.origin, "why": r.why, "seen_at": r.seen_at,
             "held": _size_of(bytes(r.held_note)), "offered": _size_of(bytes(r.offered_note))}
            for r in rows]


async def fork_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many forks were seen, per origin (the ``bx_witness_forks`` gauge)."""
    return await repo.fork_counts(conn)


def _size_of(note: bytes) -> int | None:
    try:
        return tlog.parse_checkpoint(tlog.parse_note(note).text).size
    except tlog.TlogError:
        return None


def encode_hashes(hashes: Sequence[bytes]) -> list[str]:
    """Proof hashes as the documents carry them."""
    return [base64.b64encode(h).decode() for h in hashes]
