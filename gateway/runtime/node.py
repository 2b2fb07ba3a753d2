"""A running node's parts, built once from the settings and handed down (no globals)."""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit import log as audit
from gateway.audit.checkpoints import CheckpointKeyError
from gateway.documents.registry import RegistryError, SchemaRegistry
from gateway.protocol.bearer import MemoryReplayCache
from gateway.protocol.envelope import Envelope
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.jose import SigningKey
from gateway.protocol.ratelimit import RateLimiter
from gateway.runtime.metrics import Metrics
from gateway.settings import Settings
from gateway.store import leases
from gateway.store.crypto import Sealer, SecretKeyError, load_sealer, secrets_version
from gateway.store.database import DatabaseError, create_engine, migrate
from gateway.store.groupcommit import GroupCommit, after_commit
from gateway.store.transactions import Database
from gateway.trust.keys import KeyStore, KeyStoreError
from gateway.trust.names import NameBook, units_file
from gateway.trust.partners import PartnerDirectory, PartnerFileError

#: Attaches an accepted message to its case. It runs after the message's receipt has been
#: committed, in the transaction that clears the message's "not yet attached" mark
#: (:mod:`gateway.exchange.attach`), so a message is attached exactly once.
InboundHook = Callable[[AsyncConnection, Envelope], Awaitable[None]]

__all__ = ["after_commit"]


