"""Reading and writing messages, receipts, attempts and token ids. Never commits: the caller's
transaction is the unit of work (ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.protocol.envelope import Envelope
from gateway.store.inline_sqlite import prepared
from gateway.store.tables import (
    attachments,
    delivery_attempts,
    messages,
    rate_counts,
    receipts,
    replay_cache,
)


# The statements of the inbound hot path are built once: building and cache-keying a new
# statement object per call costs more than executing it (bench/ingest.py).
def _per_dialect(build: Any) -> dict[str, Any]:
    return {"sqlite": prepared(build(sqlite.insert)), "postgresql": build(postgresql.insert)}


_INSERT_MESSAGE = _per_dialect(lambda insert: insert(messages).on_conflict_do_nothing(
    index_elements=[messages.c.direction, messages.c.sender, messages.c.message_id],
).returning(messages.c.id))


#: Message bytes are sealed at rest (AES-GCM, :mod:`gateway.store.crypto`) under this name.
RAW_COLUMN = "messages.raw"

def _renew_expired(insert: Any) -> Any:
    statement = insert(replay_cache)
    return statement.on_conflict_do_update(
        index_elements=[replay_cache.c.issuer, replay_cache.c.jti],
        set_={"expires": statement.excluded.expires},
        where=replay_cache.c.expires < sa.bindparam("now"))


_REMEMBER_TOKEN = _per_dialect(_renew_expired)
_INSERT_RECEIPT = prepared(receipts.insert())
_INSERT_ATTACHMENT = prepared(attachments.insert())
#: Built once (per call, building the IN clauses cost more than running them: the group
#: commit runs these for every batch of accepted messages).
_ACCEPTED = sa.select(messages.c.id, messages.c.sender, messages.c.message_id,
                      messages.c.digest).where(
    messages.c.direction == "in",  # the identity index: (direction, sender, message_id)
    messages.c.sender.in_(sa.bindparam("senders", expanding=True)),
    messages.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_LIVE_TOKENS = sa.select(replay_cache.c.issuer, replay_cache.c.jti).where(
    replay_cache.c.issuer.in_(sa.bindparam("issuers", expanding=True)),  # the key
    replay_cache.c.jti.in_(sa.bindparam("jtis", expanding=True)),
    replay_cache.c.expires >= sa.bindparam("now"))


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt row: the exact bytes and who signed it."""

    raw: bytes
    signer: str


def _header_columns(envelope: Envelope) -> dict[str, Any]:
    bx = envelope.header.bx
    return {"message_id": bx.id, "sender": bx.from_, "recipient": bx.to, "doc_type": bx.type,
            "doc_version": bx.version, "conversation": bx.conversation, "ref": bx.ref,
            "priority": bx.priority, "handling": bx.handling, "created": bx.created,
            "digest": envelope.digest, "test": bx.is_test,
            "header": envelope.header.model_dump_json(by_alias=True)}


async def insert_message(conn: AsyncConnection, envelope: Envelope, raw: bytes, *,
                         direction: str, state: str, now: datetime,
                         deadline: datetime | None = None,
                         next_attempt: datetime | None = None,
                         attach_pending: bool = False) -> int | None:
    """Store a message with its exact bytes; its row id, or None if its sender, direction and
    id are stored already (one statement either way). ``attach_pending`` marks an accepted
    message that its case has not seen yet."""
    result = await conn.execute(_INSERT_MESSAGE[conn.dialect.name], {
        **_header_columns(envelope), "raw": raw, "direction": direction, "state": state,
        "stored_at": now, "deadline_at": deadline, "next_attempt_at": next_attempt,
        "attempts": 0, "ref": envelope.header.bx.ref, "delivered_at": None,
        "last_error": None, "attach_pending": attach_pending, "claimed_by": None,
        "claimed_until": None})
    row = result.first()
    if row is None:
        return None
    pk = int(row.id)
    infos = envelope.header.bx.attachments or []
    if infos:
        await conn.execute(_INSERT_ATTACHMENT, [
            {"message_pk": pk, "name": i.name, "media_type": i.media_type, "size": i.size,
             "sha256": i.sha256} for i in infos])
    return pk


