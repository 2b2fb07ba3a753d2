"""Encryption at rest of personal and special data, under the node's secret key.

``BX_SECRET_KEY_FILE`` holds 32 random bytes (created at first start, mode 0600). Three keys
are derived from it with HKDF-SHA256, one per purpose, so that no key serves two ends:

- ``seal``: AES-256-GCM for sensitive columns and stored message bytes. Each value carries a
  fresh 96-bit nonce; the associated data names the column, so a ciphertext moved to another
  column (or table) does not open.
- ``index``: HMAC-SHA256 "blind index" of normalised search terms, so names and identifiers
  can be found by equality without being stored in clear.
- ``session``: the key that signs console and API sessions (``access``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.protocol.errors import GatewayError

KEY_BYTES: Final = 32
_VERSION: Final = b"\x01"
_NONCE: Final = 12


class SecretKeyError(GatewayError):
    """The secret key file is unusable; the message says why in one line."""


class SealError(GatewayError):
    """A sealed value that does not open: altered, moved to another column, or another key."""


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
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(f"{path}: secret key is readable by others (mode {mode:o}); "
                             "chmod 600 it")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{path}: secret key must be {KEY_BYTES} bytes")
    return key


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"bx-gateway/{purpose}/v1".encode()).derive(secret)


class Sealer:
    """Seal and open values at rest; compute blind-index terms; hand out the session key."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(_derive(secret, "seal"))
        self._index_key = _derive(secret, "index")
        self.session_key = _derive(secret, "session")

    def seal(self, plaintext: bytes, column: str) -> bytes:
        """Encrypt ``plaintext`` for ``column`` (e.g. ``"persons.name_native"``)."""
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, column.encode())

    def open(self, sealed: bytes, column: str) -> bytes:
        """Decrypt a value sealed for ``column``; :class:`SealError` if it does not open."""
        if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _VERSION:
            raise SealError(f"{column}: not a sealed value")
        try:
            return self._aead.decrypt(sealed[1:1 + _NONCE], sealed[1 + _NONCE:],
                                      column.encode())
        except InvalidTag as exc:
            raise SealError(f"{column}: sealed value does not open") from exc

    def seal_text(self, text: str | None, column: str) -> bytes | None:
        """Seal a text (``None`` stays ``None``)."""
        return None if text is None else self.seal(text.encode(), column)

    def open_text(self, sealed: bytes | None, column: str) -> str | None:
        """Open a sealed text (``None`` stays ``None``)."""
        return None if sealed is None else self.open(bytes(sealed), column).decode()

    def index_term(self, term: str) -> str:
        """The blind-index form of one normalised search term."""
        return hmac.new(self._index_key, term.encode(), hashlib.sha256).hexdigest()[:32]
