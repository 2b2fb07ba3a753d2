"""A running node's parts, built once from the settings and handed down (no globals)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit import log as audit
from gateway.documents.registry import RegistryError, SchemaRegistry
from gateway.exchange.metrics import Metrics
from gateway.protocol.bearer import MemoryReplayCache
from gateway.protocol.errors import GatewayError
from gateway.protocol.inbound import VerifiedMessage
from gateway.protocol.jose import SigningKey
from gateway.protocol.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.store.crypto import Sealer, SecretKeyError, load_secret_key
from gateway.store.database import DatabaseError, create_engine, migrate
from gateway.trust.keys import KeyStore, KeyStoreError
from gateway.trust.partners import PartnerDirectory, PartnerFileError

#: Called inside the transaction that stores an accepted message (the case work attaches it).
InboundHook = Callable[[AsyncConnection, VerifiedMessage], Awaitable[None]]


#: What the running use case asked to do once its transaction has committed.
_AFTER_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = \
    contextvars.ContextVar("bx_after_commit", default=None)


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the current use case's transaction has committed (waking the
    delivery worker for what it queued, say); at once when no use case is open."""
    pending = _AFTER_COMMIT.get()
    if pending is None:
        action()
    else:
        pending.append(action)


class NodeError(GatewayError):
    """The node cannot start; the message is one line naming the cause."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass
class Node:
    """Everything the flows of one node need."""

    settings: Settings
    engine: AsyncEngine
    keystore: KeyStore
    signing_key: SigningKey
    partners: PartnerDirectory
    registry: SchemaRegistry
    sealer: Sealer
    clock: Callable[[], datetime] = utc_now
    metrics: Metrics = field(default_factory=Metrics)
    rng: random.Random = field(default_factory=random.Random)
    outbox_signal: asyncio.Event = field(default_factory=asyncio.Event)
    inbound_hooks: list[InboundHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.clock)
        self.recent_tokens = MemoryReplayCache(self.clock)

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self.settings.node_id

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One use case's transaction: committed when the block ends without error; what the
        use case registered with :func:`after_commit` runs after the commit, never before
        and never after a rollback."""
        pending: list[Callable[[], None]] = []
        token = _AFTER_COMMIT.set(pending)
        try:
            async with self.engine.begin() as conn:
                yield conn
        finally:
            _AFTER_COMMIT.reset(token)
        for action in pending:
            action()

    async def audit(self, actor: str, action: str, subject: str | None = None,
                    **detail: object) -> None:
        """Append one audit entry in its own transaction."""
        async with self.engine.begin() as conn:
            await audit.append(conn, self.clock, actor, action, subject, detail)

    def reload_partners(self) -> list[str]:
        """Re-read the partner files (SIGHUP, admin API); returns the problems."""
        return self.partners.reload()

    async def close(self) -> None:
        """Release the database."""
        await self.engine.dispose()


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


async def open_node(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Node:
    """Build a node: files checked (fail closed), database migrated."""
    registry, keystore, signing_key, partners = load_parts(settings, clock)
    try:
        sealer = Sealer(load_secret_key(settings.secret_key_path))
    except SecretKeyError as exc:
        raise NodeError(str(exc)) from exc
    engine = await open_database(settings)
    return Node(settings=settings, engine=engine, keystore=keystore, signing_key=signing_key,
                partners=partners, registry=registry, sealer=sealer, clock=clock)
