"""What a report's tables, columns and figures are called, in the catalogs (context
``report``), and the groups they are printed and exported in. Pure: no I/O."""

from __future__ import annotations

from gettext import NullTranslations
from typing import Final

from gateway.documents.catalog import C_

#: Groups of indicators: one sheet of the XLSX, one section of the page and the PDF.
GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "tips": ("tips", "tips-by-month"),
    "foreign": ("foreign-cases",),
    "verification": ("verification",),
    "victims": ("victims-received", "victims-referred"),
    "exchanges": ("repatriations", "suspect-notices", "alerts"),
    "deadlines": ("overdue",),
}

LABELS: Final[dict[str, str]] = {
    # the page
    "report-title": C_("report", "Report on preventing and combating human trafficking"),
    "unit": C_("report", "Reporting unit"),
    "period": C_("report", "Period"),
    "generated": C_("report", "Made at"),
    "figures": C_("report", "Figures and targets"),
    "small-cells": C_("report", "Counts of 1 to 4 persons are shown as \"< 5\"; a count "
                      "shown as \"x\" is withheld so that a small count cannot be worked "
                      "out from the totals."),
    "preview-note": C_("report", "The report exactly as it will be signed and sent. \"x\": "
                       "a count withheld (1 to 4 persons, or a count that would give such a "
                       "count away); the recipient learns only that it is withheld."),
    # groups
    "tips": C_("report", "Hotline tips"),
    "foreign": C_("report", "Cases with a foreign element"),
    "verification": C_("report", "Verification requests"),
    "victims": C_("report", "Victims received"),
    "exchanges": C_("report", "Repatriations, suspect notices and alerts"),
    "deadlines": C_("report", "Overdue items"),
    # tables
    "tips-by-month": C_("report", "Tips by month and classification"),
    "foreign-cases": C_("report", "Cases with a foreign element, by partner"),
    "victims-received": C_("report", "Victims received, by partner, sex and age"),
    "victims-referred": C_("report", "Referred for support, by partner, sex and age"),
    "repatriations": C_("report", "Repatriations completed (handover records)"),
    "suspect-notices": C_("report", "Suspect notices"),
    "alerts": C_("report", "Alerts"),
    "overdue": C_("report", "Deadlines passed"),
    "verification-chart": C_("report", "Verification requests answered, by partner, "
                             "against the deadline"),
    "answered-in-time": C_("report", "answered in time"),
    "answered-late": C_("report", "answered late"),
    "unanswered": C_("report", "not answered"),
    # columns
    "received": C_("report", "received"),
    "classified-24h": C_("report", "classified within 24 h"),
    "classified": C_("report", "classified"),
    "resolved": C_("report", "resolved"),
    "trafficking": C_("report", "trafficking"),
    "smuggling": C_("report", "smuggling"),
    "labour-dispute": C_("report", "labour dispute"),
    "other": C_("report", "other"),
    "duplicate": C_("report", "duplicate"),
    "unclassified": C_("report", "not classified"),
    "cases": C_("report", "cases"),
    "coordinated": C_("report", "coordinated with the partner"),
    "sent": C_("report", "sent"),
    "sent-answered": C_("report", "sent, answered"),
    "sent-in-time": C_("report", "sent, answered in time"),
    "received-answered": C_("report", "received, answered"),
    "received-in-time": C_("report", "received, answered in time"),
    "female-child": C_("report", "girls"),
    "female-adult": C_("report", "women"),
    "male-child": C_("report", "boys"),
    "male-adult": C_("report", "men"),
    "unknown-child": C_("report", "children, sex not recorded"),
    "unknown-adult": C_("report", "adults, sex not recorded"),
    "persons": C_("report", "persons"),
    "passed": C_("report", "passed in the period"),
    "open-at-end": C_("report", "still open at its end"),
    # rows
    "total": C_("report", "total"),
    "all": C_("report", "all"),
    "-": C_("report", "no partner"),
    # figures beside the tables
    "verification.sent.median": C_("report", "days to an answer, sent (median)"),
    "verification.sent.p90": C_("report", "days to an answer, sent (90th percentile)"),
    "verification.received.median": C_("report", "days to answer, received (median)"),
    "verification.received.p90": C_("report", "days to answer, received (90th percentile)"),
    "alerts.sent.median": C_("report", "minutes to first action, alerts sent (median)"),
    "alerts.received.median": C_("report",
                                 "minutes to first action, alerts received (median)"),
    "tips.classified-24h.share": C_("report", "tips classified within 24 h"),
    "tips.classified.share": C_("report", "tips classified"),
    "tips.resolved.share": C_("report", "tips resolved"),
    # the national table (the collecting node)
    "national-title": C_("report", "National table: the sum of the units' reports"),
    "national-note": C_("report", "\"≥ N\": at least N, one or more units having withheld a "
                        "small count of theirs; \"x\": withheld; \"< 5\": a sum of 1 to 4 "
                        "persons. Cells that are zero in every unit's report are left out."),
    "units": C_("report", "Units"),
    "units-reported": C_("report", "reported"),
    "units-late": C_("report", "reported late"),
    "units-missing": C_("report", "not reported yet"),
    "indicator": C_("report", "Indicator"),
    "partner": C_("report", "Partner"),
    "month": C_("report", "Month"),
    "sex-age": C_("report", "Sex and age"),
    "measure": C_("report", "Measure"),
    "sum": C_("report", "Sum of the units"),
}

#: The plans' targets, beside the figures they judge (MESSAGES.md).
TARGETS: Final[dict[str, str]] = {
    "tips.classified-24h.share": C_("report", "target: 100 %"),
    "tips.classified.share": C_("report", "target: 100 %"),
    "tips.resolved.share": C_("report", "target: over 90 %"),
    "overdue": C_("report", "target: none"),
}
#: Which figures are shares (printed as per cent) and which durations.
SHARES: Final = frozenset(key for key in LABELS if key.endswith(".share"))


def label(translations: NullTranslations, key: str) -> str:
    """A table's, column's or figure's name in the reader's language; a partner id (a row
    that is not a known label) stays as it is."""
    if key in LABELS:
        return translations.pgettext("report", LABELS[key])
    return key
