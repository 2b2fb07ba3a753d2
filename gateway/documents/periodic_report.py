"""The ``periodic-report`` document (MESSAGES.md): a unit's report as cells with their
dimensions, each a count or ``suppressed="true"``, with figures and notes beside them. Its
XML is written and read here, as every document's is; what the cells mean is
:mod:`gateway.reports.document`'s. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from lxml import etree

from gateway.documents.xml import parse_safely
from gateway.protocol.errors import N_, GatewayError

DOC_TYPE: Final = "periodic-report"
VERSION: Final = "1.0"
NAMESPACE: Final = "urn:bx:doc:periodic-report:1"


class PeriodicReportError(GatewayError):
    """A periodic report that does not say what it must; ``field`` names the part."""

    def __init__(self, message: str, field: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


@dataclass(frozen=True)
class Dimensions:
    """Where a cell sits: indicator and measure, and the dimensions it is broken down by."""

    indicator: str
    measure: str
    partner: str | None = None
    month: str | None = None
    sex: str | None = None
    age: str | None = None


@dataclass(frozen=True)
class ReportCell:
    """One cell as sent: its dimensions and its count (None when suppressed)."""

    where: Dimensions
    count: int | None


@dataclass(frozen=True)
class ReceivedReport:
    """A periodic report as read at the collecting node."""

    unit: str
    kind: str
    first: date
    last: date
    cells: list[ReportCell]
    figures: dict[str, float]
    generated: str = ""


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def write_periodic_report(unit: str, unit_names: dict[str, str], kind: str, first: date,
                          last: date, generated_at: str, cells: Iterable[ReportCell],
                          figures: dict[str, float | None],
                          notes: dict[str, str] | None = None) -> bytes:
    """The document: the unit and its names by language (at most four), the period, when
    it was made, every cell, the figures known, and notes by language (at most four)."""
    root = etree.Element(_q(DOC_TYPE), nsmap={None: NAMESPACE})
    reporting = etree.SubElement(root, _q("reporting-unit"), node=unit)
    for lang, name in list(unit_names.items())[:4]:
        etree.SubElement(reporting, _q("name"), lang=lang).text = name
    period = etree.SubElement(root, _q("period"))
    etree.SubElement(period, _q("kind")).text = kind
    etree.SubElement(period, _q("first-day")).text = first.isoformat()
    etree.SubElement(period, _q("last-day")).text = last.isoformat()
    etree.SubElement(root, _q("generated-at")).text = generated_at
    for found in cells:
        attributes = {k: v for k, v in vars(found.where).items() if v is not None}
        if found.count is None:
            attributes["suppressed"] = "true"
        else:
            attributes["count"] = str(found.count)
        etree.SubElement(root, _q("cell"), attributes)
    for name, value in figures.items():
        if value is not None:
            etree.SubElement(root, _q("figure"), name=name, value=f"{value:.4f}")
    for lang, text in list((notes or {}).items())[:4]:
        etree.SubElement(root, _q("note"), lang=lang).text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def read_periodic_report(document: bytes) -> ReceivedReport:
    """A received (already schema-valid) periodic report; a cell with both a count and
    ``suppressed``, or neither, is refused with its line."""
    root = parse_safely(document).getroot()
    unit = root.find(_q("reporting-unit"))
    period = root.find(_q("period"))
    if unit is None or period is None:
        raise PeriodicReportError(N_("not a periodic report"), "document")
    cells = []
    for element in root.iterfind(_q("cell")):
        count, suppressed = element.get("count"), element.get("suppressed") in ("true", "1")
        if (count is None) == (not suppressed):
            raise PeriodicReportError(N_("line {line}: a cell holds either a count or "
                                         "suppressed=\"true\""), "cell",
                                      line=element.sourceline)
        cells.append(ReportCell(Dimensions(
            str(element.get("indicator")), str(element.get("measure")), element.get("partner"),
            element.get("month"), element.get("sex"), element.get("age")),
            None if suppressed else int(str(count))))
    figures = {str(f.get("name")): float(str(f.get("value")))
               for f in root.iterfind(_q("figure"))}
    return ReceivedReport(str(unit.get("node") or ""), str(period.findtext(_q("kind"))),
                          date.fromisoformat(str(period.findtext(_q("first-day")))),
                          date.fromisoformat(str(period.findtext(_q("last-day")))),
                          cells, figures, str(root.findtext(_q("generated-at")) or ""))
