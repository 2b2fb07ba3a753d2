"""Proof bundles (PROTOCOL.md §4.8) made from scratch, as a forger makes them: a message,
its receipt, an audit entry, a checkpoint and its cosignature, all signed with keys of the
forger's choosing, and zipped as the gateway zips them (or as an attacker zips them: with
a name twice, a member that inflates a thousand times)."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.log import entry_bytes
from gateway.protocol import tlog
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.protocol.jose import SigningKey, public_jwk, thumbprint
from gateway.protocol.receipts import build_receipt
from tests.conftest import example, make_key

CREATED = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Forged:
    """The files of a bundle and the keys that signed them."""

    files: dict[str, bytes]
    keys: dict[str, SigningKey]

    def key_list(self) -> dict[str, Any]:
        """Its keys, as keys.json lists them (what a forger would hand a court)."""
        return key_list(self.keys.values())


def key_list(keys: Iterable[SigningKey]) -> dict[str, Any]:
    entries = []
    for key in keys:
        jwk = public_jwk(key.public_key())
        entries.append({"node": key.kid.split("#")[0], "kid": key.kid, "jwk": jwk,
                        "thumbprint": thumbprint(jwk)})
    return {"keys": entries}


def forge(log: str = "vn.c02", sender: str = "kh.ahtjp", recipient: str = "vn.c02", *,
          message_id: str = "0b9e7f2c-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
          keys: dict[str, SigningKey] | None = None) -> Forged:
    """A bundle that every check of tools/bxproof.py passes with the keys inside it: the
    message from ``sender`` to ``recipient``, recorded in the log of ``log``."""
    keys = keys or {sender: make_key(sender, "forged"), recipient: make_key(recipient, "forged")}
    partner = recipient if log == sender else sender
    message = compose_message(keys[sender], sender, MessageDraft(
        "verification-request", "1.0", recipient, handling="H1"),
        example("verification-request"), created=CREATED, message_id=message_id)
    body = json.loads(message)
    digest = "sha256:" + hashlib.sha256(
        f"{body['protected']}.{body['payload']}".encode()).hexdigest()
    receipt = build_receipt(keys[recipient], recipient, sender, message_id, digest, CREATED)
    if log == recipient:
        action, actor, detail = "message.received", sender, {
            "type": "verification-request", "priority": "routine",
            "conversation": message_id, "via": "push", "digest": digest}
    else:
        action, actor, detail = "receipt.received", recipient, {
            "to": recipient, "type": "verification-request", "digest": digest}
    first = entry_bytes(1, "2026-11-24T08:00:00Z", "operator", "node.started", None, "{}")
    entry = entry_bytes(2, "2026-11-24T08:00:01Z", actor, action, message_id,
                        json.dumps(detail, separators=(",", ":"), sort_keys=True))
    root = tlog.node_hash(tlog.leaf_hash(first), tlog.leaf_hash(entry))
    text = tlog.Checkpoint(f"bx/{log}/audit", 2, root).text()
    note = tlog.sign_note(text, keys[log].kid, keys[log].private_key)  # type: ignore[arg-type]
    note = note.with_signature(tlog.cosign(note, keys[partner].kid,
                                           keys[partner].private_key,  # type: ignore[arg-type]
                                           1_795_000_000))
    proof = tlog.TlogProof(1, (tlog.leaf_hash(first),), note, extra=b"seq 2").encode()
    manifest = {
        "format": "bx-proof/1", "message_id": message_id,
        "direction": "in" if log == recipient else "out", "sender": sender,
        "recipient": recipient, "type": "verification-request", "handling": "H1", "log": log,
        "log_kid": keys[log].kid, "cosigner_kid": keys[partner].kid, "entry_seq": 2,
        "checkpoint_size": 2, "made_at": "2026-11-24T09:00:00Z"}
    files = {
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "message.json": message,
        "receipt.json": receipt,
        "entry.json": entry,
        "entry.tlog-proof": proof,
        "keys.json": json.dumps(key_list(keys.values()), indent=2).encode(),
    }
    return Forged(files, keys)


def zipped(members: Iterable[tuple[str, bytes]]) -> bytes:
    """The members as a zip, in this order, a name twice if it comes twice."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": what the attacker wants
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def members(path: Any) -> dict[str, bytes]:
    """The files of a bundle on disk."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def bomb(path: Any, files: dict[str, bytes], member: str, inflated: int) -> None:
    """``files`` zipped with ``member`` replaced by ``inflated`` bytes of blanks, written a
    piece at a time (the test itself never holds them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in files.items():
            if name != member:
                archive.writestr(name, data)
                continue
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=False) as stream:
                chunk = b" " * (1024 * 1024)
                for _ in range(inflated // len(chunk)):
                    stream.write(chunk)
