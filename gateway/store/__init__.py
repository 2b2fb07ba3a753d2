"""Tables (SQLAlchemy Core), migrations (Alembic), repositories, encryption of sensitive columns."""
