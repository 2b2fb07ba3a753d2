#!/usr/bin/env python3
"""bxproof: check a BX/1 proof bundle offline (PROTOCOL.md §4.8).

A proof bundle shows that a message was sent or received: the message exactly as exchanged,
its receipt, the audit entry that records it, a C2SP tlog-proof of that entry under a
checkpoint of the node's audit log cosigned by the partner, and the public keys with their
thumbprints. This file checks all of it with nothing but Python 3.11 and the ``cryptography``
package; it imports nothing of the gateway and needs no network::

    python3 bxproof.py BUNDLE.zip [--keys KEYS.json]

``--keys``: the keys you trust (for example the thumbprints the two agencies handed over), in
the format of the bundle's ``keys.json``; without it the bundle's own keys are used, and
their thumbprints are printed for you to compare. One line per check; exit status 0 when
every check holds, 1 when one fails (the line says which and why), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import zipfile
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


class CheckError(Exception):
    """One check that does not hold."""


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# -- keys ---------------------------------------------------------------------------------------

def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order."""
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}.get(jwk.get("kty", ""))
    if members is None:
        raise CheckError(f"unsupported key type {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url_encode(hashlib.sha256(canonical.encode()).digest())


def public_key(jwk: dict[str, str]) -> Any:
    """The key of an Ed25519 (OKP) or P-256 (EC) JWK."""
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"]))
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64url(jwk["x"]), "big"),
                                                int.from_bytes(_b64url(jwk["y"]), "big"),
                                                ec.SECP256R1())
        return numbers.public_key()
    raise CheckError("a key that is neither Ed25519 nor P-256")


def _raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# -- JWS ----------------------------------------------------------------------------------------

