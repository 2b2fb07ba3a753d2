"""The node's case housekeeping: deadlines about to pass and passed, and retention.

A deadline that passes puts its case on the overdue lists, is written once in the audit log,
counts in ``bx_deadlines_overdue`` (MESSAGES.md) and is told to its unit (or its user) in the
console; one about to pass is told once before (a quarter of its span, at most a day).
Personal fields of persons past their retention date are purged (names, details, search
terms), leaving an audit line; the case and the fact that a person was in it remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit import log as audit
from gateway.cases import match_index, notices, uploads
from gateway.cases.work import CaseWork
from gateway.store import persons as person_repo
from gateway.store import tasks as task_repo
from gateway.store.transactions import writes

log = logging.getLogger("gateway.cases")
#: Often enough that the 2-hour alert clock is told before it passes (a round is a few
#: indexed queries).
INTERVAL: Final = timedelta(minutes=5)
#: The housekeeping lease outlives a round by this much: its holder renews it every round.
LEASE_MARGIN: Final = timedelta(minutes=1)
#: A deadline is "about to pass" in the last quarter of its span, and at most a day before.
DUE_SOON_MAX: Final = timedelta(days=1)


@dataclass(frozen=True)
class Housekept:
    """What one round found and did."""

    overdue: int
    newly_overdue: int
    purged: int


#: A further duty of each round, run in its transaction (the periodic report's reminders,
#: from the reports context above this one).
Duty = Callable[[AsyncConnection, CaseWork], Awaitable[object]]


async def run_once(cw: CaseWork, duties: Sequence[Duty] = ()) -> Housekept:
    """One round: note newly overdue deadlines, refresh the gauge, purge expired data, and
    do the further ``duties``."""
    per_unit, newly, purged = await _round(cw, duties)
    gauge = cw.node.metrics.deadlines_overdue
    gauge.clear()
    for unit, count in per_unit:
        gauge.labels(unit).set(count)
    return Housekept(sum(c for _, c in per_unit), newly, purged)


@writes
async def _round(conn: AsyncConnection, cw: CaseWork, duties: Sequence[Duty]
                 ) -> tuple[list[tuple[str, int]], int, int]:
    """The round's one transaction: the overdue count per unit after it, and how many
    deadlines newly passed and persons were purged."""
    now = cw.clock()
    await _due_soon(conn, cw)
    for duty in duties:
        await duty(conn, cw)
    await uploads.purge(conn, cw)
    fresh = await task_repo.newly_overdue(conn, now)
    for task in fresh:
        await audit.append(conn, cw.clock, "system", "deadline.overdue",
                           task.reference, {"task": task.id, "kind": task.kind,
                                            "unit": task.owner_unit})
        await notices.notify(conn, cw, _notice("overdue", task))
    await task_repo.mark_tasks(conn, [t.id for t in fresh], overdue_noted_at=now)
    per_unit = await task_repo.overdue_per_unit(conn, now)
    expired = await person_repo.expired_persons(conn, now.date())
    for person in expired:
        await person_repo.purge_person(conn, person.id, now)
        await match_index.unindex(conn, match_index.CASE_PERSON, person.id)
        await audit.append(conn, cw.clock, "system", "retention.purged", person.reference,
                           {"person": person.id, "role": person.role})
    return per_unit, len(fresh), len(expired)


def _notice(kind: str, task: Any) -> notices.Notice:
    return notices.Notice(kind, unit=None if task.owner_user else task.owner_unit,
                          username=task.owner_user, case_id=task.case_id, tip_id=task.tip_id,
                          task_id=task.id, doc_type=task.kind, urgent=True,
                          due_at=task.due_at)


async def _due_soon(conn: AsyncConnection, cw: CaseWork) -> None:
    now = cw.clock()
    candidates = await task_repo.due_soon_candidates(conn, now, now + DUE_SOON_MAX)
    soon = [t for t in candidates
            if t.due_at - now <= min(DUE_SOON_MAX, (t.due_at - t.created_at) / 4)]
    for task in soon:
        await notices.notify(conn, cw, _notice("due-soon", task))
    await task_repo.mark_tasks(conn, [t.id for t in soon], due_soon_noted_at=now)


class Housekeeper:
    """Runs :func:`run_once` at start and then every :data:`INTERVAL` until stopped."""

    def __init__(self, cw: CaseWork, duties: Sequence[Duty] = ()) -> None:
        self.cw = cw
        self.duties = tuple(duties)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stopping.set()

    async def run(self) -> None:
        """The loop; a failed round is logged and the next one tried."""
        while not self._stopping.is_set():
            try:
                # One replica at a time: another takes over when this one's lease lapses.
                if await self.cw.node.holds("housekeeping", INTERVAL + LEASE_MARGIN):
                    done = await run_once(self.cw, self.duties)
                    log.info("housekeeping", extra={"overdue": done.overdue,
                                                    "purged": done.purged})
            except Exception:
                log.exception("housekeeping round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), INTERVAL.total_seconds())
