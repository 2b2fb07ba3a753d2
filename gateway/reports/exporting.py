"""A report exported: made from the records (a read snapshot), written in the format asked,
and the export audited with its reason (its own transaction). The unit's report, or the
national table of the collecting node."""

from __future__ import annotations

from gettext import NullTranslations

from gateway.reports import national
from gateway.reports.collection import collect
from gateway.reports.exports import export
from gateway.reports.periods import Period
from gateway.reports.service import make_report, record_export, record_national_export
from gateway.runtime.node import Node


async def export_report(node: Node, actor: str, period: Period, fmt: str, reason: str,
                        words: NullTranslations, english: NullTranslations,
                        lang: str) -> bytes:
    """This unit's report for ``period`` in ``fmt``, in ``words`` with ``english`` beside."""
    report = await make_report(node, period)
    data = export(report, fmt, words, english, lang)
    await record_export(node, actor, report, fmt, reason)
    return data


async def export_national(node: Node, actor: str, period: Period, fmt: str, reason: str,
                          words: NullTranslations, english: NullTranslations,
                          lang: str) -> bytes:
    """The national table of the units' reports for ``period`` (the collecting node)."""
    data = national.export(await collect(node, period), fmt, words, english, lang,
                           node.node_id, node.clock())
    await record_national_export(node, actor, period, fmt, reason)
    return data