def _message_row(envelope: Envelope, raw: bytes, direction: str, state: str, now: datetime,
                 attach_pending: bool) -> dict[str, Any]:
    return {**_header_columns(envelope), "raw": raw, "direction": direction, "state": state,
            "stored_at": now, "deadline_at": None, "next_attempt_at": None, "attempts": 0,
            "delivered_at": None, "last_error": None, "attach_pending": attach_pending,
            "claimed_by": None, "claimed_until": None}


_INSERT_MANY = prepared(messages.insert())


async def insert_accepted(conn: AsyncConnection,
                          arrivals: Sequence[tuple[Envelope, bytes, datetime, bool]]
                          ) -> list[int]:
    """Store accepted messages ``(envelope, sealed bytes, received, to attach)`` not stored
    before, in a few statements; their row ids in order. ``to attach`` marks a message its
    case has not seen yet. (The caller has
    checked with :func:`accepted_identities` that none is stored: a race with another
    replica fails the whole insert, and the caller writes them one by one instead.)"""
    if not arrivals:
        return []
    rows = [_message_row(envelope, raw, "in", "accepted", received, attach)
            for envelope, raw, received, attach in arrivals]
    await conn.execute(_INSERT_MANY, rows)  # one executemany; RETURNING would be row by row
    ids = await accepted_identities(conn, [(row["sender"], row["message_id"]) for row in rows])
    pks = [ids[(row["sender"], row["message_id"])][0] for row in rows]
    files = [{"message_pk": pk, "name": i.name, "media_type": i.media_type, "size": i.size,
              "sha256": i.sha256}
             for pk, (envelope, _, _, _) in zip(pks, arrivals, strict=True)
             for i in envelope.header.bx.attachments or []]
    if files:
        await conn.execute(_INSERT_ATTACHMENT, files)
    return pks


async def accepted_identities(conn: AsyncConnection, keys: Sequence[tuple[str, str]]
                              ) -> dict[tuple[str, str], tuple[int, str]]:
    """Of ``(sender, message id)`` pairs, those accepted before: their row id and digest."""
    if not keys:
        return {}
    rows = await conn.execute(_ACCEPTED, {"senders": sorted({sender for sender, _ in keys}),
                                          "ids": sorted({message_id for _, message_id in keys})})
    wanted = set(keys)
    return {(row.sender, row.message_id): (int(row.id), str(row.digest)) for row in rows
            if (row.sender, row.message_id) in wanted}


async def insert_receipts(conn: AsyncConnection,
                          rows: Sequence[tuple[int, str, bytes, str, datetime]]) -> None:
    """Keep receipts ``(message row id, signer, bytes, received, now)`` in one statement."""
    if rows:
        await conn.execute(_INSERT_RECEIPT, [
            {"message_pk": pk, "signer": signer, "raw": raw, "received": received,
             "stored_at": now} for pk, signer, raw, received, now in rows])


async def live_tokens(conn: AsyncConnection, tokens: Sequence[tuple[str, str]], now: int
                      ) -> set[tuple[str, str]]:
    """Of ``(issuer, jti)`` pairs, those spent and not yet expired."""
    if not tokens:
        return set()
    rows = await conn.execute(_LIVE_TOKENS, {"issuers": sorted({issuer for issuer, _ in tokens}),
                                             "jtis": sorted({jti for _, jti in tokens}),
                                             "now": now})
    return {(row.issuer, row.jti) for row in rows} & set(tokens)


