"""Offline bundles (PROTOCOL.md §4.6): messages carried on a removable medium.

A bundle is a ZIP with ``manifest.json`` and ``messages/<id>.json`` (or, for the reply,
``receipts/<id>.json``). Import applies every check of §4.2 but the JWT to each message,
imports the good ones, reports each bad one by id and problem code, and writes a reply bundle
of receipts. Importing the same bundle twice changes nothing.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.exchange.delivery import store_receipt
from gateway.exchange.inbound import accept_message, peek_message
from gateway.exchange.outbox import find_outbound
from gateway.protocol.encoding import EncodingError, canonical_json, strict_json_loads
from gateway.protocol.envelope import MAX_MESSAGE_BYTES, format_rfc3339_utc
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.problems import Problem
from gateway.protocol.receipts import verify_receipt
from gateway.runtime.node import Node
from gateway.store import messages as repo
from gateway.store.transactions import reads
from gateway.trust.files import write_atomically

Progress = Callable[[int, int], None]
MEMBER = re.compile(r"(messages|receipts)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12})\.json")
MAX_MEMBERS = 100_000
MAX_RECEIPT_BYTES = 64 * 1024
#: A bundle holds at most this much once uncompressed (a BLO's backlog of some thousand
#: messages), and no member inflates more than this ratio (a zip bomb inflates thousands).
MAX_BUNDLE_BYTES = 4 * 1024 * 1024 * 1024
MAX_RATIO = 100
_CHUNK = 1024 * 1024


class BundleError(GatewayError):
    """A bundle that cannot be read at all; the message says why."""


@dataclass
class ImportReport:
    """What an import did."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # id, code, detail
    receipts_applied: list[str] = field(default_factory=list)
    reply: Path | None = None


def _manifest(sender: str, recipient: str, created: str, count: int) -> bytes:
    return canonical_json({"bx_bundle": 1, "from": sender, "to": recipient, "created": created,
                           "count": count})


def _zip_bytes(manifest: bytes, members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest)
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@reads
async def _undelivered_for(conn: AsyncConnection, _node: Node, partner_id: str) -> list[Any]:
    return await repo.undelivered_for(conn, partner_id)


async def export_bundle(node: Node, partner_id: str, target: Path,
                        progress: Progress | None = None) -> int:
    """Write every undelivered message for ``partner_id`` to a bundle; returns the count."""
    if node.partners.get(partner_id) is None:
        raise BundleError(N_("{partner_id} is not in the partner directory"), partner_id=partner_id)
    rows = await _undelivered_for(node, partner_id)
    members = []
    for index, row in enumerate(rows, 1):
        members.append((f"messages/{row.message_id}.json",
                        node.sealer.open(bytes(row.raw), repo.RAW_COLUMN)))
        if progress:
            progress(index, len(rows))
    created = format_rfc3339_utc(node.clock())
    data = _zip_bytes(_manifest(node.node_id, partner_id, created, len(rows)), members)
    write_atomically(target, data, 0o600)
    await node.audit("operator", "bundle.exported", None, to=partner_id, count=len(rows))
    return len(rows)


def _check_archive(path: Path, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Everything about the ZIP itself, before any message is looked at: the number of
    files, no name twice, nothing encrypted, sizes and compression ratios within bounds,
    and every member's bytes read through once (streamed) so that a bad CRC is found now,
    not halfway through an import."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > MAX_MEMBERS:
        raise BundleError(N_("{path}: more than {limit} files"),
                          path=path, limit=MAX_MEMBERS)
    names = [info.filename for info in infos]
    twice = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) != len(names) \
        else []
    if twice:
        raise BundleError(N_("{path}: {name} appears more than once"), path=path, name=twice[0])
    if "manifest.json" not in names:
        raise BundleError(N_("{path}: manifest.json is missing"), path=path)
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise BundleError(N_("{path}: {filename} is encrypted"),
                              path=path, filename=info.filename)
        limit = MAX_RECEIPT_BYTES if info.filename == "manifest.json" else MAX_MESSAGE_BYTES
        if info.file_size > limit:
            raise BundleError(N_("{path}: {filename} is larger than {limit} bytes"),
                              path=path, filename=info.filename, limit=limit)
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > _CHUNK:
            raise BundleError(N_("{path}: {filename} inflates more than {ratio} times (a zip "
                                 "bomb?)"), path=path, filename=info.filename, ratio=MAX_RATIO)
        total += info.file_size
        if total > MAX_BUNDLE_BYTES:
            raise BundleError(N_("{path}: more than {limit} bytes once uncompressed"),
                              path=path, limit=MAX_BUNDLE_BYTES)
        read = 0
        with archive.open(info) as stream:  # the CRC is checked as the stream ends
            while chunk := stream.read(_CHUNK):
                read += len(chunk)
                if read > info.file_size:
                    raise BundleError(N_("{path}: {filename} is longer than it declares"),
                                      path=path, filename=info.filename)
    return infos


