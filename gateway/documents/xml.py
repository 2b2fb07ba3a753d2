"""Safe XML parsing as PROTOCOL.md §3.3 demands.

No DTD is loaded and any DOCTYPE is refused, no entity is expanded, nothing is fetched from
the network or the disk, the document is at most 1 MiB, UTF-8, and nests at most 64 deep.
"""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

from gateway.protocol.problems import FieldError, Problem

MAX_BYTES: Final = 1024 * 1024
MAX_DEPTH: Final = 64
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def _invalid(message: str, line: int = 1, column: int = 1, path: str = "/") -> Problem:
    return Problem("schema-invalid", message,
                   errors=[FieldError(line=line, column=column, path=path, message=message)])


def parse_safely(document: bytes) -> etree._ElementTree:
    """Parse untrusted XML; raise ``schema-invalid`` with the place of the first problem."""
    if len(document) > MAX_BYTES:
        raise _invalid(f"document is {len(document)} bytes; the limit is {MAX_BYTES}")
    try:
        document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"document is not UTF-8 (byte {exc.start})") from exc
    declared = _DECLARED_ENCODING.match(document.lstrip(b"\xef\xbb\xbf"))
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise _invalid("document declares an encoding other than UTF-8")
    if b"<!DOCTYPE" in document:
        # Refused before libxml2 sees an internal subset at all (entities, parameter entities).
        line = document[: document.index(b"<!DOCTYPE")].count(b"\n") + 1
        raise _invalid("a DOCTYPE is not allowed", line)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, collect_ids=False)
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
