#!/usr/bin/env python3
"""bxproof: check a BX/1 proof bundle offline (PROTOCOL.md §4.8).

A proof bundle shows that a message was sent or received: the message exactly as exchanged,
its receipt, the audit entry that records it, a C2SP tlog-proof of that entry under a
checkpoint of the node's audit log cosigned by the partner, and the public keys with their
thumbprints. This file checks all of it with nothing but Python 3.11 and the ``cryptography``
package; it imports nothing of the gateway and needs no network::

    python3 bxproof.py BUNDLE.zip [--keys KEYS.json]

``--keys``: the keys you trust (for example the keys the two agencies handed over), in the
format of the bundle's ``keys.json``. Without it the bundle's own keys are used, and the
checker says so: anyone can make a bundle that holds with keys of their own, so a proof
checked that way is worth only what the printed thumbprints are, compared with those the
agencies publish. One line per check; exit status 0 when every check holds, 1 when one
fails (the line says which and why), 2 on a usage error.

The bundle is read as hostile input: its size on disk, each file's size once inflated and
its compression ratio are capped, and each file is inflated a piece at a time, so that a
small zip bomb is refused before it fills the memory; a name that appears twice, a file
the format does not have, and JSON that is not of the expected shape or nests deeper than
PROTOCOL.md §3.3 allows are refused with a line that names them.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "bx-proof/1"
FILES = ("manifest.json", "message.json", "receipt.json", "entry.json", "entry.tlog-proof",
         "keys.json")
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
#: What each file of a bundle may hold once inflated, in bytes: a message is at most 20 MiB
#: as sent (PROTOCOL.md §3.2), a receipt 64 KiB; no other file is allowed in a bundle.
LIMITS = {
    "manifest.json": 64 * 1024, "message.json": 20 * 1024 * 1024, "receipt.json": 64 * 1024,
    "entry.json": 64 * 1024, "entry.tlog-proof": 64 * 1024, "keys.json": 1024 * 1024,
    "README.txt": 1024 * 1024, "bxproof.py": 1024 * 1024,
}
#: A bundle on disk is at most this large (every file above, compressed or not, and the
#: zip's own headers).
MAX_BUNDLE_BYTES = sum(LIMITS.values()) + 64 * 1024
#: A file that inflates to more than 1 MiB inflates at most this many times (a zip bomb
#: inflates a thousand times; JSON and text some times).
MAX_RATIO = 100
_RATIO_FROM = 1024 * 1024
_CHUNK = 64 * 1024
#: PROTOCOL.md §3.3: JSON nests at most this deep (an array or an object counts one level).
MAX_JSON_DEPTH = 32
MAX_KEYS = 256
#: The zip entries read at all: enough to name a file twice or one the format lacks.
MAX_MEMBERS = 2 * len(LIMITS)
MAX_PROOF_HASHES = 64


class CheckError(Exception):
    """One check that does not hold."""


def _b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CheckError(f"not base64url ({exc})") from None


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckError(f"not base64 ({exc})") from None


# -- hostile input: JSON and its shapes -----------------------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the member {key!r} appears twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """How deep arrays and objects nest (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def strict_json(data: bytes, what: str) -> Any:
    """JSON as PROTOCOL.md §3.3 reads it: UTF-8, no member twice, no NaN or Infinity, at
    most :data:`MAX_JSON_DEPTH` levels deep."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                           parse_constant=_no_constant)
    except RecursionError:
        raise CheckError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise CheckError(f"{what} is not JSON ({exc})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise CheckError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _is(value: Any, kind: type) -> bool:
    """``isinstance``, but a bool is not an int."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def shaped(value: Any, what: str, required: dict[str, Any], optional: dict[str, Any] | None = None,
           others: bool = False) -> dict[str, Any]:
    """``value`` is an object with the ``required`` members (and maybe the ``optional``
    ones) of the given types; any other member is refused unless ``others``."""
    if not isinstance(value, dict):
        raise CheckError(f"{what} is not a JSON object")
    optional = optional or {}
    for name in required:
        if name not in value:
            raise CheckError(f"{what} has no {name!r}")
    for name, kind in {**required, **optional}.items():
        if name in value and not _is(value[name], kind):
            raise CheckError(f"{what}: {name!r} is not of the expected type")
    if not others:
        extra = sorted(set(value) - set(required) - set(optional))
        if extra:
            raise CheckError(f"{what} has a member {extra[0]!r} that it should not have")
    return value