async def remember_tokens(conn: AsyncConnection, tokens: Sequence[tuple[str, str, int]],
                          now: int) -> None:
    """Spend token ids ``(issuer, jti, expires)`` none of which is live (see
    :func:`live_tokens`), in one statement."""
    if tokens:
        await conn.execute(_REMEMBER_TOKEN[conn.dialect.name], [
            {"issuer": issuer, "jti": jti, "expires": expires, "now": now}
            for issuer, jti, expires in tokens])


async def waiting_to_attach(conn: AsyncConnection, limit: int) -> list[int]:
    """Accepted messages not yet attached to their case, oldest first (their row ids)."""
    return list((await conn.execute(
        sa.select(messages.c.id).where(messages.c.attach_pending)
        .order_by(messages.c.id).limit(limit))).scalars())


async def take_to_attach(conn: AsyncConnection, message_pk: int) -> Any:
    """The row of a message still waiting to be attached, locked for this transaction (on
    PostgreSQL another replica skips it), or None when it is attached already."""
    return (await conn.execute(
        sa.select(messages.c.id, messages.c.raw, messages.c.message_id).where(
            messages.c.id == message_pk, messages.c.attach_pending)
        .with_for_update(skip_locked=True))).first()


async def mark_attached(conn: AsyncConnection, message_pk: int) -> None:
    """The message's case has seen it."""
    await conn.execute(messages.update().where(messages.c.id == message_pk)
                       .values(attach_pending=False))


_TAKE_TO_ATTACH = sa.select(messages.c.id, messages.c.raw, messages.c.message_id).where(
    messages.c.id.in_(sa.bindparam("pks", expanding=True)), messages.c.attach_pending
).order_by(messages.c.id).with_for_update(skip_locked=True)
_MARK_ATTACHED = messages.update().where(
    messages.c.id.in_(sa.bindparam("pks", expanding=True))).values(attach_pending=False)


async def take_many_to_attach(conn: AsyncConnection, message_pks: list[int]) -> list[Any]:
    """The rows of those messages still waiting to be attached, oldest first, locked for this
    transaction (on PostgreSQL another replica skips them)."""
    return list(await conn.execute(_TAKE_TO_ATTACH, {"pks": message_pks}))


async def mark_many_attached(conn: AsyncConnection, message_pks: list[int]) -> None:
    """Their cases have seen these messages."""
    if message_pks:
        await conn.execute(_MARK_ATTACHED, {"pks": message_pks})


async def find_message(conn: AsyncConnection, direction: str, sender: str,
                       message_id: str) -> Any:
    """The row of a message by its identity, or None."""
    return (await conn.execute(sa.select(messages).where(
        messages.c.direction == direction, messages.c.sender == sender,
        messages.c.message_id == message_id))).first()


async def received_at(conn: AsyncConnection, sender: str, message_id: str) -> datetime | None:
    """When an inbound message was received (its receipt's time), or None if it is not
    stored."""
    row = (await conn.execute(sa.select(messages.c.stored_at).where(
        messages.c.direction == "in", messages.c.sender == sender,
        messages.c.message_id == message_id))).first()
    return None if row is None else row.stored_at


async def received_from(conn: AsyncConnection, sender: str, doc_type: str,
                        limit: int) -> list[Any]:
    """The latest messages of ``doc_type`` received from ``sender`` (never a test
    message), oldest first: their id, sealed bytes and when stored."""
    rows = (await conn.execute(
        sa.select(messages.c.id, messages.c.message_id, messages.c.raw, messages.c.stored_at)
        .where(messages.c.direction == "in", messages.c.sender == sender,
               messages.c.doc_type == doc_type, messages.c.test == sa.false())
        .order_by(messages.c.id.desc()).limit(limit))).all()
    return list(reversed(rows))


async def find_outbound(conn: AsyncConnection, message_id: str) -> Any:
    """An outbound message by id (we are the only sender of our outbound messages)."""
    return (await conn.execute(sa.select(messages).where(
        messages.c.direction == "out", messages.c.message_id == message_id))).first()


