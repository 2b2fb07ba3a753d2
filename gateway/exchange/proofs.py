"""Proof bundles (PROTOCOL.md §4.8): what a court or a partner needs to check, offline, that a
message was sent or received, and when.

A bundle (a zip file) holds the message exactly as exchanged (``message.json``), its receipt
(``receipt.json``), the audit entry that records it (``entry.json``: ``message.received`` on
the receiving node, ``receipt.received`` on the sending one), a C2SP ``tlog-proof`` of that
entry under a checkpoint of this node's log cosigned by the partner (``entry.tlog-proof``),
the public keys with their thumbprints (``keys.json``), a manifest, the checker
(``bxproof.py``, which needs only the ``cryptography`` package) and a short text in vi, en, km
and lo saying how to check it (``README.txt``).

When no checkpoint that covers the entry has been cosigned by the partner yet, one is made
and sent to the partner at once, and :class:`ProofPendingError` says to try again once it has
answered. An ``H2`` message's proof is made only from its case (``within_case``): it stays
within the case's authorities. Every export is audited with its reason.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import checkpoints
from gateway.audit.log import entry_bytes
from gateway.audit.tree import inclusion
from gateway.documents.catalog import Catalogs, catalogs
from gateway.exchange import witnessing
from gateway.exchange.checkpointing import checkpoint_and_send
from gateway.protocol import tlog
from gateway.protocol.envelope import format_rfc3339_utc
from gateway.protocol.errors import N_, GatewayError
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store import proofs as sources
from gateway.store.transactions import reads
from gateway.trust.partners import proof_keys

FORMAT: Final = "bx-proof/1"
CHECKER: Final = Path(__file__).resolve().parent.parent / "bxproof.py"
#: The text of README.txt, in each language (the catalogs' words).
README: Final = (
    N_("Proof that a message was exchanged over BX/1"),
    N_("This file proves that the message in message.json was sent by {sender} and received "
       "by {recipient}: the message is signed by its sender, the receipt by its recipient, "
       "and entry.json is entry {seq} of the audit log of {log}, under a checkpoint of that "
       "log signed by {log} and cosigned by {partner}, who could not have cosigned a "
       "history that was later changed."),
    N_("To check it, with Python 3.11 and the cryptography package: python3 bxproof.py "
       "{bundle} --keys KEYS.json, where KEYS.json holds the keys you obtained from the two "
       "agencies (without --keys, the keys in keys.json are used: compare their thumbprints "
       "with those the agencies publish). Each check prints one line; the last line says "
       "whether the proof holds."),
    N_("It does not show what the recipient did with the message, nor that the message is "
       "true; only what was exchanged, between whom, and when it was logged."),
)
LANGS: Final = ("vi", "en", "km", "lo")


class ProofError(GatewayError):
    """A proof bundle that cannot be made (no such message, no receipt, H2 outside its
    case)."""

    code = "state-conflict"


class ProofPendingError(ProofError):
    """The checkpoint that will prove the entry was sent to the partner; not cosigned yet."""


def key_list(node: Node, partner: str) -> list[dict[str, Any]]:
    """This node's published keys and the partner's pinned ones (none revoked)."""
    found = node.partners.get(partner)
    return proof_keys(node.node_id, node.keystore.published(), [found] if found else [])


async def _cosigned_checkpoint(conn: AsyncConnection, size_at_least: int,
                               cosigned: Callable[[checkpoints.Stored], list[tuple[str, int]]]
                               ) -> tuple[checkpoints.Stored, str] | None:
    """The newest checkpoint covering ``size_at_least`` entries cosigned by the partner
    (``cosigned``: its cosignatures that count, :func:`witnessing.cosigned_by`)."""
    for row in await sources.checkpoints_covering(conn, size_at_least):
        stored = checkpoints.Stored(int(row.size), bytes(row.root), bytes(row.note),
                                    row.made_at)
        cosigners = cosigned(stored)
        if cosigners:
            return stored, cosigners[0][0]
    return None


def readme(books: Catalogs, values: dict[str, object]) -> str:
    """README.txt: the same text in vi, en, km and lo."""
    parts = []
    for lang in LANGS:
        words = books.get(lang)
        title, *paragraphs = (words.gettext(text).format(**values) for text in README)
        parts.append(f"[{lang}] {title}\n\n" + "\n\n".join(paragraphs) + "\n")
    return "\n" + ("\n" + "-" * 72 + "\n\n").join(parts)


@dataclass(frozen=True)
class _Sources:
    """What a bundle is made of, read in one snapshot (``proved`` None: no checkpoint
    cosigned by the partner covers the entry yet)."""

    row: Any
    entry: Any
    partner: str
    proved: tuple[checkpoints.Stored, str, list[bytes]] | None


async def _sender(conn: AsyncConnection, message_id: str, sender: str | None) -> str:
    """Whose message ``message_id`` is: ``sender`` where given, else the one sender who
    used that id (ids are unique per sender only: PROTOCOL.md §3.1)."""
    if sender is not None:
        return sender
    senders = await sources.senders_of(conn, message_id)
    if not senders:
        raise ProofError(N_("no message {message_id} on this node"), message_id=message_id)
    if len(senders) > 1:
        raise ProofError(N_("more than one sender used the message id {message_id} "
                            "({senders}): say whose message it is (--from)"),
                         message_id=message_id, senders=", ".join(senders))
    return senders[0]


@reads
async def _sources(conn: AsyncConnection, node: Node, message_id: str, sender: str | None,
                   within_case: bool) -> _Sources:
    sender = await _sender(conn, message_id, sender)
    row = await sources.message_with_receipt(conn, sender, message_id)
    if row is None:
        raise ProofError(N_("no message {message_id} from {sender} on this node"),
                         message_id=message_id, sender=sender)
    if row.handling == "H2" and not within_case:
        raise ProofError(N_("message {message_id} is H2: its proof is made from its case "
                            "only, for the case's authorities"), message_id=message_id)
    if row.receipt_raw is None:
        raise ProofError(N_("message {message_id} has no receipt yet: there is nothing to "
                            "prove until the partner has receipted it"),
                         message_id=message_id)
    incoming = row.direction == "in"
    partner = row.sender if incoming else row.recipient
    entry = await sources.first_entry(
        conn, message_id, "message.received" if incoming else "receipt.received",
        row.sender if incoming else row.recipient)
    if entry is None:
        raise ProofError(N_("no audit entry records message {message_id}"),
                         message_id=message_id)
    found = await _cosigned_checkpoint(
        conn, int(entry.seq), lambda stored: witnessing.cosigned_by(node, [partner], stored))
    if found is None:
        return _Sources(row, entry, partner, None)
    stored, cosigner = found
    proof = await inclusion(conn, int(entry.seq) - 1, stored.size)
    return _Sources(row, entry, partner, (stored, cosigner, proof))


async def export_bundle(node: Node, message_id: str, actor: str, reason: str,
                        within_case: bool = False, now: datetime | None = None, *,
                        sender: str | None = None) -> bytes:
    """The proof bundle of the message ``message_id`` of ``sender`` (module docstring):
    from a case, the case's own message's sender; at the command line, ``--from``, needed
    only when more than one sender used that id. Audited with ``reason``."""
    now = now or node.clock()
    found = await _sources(node, message_id, sender, within_case)
    row, entry, partner = found.row, found.entry, found.partner
    if found.proved is None:
        await checkpoint_and_send(node)
        raise ProofPendingError(N_("a checkpoint that covers this message was sent to {partner} "
                              "to cosign; make the proof again once it has answered"),
                           partner=partner)
    stored, cosigner, proof = found.proved
    leaf = entry_bytes(entry.seq, entry.at, entry.actor, entry.action, entry.subject,
                       entry.detail)
    log_kid = stored.parsed().signatures[0].name
    manifest = {
        "format": FORMAT, "message_id": message_id, "direction": row.direction,
        "sender": row.sender, "recipient": row.recipient, "type": row.doc_type,
        "handling": row.handling, "log": node.node_id, "log_kid": log_kid,
        "cosigner_kid": cosigner, "entry_seq": int(entry.seq),
        "checkpoint_size": stored.size, "made_at": format_rfc3339_utc(now)}
    raw = node.sealer.open(bytes(row.raw), repo.RAW_COLUMN)
    files = {
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "message.json": raw,
        "receipt.json": bytes(row.receipt_raw),
        "entry.json": leaf,
        "entry.tlog-proof": tlog.TlogProof(int(entry.seq) - 1, tuple(proof), stored.parsed(),
                                           extra=f"seq {entry.seq}".encode()).encode(),
        "keys.json": json.dumps({"keys": key_list(node, partner)}, indent=2).encode(),
        "README.txt": readme(catalogs(node.settings.translations_dir), {
            "sender": row.sender, "recipient": row.recipient, "seq": entry.seq,
            "log": node.node_id, "partner": partner,
            "bundle": f"proof-{message_id}.zip"}).encode(),
        "bxproof.py": CHECKER.read_bytes(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    await node.audit(actor, "proof.exported", message_id, reason=reason, partner=partner,
                     source=row.sender, checkpoint=stored.size)
    return out.getvalue()
