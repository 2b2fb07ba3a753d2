"""The registry of document schemas on disk: ``schemas/<type>/<MAJOR.MINOR>.xsd`` (NODE.md).

A registry that finds a broken schema refuses to load, so a node never starts with a type it
cannot validate. Folders whose names start with ``_`` hold shared includes, not types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lxml import etree

from gateway.documents import periodic_report
from gateway.documents.witness import WitnessDocumentError, check_readable
from gateway.documents.xml import parse_safely
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.problems import FieldError, Problem

_VERSION_FILE: Final = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.xsd")
_TYPE_NAME: Final = re.compile(r"[a-z][a-z0-9-]{1,63}")
XSD_NS: Final = "http://www.w3.org/2001/XMLSchema"


class RegistryError(GatewayError):
    """A schema folder that cannot be trusted; the message names the file and the fault."""


def namespace_of(doc_type: str, major: int) -> str:
    """The target namespace of a document type's major version: ``urn:bx:doc:<type>:<major>``."""
    return f"urn:bx:doc:{doc_type}:{major}"


@dataclass(frozen=True)
class DocumentSchema:
    """One compiled schema: a document type at one version."""

    doc_type: str
    major: int
    minor: int
    path: Path
    schema: etree.XMLSchema

    @property
    def version(self) -> str:
        """``MAJOR.MINOR``."""
        return f"{self.major}.{self.minor}"

    @property
    def namespace(self) -> str:
        """The target namespace."""
        return namespace_of(self.doc_type, self.major)


def _readable_path(tree: etree._ElementTree, xpath: str | None) -> str:
    """Turn lxml's ``/*/*[2]`` into ``/verification-request/person/name`` where it can."""
    if not xpath:
        return "/"
    try:
        found = tree.xpath(xpath)
    except etree.XPathError:
        return xpath
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return xpath
    parts = []
    node: etree._Element | None = found[0]
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def _compile(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError, OSError) as exc:
        raise RegistryError(N_("{path}: {error}"), path=path, error=exc) from exc


class SchemaRegistry:
    """All document schemas of one ``schemas/`` folder, compiled once."""

    def __init__(self, schemas: dict[tuple[str, int, int], DocumentSchema]) -> None:
        self._schemas = schemas

    @classmethod
    def load(cls, directory: Path) -> SchemaRegistry:
        """Compile every schema under ``directory``; raise :class:`RegistryError` on any fault."""
        if not directory.is_dir():
            raise RegistryError(N_("{directory}: schema folder not found"), directory=directory)
        schemas: dict[tuple[str, int, int], DocumentSchema] = {}
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            if folder.name.startswith("_"):
                continue
            if not _TYPE_NAME.fullmatch(folder.name):
                raise RegistryError(N_("{folder}: not a document type name"), folder=folder)
            for path in sorted(folder.glob("*.xsd")):
                match = _VERSION_FILE.fullmatch(path.name)
                if not match:
                    raise RegistryError(N_("{path}: schema file names are MAJOR.MINOR.xsd"),
                                        path=path)
                major, minor = int(match[1]), int(match[2])
                schema = DocumentSchema(folder.name, major, minor, path, _compile(path))
                _check_declares_root(schema)
                schemas[(folder.name, major, minor)] = schema
        if not schemas:
            raise RegistryError(N_("{directory}: no schemas found"), directory=directory)
        return cls(schemas)

    def types(self) -> list[str]:
        """The document types known, sorted."""
        return sorted({key[0] for key in self._schemas})

    def versions(self, doc_type: str) -> list[str]:
        """The versions known for a type, oldest first."""
        return [s.version for k, s in sorted(self._schemas.items()) if k[0] == doc_type]

    def supports(self, doc_type: str, major: int) -> bool:
        """True if some minor version of ``doc_type`` with this major is known."""
        return any(k[0] == doc_type and k[1] == major for k in self._schemas)

    def resolve(self, doc_type: str, version: str) -> DocumentSchema:
        """The schema for ``version``: the exact one, else the newest minor of the same major.

        A newer minor that we do not know is validated against the newest we know, so
        anything it added is refused rather than silently passed.
        """
        major_text, _, minor_text = version.partition(".")
        try:
            major, minor = int(major_text), int(minor_text)
        except ValueError as exc:
            raise Problem("unsupported-type", f"version {version!r} is not MAJOR.MINOR") from exc
        exact = self._schemas.get((doc_type, major, minor))
        if exact:
            return exact
        same_major = [s for k, s in sorted(self._schemas.items()) if k[:2] == (doc_type, major)]
        if not same_major:
            raise Problem("unsupported-type",
                          f"document type {doc_type!r} version {version} is not supported")
        return same_major[-1]

    def validate(self, doc_type: str, version: str, document: bytes) -> etree._ElementTree:
        """Parse safely and validate; return the tree or raise ``schema-invalid`` with errors."""
        schema = self.resolve(doc_type, version)
        tree = parse_safely(document)
        root = tree.getroot()
        expected = etree.QName(schema.namespace, doc_type)
        if etree.QName(root) != expected:
            message = (f"root element is {etree.QName(root).text}, expected {expected.text} "
                       f"for {doc_type} {schema.version}")
            raise Problem("schema-invalid", message, errors=[
                FieldError(root.sourceline or 1, 1, "/" + etree.QName(root).localname, message)])
        if not schema.schema.validate(tree):
            errors = [FieldError(line=e.line or 1, column=max(e.column, 1),
                                 path=_readable_path(tree, e.path), message=e.message)
                      for e in schema.schema.error_log]
            _refuse(doc_type, schema.version, errors)
        if doc_type == periodic_report.DOC_TYPE:  # what its schema cannot say
            _refuse(doc_type, schema.version, periodic_report.small_cells(root))
        return tree

    def check(self, doc_type: str, version: str, document: bytes) -> None:
        """The protocol's document check (``DocumentChecker``): validate, keep nothing. A
        system document (PROTOCOL.md §4.8) is also read as the node's handling will read it,
        so that what passes here is answered, never accepted and then dropped; what the
        schema cannot say (a cosignature with both a signature and a refusal, or neither) is
        refused here too."""
        tree = self.validate(doc_type, version, document)
        try:
            check_readable(doc_type, tree)
        except WitnessDocumentError as exc:
            root = tree.getroot()
            message = f"{doc_type} {version}: {exc}"
            raise Problem("schema-invalid", message, errors=[
                FieldError(root.sourceline or 1, 1, "/" + etree.QName(root).localname,
                           str(exc))]) from exc


def _refuse(doc_type: str, version: str, errors: list[FieldError]) -> None:
    """Raise ``schema-invalid`` with ``errors``, the first of them in its detail (if any)."""
    if errors:
        first = errors[0]
        raise Problem("schema-invalid", f"{doc_type} {version} is not valid: line {first.line}, "
                                        f"{first.path}: {first.message}", errors=errors)


def _check_declares_root(schema: DocumentSchema) -> None:
    tree = etree.parse(str(schema.path), etree.XMLParser(no_network=True, load_dtd=False))
    root = tree.getroot()
    if root.get("targetNamespace") != schema.namespace:
        raise RegistryError(N_("{path}: targetNamespace must be {namespace}"),
                            path=schema.path, namespace=schema.namespace)
    tops = root.findall(f"{{{XSD_NS}}}element")
    if [t.get("name") for t in tops] != [schema.doc_type]:
        raise RegistryError(N_("{path}: must declare exactly one top-level element named "
                               "{doc_type!r}"), path=schema.path, doc_type=schema.doc_type)
