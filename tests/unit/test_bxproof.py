"""The standalone proof checker (tools/bxproof.py, the same file as gateway/bxproof.py) needs
nothing but the standard library and ``cryptography``: a court or a partner runs it without
the gateway. Its checks are exercised on real bundles in tests/e2e/test_witness.py."""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from gateway import bxproof
from tests.conftest import REPO, make_key
from tests.proof_forge import bomb, forge, key_list, zipped

CHECKER = REPO / "tools" / "bxproof.py"


def test_the_checker_imports_only_the_standard_library_and_cryptography() -> None:
    assert CHECKER.resolve() == (REPO / "gateway" / "bxproof.py").resolve()
    tree = ast.parse(CHECKER.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative import"
            imported.add((node.module or "").split(".")[0])
    outside = {name for name in imported
               if name not in sys.stdlib_module_names and name != "__future__"}
    assert outside == {"cryptography"}


# -- bundles a forger writes (tests/proof_forge.py), checked in this process --------------------

def check(tmp_path: Path, files: Iterable[tuple[str, bytes]], *args: str
          ) -> tuple[int, str]:
    """The checker's exit status and what it printed, on a bundle of ``files``."""
    path = tmp_path / "bundle.zip"
    path.write_bytes(zipped(files))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = bxproof.main([str(path), *args])
    return status, out.getvalue()


def test_a_forged_bundle_holds_with_its_own_keys_and_the_checker_says_it_proves_nothing(
        tmp_path: Path) -> None:
    forged = forge()
    status, said = check(tmp_path, forged.files.items())
    assert status == 0, said
    assert said.startswith("NOTE   no --keys: the keys inside the bundle are trusted")
    assert "keys: NOT CHECKED against keys you trust" in said
    assert said.strip().splitlines()[-1].startswith("the proof holds with the bundle's own "
                                                    "keys only")
    # with the keys the agencies handed over, the forgery is refused at once
    handed = tmp_path / "handed.json"
    handed.write_text(json.dumps(forge().key_list()))
    status, said = check(tmp_path, forged.files.items(), "--keys", str(handed))
    assert status == 1
    assert "FAILED keys: kh.ahtjp#forged is not one of the keys in" in said
    assert said.strip().endswith("the proof does NOT hold")


def test_a_name_twice_is_refused_whichever_copy_would_be_read(tmp_path: Path) -> None:
    files = forge().files
    other = forge(message_id="7d4c1e0a-9b8f-4a6e-8d2c-1f0e9d8c7b6a").files
    for name in ("message.json", "manifest.json", "README.txt"):
        shown_first = [(name, other.get(name, b"first")), *files.items()]
        if name == "README.txt":
            shown_first.append((name, b"second"))
        status, said = check(tmp_path, shown_first)
        assert status == 1, said
        assert f"FAILED bundle: the bundle holds {name} more than once" in said


def test_a_file_the_format_does_not_have_is_refused(tmp_path: Path) -> None:
    for name in ("./message.json", "MESSAGE.JSON", "messages/", "extra.txt"):
        status, said = check(tmp_path, [*forge().files.items(), (name, b"{}")])
        assert status == 1
        assert f"FAILED bundle: the bundle holds {name!r}, not a file of a proof bundle" in said


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 40 + b"1" + b"}" * 40


def _header(header: object) -> bytes:
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return json.dumps({"protected": encoded, "payload": "e30", "signature": "AA"}).encode()


#: (member, hostile content): each refused by a check that names it, never a traceback and
#: never the checker's last resort ("malformed").
HOSTILE = [
    *[("manifest.json", shape) for shape in (
        b"[]", b"5", b'"bx-proof/1"', b"null", b"{}", DEEP, DEEP_OBJECT, b"\xff\xfe{}",
        b'{"format": "bx-proof/1", "format": "bx-proof/1"}', b"NaN", b"")],
    *[("keys.json", shape) for shape in (
        b"{}", b'{"keys": 5}', b'{"keys": [5]}', b'{"keys": [{"kid": 5}]}', b"[]", DEEP,
        b'{"keys": [{"kid": "vn.c02#a", "jwk": {"kty": "OKP"}, "thumbprint": "x"}]}',
        b'{"keys": [{"kid": "vn.c02#a", "jwk": {"kty": 5}, "thumbprint": "x"}]}',
        b'{"keys": [{"kid": "vn.c02#a", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "!"},'
        b' "thumbprint": "x"}]}',
        b'{"keys": [{"kid": "vn.c02#a", "jwk": {"kty": "OKP", "x": ["a"]}, "thumbprint": "x"}]}',
        b'{"keys": {"kid": "vn.c02#a"}}')],
    *[("message.json", shape) for shape in (
        b"[]", b"{}", b'{"protected": 5, "payload": "", "signature": ""}', DEEP, b"\x00",
        _header([]), _header({"alg": "EdDSA"}), _header({"alg": 5, "kid": "kh.ahtjp#x"}),
        _header({"alg": "EdDSA", "kid": ["kh.ahtjp#forged"]}))],
    *[("receipt.json", shape) for shape in (b"[]", b"{}", DEEP, _header([]))],
    *[("entry.json", shape) for shape in (
        b"{}", b"[1, 2, 3]", b'["2", "at", "a", "b", "c", "{}"]', DEEP, b"[true]",
        b'[2, "at", "kh.ahtjp", "message.received", "x", "not json"]',
        b'[2, "at", "kh.ahtjp", "message.received", "x", "[]"]',
        b'[2, "at", "kh.ahtjp", "message.received", "x", {"digest": "d"}]')],
    *[("entry.tlog-proof", shape) for shape in (
        b"\xff\xfe", b"", b"c2sp.org/tlog-proof@v1\nindex x\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 99999999999999999999999\n\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n!!!\n\nbody\n\n\u2014 a b\n".encode(),
        b"c2sp.org/tlog-proof@v1\nindex 1\n\nbx/vn.c02/audit\nx\ny\n\n",
        b"c2sp.org/tlog-proof@v1\nindex 1\n" + b"AAAA\n" * 100 + b"\n")],
]


@pytest.mark.parametrize(("member", "content"), HOSTILE,
                         ids=[f"{m}-{i}" for i, (m, _) in enumerate(HOSTILE)])
def test_hostile_json_and_text_end_in_a_named_check(tmp_path: Path, member: str,
                                                    content: bytes) -> None:
    files = dict(forge().files)
    files[member] = content
    status, said = check(tmp_path, files.items())
    assert status == 1, said
    assert "FAILED" in said, said
    assert "malformed (" not in said, said
    assert said.strip().endswith("the proof does NOT hold")


def test_hostile_keys_given_with_keys_are_refused_by_name(tmp_path: Path) -> None:
    for shape in (b"[]", b"{}", b'{"keys": 5}', DEEP, b"\xff"):
        given = tmp_path / "given.json"
        given.write_bytes(shape)
        status, said = check(tmp_path, forge().files.items(), "--keys", str(given))
        assert status == 1
        assert said.startswith(f"FAILED bundle: {given}"), said


def test_an_entry_of_another_senders_message_with_the_same_id_is_refused(
        tmp_path: Path) -> None:
    """Ids are unique per sender only: the log of vn.c02 records kh.ahtjp's message and
    la.atd's under the same id, and one's entry proves nothing about the other."""
    keys = {node: make_key(node, "k") for node in ("vn.c02", "kh.ahtjp", "la.atd")}
    kh = forge(sender="kh.ahtjp", keys=keys)
    la = forge(sender="la.atd", keys=keys)
    assert json.loads(kh.files["manifest.json"])["message_id"] == \
        json.loads(la.files["manifest.json"])["message_id"]
    handed = tmp_path / "handed.json"
    handed.write_text(json.dumps(key_list(keys.values())))
    for honest in (kh, la):
        assert check(tmp_path, honest.files.items(), "--keys", str(handed))[0] == 0
    # kh.ahtjp's message and receipt, with the entry (and its proof) of la.atd's message
    mixed = {**kh.files, "entry.json": la.files["entry.json"],
             "entry.tlog-proof": la.files["entry.tlog-proof"]}
    status, said = check(tmp_path, mixed.items(), "--keys", str(handed))
    assert status == 1
    assert "FAILED entry: the audit entry records message.received by la.atd, not by " \
           "kh.ahtjp" in said
    # the same sender named, but another message's digest
    detail = json.dumps({"digest": "sha256:" + "0" * 64})
    entry = json.loads(kh.files["entry.json"])
    entry[5] = detail
    status, said = check(tmp_path, {**kh.files, "entry.json": json.dumps(
        entry, separators=(",", ":")).encode()}.items(), "--keys", str(handed))
    assert status == 1
    assert "FAILED entry: the audit entry records another message with the same id" in said


def test_zip_bombs_and_archives_no_bundle_is_are_refused_before_they_are_inflated(
        tmp_path: Path) -> None:
    files = forge().files
    path = tmp_path / "bomb.zip"
    # within the size of a message, but inflating a thousand times
    bomb(path, files, "message.json", 19 * 1024 * 1024)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert bxproof.main([str(path)]) == 1
    assert "FAILED bundle: message.json inflates more than 100 times (a zip bomb?)" in \
        out.getvalue()
    # beyond any file's size
    for member, limit in (("keys.json", 1024 * 1024), ("entry.json", 64 * 1024)):
        bomb(path, files, member, 2 * 1024 * 1024)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert bxproof.main([str(path)]) == 1
        assert f"FAILED bundle: {member} is 2097152 bytes once inflated; at most {limit}" in \
            out.getvalue()
    # thousands of tiny entries: refused from the zip's end record, before its directory
    status, said = check(tmp_path, [(f"{i}", b"") for i in range(5000)])
    assert status == 1
    assert "FAILED bundle: the bundle holds 5000 files; a proof bundle holds 8 at most" in said
    # not a zip at all, and a file larger than any bundle
    path.write_bytes(b"PK\x03\x04 not really")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert bxproof.main([str(path)]) == 1
    assert "FAILED bundle: the bundle is not a readable zip file" in out.getvalue()
    with path.open("wb") as large:
        large.truncate(bxproof.MAX_BUNDLE_BYTES + 1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert bxproof.main([str(path)]) == 1
    assert "a proof bundle is at most" in out.getvalue()


def test_a_message_or_receipt_signed_by_a_checkpoint_key_proves_nothing(
        tmp_path: Path) -> None:
    """PROTOCOL.md §4.8: a key marked for checkpoints only signs no message and no receipt; a
    key list may carry the marking (``key_ops``, ``bx_use``) and the checker heeds it."""
    forged = forge()
    listed = forged.key_list()
    marking = {"key_ops": ["verify"], "bx_use": "checkpoints"}
    other = key_list([make_key("vn.c02", "checkpoints")])["keys"][0]
    handed = tmp_path / "handed.json"
    handed.write_text(json.dumps({"keys": [*listed["keys"], {
        **other, "jwk": {**other["jwk"], **marking}}]}))
    status, said = check(tmp_path, forged.files.items(), "--keys", str(handed))
    assert status == 0, said  # a marked key beside them changes nothing
    for entry in listed["keys"]:
        entry["jwk"] = {**entry["jwk"], **marking}
    handed.write_text(json.dumps(listed))
    status, said = check(tmp_path, forged.files.items(), "--keys", str(handed))
    assert status == 1
    assert "a key for checkpoints and cosignatures only" in said, said
