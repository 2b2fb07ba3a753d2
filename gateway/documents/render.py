"""Bilingual rendering: any document as an HTML page in two columns, and the same page as a
PDF (WeasyPrint, A4) for printing and signing at the border.

The left column is Vietnamese, the right one the partner's first language (or English when
the reader asks). Labels come from the catalogs (:mod:`gateway.documents.catalog`); values are
shown as written (names in their own script and in Latin letters), code-list values and yes/no
translated, dates and numbers formatted with Babel for each column's locale. Free text sits in
the column of its language; text in a third language is shown in both, marked with it.

``H1`` prints "not to be used as evidence without the sender's consent" and ``H2`` the
no-dissemination mark, in both languages, at the top of every page. Fields of the ``special``
category are withheld unless the caller may see them (``show_special``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gateway.documents.catalog import Catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.model import Field
from gateway.protocol.errors import N_

TEMPLATES: Final = Path(__file__).with_name("templates")
#: Viet Nam, Cambodia and Laos keep UTC+7; times print in it, saying so.
ZONE: Final = "Asia/Ho_Chi_Minh"
_FULL_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGERS: Final = frozenset({"integer", "positiveInteger", "nonNegativeInteger", "int"})
DRAFT_SOURCE: Final = N_("A draft: not released, not sent")
#: A rendered document's own Content-Security-Policy: its inline style, no script at all, no
#: fetch; served with it wherever it is shown (console, API, print).
DOCUMENT_CSP: Final = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                       "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
DOCUMENT_HEADERS: Final = {"Content-Security-Policy": DOCUMENT_CSP,
                           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                           "Referrer-Policy": "no-referrer"}
HANDLING_MARKS: Final = {
    "H1": N_("Not to be used as evidence without the sender's consent"),
    "H2": N_("Do not disseminate: not to be passed to any other party"),
    "H3": N_("Restricted: for the named recipient only"),
}


@dataclass(frozen=True)
class MessageHeader:
    """What the message says about the document, shown at the top."""

    message_id: str
    sender: str
    recipient: str
    conversation: str
    created: datetime
    priority: str
    handling: str
    receipt: datetime | None = None  # when the recipient receipted it, if it did
    direction: str = "out"
    attachments: tuple[tuple[str, str, int, str], ...] = ()  # name, media type, size, sha256
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # node -> lang -> name


@dataclass
class Row:
    """One line of the document: a field in both languages, at a depth."""

    depth: int
    left_label: str
    right_label: str
    left: Markup | str = ""
    right: Markup | str = ""
    section: bool = False
    withheld: bool = False


class Renderer:
    """Renders documents with the node's schemas and catalogs."""

    def __init__(self, forms: DocumentForms, catalogs: Catalogs) -> None:
        self.forms = forms
        self.catalogs = catalogs
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                               trim_blocks=True, lstrip_blocks=True)

    def html(self, doc_type: str, version: str, xml: bytes, langs: tuple[str, str],
             header: MessageHeader | None = None, *, show_special: bool = False,
             source: str = N_("A document file, not a message of this node")) -> str:
        """The bilingual HTML page of a document (validated against its schema first)."""
        data = self.forms.read(doc_type, version, xml)
        model = self.forms.model(doc_type, version)
        left, right = langs
        rows: list[Row] = []
        self._rows(model, data, 0, langs, rows, show_special)

        def both(message: str) -> Markup:
            return Markup('<span lang="{}">{}</span> <span class="sep">/</span> '
                          '<span lang="{}">{}</span>').format(
                left, self.catalogs.text(left, message), right,
                self.catalogs.text(right, message))

        template = self.env.get_template("document.html")
        return template.render(
            doc_type=doc_type, version=version, left=left, right=right, rows=rows,
            header=header, both=both, catalogs=self.catalogs, t=self.catalogs.text,
            handling_marks=HANDLING_MARKS,
            title=(self.catalogs.field(left, doc_type), self.catalogs.field(right, doc_type)),
            value=self._value,
            sides=self._sides(doc_type, data), show_special=show_special, source=source)

    # -- rows ---------------------------------------------------------------------------

    def _rows(self, model: Field, data: Any, depth: int, langs: tuple[str, str],
              rows: list[Row], show_special: bool) -> None:
        if not isinstance(data, dict):
            return
        for sub in (*model.attributes, *model.children):
            key = f"@{sub.name}" if sub.attribute else sub.name
            if key not in data:
                continue
            values = data[key] if sub.repeated and isinstance(data[key], list) else [data[key]]
            if sub.has_value and not sub.children and values and all(
                    isinstance(v, dict) and "@lang" in v for v in values):
                rows.append(self._texts(sub, values, depth, langs, show_special))
                continue
            for value in values:
                self._row(sub, value, depth, langs, rows, show_special)

    def _labels(self, sub: Field, langs: tuple[str, str]) -> tuple[str, str]:
        return self.catalogs.field(langs[0], sub.name), self.catalogs.field(langs[1], sub.name)

    def _row(self, sub: Field, value: Any, depth: int, langs: tuple[str, str],
             rows: list[Row], show_special: bool) -> None:
        left_label, right_label = self._labels(sub, langs)
        if sub.sensitivity == "special" and not show_special:
            withheld = N_("Withheld: special category data")
            rows.append(Row(depth, left_label, right_label,
                            self.catalogs.text(langs[0], withheld),
                            self.catalogs.text(langs[1], withheld), withheld=True))
            return
        if sub.children or (sub.attributes and isinstance(value, dict)
                            and set(value) - {"#text"}):
            text = value.get("#text") if isinstance(value, dict) else None
            rows.append(Row(depth, left_label, right_label,
                            self._format(sub, text, langs[0]) if text is not None else "",
                            self._format(sub, text, langs[1]) if text is not None else "",
                            section=text is None))
            self._rows(sub, value, depth + 1, langs, rows, show_special)
            return
        plain = value.get("#text") if isinstance(value, dict) else value
        rows.append(Row(depth, left_label, right_label, self._format(sub, plain, langs[0]),
                        self._format(sub, plain, langs[1])))

    def _texts(self, sub: Field, values: list[dict[str, Any]], depth: int,
               langs: tuple[str, str], show_special: bool) -> Row:
        """Free text: each language in its column, a third language in both, marked."""
        left_label, right_label = self._labels(sub, langs)
        if sub.sensitivity == "special" and not show_special:
            withheld = N_("Withheld: special category data")
            return Row(depth, left_label, right_label, self.catalogs.text(langs[0], withheld),
                       self.catalogs.text(langs[1], withheld), withheld=True)
        columns: list[list[Markup]] = [[], []]
        for value in values:
            lang, text = str(value["@lang"]), str(value.get("#text", ""))
            for index, column_lang in enumerate(langs):
                if lang == column_lang:
                    columns[index].append(Markup('<span lang="{}">{}</span>').format(lang, text))
                elif lang not in langs:
                    columns[index].append(Markup(
                        '<span class="other-lang">[{}]</span> <span lang="{}">{}</span>'
                    ).format(lang, lang, text))
        for index in (0, 1):  # a column with nothing of its own shows what there is
            if not columns[index]:
                columns[index] = [Markup('<span class="other-lang">[{}]</span> '
                                         '<span lang="{}">{}</span>').format(
                    v["@lang"], v["@lang"], v.get("#text", "")) for v in values]
        joined = [Markup("<br>").join(c) for c in columns]
        return Row(depth, left_label, right_label, joined[0], joined[1])

    def _format(self, sub: Field, value: Any, locale: str) -> str:
        if value is None:
            return ""
        if sub.type_name == "CountryCode":  # a country by its name in the column's language
            return _names(locale, "territories").get(str(value), str(value))
        if sub.type_name in ("Lang", "SpokenLanguage"):
            return _names(locale, "languages").get(str(value), str(value))
        if sub.enumeration:
            return self.catalogs.code(locale, str(value))
        if sub.base == "boolean" or isinstance(value, bool):
            return self.catalogs.text(locale, N_("yes") if value else N_("no"))
        if sub.base in _INTEGERS and isinstance(value, int):
            return format_decimal(value, locale=locale)
        text = str(value)
        if sub.base == "date" or (_FULL_DATE.fullmatch(text) and sub.base == "string"):
            try:
                return format_date(date.fromisoformat(text), "long", locale=locale)
            except ValueError:
                return text
        if text.endswith("Z") and "T" in text:
            return self._value(locale, text)
        return text

    def _value(self, locale: str, value: Any) -> str:
        """A header value: a time in UTC+7 for the locale, or the text."""
        if isinstance(value, datetime) or (isinstance(value, str) and value.endswith("Z")):
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(
                value.replace("Z", "+00:00"))
            return format_datetime(moment, "medium", tzinfo=_zone(), locale=locale) + " (UTC+7)"
        return str(value)

    def _sides(self, doc_type: str, data: Any) -> list[dict[str, Any]]:
        """The signature blocks of a handover record: the officials of both sides."""
        if doc_type != "handover-record" or not isinstance(data, dict):
            return []
        out = []
        for key in ("handing-over-side", "receiving-side"):
            side: dict[str, Any] = data[key] if isinstance(data.get(key), dict) else {}
            officials = side.get("official") or [{}]
            officials = officials if isinstance(officials, list) else [officials]
            people = []
            for official in officials:
                name = official.get("name") if isinstance(official, dict) else None
                name = name if isinstance(name, dict) else {}
                people.append({"name": name.get("native") or name.get("latin", ""),
                               "latin": name.get("latin", "")})
            out.append({"key": key, "officials": people})
        return out


def html_to_pdf(html: str) -> bytes:
    """The PDF of a rendered page (A4, page numbers, the fonts embedded)."""
    from weasyprint import HTML  # noqa: PLC0415 - heavy; only printing needs it

    result: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return result


@functools.cache
def _names(locale: str, kind: str) -> dict[str, str]:
    """CLDR's names of countries or languages in ``locale``."""
    found = getattr(Locale.parse(locale), kind)
    return {str(k): str(v) for k, v in found.items()}


def _zone() -> Any:
    from babel.dates import get_timezone  # noqa: PLC0415

    return get_timezone(ZONE)
