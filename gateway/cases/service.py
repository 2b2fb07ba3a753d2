"""Plain operations on cases: create, move through the lifecycle, persons, tasks, notes.

Every function takes the caller's connection and never commits: the use case (an API call, an
inbound message) owns the transaction. Every change leaves an audit line and, where it
concerns the case's story, a case event. What is stored, and how, is the repository's
(``gateway.store.cases``); this module decides what happens.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access.roles import allowed, sees_all_cases
from gateway.access.sessions import Principal
from gateway.audit import log as audit
from gateway.cases import commands, lifecycle, match_index
from gateway.cases.people import PersonFacts, reference_terms, terms_of
from gateway.cases.work import CaseError, CaseWork
from gateway.localtime import LOCAL_TIME
from gateway.protocol.envelope import PRIORITIES
from gateway.protocol.errors import N_, Code
from gateway.store import cases as repo
from gateway.store import persons as person_repo
from gateway.store import tasks as task_repo
from gateway.store.transactions import writes


def unit_seen(principal: Principal) -> str | None:
    """The unit whose cases a principal may see; None for all (C02's investigators)."""
    return None if sees_all_cases(principal.role) else principal.unit


async def new_reference(conn: AsyncConnection, prefix: str) -> str:
    """The next human reference under ``prefix`` (``VN-BLO-MOCBAI-2026-00001``)."""
    return f"{prefix}-{await repo.next_number(conn, prefix):05d}"


def reference_prefix(unit: str, now: datetime) -> str:
    """``vn.blo-mocbai`` in 2026 -> ``VN-BLO-MOCBAI-2026``."""
    country, _, name = unit.partition(".")
    return f"{country.upper()}-{name.upper()}-{now.year}"


async def load_case(conn: AsyncConnection, principal: Principal, case_id: int) -> Any:
    """A case the principal may see; ``not-found`` otherwise (not ``forbidden``: whether a
    case exists in another unit is itself not the caller's to know)."""
    row = await repo.case_row(conn, case_id, unit_seen(principal))
    if row is None:
        raise CaseError("not-found", N_("no case {case_id}"), case_id=case_id)
    return row


async def create_case(conn: AsyncConnection, cw: CaseWork, actor: str, *, kind: str,
                      origin: str, owner_unit: str, partner: str | None = None,
                      priority: str = "routine", summary: str | None = None,
                      state: str | None = None) -> int:
    """Open a case in its kind's first state (or in ``state``, where the document that opens
    it says where it stands: a partner's verification request)."""
    if kind not in lifecycle.KINDS:
        raise CaseError("invalid-request", N_("kind must be one of {choices}"),
                        "kind", choices=', '.join(lifecycle.KINDS))
    if origin not in lifecycle.ORIGINS:
        raise CaseError("invalid-request", N_("origin must be one of {choices}"),
                        "origin", choices=', '.join(lifecycle.ORIGINS))
    if priority not in PRIORITIES:
        raise CaseError("invalid-request", N_("priority must be one of {choices}"),
                        "priority", choices=', '.join(PRIORITIES))
    if partner is not None and cw.node.partners.get(partner) is None:
        raise CaseError("invalid-request", N_("{partner} is not in the partner directory"),
                        "partner", partner=partner)
    now = cw.clock()
    reference = await new_reference(conn, reference_prefix(owner_unit, now))
    state = state or lifecycle.initial_state(kind)
    assert state in lifecycle.states_of(kind), state
    case_id = await repo.insert_case(
        conn, reference=reference, kind=kind, origin=origin, state=state,
        owner_unit=owner_unit, partner=partner, priority=priority, created_by=actor,
        created_at=now, updated_at=now,
        summary_sealed=cw.sealer.seal_text(summary, "cases.summary"), presumed_child=False)
    await repo.index_terms(conn, case_id, None,
                           [cw.sealer.index_term(t) for t in reference_terms(reference)])
    await record_event(conn, cw, case_id, actor, "opened", None, state)
    await audit.append(conn, cw.clock, actor, "case.opened", reference,
                       {"kind": kind, "origin": origin, "unit": owner_unit})
    return case_id


async def record_event(conn: AsyncConnection, cw: CaseWork, case_id: int, actor: str, event: str,
                 from_state: str | None = None, to_state: str | None = None,
                 message_id: str | None = None) -> None:
    """One line of a case's story."""
    await repo.insert_event(conn, case_id=case_id, at=cw.clock(), actor=actor, event=event,
                            from_state=from_state, to_state=to_state, message_id=message_id)


async def facts_of(conn: AsyncConnection, row: Any) -> lifecycle.CaseFacts:
    """What the lifecycle rules need to know about a case row."""
    verified = await person_repo.count_persons(conn, row.id, role="victim",
                                        identity_status="verified")
    home_side = lifecycle.is_home_side(row.origin, row.kind)
    return lifecycle.CaseFacts(kind=row.kind, state=row.state, resume_state=row.resume_state,
                               home_side=home_side,
                               referral_recorded=row.referred_at is not None,
                               presumed_child=bool(row.presumed_child),
                               best_interests_recorded=row.best_interests_at is not None
                               and row.best_interests_decision != "no-return",
                               best_interests_decided=row.best_interests_at is not None,
                               verified_victims=verified)


async def move(conn: AsyncConnection, cw: CaseWork, row: Any, to: str, actor: str, *,
               message_id: str | None = None, reason: str | None = None) -> None:
    """Move a case to ``to`` if the lifecycle allows it; :class:`CaseError` if not."""
    facts = await facts_of(conn, row)
    try:
        lifecycle.check_transition(facts, to)
    except lifecycle.TransitionRefused as exc:
        raise CaseError.of("state-conflict", exc, "to") from exc
    state, resume = lifecycle.after(facts, to)
    await repo.update_case(conn, row.id, state=state, resume_state=resume,
                           updated_at=cw.clock())
    await record_event(conn, cw, row.id, actor, "state", row.state, state, message_id)
    await audit.append(conn, cw.clock, actor, "case.state", row.reference,
                       {"from": row.state, "to": state, "message": message_id,
                        "reason_given": bool(reason)})


@writes
async def open_case(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                    command: commands.NewCase) -> int:
    """A user opens a case in their own unit (a hotline operator's cases come from the
    hotline), with the person found where the command names one: both or neither."""
    case_id = await create_case(
        conn, cw, principal.actor, kind=command.kind,
        origin="hotline" if principal.role == "hotline-operator" else command.origin,
        owner_unit=principal.unit, partner=command.partner, priority=command.priority,
        summary=command.summary)
    if command.person is not None:
        if not allowed(principal.role, "persons.write"):
            raise CaseError("forbidden", N_("your role may not add persons to a case"),
                            "person")
        await add_person_by_hand.within(conn, cw, principal, case_id, command.person)
    return case_id


@writes
async def transition(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                     command: commands.Transition) -> str:
    """A user's request to move a case; answers the new state."""
    row = await load_case(conn, principal, case_id)
    await move(conn, cw, row, command.to, principal.actor, reason=command.reason or None)
    return command.to


@writes
async def record_best_interests(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                                case_id: int, command: commands.BestInterests) -> str:
    """A supervisor records whether return is in the child's best interests, with reasons
    (MESSAGES.md). A case under review then goes back where it was: with ``return`` the
    return may be planned; with ``no-return`` it stays blocked. Answers the case's state."""
    note, decision = command.note, command.decision
    if not note.strip():
        raise CaseError("invalid-request", N_("the best-interests record needs its reasons"),
                        "note")
    row = await load_case(conn, principal, case_id)
    await repo.update_case(
        conn, row.id, best_interests_by=principal.actor, best_interests_at=cw.clock(),
        best_interests_decision=decision,
        best_interests_sealed=cw.sealer.seal_text(note, "cases.best_interests"),
        updated_at=cw.clock())
    await record_event(conn, cw, row.id, principal.actor, f"best-interests:{decision}")
    await close_tasks(conn, cw, by=principal.actor, kinds=("best-interests",), case_id=row.id)
    await audit.append(conn, cw.clock, principal.actor, "case.best-interests", row.reference,
                       {"decision": decision})
    current = await repo.case_row(conn, row.id)
    if current.state == "best-interests-review" and current.resume_state:
        await move(conn, cw, current, current.resume_state, principal.actor,
                   reason=f"best-interests decision: {decision}")
        return str(current.resume_state)
    return str(current.state)


@writes
async def record_referral(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                          case_id: int, command: commands.Referral) -> str:
    """The home side records where the person handed over to it was referred; the case then
    moves on to ``received-and-referred`` by itself (MESSAGES.md). Answers the new state."""
    row = await load_case(conn, principal, case_id)
    if row.state != "handed-over":
        raise CaseError("state-conflict", N_("a referral is recorded once the person has been "
                                             "handed over; the case is {state}"), "kind",
                        state=Code(row.state))
    referral = {"kind": command.kind, "facility": command.facility.strip(),
                "note": (command.note or "").strip() or None}
    await repo.update_case(conn, row.id, referred_by=principal.actor, referred_at=cw.clock(),
                           referral_sealed=cw.sealer.seal_text(
                               json.dumps(referral, ensure_ascii=False), "cases.referral"))
    await record_event(conn, cw, row.id, principal.actor, "referral")
    await audit.append(conn, cw.clock, principal.actor, "case.referral", row.reference,
                       {"kind": command.kind})
    await move(conn, cw, await repo.case_row(conn, row.id), "received-and-referred",
               principal.actor)
    return "received-and-referred"


async def upsert_person(conn: AsyncConnection, cw: CaseWork, case_id: int,
                        facts: PersonFacts, actor: str, *, from_partner: bool = False,
                        their_case: bool = False, child_case: bool = False) -> int:
    """Add a person to a case, or refresh the one with the same ``person-id`` and role.

    A victim and a suspect are never the same row, whatever their ids (MESSAGES.md). What a
    partner's document says of a person the case holds fills what the case does not know
    yet and never replaces what it does (our record of whom we found is ours), and it never
    shortens how long the case keeps her data; when it adds nothing, nothing is written.
    ``their_case``: the partner opened the case (they found her, and recorded her consent);
    ``child_case``: the case is marked already as a presumed child's.
    """
    if facts.role not in lifecycle.PERSON_ROLES:
        raise CaseError("invalid-request", N_("role must be one of {choices}"),
                        "role", choices=', '.join(lifecycle.PERSON_ROLES))
    existing = await person_repo.person_row_of(conn, case_id, facts.person_ref, facts.role)
    same = False
    if existing is not None and from_partner:
        facts, same = _kept(cw, existing, facts, their_consent=their_case)
    terms = [cw.sealer.index_term(t) for t in sorted(terms_of(facts))]
    if same and set(terms) == set(await repo.person_terms(conn, int(existing.id))):
        return int(existing.id)  # the document says nothing new of her: nothing to write
    seal = cw.sealer.seal_text
    values = {
        "name_native_sealed": seal(facts.native, "persons.name_native"),
        "name_latin_sealed": seal(facts.latin, "persons.name_latin"),
        "sex": facts.sex, "nationality": facts.nationality,
        "presumed_child": facts.presumed_child,
        "details_sealed": seal(json.dumps(facts.details, ensure_ascii=False),
                               "persons.details"),
        "retention_until": facts.retention_until}
    if existing is None:
        person_id = await person_repo.insert_person(
            conn, case_id=case_id, person_ref=facts.person_ref, role=facts.role,
            identity_status="unverified", created_at=cw.clock(), **values)
        await record_event(conn, cw, case_id, actor, f"person-added:{facts.role}")
    else:
        person_id = int(existing.id)
        await person_repo.update_person(conn, person_id, **values)
    await repo.index_terms(conn, case_id, person_id, terms, new_person=existing is None)
    # indexed and matched after the commit: attaching a message only adds the queue's row
    await match_index.enqueue(conn, match_index.CASE_PERSON, person_id, cw.clock())
    if facts.presumed_child and facts.role == "victim" and not child_case:
        await repo.update_case(conn, case_id, presumed_child=True)
    return person_id


def _kept(cw: CaseWork, row: Any, theirs: PersonFacts, *, their_consent: bool
          ) -> tuple[PersonFacts, bool]:
    """A person as the case holds them, completed (never overwritten) by a partner's
    description: the later of the two retention dates (where the case had none, the
    document's if ``their_consent``: the partner found her); and whether that is what the row
    says already."""
    native = cw.sealer.open_text(row.name_native_sealed, "persons.name_native")
    latin = cw.sealer.open_text(row.name_latin_sealed, "persons.name_latin")
    opened = cw.sealer.open_text(row.details_sealed, "persons.details")
    details = json.loads(opened) if opened else {}
    kept = details if isinstance(details, dict) and details else theirs.details
    # the period stated at consent (MESSAGES.md): the later of the two; where the case had
    # none, the document's only if the partner found her (their consent is the record)
    retention = max((d for d in (row.retention_until, theirs.retention_until) if d),
                    default=None) if row.retention_until or their_consent else None
    facts = replace(
        theirs, native=native or theirs.native, latin=latin or theirs.latin,
        sex=row.sex if row.sex not in (None, "unknown") else theirs.sex,
        nationality=row.nationality or theirs.nationality,
        presumed_child=bool(row.presumed_child) or theirs.presumed_child,
        details=kept, retention_until=retention,
        other_names=[*theirs.other_names, *(n for n in (native, latin) if n)])
    same = (facts.native == native and facts.latin == latin and facts.sex == row.sex
            and facts.nationality == row.nationality
            and facts.presumed_child == bool(row.presumed_child) and kept == details
            and facts.retention_until == row.retention_until)
    return facts, same


@writes
async def add_person_by_hand(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                             case_id: int, command: commands.NewPerson) -> int:
    """A person a user adds to a case (no document named them yet); without a ``person-id``
    the person gets the first local one the case does not use (``L1``, ``L2``...): a
    partner's persons may be numbered so too, and a new person never takes their place."""
    row = await load_case(conn, principal, case_id)
    facts = command.facts(cw.clock().date())
    held = await person_repo.person_refs(conn, row.id)
    if not facts.person_ref:
        number = len(held) + 1
        while f"L{number}" in held:
            number += 1
        facts = replace(facts, person_ref=f"L{number}")
    elif await person_repo.person_row_of(conn, row.id, facts.person_ref, facts.role) is not None:
        raise CaseError("state-conflict", N_("the case holds a person {person} already"),
                        "person_ref", person=facts.person_ref)
    person_id = await upsert_person(conn, cw, row.id, facts, principal.actor)
    await audit.append(conn, cw.clock, principal.actor, "person.added", row.reference,
                       {"person": person_id, "role": facts.role})
    return person_id


async def set_identity_status(conn: AsyncConnection, case_id: int, person_ref: str | None,
                              status: str) -> int:
    """Mark the case's victim(s) (one by ``person-id``, or all) with a verification result."""
    assert status in lifecycle.IDENTITY_STATUSES, status
    return await person_repo.set_victims_status(conn, case_id, person_ref, status)


async def add_task(conn: AsyncConnection, cw: CaseWork, *, kind: str, owner_unit: str,
                   due_at: datetime, case_id: int | None = None, tip_id: int | None = None,
                   title: str | None = None, owner_user: str | None = None,
                   partner: str | None = None, message_id: str | None = None,
                   detail: str | None = None) -> int:
    """Record something due (``detail``: what a document said, as JSON of codes)."""
    return await task_repo.insert_task(
        conn, case_id=case_id, tip_id=tip_id, kind=kind, title=title, owner_unit=owner_unit,
        owner_user=owner_user, partner=partner, message_id=message_id, due_at=due_at,
        created_at=cw.clock(), detail=detail)


async def close_tasks(conn: AsyncConnection, cw: CaseWork, *, by: str, kinds: tuple[str, ...],
                      case_id: int | None = None, tip_id: int | None = None,
                      message_id: str | None = None, partner: str | None = None) -> int:
    """Mark open tasks done (an answer arrived, a tip was classified...) ``by`` whom: the
    user, or the partner whose document answered it."""
    return await task_repo.close_open_tasks(conn, cw.clock(), by, kinds=kinds,
                                            case_id=case_id, tip_id=tip_id,
                                            message_id=message_id, partner=partner)


@writes
async def user_task(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                    title: str, due: date, owner_user: str | None) -> int:
    """A task a user sets on a case."""
    row = await load_case(conn, principal, case_id)
    if not title.strip():
        raise CaseError("invalid-request", N_("a task needs a title"), "title")
    due_at = datetime.combine(due, time(23, 59, 59), LOCAL_TIME)
    task_id = await add_task(conn, cw, kind="task", owner_unit=row.owner_unit, due_at=due_at,
                             case_id=row.id, title=title.strip(), owner_user=owner_user)
    await audit.append(conn, cw.clock, principal.actor, "task.added", row.reference,
                       {"task": task_id})
    return task_id


@writes
async def complete_task(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                        task_id: int, command: commands.TaskDone | None = None) -> None:
    """Mark a task of a visible case (or of the user's unit) done: who, when, and an optional
    note; its deadline closes with it."""
    row = await task_repo.task_row(conn, task_id)
    if row is None or (row.case_id is None and row.owner_unit != principal.unit):
        raise CaseError("not-found", N_("no task {task_id}"), task_id=task_id)
    if row.case_id is not None:
        await load_case(conn, principal, row.case_id)
    if row.done_at is not None:
        raise CaseError("state-conflict", N_("task {task_id} is done already"), task_id=task_id)
    note = command.note if command else None
    await task_repo.update_task(
        conn, task_id, done_at=cw.clock(), done_by=principal.actor,
        done_note_sealed=cw.sealer.seal_text(note.strip(), "tasks.done_note")
        if note and note.strip() else None)
    await audit.append(conn, cw.clock, principal.actor, "task.done", str(task_id),
                       {"kind": row.kind})


@writes
async def add_note(conn: AsyncConnection, cw: CaseWork, principal: Principal, case_id: int,
                   command: commands.NewNote) -> int:
    """A note on a case (sealed: notes often name people)."""
    text = command.text
    row = await load_case(conn, principal, case_id)
    if not text.strip():
        raise CaseError("invalid-request", N_("the note is empty"), "text")
    note_id = await repo.insert_note(conn, case_id=row.id, author=principal.actor,
                                     at=cw.clock(),
                                     text_sealed=cw.sealer.seal_text(text, "notes.text"))
    await audit.append(conn, cw.clock, principal.actor, "note.added", row.reference, {})
    return note_id


@writes
async def complete_task_of_case(conn: AsyncConnection, cw: CaseWork, principal: Principal,
                                case_id: int, task_id: int,
                                command: commands.TaskDone | None = None) -> None:
    """Mark a task of a case the principal may see done (the case page's button); a task of
    another case is ``not-found``."""
    row = await load_case(conn, principal, case_id)
    task = await task_repo.task_row(conn, task_id, row.id)
    if task is None:
        raise CaseError("not-found", N_("no task {task_id} in case {case_id}"),
                        task_id=task_id, case_id=case_id)
    await complete_task.within(conn, cw, principal, task.id, command)
