"""The tables of matching (issue 25): the blind index under which persons are found as
candidates.

``match_keys`` holds, for every open missing-person report and every case person not purged,
the keyed blind index (``Sealer.index_term``, the node's index key, as case search) of each of
its blocking keys (``gateway.matching.blocking``): never a clear name.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.tables import metadata

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