def _shaped_list(value: Any, what: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise CheckError(f"{what} is not a JSON array")
    if len(value) > most:
        raise CheckError(f"{what} has more than {most} items")
    return value


MANIFEST = {"format": str, "message_id": str, "direction": str, "sender": str,
            "recipient": str, "type": str, "handling": str, "log": str, "log_kid": str,
            "cosigner_kid": str, "entry_seq": int, "checkpoint_size": int, "made_at": str}


def check_manifest(value: Any) -> dict[str, Any]:
    """manifest.json: every member of bx-proof/1, of its type, and nothing else."""
    if isinstance(value, dict) and value.get("format") != FORMAT:
        raise CheckError(f"not a {FORMAT} bundle")
    manifest = shaped(value, "manifest.json", MANIFEST)
    if manifest["entry_seq"] < 1 or manifest["checkpoint_size"] < manifest["entry_seq"]:
        raise CheckError("manifest.json: entry_seq and checkpoint_size do not fit together")
    if manifest["sender"] == manifest["recipient"]:
        raise CheckError("manifest.json: the sender is the recipient")
    if manifest["log"] not in (manifest["sender"], manifest["recipient"]):
        raise CheckError("manifest.json: the log is neither the sender's nor the recipient's")
    if manifest["direction"] != ("in" if manifest["log"] == manifest["recipient"] else "out"):
        raise CheckError("manifest.json: the direction does not fit the log")
    return manifest


def check_key_list(value: Any, what: str) -> list[dict[str, Any]]:
    """A key list (keys.json, or the keys given with --keys): ``{"keys": [...]}``, each key
    with its ``kid``, ``jwk`` and ``thumbprint`` (and maybe its ``node``), no kid twice."""
    keys = _shaped_list(shaped(value, what, {"keys": list})["keys"], f"{what}: keys", MAX_KEYS)
    seen = set()
    for index, entry in enumerate(keys):
        where = f"{what}: key {index + 1}"
        shaped(entry, where, {"kid": str, "jwk": dict, "thumbprint": str}, {"node": str})
        shaped(entry["jwk"], f"{where}: jwk", {"kty": str}, others=True)
        if not all(isinstance(v, str) for k, v in entry["jwk"].items() if k != "key_ops") or \
                entry["jwk"].get("key_ops", ["verify"]) != ["verify"]:
            raise CheckError(f"{where}: jwk has a member that is not a string, or key_ops "
                             "other than [\"verify\"]")
        if "node" in entry and not entry["kid"].startswith(entry["node"] + "#"):
            raise CheckError(f"{where}: {entry['kid']} is not a key of {entry['node']}")
        if entry["kid"] in seen:
            raise CheckError(f"{what} lists {entry['kid']} twice")
        seen.add(entry["kid"])
    return keys


# -- keys ---------------------------------------------------------------------------------------

def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order."""
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}.get(jwk.get("kty", ""))
    if members is None:
        raise CheckError(f"unsupported key type {jwk.get('kty')!r}")
    if any(not isinstance(jwk.get(m), str) for m in members):
        raise CheckError(f"a {jwk['kty']} key without {', '.join(members)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url_encode(hashlib.sha256(canonical.encode()).digest())


def public_key(jwk: dict[str, str]) -> Any:
    """The key of an Ed25519 (OKP) or P-256 (EC) JWK."""
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"]))
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64url(jwk["x"]), "big"),
                                                    int.from_bytes(_b64url(jwk["y"]), "big"),
                                                    ec.SECP256R1())
            return numbers.public_key()
    except (KeyError, ValueError) as exc:
        raise CheckError(f"a key that is not a valid public key ({exc})") from None
    raise CheckError("a key that is neither Ed25519 nor P-256")


def _raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# -- JWS ----------------------------------------------------------------------------------------

def verify_jws(raw: bytes, keys: dict[str, dict[str, Any]], what: str
               ) -> tuple[dict[str, Any], bytes, str, dict[str, Any]]:
    """A flattened JWS: its protected header, payload, signing input digest and body; the
    signature must verify with the key its ``kid`` names."""
    body = shaped(strict_json(raw, f"the {what}"), f"the {what}",
                  {"protected": str, "payload": str, "signature": str}, others=True)
    protected, payload = body["protected"], body["payload"]
    header = shaped(strict_json(_b64url(protected), f"the {what}'s header"),
                    f"the {what}'s header", {"alg": str, "kid": str}, others=True)
    signature = _b64url(body["signature"])
    kid = header["kid"]
    if kid not in keys:
        raise CheckError(f"the {what} is signed by {kid!r}, a key not in the key list")
    if keys[kid]["jwk"].get("bx_use") == "checkpoints":  # PROTOCOL.md §4.8
        raise CheckError(f"the {what} is signed by {kid}, a key for checkpoints and "
                         "cosignatures only")
    key = public_key(keys[kid]["jwk"])
    signing_input = f"{protected}.{payload}".encode()
    try:
        if header["alg"] == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        elif header["alg"] == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise CheckError(f"the {what}'s algorithm {header['alg']!r} does not fit "
                              f"its key")
    except InvalidSignature:
        raise CheckError(f"the {what}'s signature does not verify with {kid}") from None
    digest = "sha256:" + hashlib.sha256(signing_input).hexdigest()
    return header, _b64url(payload), digest, body


# -- the Merkle tree (C2SP merkle-tree) -----------------------------------------------------------

def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes],
                     root: bytes) -> None:
    """RFC 9162 §2.1.3.2, ``leaf`` being the entry's bytes."""
    if not 0 <= index < size:
        raise CheckError(f"index {index} is outside a tree of {size} entries")
    fn, sn, h = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in proof:
        if len(p) != 32 or sn == 0:
            raise CheckError("the inclusion proof has a wrong hash or too many hashes")
        if fn & 1 or fn == sn:
            h = _node(p, h)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = _node(h, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise CheckError("the inclusion proof has too few hashes")
    if h != root:
        raise CheckError("the inclusion proof does not lead to the checkpoint's root")


# -- signed notes, checkpoints, cosignatures (C2SP) -----------------------------------------------

def split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text and its signature lines (name, key id || signature)."""
    cut = text.rfind("\n\n")
    if cut < 0:
        raise CheckError("the checkpoint is not a signed note")
    lines = []
    for line in text[cut + 2:].splitlines():
        if not line.startswith("\u2014 ") or line.count(" ") != 2:
            raise CheckError("a signature line of the checkpoint is malformed")
        name, blob = line[2:].split(" ")
        lines.append((name, _b64(blob)))
    return text[:cut + 1], lines


def note_key_id(name: str, kind: int, key: ed25519.Ed25519PublicKey) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4] (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + _raw(key)).digest()[:4]


def _ed25519(key: Any, kid: str) -> ed25519.Ed25519PublicKey:
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise CheckError(f"{kid} is not an Ed25519 key: it signs no checkpoint")
    return key


def check_log_signature(body: str, signatures: list[tuple[str, bytes]], kid: str,
                        key: ed25519.Ed25519PublicKey) -> None:
    """The log's own Ed25519 note signature (type 0x01) over the checkpoint."""
    wanted = note_key_id(kid, 0x01, key)
    for name, blob in signatures:
        if name == kid and blob[:4] == wanted:
            try:
                key.verify(blob[4:], body.encode())
            except InvalidSignature:
                raise CheckError(f"the checkpoint's signature by {kid} does not verify") from None
            return
    raise CheckError(f"the checkpoint is not signed by {kid}")


def check_cosignature(body: str, signatures: list[tuple[str, bytes]], kid: str,
                      key: ed25519.Ed25519PublicKey) -> int:
    """A cosignature/v1 (type 0x04) by ``kid``; returns its time."""
    wanted = note_key_id(kid, 0x04, key)
    for name, blob in signatures:
        if name == kid and blob[:4] == wanted:
            if len(blob) != 4 + 8 + 64:
                raise CheckError(f"the cosignature by {kid} is not 72 bytes")
            (when,) = struct.unpack(">Q", blob[4:12])
            message = f"cosignature/v1\ntime {when}\n{body}".encode()
            try:
                key.verify(blob[12:], message)
            except InvalidSignature:
                raise CheckError(f"the cosignature by {kid} does not verify") from None
            return int(when)
    raise CheckError(f"no cosignature by {kid}")


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")) \
            or len(text) > 20:
        raise CheckError(f"{what} is not a decimal number")
    return int(text)


def parse_tlog_proof(data: bytes) -> tuple[int, list[bytes], str]:
    """A tlog-proof: index, inclusion proof, checkpoint note."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("the proof is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != PROOF_HEADER:
        raise CheckError("the proof is not a c2sp.org/tlog-proof@v1")
    lines = lines[1:]
    if lines and lines[0].startswith("extra "):
        lines = lines[1:]
    if not lines or not lines[0].startswith("index "):
        raise CheckError("the proof has no index")
    if len(lines) - 1 > MAX_PROOF_HASHES:
        raise CheckError(f"the proof has more than {MAX_PROOF_HASHES} hashes")
    return _decimal(lines[0][6:], "the proof's index"), [_b64(line) for line in lines[1:]], note


# -- the bundle ---------------------------------------------------------------------------------

def read_members(path: str) -> dict[str, bytes]:
    """The files of the bundle, read as hostile input (module docstring): each name once,
    only the files of the format, each inflated a piece at a time within its limit."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise CheckError(f"the bundle cannot be read ({exc.strerror})") from None
    if size > MAX_BUNDLE_BYTES:
        raise CheckError(f"the bundle is {size} bytes; a proof bundle is at most "
                         f"{MAX_BUNDLE_BYTES}")
    _check_directory(path, size)
    try:
        with zipfile.ZipFile(path) as archive:
            infos, seen = archive.infolist(), set()
            for info in infos:
                if info.filename in seen:
                    raise CheckError(f"the bundle holds {info.filename} more than once: zip "
                                     f"tools show one copy, a checker may read another")
                seen.add(info.filename)
                if info.filename not in LIMITS:
                    raise CheckError(f"the bundle holds {info.filename!r}, not a file of a "
                                     f"proof bundle")
            return {info.filename: _inflate(archive, info) for info in infos}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise CheckError(f"the bundle is not a readable zip file ({exc})") from None


def _check_directory(path: str, size: int) -> None:
    """The zip's end record, found as :mod:`zipfile` finds it, before zipfile reads the
    central directory: no more entries than a bundle has files, and no zip64 (a directory of
    thousands of tiny entries would fill the memory before any of them is looked at)."""
    tail = min(size, 22 + 65535)
    try:
        with Path(path).open("rb") as raw:
            raw.seek(size - tail)
            data = raw.read(tail)
    except OSError as exc:
        raise CheckError(f"the bundle cannot be read ({exc.strerror})") from None
    at = len(data) - 22 if data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\0\0" \
        else data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        raise CheckError("the bundle is not a readable zip file (no end of central directory)")
    _, disk, first, here, entries, length, _, _ = struct.unpack("<4s4H2LH", data[at:at + 22])
    if data[max(at - 20, 0):at][:4] == b"PK\x06\x07" or 0xFFFF in (here, entries) \
            or disk or first:
        raise CheckError("the bundle is a zip64 or multi-disk archive; a proof bundle is not")
    if entries != here or entries > MAX_MEMBERS or length > 4096 * MAX_MEMBERS:
        raise CheckError(f"the bundle holds {entries} files; a proof bundle holds "
                         f"{len(LIMITS)} at most")


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    name, limit = info.filename, LIMITS[info.filename]
    if info.flag_bits & 0x1:
        raise CheckError(f"{name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CheckError(f"{name} is compressed with method {info.compress_type}; a proof "
                         f"bundle is stored or deflated")
    if info.file_size > limit:
        raise CheckError(f"{name} is {info.file_size} bytes once inflated; at most {limit}")
    if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise CheckError(f"{name} inflates more than {MAX_RATIO} times (a zip bomb?)")
    data = bytearray()
    with archive.open(info) as stream:  # the CRC is checked as the stream ends
        while chunk := stream.read(_CHUNK):
            data += chunk
            if len(data) > min(limit, info.file_size):
                raise CheckError(f"{name} inflates to more than it declares")
    return bytes(data)


def read_keys(path: str) -> dict[str, Any]:
    """A key list given on the command line (--keys), checked like keys.json."""
    try:
        with Path(path).open("rb") as given:
            data = given.read(LIMITS["keys.json"] + 1)
    except OSError as exc:
        raise CheckError(f"{path} cannot be read ({exc.strerror})") from None
    if len(data) > LIMITS["keys.json"]:
        raise CheckError(f"{path} is larger than {LIMITS['keys.json']} bytes")
    value = strict_json(data, path)
    check_key_list(value, path)
    return dict(value)


class Bundle:
    """The files of a proof bundle, and the keys to check them with: ``trusted`` (a key
    list, as keys.json), named ``trusted_as`` in what the checks say; or None, and then the
    bundle's own keys, which prove nothing by themselves (the checks say so)."""

    def __init__(self, path: str, trusted: dict[str, Any] | None,
                 trusted_as: str = "the keys given") -> None:
        self.files = read_members(path)
        missing = [name for name in FILES if name not in self.files]
        if missing:
            raise CheckError(f"the bundle lacks {', '.join(missing)}")
        self.manifest = check_manifest(strict_json(self.files["manifest.json"],
                                                   "manifest.json"))
        self.bundled = check_key_list(strict_json(self.files["keys.json"], "keys.json"),
                                      "keys.json")
        self.trusted = None if trusted is None else check_key_list(trusted, trusted_as)
        self.trusted_as = trusted_as
        self.keys = {k["kid"]: k for k in (self.bundled if self.trusted is None
                                           else self.trusted)}


def _entry(data: bytes) -> tuple[int, str, str, str, str | None, dict[str, Any]]:
    """entry.json: ``[seq, at, actor, action, subject, detail]``, ``detail`` itself JSON."""
    value = strict_json(data, "the audit entry")
    if not isinstance(value, list) or len(value) != 6:
        raise CheckError("the audit entry is not [seq, at, actor, action, subject, detail]")
    seq, at, actor, action, subject, detail = value
    if not (_is(seq, int) and all(isinstance(v, str) for v in (at, actor, action, detail))
            and (subject is None or isinstance(subject, str))):
        raise CheckError("the audit entry is not [seq, at, actor, action, subject, detail]")
    parsed = strict_json(detail.encode(), "the audit entry's detail")
    if not isinstance(parsed, dict):
        raise CheckError("the audit entry's detail is not a JSON object")
    return seq, at, actor, action, subject, parsed


class Checks:
    """The checks of one bundle, in order; each returns what it found or raises
    :class:`CheckError`."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.facts: dict[str, Any] = {}

    def keys(self) -> str:
        """Each key's thumbprint is its own, and (unless none are given) a trusted one."""
        bundle = self.bundle
        for entry in bundle.bundled:
            if thumbprint(entry["jwk"]) != entry["thumbprint"]:
                raise CheckError(f"the thumbprint of {entry['kid']} does not match its key")
            if bundle.trusted is not None:
                trusted = bundle.keys.get(entry["kid"])
                if trusted is None or thumbprint(trusted["jwk"]) != entry["thumbprint"]:
                    raise CheckError(f"{entry['kid']} is not one of {bundle.trusted_as}")
        listed = ", ".join(f"{k['kid']} {k['thumbprint']}" for k in bundle.bundled)
        if bundle.trusted is None:
            return (f"NOT CHECKED against keys you trust: the keys inside the bundle are "
                    f"used, and anyone can make a bundle that holds with keys of their own; "
                    f"compare these thumbprints with those the agencies handed over, or give "
                    f"--keys: {listed}")
        return f"each key of the bundle is one of {bundle.trusted_as}: {listed}"

    def message(self) -> str:
        """The message is signed by its sender, and its attachments are exactly as signed."""
        manifest, raw = self.manifest, self.bundle.files["message.json"]
        header, _, digest, body = verify_jws(raw, self.bundle.keys, "message")
        bx = shaped(header.get("bx"), "the message's header: bx",
                    {"id": str, "from": str, "to": str, "type": str, "handling": str},
                    {"attachments": list}, others=True)
        if (bx["id"], bx["from"], bx["to"], bx["type"], bx["handling"]) != (
                manifest["message_id"], manifest["sender"], manifest["recipient"],
                manifest["type"], manifest["handling"]):
            raise CheckError("the message is not the one the manifest names")
        if not header["kid"].startswith(manifest["sender"] + "#"):
            raise CheckError("the message is not signed by a key of its sender")
        self._attachments(bx, body)
        self.facts["digest"] = digest
        return (f"{bx['type']} {manifest['message_id']} from {bx['from']} to "
                f"{bx['to']}, created {bx.get('created')}, signed by {header['kid']}")

    @staticmethod
    def _attachments(bx: dict[str, Any], body: dict[str, Any]) -> None:
        """Exactly the attachments the header declares, each name once, as signed."""
        declared = _shaped_list(bx.get("attachments") or [], "the message's attachments",
                                1000)
        sent = _shaped_list(body.get("attachments") or [], "the message's attached files",
                            1000)
        signed = {}
        for info in declared:
            shaped(info, "an attachment of the header", {"name": str, "sha256": str},
                   others=True)
            if info["name"] in signed:
                raise CheckError(f"attachment {info['name']} is declared twice")
            signed[info["name"]] = info["sha256"]
        attached: dict[str, bytes] = {}
        for item in sent:
            shaped(item, "an attached file", {"name": str, "data": str}, others=True)
            if item["name"] in attached:
                raise CheckError(f"attachment {item['name']} is attached twice")
            attached[item["name"]] = _b64url(item["data"])
        if set(attached) != set(signed):
            raise CheckError("the attached files are not those the message declares")
        for name, digest in signed.items():
            if hashlib.sha256(attached[name]).hexdigest() != digest:
                raise CheckError(f"attachment {name} is not as signed")

    def receipt(self) -> str:
        """The recipient signed a receipt for exactly this message."""
        manifest = self.manifest
        header, payload, _, _ = verify_jws(self.bundle.files["receipt.json"],
                                           self.bundle.keys, "receipt")
        fields = shaped(strict_json(payload, "the receipt's payload"), "the receipt's payload",
                        {"message": str, "digest": str, "from": str, "to": str,
                         "received": str, "status": str}, others=True)
        if not header["kid"].startswith(manifest["recipient"] + "#"):
            raise CheckError("the receipt is not signed by a key of the recipient")
        if (fields["message"], fields["digest"], fields["from"], fields["to"]) != (
                manifest["message_id"], self.facts.get("digest"), manifest["recipient"],
                manifest["sender"]) or fields["status"] != "accepted":
            raise CheckError("the receipt does not name this message exactly as it is here")
        return f"accepted by {fields['from']} at {fields['received']}, signed by {header['kid']}"

    def entry(self) -> str:
        """The audit entry records this message: its id from its sender, with its digest
        (ids are unique per sender only: another sender's message of the same id is
        another message)."""
        manifest = self.manifest
        seq, at, actor, action, subject, detail = _entry(self.bundle.files["entry.json"])
        if subject != manifest["message_id"] or seq != manifest["entry_seq"]:
            raise CheckError("the audit entry does not record this message")
        if manifest["log"] == manifest["recipient"]:
            wanted, by = "message.received", manifest["sender"]
            digest: Any = detail.get("digest")
        else:  # the sender's log: its own message, whose receipt came from the recipient
            wanted, by = "receipt.received", manifest["recipient"]
            digest = detail.get("digest", self.facts.get("digest"))  # older entries: none
            if detail.get("to", by) != by:
                raise CheckError(f"the audit entry records a receipt from {detail.get('to')}")
        if action != wanted:
            raise CheckError(f"the audit entry records {action}, not {wanted}")
        if actor != by:
            raise CheckError(f"the audit entry records {action} by {actor}, not by {by}: "
                             f"another sender's message with the same id")
        if digest != self.facts.get("digest"):
            raise CheckError("the audit entry records another message with the same id "
                             "(its digest differs)")
        return f"entry {seq} of the log of {manifest['log']}: {action} at {at} ({actor})"

    def checkpoint(self) -> str:
        """The checkpoint is of the log's node, signed by its key."""
        manifest = self.manifest
        index, proof, note = parse_tlog_proof(self.bundle.files["entry.tlog-proof"])
        body, signatures = split_note(note)
        lines = body.split("\n")
        if len(lines) != 4 or lines[0] != f"bx/{manifest['log']}/audit" or lines[3]:
            raise CheckError("the checkpoint is not of the log of " + manifest["log"])
        size, root = _decimal(lines[1], "the checkpoint's size"), _b64(lines[2])
        if len(root) != 32:
            raise CheckError("the checkpoint's root hash is not 32 bytes")
        if size != manifest["checkpoint_size"]:
            raise CheckError("the checkpoint is not of the size the manifest names")
        log_key = self.bundle.keys.get(manifest["log_kid"])
        if log_key is None or not manifest["log_kid"].startswith(manifest["log"] + "#"):
            raise CheckError("the log's key is not in the key list")
        check_log_signature(body, signatures, manifest["log_kid"],
                            _ed25519(public_key(log_key["jwk"]), manifest["log_kid"]))
        self.facts.update(index=index, proof=proof, size=size, root=root,
                          body=body, signatures=signatures)
        return f"{size} entries, signed by {manifest['log_kid']}"

    def cosignature(self) -> str:
        """The partner cosigned the checkpoint."""
        manifest = self.manifest
        kid = manifest["cosigner_kid"]
        partner = manifest["recipient"] if manifest["log"] == manifest["sender"] \
            else manifest["sender"]
        key = self.bundle.keys.get(kid)
        if key is None or not kid.startswith(partner + "#"):
            raise CheckError(f"the cosigner {kid} is not a key of the partner {partner}")
        when = check_cosignature(self.facts["body"], self.facts["signatures"], kid,
                                 _ed25519(public_key(key["jwk"]), kid))
        return f"by the partner {partner} ({kid}) at POSIX time {when}"

    def inclusion(self) -> str:
        """The entry is in the log the checkpoint signs."""
        facts, seq = self.facts, self.manifest["entry_seq"]
        if facts["index"] != seq - 1:
            raise CheckError("the proof is for another entry")
        verify_inclusion(self.bundle.files["entry.json"], facts["index"], facts["size"],
                         facts["proof"], facts["root"])
        return (f"entry {seq} is in the checkpointed log of {facts['size']} entries "
                f"({len(facts['proof'])} hashes)")


ORDER = ("keys", "message", "receipt", "entry", "checkpoint", "cosignature", "inclusion")


def run_checks(bundle: Bundle, say: Callable[[str, bool, str], None]) -> bool:
    """Every check, in order; ``say(check, ok, text)`` for each. True if all hold."""
    checks, ok = Checks(bundle), True
    for name in ORDER:
        try:
            say(name, True, getattr(checks, name)())
        except CheckError as exc:
            say(name, False, str(exc))
            ok = False
            if name in ("keys", "message", "checkpoint"):
                break  # what follows rests on it
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, struct.error,
                RecursionError, OverflowError) as exc:  # a shape no check foresaw: refused
            say(name, False, f"malformed ({type(exc).__name__}: {exc})")
            return False
    return ok


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description="Check a BX/1 proof bundle offline.")
    parser.add_argument("bundle")
    parser.add_argument("--keys", help="the keys you trust, as the bundle's keys.json")
    args = parser.parse_args(argv)
    try:
        trusted = read_keys(args.keys) if args.keys else None
        bundle = Bundle(args.bundle, trusted, f"the keys in {args.keys}")
    except CheckError as exc:
        print(f"FAILED bundle: {exc}")
        print("the proof does NOT hold")
        return 1

    def say(check: str, ok: bool, text: str) -> None:
        print(f"{'OK    ' if ok else 'FAILED'} {check}: {text}")

    if trusted is None:
        print("NOTE   no --keys: the keys inside the bundle are trusted")
    holds = run_checks(bundle, say)
    if not holds:
        print("the proof does NOT hold")
    elif trusted is None:
        print("the proof holds with the bundle's own keys only: it proves something once "
              "their thumbprints (above) are those the agencies handed over (--keys)")
    else:
        print("the proof holds")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
