"""The audit log in the reader's words: each action, each detail key and each value as the
auditor reads it in vi, en, km or lo, while the log itself keeps its codes (the chain hashes
them; machines read them).

:data:`DETAIL_KEYS` names every detail key the code writes with how its value reads (a unit
test reads every ``audit.append`` in the source and fails on an action or a key without
words): yes or no, languages and countries by name, units by their names, document types,
states, roles and kinds by their labels, the special-data reasons as the words picked, a
refused permission or problem by what it is; ids, counts, digests and what a person typed
stay as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from babel import Locale, UnknownLocaleError

from gateway.cases.special import REASONS
from gateway.documents.catalog import C_, Catalogs
from gateway.localtime import as_local
from gateway.protocol.errors import N_
from gateway.protocol.problems import PROBLEMS

#: How a detail's value reads. AS_IS: ids, counts, digests, file names, what a person typed.
AS_IS: Final = "as-is"
YES_NO: Final = "yes-no"
LANGUAGES: Final = "languages"
UNIT: Final = "unit"  # a node or unit id, by its name
DOCUMENT: Final = "document"  # a document type, by its label
CODE: Final = "code"  # a code with a label (states, kinds, roles, priorities, dangers)
TEXT: Final = "text"  # a word or sentence of the catalogs (channels, classifications)
REASON: Final = "reason"  # a reason picked from a list (its words), else as typed
PERMISSION: Final = "permission"  # what a refused user asked to do
PROBLEM: Final = "problem"  # a problem code, by its title
COUNTRY: Final = "country"
DECISION: Final = "decision"  # a best-interests decision
WORD: Final = "word"  # a small word of the log itself (via, how, scope, purpose)
FORMAT: Final = "format"  # a file format (PDF, CSV)
FILTERS: Final = "filters"  # the filters of an exported audit log

#: Every detail key the code writes (``detail:<key>`` in the catalogs) and how it reads.
_KEYS: Final = {
    C_("code", "detail:accepted"): AS_IS,
    C_("code", "detail:action"): PERMISSION,
    C_("code", "detail:alert_to"): UNIT,
    C_("code", "detail:author"): AS_IS,
    C_("code", "detail:by"): AS_IS,
    C_("code", "detail:case"): AS_IS,
    C_("code", "detail:channel"): TEXT,
    C_("code", "detail:checkpoint"): AS_IS,
    C_("code", "detail:checkpoints_only"): YES_NO,
    C_("code", "detail:child"): YES_NO,
    C_("code", "detail:claimed_from"): UNIT,
    C_("code", "detail:classification"): TEXT,
    C_("code", "detail:code"): PROBLEM,
    C_("code", "detail:conversation"): AS_IS,
    C_("code", "detail:count"): AS_IS,
    C_("code", "detail:danger"): CODE,
    C_("code", "detail:decision"): DECISION,
    C_("code", "detail:digest"): AS_IS,
    C_("code", "detail:draft"): AS_IS,
    C_("code", "detail:endpoint"): AS_IS,
    C_("code", "detail:duplicates"): AS_IS,
    C_("code", "detail:entries"): AS_IS,
    C_("code", "detail:failed"): AS_IS,
    C_("code", "detail:error"): TEXT,
    C_("code", "detail:filters"): FILTERS,
    C_("code", "detail:first"): AS_IS,
    C_("code", "detail:foreign"): COUNTRY,
    C_("code", "detail:format"): FORMAT,
    C_("code", "detail:from"): CODE,
    C_("code", "detail:held"): AS_IS,
    C_("code", "detail:holidays"): AS_IS,
    C_("code", "detail:how"): WORD,
    C_("code", "detail:kid"): AS_IS,
    C_("code", "detail:kind"): CODE,
    C_("code", "detail:langs"): LANGUAGES,
    C_("code", "detail:last"): AS_IS,
    C_("code", "detail:matches"): AS_IS,
    C_("code", "detail:message"): AS_IS,
    C_("code", "detail:message_id"): AS_IS,
    C_("code", "detail:method"): AS_IS,
    C_("code", "detail:mode"): CODE,
    C_("code", "detail:name"): AS_IS,
    C_("code", "detail:names"): AS_IS,
    C_("code", "detail:offered"): AS_IS,
    C_("code", "detail:old"): AS_IS,
    C_("code", "detail:old_keys"): AS_IS,
    C_("code", "detail:origin"): WORD,
    C_("code", "detail:outcome"): WORD,
    C_("code", "detail:partner"): UNIT,
    C_("code", "detail:path"): AS_IS,
    C_("code", "detail:person"): AS_IS,
    C_("code", "detail:persons"): AS_IS,
    C_("code", "detail:pinned"): AS_IS,
    C_("code", "detail:pinned_as"): AS_IS,
    C_("code", "detail:previous"): AS_IS,
    C_("code", "detail:priority"): CODE,
    C_("code", "detail:problems"): AS_IS,
    C_("code", "detail:purpose"): WORD,
    C_("code", "detail:reason"): REASON,
    C_("code", "detail:reason_given"): YES_NO,
    C_("code", "detail:read_only"): YES_NO,
    C_("code", "detail:receipts"): AS_IS,
    C_("code", "detail:refused"): AS_IS,
    C_("code", "detail:release"): AS_IS,
    C_("code", "detail:report"): AS_IS,
    C_("code", "detail:reports"): AS_IS,
    C_("code", "detail:results"): AS_IS,
    C_("code", "detail:role"): CODE,
    C_("code", "detail:scope"): WORD,
    C_("code", "detail:sensitivity"): TEXT,
    C_("code", "detail:size"): AS_IS,
    C_("code", "detail:source"): UNIT,
    C_("code", "detail:special"): YES_NO,
    C_("code", "detail:suggested"): AS_IS,
    C_("code", "detail:suggestion"): AS_IS,
    C_("code", "detail:supervisors"): AS_IS,
    C_("code", "detail:task"): AS_IS,
    C_("code", "detail:test"): YES_NO,
    C_("code", "detail:thumbprint"): AS_IS,
    C_("code", "detail:thumbprints"): AS_IS,
    C_("code", "detail:to"): UNIT,
    C_("code", "detail:type"): DOCUMENT,
    C_("code", "detail:unit"): UNIT,
    C_("code", "detail:urgency"): CODE,
    C_("code", "detail:values"): AS_IS,
    C_("code", "detail:via"): WORD,
    C_("code", "detail:vouched_by"): AS_IS,
    C_("code", "detail:wanted"): CODE,
    C_("code", "detail:withheld"): AS_IS,
    C_("code", "detail:why"): TEXT,
}
DETAIL_KEYS: Final[dict[str, str]] = {k.removeprefix("detail:"): v for k, v in _KEYS.items()}
#: Where a key reads otherwise in one action: a case's move is from a state to a state.
BY_ACTION: Final[dict[tuple[str, str], str]] = {("case.state", "to"): CODE}

#: Who acts when no person does (``actor:<name>`` in the catalogs).
ACTORS: Final = tuple(a.removeprefix("actor:") for a in (
    C_("code", "actor:system"), C_("code", "actor:operator"), C_("code", "actor:delivery"),
    C_("code", "actor:machine"), C_("code", "actor:unknown")))
#: The words of :data:`WORD` values and of the reasons the code (not a person) gives.
VALUE_WORDS: Final = (
    C_("code", "value:console"), C_("code", "value:api"), C_("code", "value:cli"),
    C_("code", "value:bundle"), C_("code", "value:push"), C_("code", "value:pull"),
    C_("code", "value:SIGHUP"),
    C_("code", "value:file-change"), C_("code", "value:thumbprint"),
    C_("code", "value:auto"), C_("code", "value:confirmed"), C_("code", "value:national"),
    C_("code", "value:rejected"),
    C_("code", "value:checkpoints"), C_("code", "value:hotline"), C_("code", "value:blo"),
    C_("code", "value:partner"), C_("code", "value:investigation"),
    C_("code", "reason:credentials"), C_("code", "reason:disabled"),
    C_("code", "reason:throttled"), C_("code", "reason:unknown-origin"),
    C_("code", "reason:bad-signature"), C_("code", "reason:stale"),
    C_("code", "reason:inconsistent"),
)
#: What a refused user asked to do, one per permission of :mod:`gateway.access.roles`.
PERMISSION_WORDS: Final = (
    C_("code", "permission:session.self"), C_("code", "permission:cases.read"),
    C_("code", "permission:cases.create"), C_("code", "permission:cases.transition"),
    C_("code", "permission:cases.best-interests"), C_("code", "permission:persons.write"),
    C_("code", "permission:special.read"), C_("code", "permission:tasks.write"),
    C_("code", "permission:notes.write"), C_("code", "permission:overdue.read"),
    C_("code", "permission:investigations.read"), C_("code", "permission:search"),
    C_("code", "permission:drafts.write"), C_("code", "permission:drafts.read"),
    C_("code", "permission:drafts.release"), C_("code", "permission:tips.write"),
    C_("code", "permission:tips.read"), C_("code", "permission:tips.reporter.read"),
    C_("code", "permission:messages.read"), C_("code", "permission:messages.send-raw"),
    C_("code", "permission:messages.retry"), C_("code", "permission:partners.read"),
    C_("code", "permission:partners.reload"), C_("code", "permission:partners.keys"),
    C_("code", "permission:users.manage"), C_("code", "permission:calendars.read"),
    C_("code", "permission:calendars.write"), C_("code", "permission:audit.read"),
    C_("code", "permission:reports.read"), C_("code", "permission:reports.send"),
    C_("code", "permission:proofs.export"), C_("code", "permission:missing.write"),
    C_("code", "permission:missing.read"), C_("code", "permission:missing.reporter.read"),
    C_("code", "permission:matches.read"), C_("code", "permission:matches.decide"),
)
#: Purposes the console once wrote before a reason (``viewed in the console: <reason>``).
_OLD_PURPOSES: Final = (N_("viewed in the console"), N_("printed from the console"))
#: The columns of the exported log in words (the stored entry follows, for machines).
CSV_HEADER: Final = ("#", N_("Time (UTC+7)"), N_("Actor"), N_("Action"), N_("Subject"),
                     N_("Detail"))
#: The filters of an exported log, by the labels of the audit page.
_FILTER_LABELS: Final = {"actor": N_("Actor"), "action": N_("Action"),
                         "subject": N_("Subject"), "from": N_("From date"),
                         "to": N_("To date")}
_NOTHING: Final = "—"


@lru_cache(maxsize=8)
def _territories(lang: str) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in Locale.parse(lang).territories.items()}
    except (UnknownLocaleError, ValueError):
        return {}


@dataclass(frozen=True)
class Line:
    """One audit entry in words."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AuditWords:
    """One reader's words for the audit log: ``lang`` through ``book``, and ``unit_name``
    (the node's name book) for nodes and units."""

    book: Catalogs
    lang: str
    unit_name: Callable[[str, str], str | None]

    def text(self, message: str) -> str:
        """A sentence of the catalogs in the reader's language (as it is when it is none)."""
        return self.book.text(self.lang, message) if message else message

    def _label(self, key: str) -> str | None:
        """The label of a code, or None when the catalogs have none."""
        label = self.book.code(self.lang, key)
        return label if label != key else None

    def action(self, action: str) -> str:
        """An action's words (its code when it has none: an entry of an older version)."""
        return self._label(f"audit:{action}") or action

    def key(self, key: str) -> str:
        """A detail key's words."""
        return self._label(f"detail:{key}") or key

    def unit(self, node_id: str) -> str:
        """A node or unit by its name in the reader's language (its id when it has none)."""
        return self.unit_name(node_id, self.lang) or node_id

    def actor(self, actor: str) -> str:
        """Who acted: a person's user name, the node itself, or a partner node by name."""
        if actor in ACTORS:
            return self._label(f"actor:{actor}") or actor
        return self.unit_name(actor, self.lang) or actor

    def subject(self, subject: str | None) -> str:
        """What the entry is about: a reference or an id, a partner node by name."""
        if not subject:
            return ""
        return self.unit_name(subject, self.lang) or subject

    def value(self, action: str, key: str, value: Any) -> str:
        """A detail's value in words (:data:`DETAIL_KEYS`)."""
        kind = BY_ACTION.get((action, key), DETAIL_KEYS.get(key, AS_IS))
        if value is None or value in ("", []):
            return _NOTHING
        if kind == FILTERS and isinstance(value, Mapping):
            return self._filters(value)
        if isinstance(value, Mapping):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, Sequence) and not isinstance(value, str):
            return ", ".join(self.value(action, key, v) for v in value)
        if isinstance(value, bool):
            return self.text(N_("yes") if value else N_("no"))
        return self._one(kind, str(value))

    def _one(self, kind: str, text: str) -> str:
        if kind in (CODE, LANGUAGES):
            return self._label(text) or text
        if kind == DECISION:
            return self._label(f"best-interests:{text}") or text
        if kind == TEXT:
            return self.text(text)
        if kind == UNIT:
            return self.unit(text)
        if kind == DOCUMENT:
            return self.book.field(self.lang, text)
        if kind == REASON:
            return self._reason(text)
        if kind == PERMISSION:
            return self._label(f"permission:{text}") or text
        if kind == PROBLEM:
            return self.text(PROBLEMS[text][1]) if text in PROBLEMS else text
        if kind == COUNTRY:
            return _territories(self.lang).get(text.upper(), text)
        if kind == WORD:
            return self._label(f"value:{text}") or text
        if kind == FORMAT:
            return text.upper()
        return text

    def _reason(self, text: str) -> str:
        """A reason picked from a list as its words; one the code gives (a refused login, a
        witness's refusal, a step the lifecycle refused) in words; one typed as typed."""
        head, sep, rest = text.partition(": ")
        if sep and head in _OLD_PURPOSES:
            return f"{self.text(head)}: {self._reason(rest)}"
        if text in REASONS:
            return self._label(f"reason:{text}") or text
        return self._label(f"reason:{text}") or self.text(text)

    def _filters(self, filters: Mapping[str, Any]) -> str:
        parts = []
        for name, chosen in filters.items():
            shown = self.action(str(chosen)) if name == "action" else str(chosen)
            parts.append(f"{self.text(_FILTER_LABELS.get(name, name))}: {shown}")
        return "; ".join(parts)

    def details(self, action: str, detail: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The details of an entry as (key, value) in words, in the order they were written."""
        return tuple((self.key(k), self.value(action, k, v)) for k, v in detail.items())

    def line(self, entry: Mapping[str, Any]) -> Line:
        """An entry of :func:`gateway.audit.log.entries` in words."""
        action = str(entry["action"])
        return Line(int(entry["seq"]), as_local(entry["at"]), self.actor(str(entry["actor"])),
                    self.action(action), self.subject(entry["subject"]),
                    self.details(action, entry["detail"] or {}))

    def header(self) -> list[str]:
        """The exported log's column headings in words."""
        return [self.text(h) for h in CSV_HEADER]

    def cells(self, entry: Mapping[str, Any]) -> list[str]:
        """An entry's cells in words, for the exported log."""
        line = self.line(entry)
        return [str(line.seq), line.at, line.actor, line.action, line.subject,
                "; ".join(f"{k}: {v}" for k, v in line.details)]