def open_bundle(path: Path) -> tuple[zipfile.ZipFile, dict[str, Any], list[zipfile.ZipInfo]]:
    """The archive, its manifest and its member files (checked, not yet read)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(N_("{path}: not a readable ZIP file ({error})"),
                          path=path, error=exc) from exc
    try:
        infos = _check_archive(path, archive)
        manifest_info = next(i for i in infos if i.filename == "manifest.json")
        try:
            manifest = strict_json_loads(archive.read(manifest_info))
        except EncodingError as exc:
            raise BundleError(N_("{path}: manifest.json: {error}"), path=path, error=exc) from exc
        members = [i for i in infos if i.filename != "manifest.json"]
        for info in members:
            if MEMBER.fullmatch(info.filename) is None:
                raise BundleError(N_("{path}: unexpected file {filename!r}"),
                                  path=path, filename=info.filename)
        if not isinstance(manifest, dict) or manifest.get("bx_bundle") != 1:
            raise BundleError(N_("{path}: manifest.json is not a BX bundle manifest "
                                 "(bx_bundle: 1)"), path=path)
        if manifest.get("count") != len(members):
            raise BundleError(N_("{path}: manifest counts {count} files, the bundle holds "
                                 "{held}"), path=path, count=manifest.get("count"),
                              held=len(members))
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, OSError) as exc:
        archive.close()
        raise BundleError(N_("{path}: the ZIP file is damaged ({error})"),
                          path=path, error=exc) from exc
    except BundleError:
        archive.close()
        raise
    return archive, manifest, members


async def import_bundle(node: Node, source: Path, receipts_out: Path | None = None,
                        progress: Progress | None = None) -> ImportReport:
    """Import a bundle of messages (writing the reply) or a reply bundle of receipts. The
    whole ZIP is checked first (one line and nothing imported if it is damaged, encrypted,
    a bomb, or its manifest is wrong); then each member is read, one at a time, checked
    against its file name and the manifest's sender, and only then imported."""
    archive, manifest, members = open_bundle(source)
    with archive:
        if manifest.get("to") != node.node_id:
            raise BundleError(N_("{source}: the bundle is for {to}, this is {node_id}"),
                              source=source, to=manifest.get("to"), node_id=node.node_id)
        sender = str(manifest.get("from"))
        if node.partners.get(sender) is None:
            raise BundleError(N_("{source}: {sender} is not in the partner directory"),
                              source=source, sender=sender)
        report = ImportReport()
        replies: list[tuple[str, bytes]] = []
        for index, info in enumerate(members, 1):
            match = MEMBER.fullmatch(info.filename)
            assert match is not None  # checked when the bundle was opened
            data = archive.read(info)
            if match[1] == "messages":
                await _import_message(node, sender, match[2], data, report, replies)
            else:
                await _import_receipt(node, sender, match[2], data, report)
            if progress:
                progress(index, len(members))
    if replies and receipts_out is not None:
        created = format_rfc3339_utc(node.clock())
        write_atomically(receipts_out, _zip_bytes(
            _manifest(node.node_id, sender, created, len(replies)), replies), 0o600)
        report.reply = receipts_out
    await node.audit("operator", "bundle.imported", None, source=sender,
                     accepted=len(report.accepted), duplicates=len(report.duplicates),
                     refused=len(report.refused), receipts=len(report.receipts_applied))
    return report


async def _import_message(node: Node, sender: str, message_id: str, data: bytes,
                          report: ImportReport, replies: list[tuple[str, bytes]]) -> None:
    claimed_from, claimed_id = peek_message(data)
    if claimed_id is not None and claimed_id != message_id:  # checked before anything is kept
        report.refused.append((message_id, "malformed",
                               f"file name differs from the message id {claimed_id}"))
        await node.audit(claimed_from or "unknown", "message.rejected", claimed_id,
                         code="malformed", via="bundle")
        return
    if claimed_from is not None and claimed_from != sender:
        report.refused.append((message_id, "not-permitted",
                               f"a message from {claimed_from} in a bundle from {sender}"))
        await node.audit(claimed_from, "message.rejected", claimed_id, code="not-permitted",
                         via="bundle")
        return
    try:
        acceptance = await accept_message(node, data, None, bundle=True)
    except Problem as problem:
        report.refused.append((message_id, problem.code, problem.detail))
        return
    (report.accepted if acceptance.status == 202 else report.duplicates).append(message_id)
    replies.append((f"receipts/{message_id}.json", acceptance.receipt))


async def _import_receipt(node: Node, signer: str, message_id: str, data: bytes,
                          report: ImportReport) -> None:
    try:
        if len(data) > MAX_RECEIPT_BYTES:
            raise Problem("too-large", "a receipt is at most 64 KiB")
        row = await find_outbound(node, message_id)
        if row is None or row.recipient != signer:
            raise Problem("conflict", f"no message {message_id} was sent to {signer}")
        receipt = verify_receipt(data, node.partners.pinned, node.clock(), signer=signer,
                                 recipient=node.node_id, message_id=message_id,
                                 digest=row.digest)
    except Problem as problem:
        report.refused.append((message_id, problem.code, problem.detail))
        await node.audit(signer, "receipt.rejected", message_id, code=problem.code)
        return
    if await store_receipt(node, row, receipt.raw, receipt.payload.received, None):
        report.receipts_applied.append(message_id)