async def insert_receipt(conn: AsyncConnection, message_pk: int, signer: str, raw: bytes,
                         received: str, now: datetime) -> None:
    """Keep a receipt's exact bytes."""
    await conn.execute(_INSERT_RECEIPT, {"message_pk": message_pk, "signer": signer, "raw": raw,
                                         "received": received, "stored_at": now})


async def receipt_of(conn: AsyncConnection, message_pk: int) -> StoredReceipt | None:
    """The receipt kept for a message, or None."""
    row = (await conn.execute(sa.select(receipts.c.raw, receipts.c.signer)
                              .where(receipts.c.message_pk == message_pk))).first()
    return StoredReceipt(bytes(row.raw), row.signer) if row else None


async def claim_due(conn: AsyncConnection, now: datetime, recipients: Sequence[str],
                    limit: int, holder: str, until: datetime) -> list[Any]:
    """Claim queued messages for push partners whose next attempt is due and that no live
    replica has claimed, oldest first, for ``holder`` until ``until`` (a lease it renews
    while it delivers, :func:`renew_claims`). On PostgreSQL, rows another replica is claiming
    at the same moment are skipped (``FOR UPDATE SKIP LOCKED``); on SQLite the write lock
    serialises claims."""
    if not recipients:
        return []
    due = (sa.select(messages.c.id).where(
        messages.c.direction == "out", messages.c.state == "queued",
        messages.c.recipient.in_(list(recipients)),
        sa.or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
        sa.or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < now))
        .order_by(messages.c.id).limit(limit).with_for_update(skip_locked=True))
    rows = (await conn.execute(
        messages.update().where(messages.c.id.in_(due.scalar_subquery()))
        .values(claimed_by=holder, claimed_until=until)
        .returning(*messages.c))).all()
    return sorted(rows, key=lambda row: int(row.id))


async def renew_claims(conn: AsyncConnection, holder: str, message_pks: Sequence[int],
                       until: datetime) -> int:
    """Extend ``holder``'s claims on messages it is still delivering; how many it holds."""
    if not message_pks:
        return 0
    result = await conn.execute(messages.update().where(
        messages.c.id.in_(list(message_pks)), messages.c.claimed_by == holder,
        messages.c.state == "queued").values(claimed_until=until))
    return int(result.rowcount)


async def release_claims(conn: AsyncConnection, holder: str) -> int:
    """Give up every claim of ``holder`` (a clean stop): another replica need not wait."""
    result = await conn.execute(messages.update().where(
        messages.c.claimed_by == holder).values(claimed_by=None, claimed_until=None))
    return int(result.rowcount)


async def release_all_claims(conn: AsyncConnection) -> int:
    """Give up every claim (a node on SQLite starting: no other process holds one)."""
    result = await conn.execute(messages.update().where(
        messages.c.claimed_by.is_not(None)).values(claimed_by=None, claimed_until=None))
    return int(result.rowcount)


async def overdue_outbound(conn: AsyncConnection, now: datetime) -> list[Any]:
    """Undelivered outbound messages whose delivery deadline has passed."""
    return list((await conn.execute(sa.select(messages).where(
        messages.c.direction == "out", messages.c.state.in_(("queued", "waiting")),
        messages.c.deadline_at < now))).all())


async def undelivered_for(conn: AsyncConnection, recipient: str) -> list[Any]:
    """Every outbound message for ``recipient`` that holds no receipt yet, oldest first."""
    return list((await conn.execute(sa.select(messages.c.message_id, messages.c.raw).where(
        messages.c.direction == "out", messages.c.recipient == recipient,
        messages.c.state.in_(("queued", "waiting"))).order_by(messages.c.id))).all())


async def record_attempt(conn: AsyncConnection, message_pk: int, now: datetime, outcome: str,
                         status_code: int | None, error: str | None) -> None:
    """One line of delivery history."""
    await conn.execute(delivery_attempts.insert().values(
        message_pk=message_pk, at=now, outcome=outcome, status_code=status_code, error=error))


