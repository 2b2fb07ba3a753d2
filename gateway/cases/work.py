"""The case work of one node: the parts every case service needs, built once and handed down."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.cases.calendars import CalendarError, Calendars
from gateway.documents.convert import DocumentForms
from gateway.protocol.errors import GatewayError
from gateway.runtime.node import Node
from gateway.store.crypto import Sealer
from gateway.store.transactions import Database


class CaseError(GatewayError):
    """A refused case operation. ``code`` is a problem code of ``protocol.problems``, per
    refusal (``not-found``, ``forbidden``, ``invalid-request``, ``state-conflict``): one
    operation refuses for several reasons; the message (a catalog template with its values, as
    every :class:`GatewayError`) says what was wrong, naming the field where there is one."""

    code: str

    def __init__(self, code: str, message: str, field: str | None = None,
                 **values: object) -> None:
        super().__init__(message, **values)
        self.code = code
        self.field = field

    @classmethod
    def of(cls, code: str, error: GatewayError, field: str | None = None) -> CaseError:
        """A case refusal that says what another refusal said (in every language)."""
        return cls(code, error.template, field, **error.values)



@dataclass
class CaseWork:
    """A node with its document forms and calendars."""

    node: Node
    forms: DocumentForms
    calendars: Calendars

    @property
    def db(self) -> Database:
        """The node's database (use cases open their transactions there)."""
        return self.node.db

    @property
    def sealer(self) -> Sealer:
        """The node's sealer (encryption at rest, blind index)."""
        return self.node.sealer

    @property
    def clock(self) -> Callable[[], datetime]:
        """The node's clock."""
        return self.node.clock

    @property
    def country(self) -> str:
        """This node's country (``vn.blo-mocbai`` -> ``VN``)."""
        return self.node.node_id.split(".")[0].upper()

    def warm(self) -> None:
        """Read the document forms, and load the calendars deadlines are counted in (this
        node's and its partners' countries, this year and the next), before the first message
        needs them: the ``holidays`` package loads a country's rules in a tenth of a second
        or more."""
        self.forms.load_all()
        year = self.clock().year
        countries = {self.country, *(p.file.country for p in self.node.partners.all())}
        for country in sorted(countries):
            for each in (year, year + 1):
                with contextlib.suppress(CalendarError):
                    self.calendars.year(country, each)

    def partner_country(self, partner: str) -> str:
        """A partner's country, from its file (else from its id)."""
        found = self.node.partners.get(partner)
        return found.file.country if found else partner.split(".", maxsplit=1)[0].upper()


def open_case_work(node: Node) -> CaseWork:
    """Case work over an opened node: forms from its registry, calendars shipped and local."""
    return CaseWork(node, DocumentForms(node.registry),
                    Calendars(node.settings.calendars_dir, node.settings.data_path / "calendars"))
