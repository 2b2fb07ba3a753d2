"""Rotating the node's secret key (``gateway secret rotate``) while the node serves.

1. **Swap** (:func:`begin`): a new secret is written beside the file (``<file>.new``), the
   blind index's key is kept (``<file>.index``, once), the old secret is kept
   (``<file>.old-<tag>``), and the new one takes the file's place. Every step is an atomic,
   fsynced write, so a crash at any point leaves a node that opens everything; running again
   finishes the step it was in. Running nodes re-read the files within a second.
2. **Re-seal** (:func:`reseal`): every sealed column of every table, in batches of
   :data:`BATCH` rows, each batch its own short transaction: a value not sealed under the
   current key is opened and sealed again, written only if nobody changed it meanwhile. The
   pass is idempotent: after a crash it starts again and skips what is done.
3. **Finish** (:func:`finish`): the old secrets are deleted once no sealed value and no open
   session needs them; until then they stay and the command says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store import missing_persons as missing
from gateway.store.case_tables import (
    cases,
    drafts,
    held_files,
    missing_person_reporters,
    missing_persons,
    notes,
    persons,
    sessions,
    tasks,
    tip_reporters,
    tips,
)
from gateway.store.crypto import (
    index_key_of,
    index_key_path,
    key_tag,
    load_sealer,
    load_secret_key,
    retired_keys,
)
from gateway.store.tables import messages
from gateway.trust.files import write_atomically

BATCH: Final = 500
#: Rows per batch of the columns that hold whole messages or files (up to 20 MiB each).
BLOB_BATCH: Final = 16

#: Every sealed column: (table, primary key column, column, the name it is sealed for).
SEALED: Final[tuple[tuple[sa.Table, str, str, str], ...]] = (
    (messages, "id", "raw", "messages.raw"),
    (cases, "id", "summary_sealed", "cases.summary"),
    (cases, "id", "best_interests_sealed", "cases.best_interests"),
    (persons, "id", "name_native_sealed", "persons.name_native"),
    (persons, "id", "name_latin_sealed", "persons.name_latin"),
    (persons, "id", "details_sealed", "persons.details"),
    (tasks, "id", "done_note_sealed", "tasks.done_note"),
    (notes, "id", "text_sealed", "notes.text"),
    (drafts, "id", "document_sealed", "drafts.document"),
    (drafts, "id", "attachments_sealed", "drafts.attachments"),
    (tips, "id", "narrative_sealed", "tips.narrative"),
    (tips, "id", "location_sealed", "tips.location"),
    (tips, "id", "persons_sealed", "tips.persons"),
    (tip_reporters, "tip_id", "identity_sealed", "tip_reporters.identity"),
    (held_files, "id", "data_sealed", "held_files.data"),
    (missing_persons, "id", "person_sealed", missing.PERSON_COLUMN),
    (missing_persons, "id", "last_seen_sealed", missing.LAST_SEEN_COLUMN),
    (missing_persons, "id", "narrative_sealed", missing.NARRATIVE_COLUMN),
    (missing_persons, "id", "photo_sealed", missing.PHOTO_COLUMN),
    (missing_persons, "id", "close_note_sealed", missing.CLOSE_NOTE_COLUMN),
    (missing_person_reporters, "report_id", "identity_sealed", missing.REPORTER_COLUMN),
)
_BLOBS: Final = frozenset({"messages.raw", "drafts.attachments", "held_files.data",
                           missing.PHOTO_COLUMN})


def _new_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.new")


def in_progress(path: Path) -> bool:
    """A rotation was begun and not finished (old secrets are still kept)."""
    return _new_path(path).exists() or bool(retired_keys(path))


def begin(path: Path) -> bool:
    """Swap in a new secret, or finish a swap a crash interrupted. True if this call started
    a new rotation; False if one was already under way (it is resumed, no new key made)."""
    started = False
    pending = _new_path(path)
    if not pending.exists():
        if retired_keys(path):
            return False
        write_atomically(pending, os.urandom(32), 0o600)
        started = True
    old = load_secret_key(path)
    new = pending.read_bytes()
    if old == new:  # the swap was done, the leftover is the new key itself
        pending.unlink()
        return started
    index = index_key_path(path)
    if not index.exists():
        write_atomically(index, index_key_of(old), 0o600)
    write_atomically(path.with_name(f"{path.name}.old-{key_tag(old).hex()}"), old, 0o600)
    write_atomically(path, new, 0o600)
    pending.unlink()
    return started


@dataclass
class Progress:
    """What a pass did, per sealed column."""

    column: str
    scanned: int = 0
    resealed: int = 0


async def reseal(engine: AsyncEngine, path: Path, *, batch: int = BATCH,
                 report: Callable[[Progress], None] = lambda _: None) -> int:
    """Seal again, under the current key, every value sealed under another; answers how many.
    ``report`` hears of each column's progress after every batch."""
    total = 0
    for table, pk_name, column_name, purpose in SEALED:
        pk, column = table.c[pk_name], table.c[column_name]
        progress = Progress(purpose)
        size = min(batch, BLOB_BATCH) if purpose in _BLOBS else batch
        last = None
        while True:
            sealer = load_sealer(path)  # a key swapped meanwhile is picked up at once
            query = sa.select(pk, column).where(column.is_not(None)).order_by(pk).limit(size)
            if last is not None:
                query = query.where(pk > last)
            async with engine.begin() as conn:
                rows = (await conn.execute(query)).all()
                for key, value in rows:
                    sealed = bytes(value)
                    if sealer.is_current(sealed):
                        continue
                    again = sealer.seal(sealer.open(sealed, purpose), purpose)
                    changed = await conn.execute(
                        sa.update(table).where(pk == key, column == value).values(
                            {column_name: again}))
                    progress.resealed += changed.rowcount
            if not rows:
                break
            last = rows[-1][0]
            progress.scanned += len(rows)
            report(progress)
        total += progress.resealed
    return total


async def still_old(engine: AsyncEngine, path: Path) -> int:
    """How many sealed values are not under the current key."""
    sealer = load_sealer(path)
    count = 0
    async with engine.connect() as conn:
        for table, _pk, column_name, _purpose in SEALED:
            column = table.c[column_name]
            result = await conn.stream(sa.select(column).where(column.is_not(None)))
            async for (value,) in result:
                count += not sealer.is_current(bytes(value))
    return count


async def sessions_before(engine: AsyncEngine, moment: datetime, now: datetime) -> int:
    """Open sessions begun before ``moment`` (their tokens are signed with the old key)."""
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(sessions).where(
            sessions.c.created_at < moment, sessions.c.ended_at.is_(None),
            sessions.c.expires_at > now))).scalar_one())


def swapped_at(path: Path) -> datetime | None:
    """When the oldest kept secret was set aside (None if none is kept)."""
    kept = retired_keys(path)
    if not kept:
        return None
    return datetime.fromtimestamp(min(p.stat().st_mtime for p in kept), UTC)


def finish(path: Path) -> int:
    """Delete the kept old secrets; answers how many."""
    kept = retired_keys(path)
    for old in kept:
        old.unlink()
    return len(kept)
