"""The system documents of PROTOCOL.md §4.8 as the node reads them: whatever the schema
accepts is read the same way (``xs:base64Binary`` wrapped over lines, numbers with a sign or
leading zeros), and what the node could not handle is refused before a receipt is signed."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.documents import witness
from gateway.documents.registry import SchemaRegistry
from gateway.protocol import tlog
from gateway.protocol.problems import Problem
from tests.conftest import SCHEMAS, make_key

ORIGIN = "bx/vn.c02/audit"


def _note(size: int = 7) -> bytes:
    key = make_key("vn.c02", "2026-11")
    root = hashlib.sha256(b"root").digest()
    return tlog.sign_note(tlog.Checkpoint(ORIGIN, size, root).text(), key.kid,
                          key.private_key).encode()  # type: ignore[arg-type]


def _wrapped(value: bytes, width: int = 64) -> str:
    text = base64.b64encode(value).decode()
    return "\n    " + "\n    ".join(text[i:i + width] for i in range(0, len(text), width)) + "\n"


def test_a_checkpoint_wrapped_over_lines_reads_as_the_schema_reads_it(
        registry: SchemaRegistry) -> None:
    note, proof = _note(), (hashlib.sha256(b"a").digest(),)
    flat = witness.write_checkpoint(witness.CheckpointFields(ORIGIN, 7, 3, proof, note))
    document = (flat.replace(base64.b64encode(note), _wrapped(note).encode())
                .replace(base64.b64encode(proof[0]), _wrapped(proof[0], 20).encode())
                .replace(b"<size>7<", b"<size> +007 <"))
    assert document != flat
    registry.check("checkpoint", "1.0", document)  # valid, and read before the receipt
    read = witness.read_checkpoint(document)
    assert (read.note, read.proof, read.size, read.old_size) == (note, proof, 7, 3)


def test_a_cosignature_with_both_or_neither_is_refused_before_its_receipt(
        registry: SchemaRegistry) -> None:
    note = tlog.parse_note(_note())
    key = make_key("kh.ahtjp", "2026-11")
    signed = witness.write_cosignature(witness.CosignatureFields(
        ORIGIN, 7, hashlib.sha256(b"root").digest(),
        signature=tlog.cosign(note, key.kid, key.private_key, 1_796_000_000)))  # type: ignore[arg-type]
    registry.check("cosignature", "1.0", signed)
    both = signed.replace(b"</cosignature>",
                          b"<refusal><reason>stale</reason></refusal></cosignature>")
    registry.validate("cosignature", "1.0", both)  # the schema's types cannot say it
    with pytest.raises(Problem) as caught:
        registry.check("cosignature", "1.0", both)
    assert caught.value.code == "schema-invalid"
    assert caught.value.errors[0].path == "/cosignature"
    start, end = signed.index(b"<signed>"), signed.index(b"</signed>") + len(b"</signed>")
    neither = signed[:start] + signed[end:]
    with pytest.raises(Problem, match="either a signature or a refusal"):
        registry.check("cosignature", "1.0", neither)


def test_every_example_of_the_system_documents_reads(registry: SchemaRegistry) -> None:
    for doc_type in ("checkpoint", "cosignature"):
        for path in sorted((SCHEMAS / doc_type / "examples").glob("*.xml")):
            registry.check(doc_type, "1.0", path.read_bytes())
