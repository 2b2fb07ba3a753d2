"""The field model of a document type, read from its XSD: names, order, repetition, code lists
and the sensitivity of every element and attribute (MESSAGES.md: ``bxm:sensitivity``).

The model drives everything that needs a document's shape without an XML validator: building
XML from the JSON of the local API (in schema order), reading stored XML back as JSON,
redacting ``special`` fields, and (later) forms and labels. Validation stays with the XSD: the
model only shapes; :meth:`SchemaRegistry.validate` decides.

Only the subset of XML Schema our schemas use is understood (sequence, one level of choice,
simple content with attributes, named simple types with enumerations); anything else makes
:func:`load_model` refuse, so a schema change cannot silently escape the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from lxml import etree

from gateway.documents.registry import XSD_NS, DocumentSchema, RegistryError

META_NS: Final = "urn:bx:meta"
SENSITIVITY: Final = ("operational", "personal", "special")
_X = f"{{{XSD_NS}}}"
_IGNORED: Final = {"annotation", "key", "keyref", "unique"}


@dataclass(frozen=True)
class Field:
    """One element or attribute of a document, with its effective sensitivity."""

    name: str
    attribute: bool
    sensitivity: str
    min_occurs: int = 1
    max_occurs: int | None = 1  # None: unbounded
    base: str | None = None  # the XSD built-in type of a value (element text or attribute)
    enumeration: tuple[str, ...] = ()
    children: tuple[Field, ...] = ()
    attributes: tuple[Field, ...] = ()
    choice: bool = False
    default: str | None = None
    type_name: str | None = None  # the named simple type (``CountryCode``), if any

    @property
    def repeated(self) -> bool:
        """True if the element may occur more than once (its JSON is a list)."""
        return self.max_occurs is None or self.max_occurs > 1

    @property
    def has_value(self) -> bool:
        """True if the element carries text (simple type or simple content)."""
        return self.base is not None

    def child(self, name: str) -> Field | None:
        """A child element or (with a leading ``@``) attribute by its JSON key."""
        pool = self.attributes if name.startswith("@") else self.children
        key = name.removeprefix("@")
        return next((f for f in pool if f.name == key), None)


@dataclass
class _Schema:
    """The raw declarations of one XSD and its includes."""

    simple: dict[str, etree._Element] = field(default_factory=dict)
    complex: dict[str, etree._Element] = field(default_factory=dict)


def _collect(path: Path, into: _Schema, seen: set[Path]) -> etree._Element:
    path = path.resolve()
    root = etree.parse(str(path), etree.XMLParser(no_network=True, load_dtd=False)).getroot()
    seen.add(path)
    for include in root.findall(f"{_X}include"):
        target = (path.parent / include.get("schemaLocation", "")).resolve()
        if target not in seen:
            _collect(target, into, seen)
    for node in root.findall(f"{_X}simpleType"):
        into.simple[node.get("name", "")] = node
    for node in root.findall(f"{_X}complexType"):
        into.complex[node.get("name", "")] = node
    return root


def _sensitivity_of(declaration: etree._Element, inherited: str) -> str:
    found = declaration.findtext(f"{_X}annotation/{_X}appinfo/{{{META_NS}}}sensitivity")
    own = (found or "").strip()
    if own not in SENSITIVITY:
        raise RegistryError(f"{declaration.get('name')}: no valid bxm:sensitivity")
    return max(own, inherited, key=SENSITIVITY.index)


class _Builder:
    def __init__(self, declarations: _Schema, where: Path) -> None:
        self.d = declarations
        self.where = where

    def refuse(self, what: str) -> RegistryError:
        return RegistryError(f"{self.where}: the field model does not understand {what}")

    def simple(self, type_name: str) -> tuple[str, tuple[str, ...]]:
        """The built-in base and the enumeration of a (named or built-in) simple type."""
        local = type_name.rsplit(":", maxsplit=1)[-1]
        if type_name.startswith("xs:"):
            return local, ()
        node = self.d.simple.get(local)
        if node is None:
            raise self.refuse(f"the type {type_name}")
        restriction = node.find(f"{_X}restriction")
        if restriction is None:  # a union of simple types: take its members' text
            return "string", ()
        base, inherited = self.simple(restriction.get("base", "xs:string"))
        values = tuple(e.get("value", "") for e in restriction.findall(f"{_X}enumeration"))
        return base, values or inherited

    def element(self, node: etree._Element, inherited: str) -> Field:
        sensitivity = _sensitivity_of(node, inherited)
        max_text = node.get("maxOccurs", "1")
        occurs: dict[str, Any] = {
            "min_occurs": int(node.get("minOccurs", "1")),
            "max_occurs": None if max_text == "unbounded" else int(max_text)}
        name = node.get("name", "")
        type_name = node.get("type")
        if type_name is None:
            complex_node = node.find(f"{_X}complexType")
            if complex_node is None:
                raise self.refuse(f"the element {name} without a type")
            return self.complex(name, complex_node, sensitivity, **occurs)
        local = type_name.split(":")[-1]
        if not type_name.startswith("xs:") and local in self.d.complex:
            return self.complex(name, self.d.complex[local], sensitivity, **occurs)
        base, values = self.simple(type_name)
        return Field(name, False, sensitivity, base=base, enumeration=values,
                     type_name=None if type_name.startswith("xs:") else local, **occurs)

    def attribute(self, node: etree._Element, inherited: str) -> Field:
        type_name = node.get("type", "xs:string")
        base, values = self.simple(type_name)
        return Field(node.get("name", ""), True, _sensitivity_of(node, inherited),
                     min_occurs=1 if node.get("use") == "required" else 0, base=base,
                     enumeration=values, default=node.get("default"),
                     type_name=None if type_name.startswith("xs:")
                     else type_name.split(":")[-1])

    def complex(self, name: str, node: etree._Element, sensitivity: str, **occurs: Any
                ) -> Field:
        children: list[Field] = []
        attributes: list[Field] = []
        base: str | None = None
        values: tuple[str, ...] = ()
        choice = False
        for part in node:
            if not isinstance(part.tag, str):
                continue
            kind = etree.QName(part).localname
            if kind in ("sequence", "choice"):
                choice = kind == "choice"
                for child in part:
                    if not isinstance(child.tag, str) or etree.QName(child).localname in _IGNORED:
                        continue
                    if etree.QName(child).localname != "element":
                        raise self.refuse(f"a {etree.QName(child).localname} in {name}")
                    children.append(self.element(child, sensitivity))
            elif kind == "attribute":
                attributes.append(self.attribute(part, sensitivity))
            elif kind == "simpleContent":
                extension = part.find(f"{_X}extension")
                if extension is None:
                    raise self.refuse(f"simple content without extension in {name}")
                base, values = self.simple(extension.get("base", "xs:string"))
                attributes.extend(self.attribute(a, sensitivity)
                                  for a in extension.findall(f"{_X}attribute"))
            elif kind not in _IGNORED:
                raise self.refuse(f"a {kind} in {name}")
        return Field(name, False, sensitivity, base=base, enumeration=values,
                     children=tuple(children), attributes=tuple(attributes), choice=choice,
                     **occurs)


def load_model(schema: DocumentSchema) -> Field:
    """The field tree of one document schema, rooted at its document element."""
    declarations = _Schema()
    root = _collect(schema.path, declarations, set())
    top = root.find(f"{_X}element[@name='{schema.doc_type}']")
    if top is None:
        raise RegistryError(f"{schema.path}: no element {schema.doc_type}")
    return _Builder(declarations, schema.path).element(top, "operational")


def walk(model: Field, prefix: str = "") -> list[tuple[str, Field]]:
    """Every field under ``model`` with its path (``/person/name/native``, ``/birth/@age``)."""
    out = [(f"{prefix}/@{attribute.name}", attribute) for attribute in model.attributes]
    for child in model.children:
        path = f"{prefix}/{child.name}"
        out.append((path, child))
        out.extend(walk(child, path))
    return out


def attribute_values(model: Field, document: Any, name: str, prefix: str = ""
                     ) -> list[tuple[str, str]]:
    """Every value of the attribute ``name`` in a JSON document of ``model``, with the form
    key it sits at (``returnee.0.@verification``)."""
    found: list[tuple[str, str]] = []
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        here = f"{prefix}.{index}" if isinstance(document, list) and prefix else prefix
        value = item.get(f"@{name}")
        if model.child(f"@{name}") is not None and isinstance(value, str):
            found.append((f"{here}.@{name}".lstrip("."), value))
        for child in model.children:
            if child.name in item and (child.children or child.attributes):
                found.extend(attribute_values(child, item[child.name], name,
                                              f"{here}.{child.name}".lstrip(".")))
    return found

