"""Verifiable history (PROTOCOL.md §4.8): the Merkle tree of C2SP ``merkle-tree`` (RFC 9162
§2.1 hashing), its inclusion and consistency proofs, and the C2SP text formats built on it:
``signed-note`` (Ed25519), ``tlog-checkpoint``, ``tlog-cosignature`` (``cosignature/v1``)
and ``tlog-proof``.

Pure: hashes are bytes, a tree is read through a function that gives the hash of a perfect
subtree (level, index), so that the store can answer from the nodes it keeps (O(log n)
reads per proof) and a verifier needs no tree at all. Every check refuses with
:class:`TlogError` naming what failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.protocol.errors import GatewayError

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
#: signed-note signature types
ED25519: Final = 0x01
COSIGNATURE_V1: Final = 0x04
PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
#: The most signature lines a note may carry here (signed-note: at least 16 accepted).
MAX_SIGNATURES: Final = 64
#: tlog-witness: at most 63 consistency proof lines.
MAX_PROOF_LINES: Final = 63

#: The hash of the perfect subtree at (level, index): leaves index·2^level .. +2^level.
NodeReader = Callable[[int, int], bytes]


class TlogError(GatewayError, ValueError):
    """A proof, note, checkpoint or cosignature that does not hold; the text says what."""


# -- the tree ---------------------------------------------------------------------------------

def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeReader) -> bytes:
    """MTH of leaves ``start`` .. ``end`` - 1 (``start`` aligned as in the tree's own
    recursion), from the perfect subtrees ``node`` gives."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return node(level, start >> level)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root_hash(size: int, node: NodeReader) -> bytes:
    """The root of the tree of ``size`` leaves."""
    return subtree_hash(0, size, node)