class Handover:
    """Messages this process has just accepted, as they were parsed and verified, for the case
    work that attaches them right after (:mod:`gateway.exchange.attach`): it need not open
    and parse them again. Filled once their receipt's transaction has committed; an entry is
    taken once, and only for the row that holds the very sealed bytes it was accepted as (a
    row id alone could name another message after a rolled-back batch). Holds at most
    :data:`BUDGET` bytes, the oldest dropped first: what is not held is read from the
    database, as after a restart. Used from the serving loop and the writer's thread."""

    #: Bytes held at most (sealed copies and parsed envelopes): a backlog of some thousands
    #: of typical messages.
    BUDGET = 32 * 1024 * 1024
    #: What an entry costs besides its bytes: the envelope's Python objects (its header's
    #: models, the strings' headers; about 3.3 kB measured), and 1 kB more an attachment.
    ENTRY = 4096
    ATTACHMENT = 1024

    def __init__(self) -> None:
        self._held: OrderedDict[int, tuple[bytes, Envelope]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @classmethod
    def _cost(cls, sealed: bytes, envelope: Envelope) -> int:
        """The memory an entry holds: the sealed copy, the document and every member of the
        envelope as received (the payload in base64, the attachments' data), and the
        objects around them (a small message costs several times its bytes)."""
        return (cls.ENTRY + len(sealed) + len(envelope.document) + len(envelope.payload)
                + len(envelope.protected) + len(envelope.signature)
                + sum(cls.ATTACHMENT + len(name) + len(data)
                      for name, data in envelope.attachments.items()))

    def hold(self, accepted: list[tuple[int, bytes, Envelope]]) -> None:
        """Hold each ``(row id, sealed bytes, envelope)`` until taken (or dropped)."""
        with self._lock:
            for pk, sealed, envelope in accepted:
                cost = self._cost(sealed, envelope)
                if cost > self.BUDGET // 64:  # a large message: read it again when due
                    continue
                replaced = self._held.pop(pk, None)  # a row id of a rolled-back batch
                if replaced is not None:
                    self._size -= self._cost(*replaced)
                self._held[pk] = (sealed, envelope)
                self._size += cost
            while self._size > self.BUDGET and self._held:
                _, (sealed, envelope) = self._held.popitem(last=False)
                self._size -= self._cost(sealed, envelope)

    def take(self, pk: int, sealed: bytes) -> Envelope | None:
        """The envelope of row ``pk`` if held and the row stores these ``sealed`` bytes."""
        with self._lock:
            entry = self._held.pop(pk, None)
            if entry is None:
                return None
            self._size -= self._cost(*entry)
        return entry[1] if entry[0] == sealed else None

    def __len__(self) -> int:
        return len(self._held)


class NodeError(GatewayError):
    """The node cannot start; the message is one line naming the cause."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass
class Node:
    """Everything the flows of one node need."""

    settings: Settings
    engine: AsyncEngine
    keystore: KeyStore
    loaded_key: SigningKey
    partners: PartnerDirectory
    registry: SchemaRegistry
    loaded_sealer: Sealer
    clock: Callable[[], datetime] = utc_now
    metrics: Metrics = field(default_factory=Metrics)
    rng: random.Random = field(default_factory=random.Random)
    outbox_signal: asyncio.Event = field(default_factory=asyncio.Event)
    inbound_hooks: list[InboundHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.clock)
        self.recent_tokens = MemoryReplayCache(self.clock)
        self._key_version = self.keystore.version()
        self._secrets_version = secrets_version(self.settings.secret_key_path)
        self._secrets_checked = time.monotonic()
        url = self.settings.database_url
        assert url is not None
        self.writer = GroupCommit(lambda: create_engine(url, inline=True),
                                  prologue=audit.lock_head)
        self.db = Database(self.engine, self.writer)
        self.attach_signal = asyncio.Event()
        self.handover = Handover()

    @property
    def sealer(self) -> Sealer:
        """The sealer over the secret files as they are now: re-read (at most once a second)
        when ``gateway secret rotate`` has swapped a key in or deleted an old one."""
        if time.monotonic() - self._secrets_checked >= 1.0:
            self._secrets_checked = time.monotonic()
            version = secrets_version(self.settings.secret_key_path)
            if version != self._secrets_version:
                try:
                    self.loaded_sealer = load_sealer(self.settings.secret_key_path)
                except (SecretKeyError, OSError):
                    return self.loaded_sealer  # half-way through a swap: the next check
                self._secrets_version = version
        return self.loaded_sealer

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs now: re-read when ``gateway keys activate`` (or ``rotate``) has
        changed the key file, so that a rollover needs no restart. A key file that cannot be
        read keeps the key loaded before (the node keeps signing with a published key)."""
        version = self.keystore.version()
        if version != self._key_version:
            try:
                self.loaded_key = self.keystore.signing_key()
            except KeyStoreError:
                return self.loaded_key
            self._key_version = version
        return self.loaded_key

    def checkpoint_key(self) -> SigningKey:
        """The Ed25519 key that signs this node's checkpoints and cosignatures (PROTOCOL.md
        §4.8): the signing key, or an ES256 node's separate checkpoint key (read when used:
        once a round, not per message)."""
        try:
            return self.keystore.checkpoint_key()
        except KeyStoreError as exc:
            raise CheckpointKeyError(N_("{error}"), error=exc) from exc

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self.settings.node_id

    @functools.cached_property
    def names(self) -> NameBook:
        """What nodes and units are called, by language (profiles, units files, partner
        files)."""
        return NameBook(self.settings.profiles_dir, self.partners,
                        units_file(self.settings.data_path))

    async def holds(self, lease: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``lease`` for this replica (:mod:`gateway.store.leases`);
        False while another live replica holds it."""
        async with self.db.transaction() as conn:
            return await leases.hold(conn, lease, self.settings.replica, self.clock(), ttl)

    async def audit(self, actor: str, action: str, subject: str | None = None,
                    **detail: object) -> None:
        """Append one audit entry in its own transaction."""
        async with self.db.transaction() as conn:
            await audit.append(conn, self.clock, actor, action, subject, detail)

    def reload_partners(self) -> list[str]:
        """Re-read the partner files (SIGHUP, admin API); returns the problems."""
        return self.partners.reload()

    async def close(self) -> None:
        """Release the database."""
        await self.db.dispose()


def load_parts(settings: Settings, clock: Callable[[], datetime] = utc_now
               ) -> tuple[SchemaRegistry, KeyStore, SigningKey, PartnerDirectory]:
    """The parts that come from files; raises :class:`NodeError` with one line."""
    try:
        registry = SchemaRegistry.load(settings.schemas_dir)
        keystore = KeyStore(settings.key_path, settings.node_id)
        signing_key = keystore.signing_key()
        partners = PartnerDirectory.load(settings.partners_path, registry.types(), clock)
    except (RegistryError, KeyStoreError) as exc:
        raise NodeError(str(exc)) from exc
    except PartnerFileError as exc:
        raise NodeError(f"partner directory refused: {exc.problems[0]}"
                        + (f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1
                           else "")) from exc
    return registry, keystore, signing_key, partners


async def open_database(settings: Settings) -> AsyncEngine:
    """The engine, with the schema migrated to this version."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
    except DatabaseError as exc:
        await engine.dispose()
        raise NodeError(str(exc)) from exc
    return engine


async def assemble_node(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Node:
    """Build a node's parts: files checked (fail closed), database migrated. A node that
    serves is opened with :func:`gateway.exchange.startup.open_node` (its inbound handlers
    installed)."""
    registry, keystore, signing_key, partners = load_parts(settings, clock)
    try:
        sealer = load_sealer(settings.secret_key_path)
    except SecretKeyError as exc:
        raise NodeError(str(exc)) from exc
    engine = await open_database(settings)
    return Node(settings=settings, engine=engine, keystore=keystore, loaded_key=signing_key,
                partners=partners, registry=registry, loaded_sealer=sealer, clock=clock)
