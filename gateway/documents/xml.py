"""Safe XML parsing as PROTOCOL.md §3.3 demands.

The bytes are checked before the parser sees anything: at most 1 MiB, UTF-8 and nothing else
(no byte-order mark of any encoding, no NUL byte, so no UTF-16 or UTF-32 text dressed as
ASCII, and a declaration, if any, that names UTF-8), no DOCTYPE. Then libxml2 parses with no
DTD, no entity expansion, no network, and a resolver that refuses every file, device or URL
it might be asked to open; the document nests at most 64 deep.
"""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

from gateway.protocol.problems import FieldError, Problem

MAX_BYTES: Final = 1024 * 1024
MAX_DEPTH: Final = 64
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([^\"']*)[\"']")
#: Byte-order marks of UTF-8, UTF-16 and UTF-32 (either order).
_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class _RefuseAll(etree.Resolver):
    """A resolver that opens nothing: every external subset, entity, XInclude or schema
    location libxml2 would fetch is refused."""

    def resolve(self, system_url: str | None, _public_id: str | None, _context: object
                ) -> None:
        raise _invalid(f"an external resource is refused: {system_url!r}")


def _invalid(message: str, line: int = 1, column: int = 1, path: str = "/") -> Problem:
    return Problem("schema-invalid", message,
                   errors=[FieldError(line=line, column=column, path=path, message=message)])


def parse_safely(document: bytes) -> etree._ElementTree:
    """Parse untrusted XML; raise ``schema-invalid`` with the place of the first problem."""
    if len(document) > MAX_BYTES:
        raise _invalid(f"document is {len(document)} bytes; the limit is {MAX_BYTES}")
    if document.startswith(_BOMS):
        raise _invalid("document starts with a byte-order mark: UTF-8 without one only")
    if b"\x00" in document:
        nul = document.index(b"\x00")
        raise _invalid(f"document has a NUL byte (byte {nul}): UTF-16 and UTF-32 are refused",
                       document[:nul].count(b"\n") + 1)
    try:
        document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"document is not UTF-8 (byte {exc.start})") from exc
    declared = _DECLARED_ENCODING.match(document)
    if declared and declared.group(1).lower() != b"utf-8":
        raise _invalid("document declares an encoding other than UTF-8")
    if b"<!DOCTYPE" in document:
        # Refused before libxml2 sees an internal subset at all (entities, parameter entities).
        line = document[: document.index(b"<!DOCTYPE")].count(b"\n") + 1
        raise _invalid("a DOCTYPE is not allowed", line)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, collect_ids=False,
                             attribute_defaults=False, remove_pis=False)
    parser.resolvers.add(_RefuseAll())
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (1, 1)
        raise _invalid(f"not well-formed XML: {exc.msg}", line, column + 1) from exc
    # An element exists at depth MAX_DEPTH + 1 exactly when the document nests too deep.
    too_deep = root.xpath("/*" * (MAX_DEPTH + 1))
    if isinstance(too_deep, list) and too_deep:
        where = too_deep[0]
        at = where.sourceline if isinstance(where, etree._Element) else None
        raise _invalid(f"document nests deeper than {MAX_DEPTH} elements", at or 1)
    tree: etree._ElementTree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _invalid("a DOCTYPE is not allowed")
    return tree
