"""Upgrading a database that holds data: the conversation key widened to (partner, id) keeps
every row, and a second partner may then use the same id."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from gateway.store.database import MIGRATIONS


def upgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_a_database_with_cases_comes_through_the_conversation_key_change(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cases (id, reference, kind, origin, state, owner_unit, partner, "
            "priority, presumed_child, created_by, created_at, updated_at) VALUES (1, "
            "'KH-AHTJP-2026-00001', 'repatriation', 'partner', 'verification-requested', "
            "'kh.ahtjp', 'vn.c02', 'urgent', 0, 'vn.c02', '2026-11-24', '2026-11-24')"))
        conn.execute(sa.text("INSERT INTO case_conversations (conversation, case_id, partner) "
                             "VALUES ('c-1', 1, 'vn.c02')"))
    engine.dispose()
    upgrade(url, "head")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        kept = conn.execute(sa.text("SELECT partner, conversation, case_id FROM "
                                    "case_conversations")).all()
        assert [tuple(r) for r in kept] == [("vn.c02", "c-1", 1)]
        conn.execute(sa.text("INSERT INTO case_conversations (conversation, case_id, partner) "
                             "VALUES ('c-1', 1, 'la.atd')"))  # the same id, another partner
        assert conn.execute(sa.text("SELECT count(*) FROM case_conversations")).scalar() == 2
    engine.dispose()


def test_messages_stored_before_test_messages_existed_are_casework(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0013")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO messages (message_id, direction, sender, recipient, doc_type, "
            "doc_version, conversation, priority, handling, created, digest, raw, header, "
            "state, stored_at) VALUES ('m-1', 'in', 'vn.c02', 'kh.ahtjp', 'alert', '1.0', "
            "'c-1', 'routine', 'H0', '2026-11-24T08:00:00Z', 'sha256:x', x'00', '{}', "
            "'accepted', '2026-11-24 08:00:00')"))
    engine.dispose()
    upgrade(url, "head")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT message_id, test FROM messages")).all() == [
            ("m-1", 0)]
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("messages")}
    engine.dispose()
    # a report's lookups read the mark from the index, not the message rows (migration 0009)
    assert indexes["ix_messages_ref"][-1] == "test"
    assert indexes["ix_messages_conversation"][-1] == "test"
