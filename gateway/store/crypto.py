"""Encryption at rest of personal and special data, under the node's secret key.

``BX_SECRET_KEY_FILE`` holds 32 random bytes (created at first start, mode 0600). Three keys
are derived from it with HKDF-SHA256, one per purpose, so that no key serves two ends:

- ``seal``: AES-256-GCM for sensitive columns and stored message bytes. Each value carries a
  fresh 96-bit nonce; the associated data names the column, so a ciphertext moved to another
  column (or table) does not open.
- ``index``: HMAC-SHA256 "blind index" of normalised search terms, so names and identifiers
  can be found by equality without being stored in clear.
- ``session``: the key that signs console and API sessions (``access``).

Rotation (``gateway secret rotate``, :mod:`gateway.store.rekey`): a new secret takes the file's
place and the old one is kept beside it (``<file>.old-<tag>``) until no sealed value and no
open session needs it. A sealed value names the key that sealed it (a 4-byte tag), so a value
opens under any key the node still holds, and a running node re-reads the files when they
change. The blind index keeps the key it had before the first rotation (``<file>.index``):
re-computing every search term would need every name in clear at once; equality search on a
stolen database stays as hard as before, and the index key is never used to seal anything.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.protocol.errors import N_, GatewayError

KEY_BYTES: Final = 32
#: Sealed before rotation existed: no key tag (opened by trying each key the node holds).
_V1: Final = b"\x01"
#: Sealed with the tag of its key: version, tag, nonce, ciphertext and GCM tag.
_V2: Final = b"\x02"
_TAG: Final = 4
_NONCE: Final = 12


class SecretKeyError(GatewayError):
    """The secret key file is unusable; the message says why in one line."""


class SealError(GatewayError):
    """A sealed value that does not open: altered, moved to another column, or another key."""


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(N_("{path}: secret key is readable by others (mode {mode:o}); chmod "
                                "600 it"), path=path, mode=mode)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SecretKeyError(N_("{path}: secret key must be {size} bytes"),
                             path=path, size=KEY_BYTES)
    return key


def retired_keys(path: Path) -> list[Path]:
    """The old secret keys kept beside ``path`` while a rotation finishes."""
    return sorted(path.parent.glob(f"{path.name}.old-*"))


def index_key_path(path: Path) -> Path:
    """Where the blind index's key is kept once the secret has been rotated."""
    return path.with_name(f"{path.name}.index")


def secrets_version(path: Path) -> tuple[tuple[str, int], ...]:
    """Changes whenever a secret file is added, replaced or removed (to re-read them)."""
    found = []
    for candidate in (path, index_key_path(path), *retired_keys(path)):
        try:
            found.append((candidate.name, candidate.stat().st_mtime_ns))
        except FileNotFoundError:
            continue
    return tuple(found)


def load_sealer(path: Path) -> Sealer:
    """The node's sealer: the current secret (created on first start), the old ones a
    rotation keeps, and the blind index's kept key."""
    current = load_secret_key(path)
    index = index_key_path(path)
    return Sealer(current, [_read_key(p) for p in retired_keys(path)],
                  _read_key(index) if index.exists() else None)


def load_secret_key(path: Path) -> bytes:
    """Read the node's secret key, creating it (0600) on first start; refuse a readable one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(os.urandom(KEY_BYTES))
                out.flush()
                os.fsync(out.fileno())
    return _read_key(path)


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"bx-gateway/{purpose}/v1".encode()).derive(secret)


def index_key_of(secret: bytes) -> bytes:
    """The blind index's key derived from a secret (kept when the secret is rotated)."""
    return _derive(secret, "index")


def key_tag(secret: bytes) -> bytes:
    """The 4 bytes that name a secret in what it seals (not a secret itself)."""
    return hashlib.sha256(b"bx-gateway/key-tag/v1" + _derive(secret, "seal")).digest()[:_TAG]


class Sealer:
    """Seal and open values at rest; compute blind-index terms; hand out the session keys."""

    def __init__(self, secret: bytes, retired: Sequence[bytes] = (),
                 index_key: bytes | None = None) -> None:
        self.tag = key_tag(secret)
        self._aead = AESGCM(_derive(secret, "seal"))
        self._by_tag = {key_tag(k): AESGCM(_derive(k, "seal")) for k in retired}
        self._by_tag[self.tag] = self._aead
        self._index_key = index_key or _derive(secret, "index")
        self.session_key = _derive(secret, "session")
        #: Every key a session token may be signed with: the current one first.
        self.session_keys = (self.session_key, *(_derive(k, "session") for k in retired))

    def seal(self, plaintext: bytes, column: str) -> bytes:
        """Encrypt ``plaintext`` for ``column`` (e.g. ``"persons.name_native"``)."""
        nonce = os.urandom(_NONCE)
        return _V2 + self.tag + nonce + self._aead.encrypt(nonce, plaintext, column.encode())

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` is sealed under the current key (nothing to re-seal)."""
        return sealed[:1] == _V2 and sealed[1:1 + _TAG] == self.tag

    def open(self, sealed: bytes, column: str) -> bytes:
        """Decrypt a value sealed for ``column``; :class:`SealError` if it does not open."""
        if sealed[:1] == _V2 and len(sealed) >= 1 + _TAG + _NONCE + 16:
            aead = self._by_tag.get(sealed[1:1 + _TAG])
            candidates = [aead] if aead is not None else []
            body = sealed[1 + _TAG:]
        elif sealed[:1] == _V1 and len(sealed) >= 1 + _NONCE + 16:
            candidates = [self._aead, *(a for a in self._by_tag.values() if a is not self._aead)]
            body = sealed[1:]
        else:
            raise SealError(N_("{column}: not a sealed value"), column=column)
        for aead in candidates:
            try:
                return aead.decrypt(body[:_NONCE], body[_NONCE:], column.encode())
            except InvalidTag:
                continue
        raise SealError(N_("{column}: sealed value does not open"), column=column)

    def seal_text(self, text: str | None, column: str) -> bytes | None:
        """Seal a text (``None`` stays ``None``)."""
        return None if text is None else self.seal(text.encode(), column)

    def open_text(self, sealed: bytes | None, column: str) -> str | None:
        """Open a sealed text (``None`` stays ``None``)."""
        return None if sealed is None else self.open(bytes(sealed), column).decode()

    def index_term(self, term: str) -> str:
        """The blind-index form of one normalised search term."""
        return hmac.new(self._index_key, term.encode(), hashlib.sha256).hexdigest()[:32]