def verify_jws(raw: bytes, keys: dict[str, dict[str, Any]], what: str
               ) -> tuple[dict[str, Any], bytes, str]:
    """A flattened JWS: its protected header, payload and signing input digest; the
    signature must verify with the key its ``kid`` names."""
    try:
        body = json.loads(raw)
        protected, payload = body["protected"], body["payload"]
        header = json.loads(_b64url(protected))
        signature = _b64url(body["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckError(f"the {what} is not a flattened JWS ({exc})") from None
    kid = header.get("kid")
    if kid not in keys:
        raise CheckError(f"the {what} is signed by {kid!r}, a key not in the key list")
    key = public_key(keys[kid]["jwk"])
    signing_input = f"{protected}.{payload}".encode()
    try:
        if header.get("alg") == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        elif header.get("alg") == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise CheckError(f"the {what}'s algorithm {header.get('alg')!r} does not fit "
                              f"its key")
    except InvalidSignature:
        raise CheckError(f"the {what}'s signature does not verify with {kid}") from None
    digest = "sha256:" + hashlib.sha256(signing_input).hexdigest()
    return header, _b64url(payload), digest


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


def parse_tlog_proof(data: bytes) -> tuple[int, list[bytes], str]:
    """A tlog-proof: index, inclusion proof, checkpoint note."""
    text = data.decode("utf-8")
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != PROOF_HEADER:
        raise CheckError("the proof is not a c2sp.org/tlog-proof@v1")
    lines = lines[1:]
    if lines and lines[0].startswith("extra "):
        lines = lines[1:]
    if not lines or not lines[0].startswith("index ") or not lines[0][6:].isdigit():
        raise CheckError("the proof has no index")
    return int(lines[0][6:]), [_b64(line) for line in lines[1:]], note


# -- the bundle ---------------------------------------------------------------------------------

class Bundle:
    """The files of a proof bundle, and the keys to check them with."""

    def __init__(self, path: str, trusted: dict[str, Any] | None) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                self.files = {name: archive.read(name) for name in FILES
                              if name in archive.namelist()}
        except (OSError, zipfile.BadZipFile) as exc:
            raise CheckError(f"{path} is not a readable zip file ({exc})") from None
        missing = [name for name in FILES if name not in self.files]
        if missing:
            raise CheckError(f"the bundle lacks {', '.join(missing)}")
        self.manifest = json.loads(self.files["manifest.json"])
        if self.manifest.get("format") != FORMAT:
            raise CheckError(f"not a {FORMAT} bundle")
        self.bundled = json.loads(self.files["keys.json"])
        self.trusted = trusted
        self.keys = {k["kid"]: k for k in (trusted or self.bundled)["keys"]}


class Checks:
    """The checks of one bundle, in order; each returns what it found or raises
    :class:`CheckError`."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.facts: dict[str, Any] = {}

    def keys(self) -> str:
        """Each key's thumbprint is its own (and, with --keys, a trusted one)."""
        bundle = self.bundle
        for entry in bundle.bundled["keys"]:
            if thumbprint(entry["jwk"]) != entry["thumbprint"]:
                raise CheckError(f"the thumbprint of {entry['kid']} does not match its key")
            if bundle.trusted is not None:
                trusted = bundle.keys.get(entry["kid"])
                if trusted is None or thumbprint(trusted["jwk"]) != entry["thumbprint"]:
                    raise CheckError(f"{entry['kid']} is not one of the trusted keys")
        return ", ".join(f"{k['kid']} {thumbprint(k['jwk'])}" for k in bundle.keys.values())

    def message(self) -> str:
        """The message is signed by its sender, and its attachments are as signed."""
        manifest, raw = self.manifest, self.bundle.files["message.json"]
        header, _, digest = verify_jws(raw, self.bundle.keys, "message")
        bx = header.get("bx", {})
        if (bx.get("id"), bx.get("from"), bx.get("to")) != (
                manifest["message_id"], manifest["sender"], manifest["recipient"]):
            raise CheckError("the message is not the one the manifest names")
        if not str(header["kid"]).startswith(manifest["sender"] + "#"):
            raise CheckError("the message is not signed by a key of its sender")
        attached = {a["name"]: _b64url(a["data"])
                    for a in json.loads(raw).get("attachments", [])}
        for info in bx.get("attachments") or []:
            data = attached.get(info["name"])
            if data is None or hashlib.sha256(data).hexdigest() != info["sha256"]:
                raise CheckError(f"attachment {info['name']} is not as signed")
        self.facts["digest"] = digest
        return (f"{bx.get('type')} {manifest['message_id']} from {bx.get('from')} to "
                f"{bx.get('to')}, created {bx.get('created')}, signed by {header['kid']}")

    def receipt(self) -> str:
        """The recipient signed a receipt for exactly this message."""
        manifest = self.manifest
        header, payload, _ = verify_jws(self.bundle.files["receipt.json"], self.bundle.keys,
                                        "receipt")
        fields = json.loads(payload)
        if not str(header["kid"]).startswith(manifest["recipient"] + "#"):
            raise CheckError("the receipt is not signed by a key of the recipient")
        if (fields.get("message"), fields.get("digest"), fields.get("from"),
                fields.get("to")) != (manifest["message_id"], self.facts.get("digest"),
                                      manifest["recipient"], manifest["sender"]):
            raise CheckError("the receipt does not name this message exactly as it is here")
        return f"accepted by {fields['from']} at {fields['received']}, signed by {header['kid']}"

    def entry(self) -> str:
        """The audit entry records this message (received, or its receipt received)."""
        manifest = self.manifest
        seq, at, actor, action, subject, _detail = json.loads(self.bundle.files["entry.json"])
        if subject != manifest["message_id"] or seq != manifest["entry_seq"]:
            raise CheckError("the audit entry does not record this message")
        wanted = "message.received" if manifest["log"] == manifest["recipient"] \
            else "receipt.received"
        if action != wanted:
            raise CheckError(f"the audit entry records {action}, not {wanted}")
        return f"entry {seq} of the log of {manifest['log']}: {action} at {at} ({actor})"

    def checkpoint(self) -> str:
        """The checkpoint is of the log's node, signed by its key."""
        manifest = self.manifest
        index, proof, note = parse_tlog_proof(self.bundle.files["entry.tlog-proof"])
        body, signatures = split_note(note)
        lines = body.split("\n")
        if len(lines) != 4 or lines[0] != f"bx/{manifest['log']}/audit":
            raise CheckError("the checkpoint is not of the log of " + manifest["log"])
        log_key = self.bundle.keys.get(manifest["log_kid"])
        if log_key is None or not manifest["log_kid"].startswith(manifest["log"] + "#"):
            raise CheckError("the log's key is not in the key list")
        check_log_signature(body, signatures, manifest["log_kid"],
                            public_key(log_key["jwk"]))
        self.facts.update(index=index, proof=proof, size=int(lines[1]), root=_b64(lines[2]),
                          body=body, signatures=signatures)
        return f"{lines[1]} entries, signed by {manifest['log_kid']}"

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
                                 public_key(key["jwk"]))
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
            if name in ("message", "checkpoint"):
                break  # what follows rests on it
        except (KeyError, ValueError, TypeError, struct.error) as exc:
            say(name, False, f"malformed ({type(exc).__name__}: {exc})")
            return False
    return ok


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description="Check a BX/1 proof bundle offline.")
    parser.add_argument("bundle")
    parser.add_argument("--keys", help="trusted keys, as the bundle's keys.json")
    args = parser.parse_args(argv)
    try:
        trusted = None
        if args.keys:
            trusted = json.loads(Path(args.keys).read_text(encoding="utf-8"))
        bundle = Bundle(args.bundle, trusted)
    except (CheckError, OSError, ValueError) as exc:
        print(f"FAILED bundle: {exc}")
        return 1

    def say(check: str, ok: bool, text: str) -> None:
        print(f"{'OK    ' if ok else 'FAILED'} {check}: {text}")

    holds = run_checks(bundle, say)
    print("the proof holds" if holds else "the proof does NOT hold")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
