"""The two system documents of witnessing (PROTOCOL.md §4.8), ``checkpoint`` and
``cosignature``: their XML written and read here, as every document's is. Pure: no I/O.

A ``checkpoint`` carries a log's signed note with the consistency proof from the size the
witness holds; a ``cosignature`` the witness's answer, exactly one of a signature and a
refusal.

The readers accept every document the schema accepts (``xs:base64Binary`` may be wrapped
over lines or spaced), and :func:`check_readable` runs them before a receipt is signed
(:meth:`gateway.documents.registry.SchemaRegistry.check`): what the node's own handling
cannot read is refused ``schema-invalid`` on the wire, never accepted and then dropped.
"""

from __future__ import annotations

import base64
import binascii
import re
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


_NUMBER: Final = re.compile(r"\+?[0-9]+")
#: The whitespace XML may put in an ``xs:base64Binary`` value (collapsed by the schema).
_XML_SPACE: Final = str.maketrans("", "", " \t\r\n")


def _unb64(text: str | None) -> bytes:
    """The bytes of an ``xs:base64Binary`` value as the schema reads it: XML whitespace
    (line breaks of a wrapped value, spaces) carries nothing."""
    try:
        return base64.b64decode((text or "").translate(_XML_SPACE).encode("ascii"),
                                validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise WitnessDocumentError("not base64") from exc


def _number(text: str | None) -> int:
    """An ``xs:nonNegativeInteger`` as the schema reads it (spaces around, a plus sign,
    leading zeros)."""
    value = (text or "").strip(" \t\r\n")
    if not _NUMBER.fullmatch(value):
        raise WitnessDocumentError(f"{value[:20]!r} is not a number")
    return int(value)


def _root(document: bytes | etree._ElementTree) -> etree._Element:
    tree = parse_safely(document) if isinstance(document, bytes) else document
    return tree.getroot()


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


def read_checkpoint(document: bytes | etree._ElementTree) -> CheckpointFields:
    """A received (schema-valid) ``checkpoint`` document (:class:`WitnessDocumentError` if
    it cannot be read)."""
    root = _root(document)
    ns = {"c": NAMESPACES[CHECKPOINT]}
    return CheckpointFields(
        origin=str(root.findtext("c:origin", namespaces=ns)).strip(),
        size=_number(root.findtext("c:size", namespaces=ns)),
        old_size=_number(root.findtext("c:old-size", namespaces=ns)),
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


def read_cosignature(document: bytes | etree._ElementTree) -> CosignatureFields:
    """A received (schema-valid) ``cosignature`` document; exactly one of a signature and
    a refusal, else :class:`WitnessDocumentError`."""
    root = _root(document)
    ns = {"c": NAMESPACES[COSIGNATURE]}
    signed, refusal = root.find("c:signed", ns), root.find("c:refusal", ns)
    if (signed is None) == (refusal is None):
        raise WitnessDocumentError("a cosignature holds either a signature or a refusal")
    origin = str(root.findtext("c:origin", namespaces=ns)).strip()
    size = _number(root.findtext("c:size", namespaces=ns))
    hashed = _unb64(root.findtext("c:root", namespaces=ns))
    if signed is not None:
        blob = _unb64(signed.findtext("c:signature", namespaces=ns))
        name = str(signed.findtext("c:key-name", namespaces=ns)).strip()
        return CosignatureFields(origin, size, hashed,
                                 signature=tlog.Signature(name, blob[:4], blob[4:]))
    held = refusal.findtext("c:held-size", namespaces=ns) if refusal is not None else None
    return CosignatureFields(origin, size, hashed,
                             refusal=str(refusal.findtext("c:reason", namespaces=ns)).strip()
                             if refusal is not None else None,
                             held_size=_number(held) if held is not None else None)


#: The node's own reading of each system document, run before a receipt is signed.
_READERS: Final = {CHECKPOINT: read_checkpoint, COSIGNATURE: read_cosignature}


def check_readable(doc_type: str, tree: etree._ElementTree) -> None:
    """Read a schema-valid system document as the node's handling will (nothing for other
    types); raise :class:`WitnessDocumentError` saying what cannot be read."""
    reader = _READERS.get(doc_type)
    if reader is not None:
        reader(tree)
