"""The indicators of MESSAGES.md "Reporting periods", computed from this node's own records.

Each indicator is defined once, below, in a function named after its row of the table; the
facts it counts come from :mod:`gateway.store.reports`. Everything counts what was recorded
in the window (16 November – 15 May, a year, or a range), as known at ``as_of`` (when the
report is made): a tip received on 15 May and classified on 16 May counts as classified.

Persons (victims received and referred, and cases, which stand for the persons in them) are
suppressed below 5 where shown; messages, tips and deadlines are shown as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.reports.periods import Period
from gateway.reports.tables import Table
from gateway.store import reports as facts

TIP_CLASSES: Final = ("trafficking", "smuggling", "labour-dispute", "other", "duplicate")
#: The breakdown of persons: sex by child or adult (a presumed child counts as a child).
PERSON_COLUMNS: Final = ("female-child", "female-adult", "male-child", "male-adult",
                         "unknown-child", "unknown-adult")
WITHIN_24H: Final = timedelta(hours=24)
#: A row for what has no partner (a tip's classification deadline, a task of the unit).
NO_PARTNER: Final = "-"


@dataclass
class Report:
    """A unit's indicators for one period: tables of counts and the durations beside them."""

    unit: str
    period: Period
    as_of: datetime
    tables: dict[str, Table] = field(default_factory=dict)
    #: medians and 90th percentiles, in days or minutes; None where nothing was answered
    durations: dict[str, float | None] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        """One table by key."""
        return self.tables[key]


def _share(count: int, of: int) -> float | None:
    return None if of == 0 else count / of


def tips_received(rows: Iterable[Any], period: Period) -> tuple[Table, Table]:
    """tips received: hotline tips recorded in the window; tips classified: of those,
    classified (any class) within 24 h, and at all; tips resolved: of those, closed with an
    outcome (resolved, or escalated to a case that was closed). Also by reporting month
    (named after the month it ends in) and class, for the chart. ``rows``: counts by month
    and class (None: not classified)."""
    totals = Table("tips", ["all"], ["received", "classified-24h", "classified", "resolved"],
                   persons=False, column_totals=False)
    months = Table("tips-by-month", [name for _, name in period.month_starts()],
                   [*TIP_CLASSES, "unclassified"], persons=False, row_totals=True,
                   column_totals=True)
    for row in rows:
        totals.add("all", "received", row.received)
        if row.classification is not None:
            totals.add("all", "classified", row.received)
        totals.add("all", "classified-24h", row.classified_24h)
        totals.add("all", "resolved", row.resolved)
        months.add(row.month, row.classification if row.classification in TIP_CLASSES
                   else "unclassified", row.received)
    return totals, months


def foreign_cases(rows: Iterable[Any], country_of: Callable[[str], str],
                  country: str) -> Table:
    """cases with a foreign element: cases opened in the window with a partner in another
    country; coordinated with a partner: of those, with at least one message exchanged.
    By partner. ``rows``: counts by partner."""
    table = Table("foreign-cases", [], ["cases", "coordinated"], persons=True)
    for row in rows:
        if row.partner is None or country_of(row.partner) == country:
            continue
        table.add(row.partner, "cases", row.cases)
        table.add(row.partner, "coordinated", row.coordinated)
    return table


