"""The translation catalogs (``translations/<locale>/LC_MESSAGES/messages.po``, managed with
Babel) and what they translate for documents: field labels and code-list values.

A document's labels come from its schema: every element and attribute name is a message in
the context ``field`` and every enumeration value one in the context ``code``.
:func:`extract_xsd` is the Babel extractor that finds them (``babel.cfg``), so that
``make translations`` keeps the catalogs in step with the schemas and a test can refuse a
catalog that misses one.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any, Final

from babel.support import Translations
from lxml import etree

LOCALES: Final = ("vi", "en", "km", "lo")
DOMAIN: Final = "messages"
_XSD: Final = "{http://www.w3.org/2001/XMLSchema}"


def extract_xsd(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
                ) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Babel extractor: the labels of a schema (``pgettext("field", name)``) and its code
    lists (``pgettext("code", value)``)."""
    del keywords, comment_tags, options
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    root = etree.parse(fileobj, parser).getroot()
    for node in root.iter(f"{_XSD}element", f"{_XSD}attribute"):
        name = node.get("name")
        if name:
            yield node.sourceline or 0, "pgettext", ("field", name), []
    for node in root.iter(f"{_XSD}enumeration"):
        value = node.get("value")
        if value:
            restriction = node.getparent()
            owner = restriction.getparent() if restriction is not None else None
            list_name = owner.get("name", "") if owner is not None else ""
            yield node.sourceline or 0, "pgettext", ("code", value), [f"code list {list_name}"]


def C_(context: str, message: str) -> str:  # noqa: N802 - gettext convention
    """Mark a message with a context for the catalogs; translated where it is shown."""
    del context
    return message


#: The envelope's code lists (PROTOCOL.md), shown on every printed document.
ENVELOPE_CODES: Final = (C_("code", "routine"), C_("code", "urgent"), C_("code", "immediate"),
                         C_("code", "H0"), C_("code", "H1"), C_("code", "H2"),
                         C_("code", "H3"))


class Catalogs:
    """The compiled catalogs of every locale, loaded once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loaded: dict[str, gettext.NullTranslations] = {}

    def get(self, locale: str) -> gettext.NullTranslations:
        """The translations of ``locale`` (English for an unknown one)."""
        if locale not in self._loaded:
            self._loaded[locale] = Translations.load(str(self.directory), [locale], DOMAIN)
        return self._loaded[locale]

    def text(self, locale: str, message: str) -> str:
        """A user-facing string in ``locale``."""
        return self.get(locale).gettext(message)

    def field(self, locale: str, name: str) -> str:
        """The label of a document field."""
        return self.get(locale).pgettext("field", name)

    def code(self, locale: str, value: str) -> str:
        """The label of a code-list value (a document type's is its field label)."""
        found = self.get(locale).pgettext("code", value)
        return found if found != value else self.get(locale).pgettext("field", value)


@cache
def catalogs(directory: Path) -> Catalogs:
    """The catalogs of a translations folder (one instance per folder)."""
    return Catalogs(directory)
