"""Writing files that hold secrets or trust: atomically, durably, with the right mode."""

from __future__ import annotations

import contextlib
import os
import secrets
import unicodedata
from pathlib import Path


def one_line(text: str, most: int) -> bool:
    """Whether ``text`` is a name a document can carry: one line of 1 to ``most`` characters,
    no control character (which XML cannot carry, or which hides what follows)."""
    return 0 < len(text) <= most and not any(unicodedata.category(c) == "Cc" for c in text)


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename.

    A reader sees the old file or the new one, never half of one; the file is created with
    ``mode`` from the start, so a secret is never readable by others, even for an instant.
    Each write has a temporary file of its own: two writers of the same file in one process
    (two requests finishing a key's activation at once) both succeed, the last one's file
    staying.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