def _quantiles(rows: Iterable[Any], unit_seconds: float) -> dict[str, tuple[float | None,
                                                                            float | None]]:
    """The median and the 90th percentile (nearest rank) of the waits, per way, from the
    ranked waits the store picked out (``part`` ``wait``)."""
    ranked: dict[str, dict[int, float]] = {"sent": {}, "received": {}}
    sizes: dict[str, int] = {}
    for row in rows:
        way = "sent" if row.direction == "out" else "received"
        ranked[way][row.rank] = row.value / unit_seconds
        sizes[way] = row.n
    out: dict[str, tuple[float | None, float | None]] = {}
    for way, values in ranked.items():
        n = sizes.get(way, 0)
        if n == 0:
            out[way] = (None, None)
            continue
        median = (values[(n + 1) // 2] + values[(n + 2) // 2]) / 2
        out[way] = (median, values[-(-9 * n // 10)])  # ceil(0.9 n)
    return out


def requests_answered(key: str, rows: Iterable[Any], durations: dict[str, float | None],
                      unit_seconds: float) -> Table:
    """requests sent / received, by partner; answered: of those, answered (the first answer
    of the other side); within the deadline (answered by the due time of its deadline).
    Durations: median and 90th percentile of the time to answer, per direction. ``rows``:
    counts by direction and partner, and the ranked waits."""
    table = Table(key, [], ["sent", "sent-answered", "sent-in-time", "received",
                            "received-answered", "received-in-time"], persons=False)
    rows = list(rows)
    for row in rows:
        if row.part != "count":
            continue
        way = "sent" if row.direction == "out" else "received"
        table.add(row.partner, way, row.n)
        table.add(row.partner, f"{way}-answered", row.answered)
        table.add(row.partner, f"{way}-in-time", row.in_time)
    waits = _quantiles((row for row in rows if row.part == "wait"), unit_seconds)
    for way, (median, p90) in waits.items():
        durations[f"{key}.{way}.median"] = median
        durations[f"{key}.{way}.p90"] = p90
    return table


def alerts(rows: Iterable[Any], durations: dict[str, float | None]) -> Table:
    """alerts sent / received, by partner, with the median minutes to first action: for an
    alert received, its first-action task done or our first answer, whichever came first;
    for an alert sent, the partner's first answer. ``rows``: counts by direction and
    partner, and the ranked waits."""
    table = Table("alerts", [], ["sent", "received"], persons=False)
    rows = list(rows)
    for row in rows:
        if row.part == "count":
            table.add(row.partner, "sent" if row.direction == "out" else "received", row.n)
    waits = _quantiles((row for row in rows if row.part == "wait"), 60)
    for way, (median, _) in waits.items():
        durations[f"alerts.{way}.median"] = median
    return table


def exchanged(key: str, rows: Iterable[Any]) -> Table:
    """Messages of one type sent / received, by partner (repatriations completed: handover
    records exchanged; suspect notices). ``rows``: counts by direction and partner."""
    table = Table(key, [], ["sent", "received"], persons=False)
    for row in rows:
        table.add(row.partner, "sent" if row.direction == "out" else "received", row.count)
    return table


def person_column(sex: str | None, child: bool) -> str:
    """The breakdown column of one person."""
    kind = sex if sex in ("female", "male") else "unknown"
    return f"{kind}-{'child' if child else 'adult'}"


def victims_received(rows: Iterable[Any], country: str) -> tuple[Table, Table]:
    """victims received: persons handed over to this side (victims of this country's
    nationality in cases that reached ``handed-over`` in the window), by partner, sex and
    child/adult; referred for support: of those, whose case reached
    ``received-and-referred``. ``rows``: counts by partner, sex, nationality, child and
    referred."""
    received = Table("victims-received", [], list(PERSON_COLUMNS), persons=True,
                     row_totals=True)
    referred = Table("victims-referred", [], list(PERSON_COLUMNS), persons=True,
                     row_totals=True)
    for row in rows:
        if (row.nationality or "").upper() != country:
            continue
        column = person_column(row.sex, bool(row.presumed_child))
        partner = row.partner or NO_PARTNER
        received.add(partner, column, row.count)
        if row.referred:
            referred.add(partner, column, row.count)
    return received, referred


def overdue(rows: Iterable[Any]) -> Table:
    """overdue items: deadlines that passed in the window without being met, and those
    still open at its end (or now, for a window not over yet). By partner. ``rows``:
    counts by partner."""
    table = Table("overdue", [], ["passed", "open-at-end"], persons=False)
    for row in rows:
        partner = row.partner or NO_PARTNER
        table.add(partner, "passed", row.passed)
        table.add(partner, "open-at-end", row.open_at_end)
    return table


async def compute(conn: AsyncConnection, unit: str, period: Period, as_of: datetime,
                  country: str, country_of: Callable[[str], str]) -> Report:
    """Every indicator of one period, from this node's records (reads only, in the caller's
    snapshot). Every read stops at ``as_of`` (what is recorded later is not seen, whichever
    statement reads first), so the indicators agree with each other."""
    start, until = period.start, min(period.end, as_of)
    report = Report(unit, period, as_of)
    durations = report.durations

    async def read(query: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await query(conn, *args)

    async def tips() -> list[Table]:
        return list(tips_received(await read(facts.tips_received, start, until, as_of,
                                             period.month_starts()), period))

    async def cases() -> list[Table]:
        return [foreign_cases(await read(facts.foreign_cases, start, until, as_of),
                              country_of, country)]

    async def verification() -> list[Table]:
        return [requests_answered("verification", await read(
            facts.requests_and_answers, "verification-request", "verification-response",
            start, until, as_of, ("await-answer", "answer")), durations, 86_400)]

    async def victims() -> list[Table]:
        return list(victims_received(await read(facts.victims_handed_over, start, until,
                                                as_of), country))

    async def messages() -> list[Table]:
        return [exchanged("repatriations", await read(facts.messages_of, "handover-record",
                                                      start, until)),
                exchanged("suspect-notices", await read(facts.messages_of, "suspect-notice",
                                                        start, until))]

    async def alerting() -> list[Table]:
        return [alerts(await read(facts.requests_and_answers, "alert", None, start, until,
                                  as_of, ("alert-first-action",), True), durations)]

    async def deadlines() -> list[Table]:
        return [overdue(await read(facts.deadlines_missed, start, period.end, as_of))]

    parts = [await part() for part in (tips, cases, verification, victims, messages,
                                       alerting, deadlines)]
    for table in (table for part in parts for table in part):
        table.rows.sort(key=lambda row: (row == NO_PARTNER, row))
        report.tables[table.key] = table
    counts = report.tables["tips"]
    received = counts.count("all", "received")
    durations["tips.classified-24h.share"] = _share(counts.count("all", "classified-24h"),
                                                    received)
    durations["tips.classified.share"] = _share(counts.count("all", "classified"), received)
    durations["tips.resolved.share"] = _share(counts.count("all", "resolved"), received)
    return report