_ATTEMPT = prepared(delivery_attempts.insert())
_DELIVERED: dict[str, Any] = {"state": "delivered", "last_error": None,
                              "attempts": messages.c.attempts + 1, "claimed_by": None,
                              "claimed_until": None}
_NOT_YET_DELIVERED = messages.c.state.in_(("queued", "waiting", "dead"))


async def record_attempts(conn: AsyncConnection,
                          rows: Sequence[tuple[int, datetime, str, int | None, str | None]]
                          ) -> None:
    """Lines of delivery history ``(message row id, at, outcome, status, error)``, in one
    statement."""
    if rows:
        await conn.execute(_ATTEMPT, [
            {"message_pk": pk, "at": at, "outcome": outcome, "status_code": status,
             "error": error} for pk, at, outcome, status, error in rows])


async def mark_many_delivered(conn: AsyncConnection, message_pks: Sequence[int],
                              now: datetime) -> set[int]:
    """Mark messages delivered in one statement; answers those that were not already (so
    that a receipt is kept once)."""
    if not message_pks:
        return set()
    result = await conn.execute(messages.update().where(
        messages.c.id.in_(sorted(set(message_pks))), _NOT_YET_DELIVERED)
        .values(delivered_at=now, **_DELIVERED).returning(messages.c.id))
    return {int(pk) for pk in result.scalars()}


async def mark_delivered(conn: AsyncConnection, message_pk: int, now: datetime) -> bool:
    """Mark a message delivered; False if it was already (so a receipt is kept once)."""
    result = await conn.execute(messages.update().where(
        messages.c.id == message_pk, _NOT_YET_DELIVERED).values(delivered_at=now,
                                                                  **_DELIVERED))
    return result.rowcount == 1


async def schedule_retry(conn: AsyncConnection, message_pk: int, next_attempt: datetime,
                         error: str) -> None:
    """Count a failed attempt and set the next one."""
    await conn.execute(messages.update().where(messages.c.id == message_pk).values(
        attempts=messages.c.attempts + 1, next_attempt_at=next_attempt, last_error=error,
        claimed_by=None, claimed_until=None))


async def mark_dead(conn: AsyncConnection, message_pk: int, error: str) -> bool:
    """Dead-letter a message: shown to operators, never dropped. False if it was delivered
    or dead-lettered already (by another replica, say)."""
    result = await conn.execute(messages.update().where(
        messages.c.id == message_pk, messages.c.state.in_(("queued", "waiting"))).values(
        state="dead", attempts=messages.c.attempts + 1, last_error=error, next_attempt_at=None,
        claimed_by=None, claimed_until=None))
    return bool(result.rowcount == 1)


async def requeue(conn: AsyncConnection, message_pk: int, now: datetime,
                  deadline: datetime, state: str) -> None:
    """Put a dead letter back in the queue with a fresh deadline."""
    await conn.execute(messages.update().where(messages.c.id == message_pk).values(
        state=state, attempts=0, next_attempt_at=now, deadline_at=deadline, last_error=None))


async def mailbox(conn: AsyncConnection, recipient: str, limit: int, max_bytes: int
                  ) -> list[Any]:
    """Messages waiting for a pull partner and not yet acknowledged, oldest first: at most
    ``limit`` of them and ``max_bytes`` together as stored (always at least one). Only the
    chosen ones are read whole."""
    sizes = (await conn.execute(
        sa.select(messages.c.id, sa.func.length(messages.c.raw).label("size")).where(
            messages.c.direction == "out", messages.c.recipient == recipient,
            messages.c.state == "waiting").order_by(messages.c.id).limit(limit))).all()
    chosen: list[int] = []
    total = 0
    for row in sizes:
        if chosen and total + int(row.size) > max_bytes:
            break
        chosen.append(row.id)
        total += int(row.size)
    if not chosen:
        return []
    return list((await conn.execute(sa.select(messages.c.id, messages.c.raw).where(
        messages.c.id.in_(chosen)).order_by(messages.c.id))).all())


