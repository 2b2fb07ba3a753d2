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
from gateway.protocol.problems import FieldError

DOC_TYPE: Final = "periodic-report"
VERSION: Final = "1.0"
NAMESPACE: Final = "urn:bx:doc:periodic-report:1"
#: The indicators that count persons: MESSAGES.md's small-cell rule applies to them (counts of
#: messages, tips and deadlines are not persons and travel as they are).
PERSON_INDICATORS: Final = frozenset({"foreign-cases", "victims-received", "victims-referred"})
#: A count of persons below this never travels as a number (MESSAGES.md, "Small cells").
SMALL_BELOW: Final = 5


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


def counts_persons(indicator: str | None, measure: str | None) -> bool:
    """Whether a cell of ``indicator`` and ``measure`` counts persons."""
    return indicator in PERSON_INDICATORS or measure == "persons"


def small_cells(root: etree._Element) -> list[FieldError]:
    """Every cell of a (schema-valid) report that gives a count of 1 to 4 persons as a number:
    MESSAGES.md never lets one travel, in either direction. Empty when the report is fit to
    send."""
    found = []
    for element in root.iterfind(_q("cell")):
        count = element.get("count")
        if count is None or not counts_persons(element.get("indicator"),
                                               element.get("measure")):
            continue
        if 0 < int(count) < SMALL_BELOW:
            where = " ".join(f"{name}={element.get(name)}" for name in (
                "indicator", "measure", "partner", "month", "sex", "age") if element.get(name))
            found.append(FieldError(
                element.sourceline or 1, 1,
                f"/periodic-report/cell[{_index(element)}]",
                f"a count of {count} persons ({where}) must travel as suppressed=\"true\": "
                f"counts of 1 to {SMALL_BELOW - 1} persons are never sent as numbers "
                f"(MESSAGES.md, small cells)"))
    return found


def _index(element: etree._Element) -> int:
    """The 1-based position of a cell among the report's cells."""
    return 1 + sum(1 for sibling in element.itersiblings(preceding=True)
                   if sibling.tag == element.tag)


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
