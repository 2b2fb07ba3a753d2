"""The tables of a node (SQLAlchemy Core). Portable SQL: the same code runs on PostgreSQL.

Messages keep their exact bytes as received or sent; receipts keep theirs. Nothing here
decides anything: repositories read and write rows inside a transaction the caller owns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})



class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that goes in as UTC and comes out aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored time is UTC and aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


UTC_TIME = UtcDateTime()

#: One row per message in or out. ``raw`` is the exact JWS bytes; ``header`` the parsed
#: protected header as JSON (for queries; never re-serialised for digests).
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("direction", sa.String(3), nullable=False),  # "in" | "out"
    sa.Column("sender", sa.String(48), nullable=False),
    sa.Column("recipient", sa.String(48), nullable=False),
    sa.Column("doc_type", sa.String(64), nullable=False),
    sa.Column("doc_version", sa.String(16), nullable=False),
    sa.Column("conversation", sa.String(36), nullable=False),
    sa.Column("ref", sa.String(36), nullable=True),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("handling", sa.String(4), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("header", sa.Text, nullable=False),
    # out: queued | waiting (pull mailbox) | delivered | dead; in: accepted
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("stored_at", UTC_TIME, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTC_TIME, nullable=True),
    sa.Column("deadline_at", UTC_TIME, nullable=True),
    sa.Column("delivered_at", UTC_TIME, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # in: accepted and receipted, not yet attached to its case (gateway.exchange.attach)
    sa.Column("attach_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    # out: the replica delivering it now, until when (a lease; gateway.exchange.delivery)
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", UTC_TIME, nullable=True),
    # in: a conformance probe's message (PROTOCOL.md §3.1, bx.test): receipted, never
    # attached to a case, never counted in a report
    sa.Column("test", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("direction", "sender", "message_id", name="uq_messages_identity"),
    sa.Index("ix_messages_outbox", "direction", "state", "next_attempt_at"),
    sa.Index("ix_messages_mailbox", "recipient", "state", "id"),
    # a conversation's messages; covering for a report's "exchanged with the partner"
    sa.Index("ix_messages_conversation", "conversation", "sender", "recipient",
             "stored_at", "test"),
    sa.Index("ix_messages_type_stored", "doc_type", "stored_at"),  # reports
    # answers to a request (reports; covering: the message rows are not read)
    sa.Index("ix_messages_ref", "ref", "sender", "recipient", "doc_type", "stored_at", "test"),
    sa.Index("ix_messages_attach_pending", "id", sqlite_where=sa.text("attach_pending"),
             postgresql_where=sa.text("attach_pending")),
)

#: The receipt of a message: the one we issued (in) or the one we hold (out), byte for byte.
receipts = sa.Table(
    "receipts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False,
              unique=True),
    sa.Column("signer", sa.String(48), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("received", sa.String(40), nullable=False),
    sa.Column("stored_at", UTC_TIME, nullable=False),
)

attachments = sa.Table(
    "attachments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.UniqueConstraint("message_pk", "name", name="uq_attachments_message_name"),
)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False,
              index=True),
    sa.Column("at", UTC_TIME, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered | retry | dead
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

#: Bearer token ids seen, kept until they expire (PROTOCOL.md §4.1).
replay_cache = sa.Table(
    "replay_cache", metadata,
    sa.Column("issuer", sa.String(48), primary_key=True),
    sa.Column("jti", sa.String(200), primary_key=True),
    sa.Column("expires", sa.BigInteger, nullable=False, index=True),
)

#: The hash-chained audit log; ``audit_head`` serialises appends (one row, locked FOR UPDATE).
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(120), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # the Merkle tree's right edge: the roots of its perfect subtrees, largest first, 32
    # bytes each (PROTOCOL.md §4.8); None for an empty log
    sa.Column("tree_edge", sa.LargeBinary, nullable=True),
)

#: Every perfect subtree of the audit log's Merkle tree (level 0: the leaves), kept as the log
#: grows, so that an inclusion or consistency proof reads O(log n) hashes.
audit_tree = sa.Table(
    "audit_tree", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

#: As a witness: the latest checkpoint of each partner's log that this node cosigned
#: (PROTOCOL.md §4.8), replaced in the transaction that signs the next cosignature.
witnessed = sa.Table(
    "witnessed", metadata,
    sa.Column("origin", sa.String(80), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.LargeBinary, nullable=False),
    sa.Column("cosigned_at", UTC_TIME, nullable=False),
)

#: As a witness: forks seen (a partner's checkpoint inconsistent with the one cosigned before),
#: both signed checkpoints kept as evidence.
witness_forks = sa.Table(
    "witness_forks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(80), nullable=False),
    sa.Column("held_note", sa.LargeBinary, nullable=False),
    sa.Column("offered_note", sa.LargeBinary, nullable=False),
    sa.Column("offered_old_size", sa.BigInteger, nullable=False),
    sa.Column("offered_proof", sa.LargeBinary, nullable=False),
    sa.Column("why", sa.String(200), nullable=False),
    sa.Column("seen_at", UTC_TIME, nullable=False),
)

#: As a log: what each partner has cosigned of this node's checkpoints, and what was sent.
checkpoint_witnesses = sa.Table(
    "checkpoint_witnesses", metadata,
    sa.Column("partner", sa.String(48), primary_key=True),
    sa.Column("cosigned_size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sent_size", sa.BigInteger, nullable=True),
    sa.Column("sent_at", UTC_TIME, nullable=True),
    sa.Column("refusal", sa.String(20), nullable=True),
    sa.Column("held_size", sa.BigInteger, nullable=True),
    sa.Column("answered_at", UTC_TIME, nullable=True),
)

#: The checkpoints this node signed (PROTOCOL.md §4.8), each consistent with the ones before.
audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.LargeBinary, nullable=False),
    sa.Column("made_at", UTC_TIME, nullable=False),
)

#: Keys a partner's signed key set offered that wait for an administrator (partner file
#: ``key_continuity = "confirm"``, PROTOCOL.md §2), and what was decided. The key is pinned
#: (written to the partner file) only when accepted.
partner_keys = sa.Table(
    "partner_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("partner", sa.String(48), nullable=False),
    sa.Column("kid", sa.String(100), nullable=False),
    sa.Column("thumbprint", sa.String(64), nullable=False),
    sa.Column("jwk", sa.Text, nullable=False),
    sa.Column("vouched_by", sa.String(100), nullable=False),
    sa.Column("offered_at", UTC_TIME, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(120), nullable=True),
    sa.Column("decided_at", UTC_TIME, nullable=True),
    sa.UniqueConstraint("partner", "kid", "thumbprint", name="uq_partner_keys_offer"),
)

#: A job that one replica at a time runs (housekeeping, polling): who holds it, until when.
#: A live holder renews its lease; when it lapses another replica takes the job over.
leases = sa.Table(
    "leases", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", UTC_TIME, nullable=False),
)

#: Requests per partner per minute, counted by the node (all its replicas) on PostgreSQL.
rate_counts = sa.Table(
    "rate_counts", metadata,
    sa.Column("caller", sa.String(48), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
