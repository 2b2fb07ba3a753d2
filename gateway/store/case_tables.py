"""The tables of case work: users and sessions, cases, persons, tasks, drafts, hotline tips,
missing-person reports.

Columns ending in ``_sealed`` hold AES-GCM ciphertext (:mod:`gateway.store.crypto`), sealed
with the column's name as associated data; they carry the ``personal`` and ``special`` fields
of MESSAGES.md. Search over them goes through ``search_terms`` (a blind index), never through
clear text.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.tables import UTC_TIME, metadata

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(24), nullable=False),
    sa.Column("unit", sa.String(48), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTC_TIME, nullable=True),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Column("password_set_at", UTC_TIME, nullable=False),
)

#: A login. The token the user holds is signed; this row is what makes it revocable and
#: carries the idle clock.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(43), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Column("last_seen_at", UTC_TIME, nullable=False),
    sa.Column("expires_at", UTC_TIME, nullable=False),
    sa.Column("ended_at", UTC_TIME, nullable=True),
    sa.Column("csrf", sa.String(43), nullable=False),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(48), nullable=False, unique=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("origin", sa.String(24), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("resume_state", sa.String(32), nullable=True),  # where a side state returns to
    sa.Column("owner_unit", sa.String(48), nullable=False),
    sa.Column("partner", sa.String(48), nullable=True),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("summary_sealed", sa.LargeBinary, nullable=True),
    sa.Column("presumed_child", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("best_interests_by", sa.String(64), nullable=True),
    sa.Column("best_interests_at", UTC_TIME, nullable=True),
    sa.Column("best_interests_sealed", sa.LargeBinary, nullable=True),
    # return | no-return: the supervisor's decision (a record without one is "return")
    sa.Column("best_interests_decision", sa.String(16), nullable=True),
    # what the exchanged documents put on the case (MESSAGES.md, "Both sides keep one case")
    sa.Column("partner_reference", sa.String(80), nullable=True),  # the partner's own
    sa.Column("return_date", sa.Date, nullable=True),  # the agreed (or proposed) return
    sa.Column("return_gate", sa.String(48), nullable=True),
    sa.Column("refusal_sealed", sa.LargeBinary, nullable=True),  # a refused return's reason
    sa.Column("closure_outcome", sa.String(32), nullable=True),
    sa.Column("closure_reason", sa.String(32), nullable=True),
    sa.Column("referral_sealed", sa.LargeBinary, nullable=True),  # where the person went
    sa.Column("referred_by", sa.String(64), nullable=True),
    sa.Column("referred_at", UTC_TIME, nullable=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Column("updated_at", UTC_TIME, nullable=False),
    sa.Index("ix_cases_owner_state", "owner_unit", "state"),
    sa.Index("ix_cases_kind_state", "kind", "state"),
    sa.Index("ix_cases_created", "created_at"),  # reports
)

#: The conversations of a case (PROTOCOL.md ``bx.conversation``), one partner each. A
#: conversation belongs to the pair of nodes that exchange it (§4.2): the key is the partner
#: and the id, so another partner using the same id never reaches this case.
case_conversations = sa.Table(
    "case_conversations", metadata,
    sa.Column("partner", sa.String(48), primary_key=True),
    sa.Column("conversation", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    # covering: a report reads a case's conversations without their rows
    sa.Index("ix_case_conversations_case_id", "case_id", "partner", "conversation"),
)

persons = sa.Table(
    "persons", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    # person-id in the documents (40 at most), or a relative's: the person's + ".relative-N"
    sa.Column("person_ref", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # victim | suspect | witness | relative
    sa.Column("name_native_sealed", sa.LargeBinary, nullable=True),
    sa.Column("name_latin_sealed", sa.LargeBinary, nullable=True),
    sa.Column("sex", sa.String(16), nullable=True),
    sa.Column("nationality", sa.String(2), nullable=True),
    sa.Column("presumed_child", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("identity_status", sa.String(24), nullable=False),
    sa.Column("details_sealed", sa.LargeBinary, nullable=True),  # the document's person, JSON
    sa.Column("retention_until", sa.Date, nullable=True),
    sa.Column("purged_at", UTC_TIME, nullable=True),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.UniqueConstraint("case_id", "person_ref", "role", name="uq_persons_case_ref_role"),
)

#: Blind index over names, identifiers and phone numbers (``Sealer.index_term``).
search_terms = sa.Table(
    "search_terms", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("term", sa.String(32), nullable=False),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.id"), nullable=True),
    sa.Index("ix_search_terms_term", "term", "case_id"),
    sa.Index("ix_search_terms_person", "person_id"),
)

#: Tasks and deadlines. ``kind`` names what is due (MESSAGES.md deadlines table).
tasks = sa.Table(
    "tasks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True, index=True),
    sa.Column("tip_id", sa.Integer, nullable=True, index=True),
    sa.Column("kind", sa.String(48), nullable=False),
    sa.Column("title", sa.String(200), nullable=True),
    sa.Column("owner_unit", sa.String(48), nullable=False),
    sa.Column("owner_user", sa.String(64), nullable=True),
    sa.Column("partner", sa.String(48), nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("due_at", UTC_TIME, nullable=False),
    sa.Column("done_at", UTC_TIME, nullable=True),
    sa.Column("overdue_noted_at", UTC_TIME, nullable=True),
    sa.Column("due_soon_noted_at", UTC_TIME, nullable=True),
    sa.Column("done_by", sa.String(64), nullable=True),
    sa.Column("done_note_sealed", sa.LargeBinary, nullable=True),
    # what a document said and why it could not move the case (JSON of codes, no personal
    # data): the console words it in the reader's language
    sa.Column("detail", sa.String(2000), nullable=True),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Index("ix_tasks_open_due", "done_at", "due_at"),
    sa.Index("ix_tasks_message", "message_id", "kind", "due_at", "done_at"),  # reports
)

notes = sa.Table(
    "notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("at", UTC_TIME, nullable=False),
    sa.Column("text_sealed", sa.LargeBinary, nullable=False),
)

#: What happened to a case: state changes, persons added, messages attached.
case_events = sa.Table(
    "case_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("at", UTC_TIME, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=True),
    sa.Column("to_state", sa.String(32), nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Index("ix_case_events_state", "to_state", "at"),  # reports
)

drafts = sa.Table(
    "drafts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("doc_type", sa.String(64), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(48), nullable=False),
    sa.Column("ref", sa.String(36), nullable=True),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("handling", sa.String(4), nullable=False),
    sa.Column("lang", sa.String(4), nullable=False),
    sa.Column("sensitivity", sa.String(16), nullable=False),
    sa.Column("document_sealed", sa.LargeBinary, nullable=False),
    sa.Column("attachments_sealed", sa.LargeBinary, nullable=True),
    # draft | submitted | returned | sent
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("author_unit", sa.String(48), nullable=False),
    sa.Column("created_at", UTC_TIME, nullable=False),
    sa.Column("updated_at", UTC_TIME, nullable=False),
    sa.Column("released_by", sa.String(64), nullable=True),
    sa.Column("released_at", UTC_TIME, nullable=True),
    sa.Column("return_reason", sa.String(500), nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Index("ix_drafts_state", "state", "author_unit"),
)

tips = sa.Table(
    "tips", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(48), nullable=False, unique=True),
    sa.Column("unit", sa.String(48), nullable=False),
    sa.Column("operator", sa.String(64), nullable=False),
    sa.Column("received_at", UTC_TIME, nullable=False),
    # when the person at risk was last seen, as the caller said (the alert carries it)
    sa.Column("last_seen_at", UTC_TIME, nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("reporter_relation", sa.String(24), nullable=False),
    sa.Column("narrative_sealed", sa.LargeBinary, nullable=False),
    sa.Column("location_sealed", sa.LargeBinary, nullable=True),
    sa.Column("persons_sealed", sa.LargeBinary, nullable=True),
    sa.Column("foreign_country", sa.String(2), nullable=True),
    sa.Column("child_involved", sa.Boolean, nullable=False),
    sa.Column("danger", sa.String(16), nullable=False),  # imminent | not-imminent | unknown
    sa.Column("indicators", sa.String(400), nullable=False, server_default=""),
    sa.Column("classification", sa.String(16), nullable=True),
    sa.Column("urgency", sa.String(16), nullable=True),
    sa.Column("classified_at", UTC_TIME, nullable=True),
    sa.Column("classified_by", sa.String(64), nullable=True),
    # new | classified | escalated | resolved
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("tips.id"), nullable=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("resolved_at", UTC_TIME, nullable=True),
    sa.Index("ix_tips_status", "status", "received_at"),
    sa.Index("ix_tips_received", "received_at"),  # reports
)

#: Who called: kept apart from the tip, readable by supervisors only (MESSAGES.md).
tip_reporters = sa.Table(
    "tip_reporters", metadata,
    sa.Column("tip_id", sa.Integer, sa.ForeignKey("tips.id"), primary_key=True),
    sa.Column("identity_sealed", sa.LargeBinary, nullable=False),
)

#: Missing-person reports (a search notice: who is looked for, since when, by whom). The person
#: is one sealed JSON document in the local API's PERSON shape, so that matching reads it whole;
#: the columns beside it are what the open list shows and filters by, nothing that names anyone.
missing_persons = sa.Table(
    "missing_persons", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(48), nullable=False, unique=True),
    sa.Column("unit", sa.String(48), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTC_TIME, nullable=False),
    # open | linked (to a case) | closed
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("person_sealed", sa.LargeBinary, nullable=False),
    sa.Column("sex", sa.String(16), nullable=False),
    sa.Column("nationality", sa.String(2), nullable=True),
    sa.Column("presumed_child", sa.Boolean, nullable=False),
    sa.Column("reporter_relation", sa.String(24), nullable=False),
    sa.Column("last_seen_at", UTC_TIME, nullable=True),
    sa.Column("last_seen_sealed", sa.LargeBinary, nullable=True),  # the place, JSON
    sa.Column("narrative_sealed", sa.LargeBinary, nullable=True),
    sa.Column("photo_type", sa.String(16), nullable=True),
    sa.Column("photo_sealed", sa.LargeBinary, nullable=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("linked_at", UTC_TIME, nullable=True),
    sa.Column("closed_at", UTC_TIME, nullable=True),
    sa.Column("closed_by", sa.String(64), nullable=True),
    sa.Column("close_reason", sa.String(32), nullable=True),
    sa.Column("close_note_sealed", sa.LargeBinary, nullable=True),
    sa.Index("ix_missing_persons_state", "state", "created_at"),
)

#: Who reported a person missing: kept apart from the report, as a tip's reporter is.
missing_person_reporters = sa.Table(
    "missing_person_reporters", metadata,
    sa.Column("report_id", sa.Integer, sa.ForeignKey("missing_persons.id"), primary_key=True),
    sa.Column("identity_sealed", sa.LargeBinary, nullable=False),
)

#: Counters for human-readable references (``VN-MOCBAI-2026-0001``), one row per prefix.
reference_counters = sa.Table(
    "reference_counters", metadata,
    sa.Column("prefix", sa.String(40), primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

#: Files chosen in a compose form that was refused for another field: held for the same user,
#: sealed, so that the form comes back with them (not re-uploaded); gone after a day.
held_files = sa.Table(
    "held_files", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("media_type", sa.String(32), nullable=False),
    sa.Column("data_sealed", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTC_TIME, nullable=False, index=True),
)

#: Special data of one message opened by one session, with the reason given (audited): the
#: page, the print and the attachments show it until the grant lapses or the session ends.
special_grants = sa.Table(
    "special_grants", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("granted_at", UTC_TIME, nullable=False),
    sa.Column("expires_at", UTC_TIME, nullable=False),
    sa.Index("ix_special_grants_session", "session_id", "message_id"),
)

#: What a person is told in the console: addressed to one user, or to everyone of a unit.
notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unit", sa.String(48), nullable=True),
    sa.Column("username", sa.String(64), nullable=True),
    # message | answer | draft-returned | draft-released | alert | due-soon | overdue
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("tip_id", sa.Integer, nullable=True),
    sa.Column("draft_id", sa.Integer, nullable=True),
    sa.Column("task_id", sa.Integer, nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("doc_type", sa.String(64), nullable=True),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("due_at", UTC_TIME, nullable=True),
    sa.Column("created_at", UTC_TIME, nullable=False),
    # a missing-person report (match-confirmed: the recording unit told of its link)
    sa.Column("report_id", sa.Integer, nullable=True),
    sa.Index("ix_notifications_unit", "unit", "created_at"),
    sa.Index("ix_notifications_user", "username", "created_at"),
)

notification_reads = sa.Table(
    "notification_reads", metadata,
    sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id"),
              primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("read_at", UTC_TIME, nullable=False),
)

#: Failed logins per (account name, source address) and per source address: the growing
#: delay that slows guessing without letting a stranger lock anyone out (docs/casework.md).
login_throttle = sa.Table(
    "login_throttle", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", UTC_TIME, nullable=False),
    sa.Column("blocked_until", UTC_TIME, nullable=True),
)

#: A unit's periodic report on its way to the collecting node: one supervisor submits the
#: document as it stands, another releases exactly those bytes (four eyes, as for drafts).
report_releases = sa.Table(
    "report_releases", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(40), nullable=False),
    sa.Column("recipient", sa.String(48), nullable=False),
    sa.Column("document", sa.LargeBinary, nullable=False),  # figures only: nothing personal
    # submitted | released | returned (sent back with a reason) | withdrawn (submitted again)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("submitted_by", sa.String(64), nullable=False),
    sa.Column("submitted_at", UTC_TIME, nullable=False),
    sa.Column("released_by", sa.String(64), nullable=True),
    sa.Column("released_at", UTC_TIME, nullable=True),
    sa.Column("message_id", sa.String(36), nullable=True),
    # the submitter's unit: only a supervisor of it releases (None: submitted before 0012)
    sa.Column("unit", sa.String(48), nullable=True),
    sa.Column("returned_by", sa.String(64), nullable=True),
    sa.Column("returned_at", UTC_TIME, nullable=True),
    sa.Column("return_reason", sa.String(500), nullable=True),
    sa.Index("ix_report_releases_state", "state", "unit"),
)

#: What a supervisor opened of a submitted draft in the release queue (its preview, each
#: attachment): she releases what she has seen. Opened before the draft last changed does
#: not count; the rows stay as a record.
draft_views = sa.Table(
    "draft_views", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("draft_id", sa.Integer, sa.ForeignKey("drafts.id"), nullable=False),
    sa.Column("viewer", sa.String(64), nullable=False),
    sa.Column("item", sa.String(120), nullable=False),  # "document" or "attachment/<name>"
    sa.Column("at", UTC_TIME, nullable=False),
    sa.Index("ix_draft_views_draft", "draft_id", "viewer"),
)
