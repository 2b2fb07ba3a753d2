"""The two system documents of witnessing (PROTOCOL.md §4.8), ``checkpoint`` and
``cosignature``: their XML written and read here, as every document's is. Pure: no I/O.

A ``checkpoint`` carries a log's signed note with the consistency proof from the size the
witness holds; a ``cosignature`` the witness's answer, exactly one of a signature and a
refusal.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from lxml import etree

from gateway.documents.xml import parse_safely
from gateway.protocol import tlog
from gateway.protocol.errors import GatewayError

CHECKPOINT: Final = "checkpoint"
COSIGNATURE: Final = "cosignature"
NAMESPACES: Final = {CHECKPOINT: "urn:bx:doc:checkpoint:1",
                     COSIGNATURE: "urn:bx:doc:cosignature:1"}


class WitnessDocumentError(GatewayError):
    """A system document that does not say what it must (both or neither of signed and
    refusal, a hash that is not base64)."""


@dataclass(frozen=True)
class CheckpointFields:
    """What a ``checkpoint`` document says."""

    origin: str
    size: int
    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


@dataclass(frozen=True)
class CosignatureFields:
    """What a ``cosignature`` document says: a signature or a refusal (with the size the
    witness holds, for ``stale``)."""

    origin: str
    size: int
    root: bytes
    signature: tlog.Signature | None = None
    refusal: str | None = None
    held_size: int | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").encode(), validate=True)
    except binascii.Error as exc:
        raise WitnessDocumentError("not base64") from exc


def _el(parent: etree._Element, doc_type: str, name: str, text: str | None = None
        ) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACES[doc_type]}}}{name}")
    if text is not None:
        element.text = text
    return element


def write_checkpoint(fields: CheckpointFields) -> bytes:
    """The ``checkpoint`` document."""
    ns = NAMESPACES[CHECKPOINT]
    root = etree.Element(f"{{{ns}}}checkpoint", nsmap={None: ns})
    _el(root, CHECKPOINT, "origin", fields.origin)
    _el(root, CHECKPOINT, "size", str(fields.size))
    _el(root, CHECKPOINT, "old-size", str(fields.old_size))
    hashes = _el(root, CHECKPOINT, "consistency-proof")
    for value in fields.proof:
        _el(hashes, CHECKPOINT, "hash", _b64(value))
    _el(root, CHECKPOINT, "note", _b64(fields.note))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_checkpoint(document: bytes) -> CheckpointFields:
    """A received (schema-valid) ``checkpoint`` document."""
    root = parse_safely(document).getroot()
    ns = {"c": NAMESPACES[CHECKPOINT]}
    return CheckpointFields(
        origin=str(root.findtext("c:origin", namespaces=ns)),
        size=int(str(root.findtext("c:size", namespaces=ns))),
        old_size=int(str(root.findtext("c:old-size", namespaces=ns))),
        proof=tuple(_unb64(h.text) for h in root.iterfind("c:consistency-proof/c:hash", ns)),
        note=_unb64(root.findtext("c:note", namespaces=ns)))


def write_cosignature(fields: CosignatureFields) -> bytes:
    """The ``cosignature`` document (the refusal when there is no signature)."""
    ns = NAMESPACES[COSIGNATURE]
    root = etree.Element(f"{{{ns}}}cosignature", nsmap={None: ns})
    _el(root, COSIGNATURE, "origin", fields.origin)
    _el(root, COSIGNATURE, "size", str(fields.size))
    _el(root, COSIGNATURE, "root", _b64(fields.root))
    if fields.signature is not None:
        signed = _el(root, COSIGNATURE, "signed")
        _el(signed, COSIGNATURE, "key-name", fields.signature.name)
        _el(signed, COSIGNATURE, "signature",
            _b64(fields.signature.id + fields.signature.data))
    else:
        refusal = _el(root, COSIGNATURE, "refusal")
        _el(refusal, COSIGNATURE, "reason", fields.refusal)
        if fields.held_size is not None:
            _el(refusal, COSIGNATURE, "held-size", str(fields.held_size))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_cosignature(document: bytes) -> CosignatureFields:
    """A received (schema-valid) ``cosignature`` document; exactly one of a signature and
    a refusal, else :class:`WitnessDocumentError`."""
    root = parse_safely(document).getroot()
    ns = {"c": NAMESPACES[COSIGNATURE]}
    signed, refusal = root.find("c:signed", ns), root.find("c:refusal", ns)
    if (signed is None) == (refusal is None):
        raise WitnessDocumentError("a cosignature holds either a signature or a refusal")
    origin = str(root.findtext("c:origin", namespaces=ns))
    size = int(str(root.findtext("c:size", namespaces=ns)))
    hashed = _unb64(root.findtext("c:root", namespaces=ns))
    if signed is not None:
        blob = _unb64(signed.findtext("c:signature", namespaces=ns))
        name = str(signed.findtext("c:key-name", namespaces=ns))
        return CosignatureFields(origin, size, hashed,
                                 signature=tlog.Signature(name, blob[:4], blob[4:]))
    held = refusal.findtext("c:held-size", namespaces=ns) if refusal is not None else None
    return CosignatureFields(origin, size, hashed,
                             refusal=str(refusal.findtext("c:reason", namespaces=ns))
                             if refusal is not None else None,
                             held_size=int(held) if held is not None else None)