async def list_messages(conn: AsyncConnection, status: str | None = None,
                        partner: str | None = None, limit: int = 1000,
                        test: bool | None = None) -> list[Any]:
    """Messages in and out, newest first, optionally by state, partner, and whether they
    are test messages (PROTOCOL.md §3.1)."""
    query = sa.select(messages.c.id, messages.c.message_id, messages.c.direction,
                      messages.c.sender, messages.c.recipient, messages.c.doc_type,
                      messages.c.state, messages.c.attempts, messages.c.created,
                      messages.c.last_error, messages.c.priority, messages.c.test)
    if status:
        query = query.where(messages.c.state == status)
    if test is not None:
        query = query.where(messages.c.test == test)
    if partner:
        query = query.where(sa.or_(messages.c.sender == partner, messages.c.recipient == partner))
    return list((await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))).all())


async def outbox_stats(conn: AsyncConnection) -> list[Any]:
    """Per recipient: undelivered count and the oldest storage time."""
    return list((await conn.execute(
        sa.select(messages.c.recipient, sa.func.count().label("depth"),
                  sa.func.min(messages.c.stored_at).label("oldest"))
        .where(messages.c.direction == "out", messages.c.state.in_(("queued", "waiting")))
        .group_by(messages.c.recipient))).all())


async def remember_token(conn: AsyncConnection, issuer: str, jti: str, expires: int,
                         now: int) -> bool:
    """Remember a token id; False if it was already there (a replay that raced us)."""
    # One statement: a new id is inserted, an expired one renewed, a live one left alone.
    result = await conn.execute(_REMEMBER_TOKEN[conn.dialect.name],
                                {"issuer": issuer, "jti": jti, "expires": expires, "now": now})
    return bool(result.rowcount == 1)


async def purge_tokens(conn: AsyncConnection, now: int) -> int:
    """Forget expired token ids; returns how many."""
    result = await conn.execute(replay_cache.delete().where(replay_cache.c.expires < now))
    return int(result.rowcount)



async def delivery_health(conn: AsyncConnection) -> tuple[dict[str, Any], dict[str, datetime]]:
    """Per recipient: its outbox figures (:func:`outbox_stats`) and its last receipt."""
    return ({s.recipient: s for s in await outbox_stats(conn)}, await last_receipts(conn))


async def last_receipts(conn: AsyncConnection) -> dict[str, datetime]:
    """Per recipient: when our last message to it was receipted."""
    rows = await conn.execute(
        sa.select(messages.c.recipient, sa.func.max(messages.c.delivered_at).label("last"))
        .where(messages.c.direction == "out", messages.c.delivered_at.is_not(None))
        .group_by(messages.c.recipient))
    return {row.recipient: row.last for row in rows if row.last is not None}


def _count_call(insert: Any) -> Any:
    statement = insert(rate_counts).values(count=1)
    return statement.on_conflict_do_update(
        index_elements=[rate_counts.c.caller, rate_counts.c.window],
        set_={"count": rate_counts.c.count + 1}).returning(rate_counts.c.count)


_COUNT_CALL = _per_dialect(_count_call)


async def count_call(conn: AsyncConnection, caller: str, window: int) -> int:
    """Count one request of ``caller`` in the minute ``window`` (for every replica of the
    node at once); the count so far, this one included."""
    result = await conn.execute(_COUNT_CALL[conn.dialect.name],
                                {"caller": caller, "window": window})
    return int(result.scalar_one())


async def purge_counts(conn: AsyncConnection, before_window: int) -> None:
    """Forget request counts of minutes before ``before_window``."""
    await conn.execute(rate_counts.delete().where(rate_counts.c.window < before_window))
