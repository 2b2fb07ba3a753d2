"""The Merkle tree and the C2SP text formats of PROTOCOL.md §4.8, against the worked example of
C2SP ``merkle-tree`` (seven leaves), RFC 9162's rules for malformed proofs, the example of
C2SP ``signed-note``, and a second implementation of notes and cosignatures written here
from the specifications (not from the code under test)."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocol import tlog
from gateway.protocol.tlog import TlogError

ENTRIES = [f"d[{i}]".encode() for i in range(7)]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The example of C2SP merkle-tree, written out by hand from its figure.
a, b, c, d, e, f, g = (sha(b"\x00" + entry) for entry in ENTRIES)
h = sha(b"\x01" + a + b)
i = sha(b"\x01" + c + d)
j = sha(b"\x01" + e + f)
k = sha(b"\x01" + h + i)
ll = sha(b"\x01" + j + g)
ROOT = sha(b"\x01" + k + ll)


def reader(entries: list[bytes]) -> tlog.NodeReader:
    """Perfect subtrees computed from the leaves (the store keeps them instead)."""
    def node(level: int, index: int) -> bytes:
        start, size = index << level, 1 << level
        assert start + size <= len(entries), (level, index)
        if size == 1:
            return tlog.leaf_hash(entries[start])
        return tlog.node_hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))
    return node


def root_of(entries: list[bytes]) -> bytes:
    return tlog.root_hash(len(entries), reader(entries))


def test_the_seven_leaf_tree_has_the_root_of_its_figure() -> None:
    assert root_of(ENTRIES) == ROOT
    assert root_of([]) == sha(b"")
    assert root_of(ENTRIES[:1]) == a


@pytest.mark.parametrize(("index", "expected"), [(0, [b, i, ll]), (3, [c, h, ll]),
                                                 (4, [f, g, k]), (6, [j, k])])
def test_inclusion_proofs_of_the_example(index: int, expected: list[bytes]) -> None:
    proof = tlog.inclusion_proof(index, 7, reader(ENTRIES))
    assert proof == expected
    tlog.verify_inclusion(tlog.leaf_hash(ENTRIES[index]), index, 7, proof, ROOT)


@pytest.mark.parametrize(("old", "expected"), [(3, [c, d, h, ll]), (4, [ll]), (6, [j, g, k])])
def test_consistency_proofs_of_the_example(old: int, expected: list[bytes]) -> None:
    proof = tlog.consistency_proof(old, 7, reader(ENTRIES))
    assert proof == expected
    tlog.verify_consistency(old, root_of(ENTRIES[:old]), 7, ROOT, proof)


def test_malformed_inclusion_proofs_are_refused_as_rfc_9162_says() -> None:
    leaf, proof = tlog.leaf_hash(ENTRIES[4]), [f, g, k]
    with pytest.raises(TlogError, match="outside"):
        tlog.verify_inclusion(leaf, 7, 7, proof, ROOT)  # index >= size
    with pytest.raises(TlogError, match="too many"):
        tlog.verify_inclusion(leaf, 4, 7, [*proof, k], ROOT)
    with pytest.raises(TlogError, match="too few"):
        tlog.verify_inclusion(leaf, 4, 7, proof[:2], ROOT)
    with pytest.raises(TlogError, match="root"):
        tlog.verify_inclusion(leaf, 5, 7, proof, ROOT)  # the wrong index
    with pytest.raises(TlogError, match="root"):
        tlog.verify_inclusion(tlog.leaf_hash(b"d[9]"), 4, 7, proof, ROOT)
    with pytest.raises(TlogError, match="33 bytes"):
        tlog.verify_inclusion(leaf, 4, 7, [f, g, k + b"\x00"], ROOT)


def test_malformed_consistency_proofs_are_refused_as_rfc_9162_says() -> None:
    old_root = root_of(ENTRIES[:6])
    proof = [j, g, k]
    with pytest.raises(TlogError, match="larger"):
        tlog.verify_consistency(8, old_root, 7, ROOT, proof)
    with pytest.raises(TlogError, match="same size"):
        tlog.verify_consistency(7, ROOT, 7, ROOT, proof)
    with pytest.raises(TlogError, match="different roots"):
        tlog.verify_consistency(7, old_root, 7, ROOT, [])
    with pytest.raises(TlogError, match="empty tree"):
        tlog.verify_consistency(0, sha(b""), 7, ROOT, proof)
    with pytest.raises(TlogError, match="empty"):
        tlog.verify_consistency(6, old_root, 7, ROOT, [])
    with pytest.raises(TlogError, match="too many"):
        tlog.verify_consistency(6, old_root, 7, ROOT, [*proof, g])
    with pytest.raises(TlogError, match="too few"):
        tlog.verify_consistency(6, old_root, 7, ROOT, proof[:2])
    with pytest.raises(TlogError, match="old root"):
        tlog.verify_consistency(6, root_of([*ENTRIES[:5], b"other"]), 7, ROOT, proof)
    with pytest.raises(TlogError, match="new root"):
        tlog.verify_consistency(6, old_root, 7, root_of([*ENTRIES[:6], b"x"]), proof)
    tlog.verify_consistency(0, sha(b""), 7, ROOT, [])  # anything extends the empty tree


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_proof_of_any_tree_verifies_and_no_other_root_passes(size: int,
                                                                    data: st.DataObject) -> None:
    entries = [f"entry {n}".encode() for n in range(size)]
    node, root = reader(entries), root_of(entries)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tlog.inclusion_proof(index, size, node)
    assert len(proof) <= (size - 1).bit_length()
    tlog.verify_inclusion(tlog.leaf_hash(entries[index]), index, size, proof, root)
    old = data.draw(st.integers(min_value=0, max_value=size))
    old_root = root_of(entries[:old])
    consistency = tlog.consistency_proof(old, size, node)
    tlog.verify_consistency(old, old_root, size, root, consistency)
    if 0 < old < size:
        forked = root_of([*entries[:old - 1], b"rewritten"])
        with pytest.raises(TlogError):
            tlog.verify_consistency(old, forked, size, root, consistency)


# -- signed notes: the example of C2SP signed-note ---------------------------------------------

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n\u2014 example.com/foo "
             "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu"
             "72IneyaQM=\n").encode()


def test_the_signed_note_example_of_the_specification_verifies() -> None:
    verifier = tlog.parse_vkey(SPEC_VKEY)
    assert verifier.vkey() == SPEC_VKEY
    note = tlog.parse_note(SPEC_NOTE)
    assert note.text == "This is an example message.\n"
    assert tlog.verify_note(note, [verifier]) == [verifier]
    assert note.encode() == SPEC_NOTE
    altered = tlog.parse_note(SPEC_NOTE.replace(b"example message", b"example massage"))
    with pytest.raises(TlogError, match="does not verify"):
        tlog.verify_note(altered, [verifier])
    stranger = tlog.Verifier("example.com/bar", tlog.ED25519,
                             Ed25519PrivateKey.generate().public_key())
    with pytest.raises(TlogError, match="no known key"):
        tlog.verify_note(note, [stranger])


@pytest.mark.parametrize("bad", [
    "no blank line\n\u2014 a AAAAAAA=\n".encode(),
    b"text\n\nnot a signature\n",
    b"text\n\n\xe2\x80\x94 a not-base64!\n",
    b"text\x07\n\n\xe2\x80\x94 a AAAAAAAA\n",
    b"\xff\xfe\n\n",
])
def test_malformed_notes_are_refused(bad: bytes) -> None:
    with pytest.raises(TlogError):
        tlog.parse_note(bad)


# -- a second implementation, from the specifications ------------------------------------------

def their_key_id(name: str, kind: int, public: bytes) -> bytes:
    return sha(name.encode() + b"\n" + bytes([kind]) + public)[:4]


def their_sign_checkpoint(origin: str, size: int, root: bytes, name: str,
                          key: Ed25519PrivateKey) -> bytes:
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    blob = their_key_id(name, 1, public) + key.sign(body.encode())
    return f"{body}\n\u2014 {name} {base64.b64encode(blob).decode()}\n".encode()


def their_verify_cosignature(note: bytes, name: str, public: Ed25519PublicKey) -> int:
    text, _, signatures = note.decode().rpartition("\n\n")
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    for line in signatures.splitlines():
        who, blob64 = line.removeprefix("\u2014 ").split(" ")
        blob = base64.b64decode(blob64)
        if who == name and blob[:4] == their_key_id(name, 4, raw):
            (when,) = struct.unpack(">Q", blob[4:12])
            public.verify(blob[12:], f"cosignature/v1\ntime {when}\n{text}\n".encode())
            return int(when)
    raise AssertionError("no cosignature")


def test_checkpoints_and_cosignatures_agree_with_a_second_implementation() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ours = tlog.sign_note(tlog.Checkpoint("bx/vn.c02/audit", 7, ROOT).text(),
                          "vn.c02#k1", log_key)
    theirs = their_sign_checkpoint("bx/vn.c02/audit", 7, ROOT, "vn.c02#k1", log_key)
    assert ours.encode() == theirs  # Ed25519 is deterministic: the same bytes
    parsed = tlog.parse_note(theirs)
    log_verifier = tlog.Verifier("vn.c02#k1", tlog.ED25519, log_key.public_key())
    tlog.verify_note(parsed, [log_verifier])
    assert tlog.parse_checkpoint(parsed.text) == tlog.Checkpoint("bx/vn.c02/audit", 7, ROOT)
    cosigned = parsed.with_signature(tlog.cosign(parsed, "kh.ahtjp#k1", witness_key,
                                                 1_796_000_000))
    assert their_verify_cosignature(cosigned.encode(), "kh.ahtjp#k1",
                                    witness_key.public_key()) == 1_796_000_000
    witness = tlog.Verifier("kh.ahtjp#k1", tlog.COSIGNATURE_V1, witness_key.public_key())
    assert tlog.verify_cosignature(cosigned, witness) == 1_796_000_000
    assert tlog.verify_note(cosigned, [log_verifier, witness]) == [log_verifier]
    other = tlog.Verifier("kh.ahtjp#k1", tlog.COSIGNATURE_V1,
                          Ed25519PrivateKey.generate().public_key())
    assert tlog.verify_cosignature(cosigned, other) is None  # another key id: not its line


def test_a_checkpoint_is_three_exact_lines() -> None:
    for bad in ("bx/x\n7\n", "bx/x\n07\n" + base64.b64encode(ROOT).decode() + "\n",
                "bx/x\n7\n" + base64.b64encode(ROOT[:31]).decode() + "\n",
                "\n7\n" + base64.b64encode(ROOT).decode() + "\n",
                "bx/x\n0\n" + base64.b64encode(ROOT).decode() + "\n",
                "bx/x\n7\n" + base64.b64encode(ROOT).decode() + "\nextension\n"):
        with pytest.raises(TlogError):
            tlog.parse_checkpoint(bad)


def test_a_tlog_proof_file_goes_there_and_back() -> None:
    key = Ed25519PrivateKey.generate()
    note = tlog.sign_note(tlog.Checkpoint("bx/vn.c02/audit", 7, ROOT).text(), "vn.c02#k1", key)
    proof = tlog.TlogProof(4, (f, g, k), note, extra=b"seq 5")
    encoded = proof.encode()
    assert encoded.startswith(b"c2sp.org/tlog-proof@v1\nextra ")
    assert tlog.parse_tlog_proof(encoded) == proof
    with pytest.raises(TlogError, match="index"):
        tlog.parse_tlog_proof(encoded.replace(b"index 4", b"index 04"))
    with pytest.raises(TlogError):
        tlog.parse_tlog_proof(encoded.replace(b"c2sp.org/tlog-proof@v1", b"tlog-proof"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8))
def test_a_tree_grown_in_batches_keeps_every_node_a_proof_needs(batches: list[int]) -> None:
    entries: list[bytes] = []
    edge: list[bytes] = []
    stored: dict[tuple[int, int], bytes] = {}
    for count in batches:
        new = [f"entry {len(entries) + n}".encode() for n in range(count)]
        edge, nodes = tlog.grow(len(entries), edge, [tlog.leaf_hash(x) for x in new])
        entries += new
        stored.update({(level, index): value for level, index, value in nodes})
        assert tlog.edge_root(edge) == root_of(entries)
    size = len(entries)
    expected = reader(entries)
    for (level, index), value in stored.items():
        assert value == expected(level, index)
    for index in range(size):
        wanted = tlog.needed_nodes(lambda node, index=index: tlog.inclusion_proof(index, size,
                                                                                  node))
        assert set(wanted) <= set(stored)  # every hash a proof reads is kept
        assert len(set(wanted)) <= 2 * size.bit_length()
        proof = tlog.inclusion_proof(index, size, lambda lv, ix: stored[lv, ix])
        tlog.verify_inclusion(tlog.leaf_hash(entries[index]), index, size, proof,
                              tlog.edge_root(edge))
    with pytest.raises(TlogError, match="edge"):
        tlog.grow(size, edge[:-1], [b"x" * 32])