def grow(size: int, edge: Sequence[bytes], leaves: Sequence[bytes]
         ) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append leaf hashes to a tree of ``size`` leaves whose right edge is ``edge`` (the
    roots of its perfect subtrees, largest first: one per bit set in ``size``). Returns the
    new edge and every perfect subtree completed, as (level, index, hash): what a store
    keeps so that any proof reads O(log n) hashes."""
    if len(edge) != size.bit_count():
        raise TlogError(f"a tree of {size} has {size.bit_count()} edge hashes, not {len(edge)}")
    edge, nodes = list(edge), []
    for leaf in leaves:
        level, index, value = 0, size, leaf
        nodes.append((level, index, value))
        while index & 1:  # a right child: its left sibling is the edge's last subtree
            value = node_hash(edge.pop(), value)
            level, index = level + 1, index >> 1
            nodes.append((level, index, value))
        edge.append(value)
        size += 1
    return edge, nodes


def edge_root(edge: Sequence[bytes]) -> bytes:
    """The root of the tree whose right edge is ``edge``."""
    if not edge:
        return EMPTY_ROOT
    root = edge[-1]
    for left in reversed(edge[:-1]):
        root = node_hash(left, root)
    return root


def needed_nodes(proof: Callable[[NodeReader], object]) -> list[tuple[int, int]]:
    """The perfect subtrees a proof reads (its course does not depend on the hashes): so a
    store can fetch them in one query, then make the proof from them."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return bytes(HASH_SIZE)

    proof(record)
    return wanted


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    """PATH(index, D[size]): the leaf's sibling first, the root's child last."""
    if not 0 <= index < size:
        raise TlogError(f"index {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start += k
    return list(reversed(proof))


def consistency_proof(old: int, size: int, node: NodeReader) -> list[bytes]:
    """PROOF(old, D[size]) (empty when ``old`` is 0 or equals ``size``)."""
    if not 0 <= old <= size:
        raise TlogError(f"no consistency proof from {old} to {size}")
    if old in (0, size):
        return []
    proof: list[bytes] = []

    def sub(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                proof.append(subtree_hash(start, end, node))
            return
        k = _split(n)
        if m <= k:
            sub(m, start, start + k, whole)
            proof.append(subtree_hash(start + k, end, node))
        else:
            sub(m - k, start + k, end, False)
            proof.append(subtree_hash(start, start + k, node))

    sub(old, 0, size, True)
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """RFC 9162 §2.1.3.2 (C2SP merkle-tree): ``leaf`` is the leaf hash."""
    if index >= size or index < 0:
        raise TlogError(f"index {index} is outside a tree of {size}")
    fn, sn, h = index, size - 1, leaf
    for p in proof:
        _check_hash(p)
        if sn == 0:
            raise TlogError("the inclusion proof has too many hashes")
        if fn & 1 or fn == sn:
            h = node_hash(p, h)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = node_hash(h, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise TlogError("the inclusion proof has too few hashes")
    if h != root:
        raise TlogError("the inclusion proof does not lead to the root")


def verify_consistency(old: int, old_root: bytes, size: int, root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2 (C2SP merkle-tree)."""
    for p in proof:
        _check_hash(p)
    if old > size:
        raise TlogError(f"the old tree ({old}) is larger than the new one ({size})")
    if old == size:
        if proof:
            raise TlogError("a proof between trees of the same size must be empty")
        if old_root != root:
            raise TlogError("two trees of the same size have different roots")
        return
    if old == 0:
        if proof:
            raise TlogError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise TlogError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for p in path[1:]:
        if sn == 0:
            raise TlogError("the consistency proof has too many hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(p, fr), node_hash(p, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise TlogError("the consistency proof has too few hashes")
    if fr != old_root:
        raise TlogError("the consistency proof does not lead to the old root")
    if sr != root:
        raise TlogError("the consistency proof does not lead to the new root")


def _check_hash(value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise TlogError(f"a proof hash of {len(value)} bytes (not {HASH_SIZE})")


# -- signed notes -----------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise TlogError(f"{what} is not base64") from exc


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, kind: int, public: Ed25519PublicKey) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + _raw_public(public)).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise TlogError(f"key name {name!r}: empty, or with a space or a plus")


@dataclass(frozen=True)
class Verifier:
    """A key a note may be signed with: its name, signature type and public key."""

    name: str
    kind: int
    public: Ed25519PublicKey

    @property
    def id(self) -> bytes:
        """The 4-byte key id."""
        return key_id(self.name, self.kind, self.public)

    def vkey(self) -> str:
        """``<name>+<hex id>+<base64(type || key)>``."""
        return f"{self.name}+{self.id.hex()}+{_b64(bytes([self.kind]) + _raw_public(self.public))}"


def parse_vkey(text: str) -> Verifier:
    """A verifier key (an Ed25519 note key or cosignature key)."""
    parts = text.strip().split("+")
    if len(parts) != 3:
        raise TlogError("a verifier key is <name>+<hex id>+<base64 key>")
    name, hex_id, material = parts
    _check_name(name)
    raw = _unb64(material, "the verifier key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise TlogError("the verifier key is not an Ed25519 key of type 0x01 or 0x04")
    verifier = Verifier(name, raw[0], Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.id.hex() != hex_id.lower():
        raise TlogError("the verifier key's id does not match its name and key")
    return verifier


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    id: bytes
    data: bytes  # after the key id

    def line(self) -> str:
        """``— <name> <base64(id || data)>``."""
        return f"\u2014 {self.name} {_b64(self.id + self.data)}\n"


@dataclass(frozen=True)
class Note:
    """A signed note: its text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> bytes:
        """The note as exchanged."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def with_signature(self, signature: Signature) -> Note:
        """The same note with one more signature (an existing one for the same key is
        replaced)."""
        kept = tuple(s for s in self.signatures
                     if (s.name, s.id) != (signature.name, signature.id))
        return Note(self.text, (*kept, signature))


def parse_note(data: bytes) -> Note:
    """A signed note, its format checked (signed-note: UTF-8, no control characters but
    newline, text ending in a newline, a blank line, then signature lines)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TlogError("the note is not UTF-8") from exc
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise TlogError("the note holds a control character")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise TlogError("the note has no blank line before its signatures")
    body, lines = text[:split + 1], text[split + 2:].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise TlogError("the note has no signature, or too many")
    signatures = []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise TlogError("a signature line does not start with an em dash")
        name, _, encoded = line[2:].partition(" ")
        _check_name(name)
        raw = _unb64(encoded, "a signature")
        if len(raw) < 5:
            raise TlogError("a signature is too short")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return Note(body, tuple(signatures))


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> Note:
    """A note signed with an Ed25519 note key (type 0x01)."""
    _check_name(name)
    if not text.endswith("\n"):
        raise TlogError("a note's text ends in a newline")
    verifier = Verifier(name, ED25519, key.public_key())
    return Note(text, (Signature(name, verifier.id, key.sign(text.encode())),))


def verify_note(note: Note, verifiers: Sequence[Verifier]) -> list[Verifier]:
    """The known keys whose signatures verify (signed-note: unknown ones are ignored; a
    known one that fails refuses the note; none verifying refuses it). Checks type 0x01
    signatures over the text; a cosignature (0x04) is checked by :func:`verify_cosignature`."""
    good = []
    for signature in note.signatures:
        for verifier in verifiers:
            if (verifier.name, verifier.id) != (signature.name, signature.id):
                continue
            if verifier.kind != ED25519:
                continue
            try:
                verifier.public.verify(signature.data, note.text.encode())
            except InvalidSignature as exc:
                raise TlogError(f"the signature of {verifier.name} does not verify") from exc
            good.append(verifier)
    if not good:
        raise TlogError("no known key signed the note")
    return good


# -- checkpoints and cosignatures --------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """The three lines of a tlog-checkpoint."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The note text."""
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note's text (extension lines are refused: none is used here)."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise TlogError("a checkpoint is three lines: origin, size, root hash")
    origin, size, root = lines[:3]
    if not origin:
        raise TlogError("the checkpoint has no origin")
    if not size.isdigit() or (size != "0" and size.startswith("0")) or not size.isascii():
        raise TlogError("the checkpoint's size is not a decimal number")
    digest = _unb64(root, "the checkpoint's root hash")
    if len(digest) != HASH_SIZE:
        raise TlogError("the checkpoint's root hash is not 32 bytes")
    checkpoint = Checkpoint(origin, int(size), digest)
    if checkpoint.size == 0 and digest != EMPTY_ROOT:
        raise TlogError("an empty tree's root is the hash of nothing")
    return checkpoint


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(note: Note, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A tlog-cosignature (Ed25519, cosignature/v1) over the checkpoint in ``note``."""
    _check_name(name)
    if not 0 < timestamp < 2**63:
        raise TlogError("a cosignature's time is a positive POSIX time")
    verifier = Verifier(name, COSIGNATURE_V1, key.public_key())
    data = struct.pack(">Q", timestamp) + key.sign(_cosigned_message(note.text, timestamp))
    return Signature(name, verifier.id, data)


def verify_cosignature(note: Note, verifier: Verifier) -> int | None:
    """The time of ``verifier``'s cosignature on the note, if it signed it (None if it did
    not); a cosignature that fails refuses the note."""
    for signature in note.signatures:
        if (signature.name, signature.id) != (verifier.name, verifier.id):
            continue
        if len(signature.data) != 8 + 64:
            raise TlogError(f"the cosignature of {verifier.name} is not 72 bytes")
        (timestamp,) = struct.unpack(">Q", signature.data[:8])
        try:
            verifier.public.verify(signature.data[8:], _cosigned_message(note.text, timestamp))
        except InvalidSignature as exc:
            raise TlogError(f"the cosignature of {verifier.name} does not verify") from exc
        return int(timestamp)
    return None


# -- tlog-proof -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlogProof:
    """A tlog-proof: an entry's index, its inclusion proof and the (cosigned) checkpoint."""

    index: int
    proof: tuple[bytes, ...]
    note: Note
    extra: bytes | None = None

    def encode(self) -> bytes:
        """The proof as a file (``.tlog-proof``)."""
        head = PROOF_HEADER + "\n"
        if self.extra is not None:
            head += f"extra {_b64(self.extra)}\n"
        head += f"index {self.index}\n" + "".join(f"{_b64(p)}\n" for p in self.proof)
        return head.encode() + b"\n" + self.note.encode()


def parse_tlog_proof(data: bytes) -> TlogProof:
    """A tlog-proof file, its format checked."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TlogError("the proof is not UTF-8") from exc
    head, sep, rest = text.partition("\n\n")
    if not sep:
        raise TlogError("the proof has no blank line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise TlogError(f"the proof does not start with {PROOF_HEADER}")
    lines = lines[1:]
    extra = None
    if lines and lines[0].startswith("extra "):
        extra = _unb64(lines[0][6:], "the extra line")
        lines = lines[1:]
    if not lines or not lines[0].startswith("index "):
        raise TlogError("the proof has no index line")
    index = lines[0][6:]
    if not index.isdigit() or not index.isascii() or (index != "0" and index.startswith("0")):
        raise TlogError("the proof's index is not a decimal number")
    hashes = tuple(_unb64(line, "a proof hash") for line in lines[1:])
    for h in hashes:
        _check_hash(h)
    return TlogProof(int(index), hashes, parse_note(rest.encode()), extra)
