"""Files chosen in a compose form: checked by their bytes (JPEG, PNG or PDF signatures, not
their names), and held for their owner when the form is refused for another field, so that it
comes back with them instead of asking for them again. Held files are sealed like drafts and
forgotten after :data:`HELD_FOR`."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.cases.work import CaseError, CaseWork
from gateway.protocol.envelope import ATTACHMENT_SUFFIXES, sniff_media_type
from gateway.protocol.errors import N_
from gateway.store import held_files

HELD_FOR: Final = timedelta(days=1)
MAX_FILE: Final = 5 * 1024 * 1024
#: The files kept for one person at most: as many as a draft carries.
MAX_HELD: Final = 10
#: What a file's name says it is, to refuse a name that lies about the bytes.
_BY_SUFFIX: Final = {suffix: media for media, suffixes in ATTACHMENT_SUFFIXES.items()
                     for suffix in suffixes}


@dataclass(frozen=True)
class Upload:
    """A checked file: a safe name, the media type its bytes show, the bytes."""

    name: str
    media_type: str
    data: bytes

    def as_attachment(self) -> dict[str, str]:
        """The draft's form of an attachment."""
        return {"name": self.name, "media_type": self.media_type,
                "data": base64.b64encode(self.data).decode()}


def safe_name(filename: str) -> str:
    """A file name that travels (letters, digits, ``.``, ``_``, ``-``; 100 at most)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    return cleaned.lstrip(".-_")[:100] or "file"


def unique(upload: Upload, taken: set[str]) -> Upload:
    """``upload`` under a name no other file of the form has (a phone names every photo
    ``image.jpg``: the second becomes ``image-2.jpg``); the name is then taken."""
    name, number = upload.name, 1
    stem, dot, suffix = upload.name.rpartition(".")
    while name in taken:
        number += 1
        name = f"{stem}-{number}.{suffix}" if dot else f"{upload.name}-{number}"
    taken.add(name)
    return replace(upload, name=name[-100:])


def check_upload(filename: str, data: bytes, field: str = "attachments") -> Upload:
    """A chosen file, refused with a clear reason unless its bytes are a JPEG, a PNG or a PDF
    of 1 byte to 5 MiB whose name (if it says) agrees."""
    name = safe_name(filename)
    if not data or len(data) > MAX_FILE:
        raise CaseError("invalid-request", N_("{name}: a file of 1 byte to 5 MiB"),
                        field, name=name)
    media_type = sniff_media_type(data)
    if media_type is None:
        raise CaseError("invalid-request", N_("{name}: the content is not a JPEG, PNG or PDF file"),
                        field, name=name)
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    said = _BY_SUFFIX.get(suffix)
    if said is not None and said != media_type:
        raise CaseError("invalid-request", N_("{name}: the name says {said} but the content is "
                                              "{media_type}"),
                        field, name=name, said=said, media_type=media_type)
    return Upload(name, media_type, data)


async def hold(conn: AsyncConnection, cw: CaseWork, owner: str, files: list[Upload],
               keep: list[str] | None = None) -> list[str]:
    """Keep checked files for their owner; answers their handles. Only the form in hand
    keeps files: the owner's others (from a form left behind) are forgotten, and no more
    than a draft may carry (:data:`MAX_HELD`) are ever kept for one person."""
    kept = [h for h in keep or [] if re.fullmatch(r"[0-9a-f]{32}", h)]
    await held_files.forget_others(conn, owner, kept)
    handles = []
    for item in files[:max(0, MAX_HELD - len(kept))]:
        handle = secrets.token_hex(16)
        await held_files.insert_held(
            conn, id=handle, owner=owner, name=item.name, media_type=item.media_type,
            data_sealed=cw.sealer.seal(item.data, "held_files.data"), created_at=cw.clock())
        handles.append(handle)
    return handles


async def held(conn: AsyncConnection, cw: CaseWork, owner: str, handles: list[str]
               ) -> list[tuple[str, Upload]]:
    """The owner's held files among ``handles`` (others' and lapsed ones are not found)."""
    wanted = [h for h in handles if re.fullmatch(r"[0-9a-f]{32}", h)]
    if not wanted:
        return []
    rows = await held_files.held_rows(conn, owner, wanted, cw.clock() - HELD_FOR)
    return [(r.id, Upload(r.name, r.media_type, cw.sealer.open(r.data_sealed,
                                                               "held_files.data")))
            for r in rows]


async def release_held(conn: AsyncConnection, owner: str, handles: list[str]) -> None:
    """Forget held files once their draft is saved."""
    if handles:
        await held_files.delete_held(conn, owner, handles)


async def purge(conn: AsyncConnection, cw: CaseWork) -> int:
    """Forget held files older than :data:`HELD_FOR`."""
    return await held_files.purge_held(conn, cw.clock() - HELD_FOR)
