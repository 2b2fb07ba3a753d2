"""The views of reports: a unit's indicators for a period, and a periodic report's way to
the collecting node."""

from __future__ import annotations

from typing import Any

from gateway.web.views import View, example

#: A cell of a table: a count, or the text of a hidden one ("< 5", "x").
Cell = int | float | str | None


class PeriodView(View):
    """A reporting window."""

    name: str
    kind: str
    first: str
    last: str


class Table(View):
    """A table after suppression."""

    rows: list[str]
    columns: list[str]
    cells: list[list[Cell]]


class Reported(View):
    """A unit's periodic report received for the period."""

    unit: str
    received: str
    late: bool


class Collection(View):
    """On the collecting node: the units' periodic reports and the national sums."""

    reported: list[Reported]
    missing: list[str]
    national: list[dict[str, Any]]


class Report(View):
    """This unit's indicators for a period (and, on the collecting node, the collection)."""

    model_config = example({
        "unit": "vn.c02",
        "period": {"name": "2026-H1", "kind": "six-month", "first": "2025-11-16",
                   "last": "2026-05-15"},
        "made_at": "2026-05-25T00:00:00+00:00",
        "tables": {"victims-received": {"rows": ["kh.ahtjp", "total"],
                                        "columns": ["female-child", "total"],
                                        "cells": [["< 5", "x"], [12, 31]]}},
        "figures": {"tips.classified.share": 0.97}})
    unit: str
    period: PeriodView
    made_at: str
    tables: dict[str, Table]
    figures: dict[str, Cell]
    collection: Collection | None = None


class Submitted(View):
    """A periodic report submitted for release."""

    model_config = example({"id": 3, "period": "2026-H1", "to": "vn.c02"})
    id: int
    period: str
    to: str | None


class ReportReleased(View):
    """A periodic report released: signed and queued."""

    model_config = example({"message_id": "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"})
    message_id: str


class ReportReturned(View):
    """A periodic report sent back to its submitter."""

    model_config = example({"id": 3, "state": "returned"})
    id: int
    state: str
