"""A document as JSON and back: the local API takes JSON, our code builds the XML.

JSON mirrors the XML: an element with children or attributes is an object, attributes are
``"@name"`` keys, the text of an element that also has attributes is ``"#text"``, and an
element that may repeat is always a list. Keys are checked against the field model (an unknown
key is refused with its path); the XML is written in schema order and then validated against
the very same XSD that checks a partner's XML, so JSON can never pass what XML would not.
"""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

from gateway.documents.model import SENSITIVITY, Field, load_model
from gateway.documents.registry import SchemaRegistry
from gateway.documents.xml import parse_safely
from gateway.protocol.encoding import JsonObject, JsonValue
from gateway.protocol.problems import FieldError, Problem

_INTEGER_BASES: Final = frozenset({"integer", "positiveInteger", "nonNegativeInteger", "int",
                                   "long", "short"})
REDACTED: Final[JsonObject] = {"redacted": "special"}
#: The characters XML 1.0 allows (§2.2), so that lxml never has to refuse a value itself.
_XML_TEXT: Final = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def _lexical(value: JsonValue, path: str, errors: list[FieldError]) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not _XML_TEXT.fullmatch(value):
            errors.append(FieldError(1, 1, path, "contains a control character or an "
                                     "unpaired surrogate, which XML cannot carry"))
            return None
        return value
    errors.append(FieldError(1, 1, path, "must be a text, a number or true/false"))
    return None


def _fill(element: etree._Element, model: Field, data: JsonValue, path: str,
          errors: list[FieldError]) -> None:
    namespace = etree.QName(element).namespace
    if not model.children and not model.attributes:
        text = _lexical(data, path, errors)
        if text is not None:
            element.text = text
        return
    if not isinstance(data, dict):
        if model.has_value and not any(a.min_occurs for a in model.attributes):
            element.text = _lexical(data, path, errors)  # text alone, no attribute needed
            return
        errors.append(FieldError(1, 1, path, "must be an object"))
        return
    for key in data:
        if key == "#text" and model.has_value:
            continue
        if model.child(key) is None:
            errors.append(FieldError(1, 1, f"{path}/{key}", "is not a field of this document"))
    for attribute in model.attributes:
        if f"@{attribute.name}" in data:
            text = _lexical(data[f"@{attribute.name}"], f"{path}/@{attribute.name}", errors)
            if text is not None:
                element.set(attribute.name, text)
    if model.has_value and "#text" in data:
        element.text = _lexical(data["#text"], f"{path}/#text", errors)
    for child in model.children:
        if child.name not in data:
            continue
        value = data[child.name]
        if child.repeated and not isinstance(value, list):
            errors.append(FieldError(1, 1, f"{path}/{child.name}", "must be a list"))
            continue
        items = value if child.repeated and isinstance(value, list) else [value]
        for index, item in enumerate(items, start=1):
            where = f"{path}/{child.name}" + (f"[{index}]" if len(items) > 1 else "")
            sub = etree.SubElement(element, etree.QName(namespace, child.name))
            _fill(sub, child, item, where, errors)


def json_to_xml(model: Field, namespace: str, data: JsonValue) -> bytes:
    """Build the XML of a document from its JSON; refuse a shape the model does not have.

    Raises ``Problem("schema-invalid")`` with one :class:`FieldError` per fault. The result
    still has to pass :meth:`SchemaRegistry.validate`.
    """
    errors: list[FieldError] = []
    root = etree.Element(etree.QName(namespace, model.name), nsmap={None: namespace})
    _fill(root, model, data, f"/{model.name}", errors)
    if errors:
        first = errors[0]
        raise Problem("schema-invalid", f"{model.name} is not valid: {first.path}: "
                      f"{first.message}", errors=errors)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _value(model: Field, text: str | None) -> JsonValue:
    text = text or ""
    if model.base == "boolean":
        return text.strip() in ("true", "1")
    if model.base in _INTEGER_BASES:
        return int(text)
    return text


def xml_to_json(model: Field, element: etree._Element) -> JsonValue:
    """The JSON of a (validated) document element."""
    if not model.children and not model.attributes:
        return _value(model, element.text)
    out: JsonObject = {}
    for attribute in model.attributes:
        raw = element.get(attribute.name)
        if raw is not None:
            out[f"@{attribute.name}"] = _value(attribute, raw)
    if model.has_value:
        out["#text"] = _value(model, element.text)
    if not model.children:
        return out
    by_name: dict[str, list[etree._Element]] = {}  # children by local name, in order
    for c in element:
        if isinstance(c.tag, str):
            by_name.setdefault(c.tag.rpartition("}")[2], []).append(c)
    for child in model.children:
        found = by_name.get(child.name)
        if not found:
            continue
        values = [xml_to_json(child, c) for c in found]
        out[child.name] = values if child.repeated else values[0]
    return out


def redact(model: Field, data: JsonValue, *, show_special: bool) -> JsonValue:
    """``data`` with every ``special`` field replaced by ``{"redacted": "special"}``.

    Sensitivity is effective (the highest on the path), so a special element hides all of it.
    """
    if show_special:
        return data
    if model.sensitivity == "special":
        return dict(REDACTED)
    if not isinstance(data, dict):
        return data
    out: JsonObject = {}
    for key, value in data.items():
        sub = model.child(key) if key != "#text" else None
        if sub is None:
            out[key] = value
        elif sub.repeated and isinstance(value, list):
            out[key] = [redact(sub, item, show_special=False) for item in value]
        else:
            out[key] = redact(sub, value, show_special=False)
    return out


def highest_sensitivity(model: Field, data: JsonValue) -> str:
    """The highest sensitivity of any field present in ``data``."""
    level = model.sensitivity
    if isinstance(data, dict):
        for key, value in data.items():
            sub = model.child(key) if key != "#text" else None
            if sub is None:
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                level = max(level, highest_sensitivity(sub, item), key=SENSITIVITY.index)
    return level


class DocumentForms:
    """JSON forms of every type a registry knows. A type's model is read from its schema once,
    when first needed: a command that lists messages needs none, and the node reads them all
    beside serving (:meth:`load_all`, from ``CaseWork.warm``). Two threads reading the same
    model at once both read it, and one copy stays: the models are never changed."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._models: dict[tuple[str, str], Field] = {}

    def model(self, doc_type: str, version: str = "1.0") -> Field:
        """The field model of a type; ``unsupported-type`` if unknown."""
        schema = self.registry.resolve(doc_type, version)
        key = (doc_type, schema.version)
        found = self._models.get(key)
        if found is None:
            found = self._models.setdefault(key, load_model(schema))
        return found

    def load_all(self) -> None:
        """Read every type's model now (before the first document needs one)."""
        for doc_type in self.registry.types():
            for version in self.registry.versions(doc_type):
                self.model(doc_type, version)

    def build(self, doc_type: str, version: str, data: JsonValue) -> bytes:
        """The validated XML of a JSON document (``schema-invalid`` with paths if not)."""
        schema = self.registry.resolve(doc_type, version)
        xml = json_to_xml(self.model(doc_type, version), schema.namespace, data)
        self.registry.validate(doc_type, version, xml)
        return xml

    def read(self, doc_type: str, version: str, xml: bytes, *, validate: bool = True) -> JsonValue:
        """The JSON of a document's XML. ``validate=False`` only for a document validated in
        the same use case (the inbound pipeline has just done it)."""
        tree = (self.registry.validate(doc_type, version, xml) if validate
                else parse_safely(xml))
        return xml_to_json(self.model(doc_type, version), tree.getroot())
