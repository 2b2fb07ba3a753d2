"""The rules a document of a case meets before it is signed (MESSAGES.md, handling rules):
what it refers to is the case's, the case can follow it, a partner can accept it, what it
says happened has happened. Each refusal names its field; nothing is stored or signed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Final, TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.cases import effects, lifecycle, service, views
from gateway.cases.people import person_references
from gateway.cases.work import CaseError, CaseWork
from gateway.documents.model import attribute_values
from gateway.localtime import LOCAL_TIME
from gateway.protocol.envelope import MAX_MESSAGE_BYTES
from gateway.protocol.errors import N_, Code
from gateway.store import case_messages
from gateway.store import persons as person_repo

#: What a document says has happened, by type: a time or day that cannot be in the future.
HAPPENED: Final[dict[str, tuple[str, ...]]] = {
    "verification-request": ("found.time", "victim-status.decided-on", "consent.recorded-on"),
    "handover-record": ("time",),
    "case-closure": ("closed-on", "follow-up-completed-on"),
    "alert": ("last-seen",),
    "investigation-update": ("evidence.collected-on", "task-done.completed-on"),
}
#: How far a clock may run ahead of ours before its "now" is the future.
CLOCK_SKEW: Final = timedelta(minutes=5)


def check_times(cw: CaseWork, doc_type: str, document: Any) -> None:
    """Nothing a document says has happened is in the future (a handover record is signed at
    the border, not two weeks before)."""
    now = cw.clock()
    for path in HAPPENED.get(doc_type, ()):
        for key, value in _values_at(document, path.split(".")):
            if _after(value, now):
                raise CaseError("invalid-request", N_("this is in the future; say when it "
                                                      "happened"), key)


def _values_at(node: Any, parts: list[str], prefix: str = "") -> list[tuple[str, str]]:
    if not parts:
        return [(prefix, node)] if isinstance(node, str) else []
    items = node if isinstance(node, list) else [node]
    found = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and parts[0] in item:
            here = f"{prefix}.{index}" if isinstance(node, list) and prefix else prefix
            found.extend(_values_at(item[parts[0]], parts[1:],
                                    f"{here}.{parts[0]}".lstrip(".")))
    return found


def _after(value: str, now: datetime) -> bool:
    try:
        if len(value) == 10:
            return date.fromisoformat(value) > now.astimezone(LOCAL_TIME).date()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False  # the schema says what is wrong with it
    return moment.tzinfo is not None and moment > now + CLOCK_SKEW


async def check_references(conn: AsyncConnection, cw: CaseWork, case: Any, doc_type: str,
                            version: str, document: Any, ref: str | None) -> None:
    """What a document refers to is the case's: the message it answers, and every person it
    names by ``person-id`` without describing them (a picked value, or a forged one)."""
    if ref and await case_messages.message_of_case(conn, case.id, ref) is None:
        raise CaseError("invalid-request", N_("the message answered is not one of this case"),
                        "ref")
    model = cw.forms.model(doc_type, version)
    cited = attribute_values(model, document, "verification")
    confirmed = await views.confirmed_answers(conn, cw, case.id) if cited else []
    for key, value in cited:
        if value not in confirmed:
            raise CaseError("invalid-request", N_("not an answer this case received that "
                                                  "confirmed an identity"), key)
    described, referred = person_references(model, document)
    held = await person_repo.person_refs(conn, case.id)
    for reference in referred:
        if reference.person_ref not in held and reference.person_ref not in described:
            raise CaseError("invalid-request", N_("not a person of this case"),
                            reference.key)


def check_size(cw: CaseWork, row: Any, document: Any) -> None:
    """What a partner could not accept is refused at submission already (the release checks
    the signed bytes themselves): the files travel base64url-encoded beside the document."""
    files = json.loads(cw.sealer.open(row.attachments_sealed, "drafts.attachments"))
    estimate = sum(len(f["data"]) for f in files) + len(json.dumps(document)) * 4 // 3 + 8192
    if estimate > MAX_MESSAGE_BYTES:
        raise CaseError("invalid-request", N_("the message would be {size} MiB; a partner "
                                              "accepts {limit} MiB at most: send fewer or "
                                              "smaller files"), "attachments",
                        size=f"{estimate / 2**20:.1f}", limit=MAX_MESSAGE_BYTES // 2**20)


async def check_move(conn: AsyncConnection, case: Any, doc_type: str, document: Any) -> None:
    """Our own document moves our case as it goes out (MESSAGES.md): one the case cannot
    follow now is refused before it is signed, saying why, so that nothing drifts."""
    target = effects.target_of(case.kind, doc_type, document)
    if target is None:
        return
    facts = await service.facts_of(conn, case)
    for step in effects.steps_to(case.state, target):
        try:
            lifecycle.check_transition(facts, step)
        except lifecycle.TransitionRefused as exc:
            raise CaseError("state-conflict", N_("this {doc_type} would move the case to {to}, "
                                                 "which it cannot now: {error}"), "type",
                            doc_type=Code(doc_type), to=Code(target), error=exc) from exc
        facts = replace(facts, state=step, resume_state=None)


class DraftAddress(TypedDict):
    """What the handling rules read of a draft: its type, its recipient and the message it
    refers to."""

    doc_type: str
    recipient: str
    ref: str | None


async def check_rules(conn: AsyncConnection, cw: CaseWork, case: Any, values: DraftAddress
                      ) -> None:
    """The handling rules of MESSAGES.md for a draft of ``values`` on ``case``: no request
    while the victim objects, a return proposed only when it may be planned, a known
    recipient, an ``H2`` message answered only to its sender."""
    if values["doc_type"] == "verification-request" and case.state == "victim-objects":
        raise CaseError("state-conflict", N_("the victim objects to the partner being notified: no "
                                             "verification-request may be sent"), "type")
    if values["doc_type"] == "repatriation-request" and case.kind != "investigation" \
            and case.state != "repatriation-planned":
        try:  # a return is proposed only when the case may plan it (MESSAGES.md)
            lifecycle.check_transition(await service.facts_of(conn, case),
                                       "repatriation-planned")
        except lifecycle.TransitionRefused as exc:
            raise CaseError("state-conflict", N_("{error}: a return is proposed once the victim's "
                                                 "identity is verified"),
                            "type", error=exc) from exc
    if cw.node.partners.get(values["recipient"]) is None:
        raise CaseError("invalid-request", N_("{partner} is not in the partner directory"),
                        "to", partner=values["recipient"])
    if values["ref"]:  # every message of the case with that id: ids are unique per sender
        for source in await case_messages.received_sources(conn, case.id, values["ref"]):
            if source.handling == "H2" and source.sender != values["recipient"]:
                raise CaseError("forbidden", N_("the referenced message is H2: it cannot be "
                                                "forwarded to another partner"), "to")


