"""The tables of matching (issue 25): the blind index under which persons are found as
candidates.

``match_keys`` holds, for every open missing-person report and every case person not purged,
the keyed blind index (``Sealer.index_term``, the node's index key, as case search) of each of
its blocking keys (``gateway.matching.blocking``): never a clear name.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.tables import UTC_TIME, metadata

#: kind: ``missing-person`` (record_id: a report) or ``case-person`` (record_id: a person of
#: ``case_id``). The lookup index covers the ``GROUP BY`` of a candidate search.
match_keys = sa.Table(
    "match_keys", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("record_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.Integer, nullable=True),
    sa.Index("ix_match_keys_key", "key", "kind", "record_id", "case_id"),
)

#: The records to match once their transaction has committed (a case person added or changed,
#: a report recorded): the writing use case only queues them, the matcher matches them.
match_queue = sa.Table(
    "match_queue", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("record_id", sa.Integer, primary_key=True),
    sa.Column("queued_at", UTC_TIME, nullable=False),
)

#: A case person and a missing-person report suggested as the same person (above the node's
#: threshold): the pair once only, whatever its state (a rejected pair is never suggested
#: again). ``reasons``: the fields' levels as codes (``name:accents,birth:range``), no value.
match_suggestions = sa.Table(
    "match_suggestions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("report_id", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.String(400), nullable=False),
    # suggested | confirmed | rejected
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", UTC_TIME, nullable=True),
    sa.UniqueConstraint("person_id", "report_id", name="uq_match_suggestions_pair"),
    sa.Index("ix_match_suggestions_case", "case_id", "state"),
    sa.Index("ix_match_suggestions_report", "report_id", "state"),
)
