"""Alembic environment: migrations run on the connection the gateway hands over."""

from __future__ import annotations

from alembic import context

from gateway.store import (
    case_tables,  # noqa: F401 - registers the case tables
    match_tables,  # noqa: F401 - registers the matching tables
)
from gateway.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
