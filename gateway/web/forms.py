"""Document forms for the console, generated from a type's field model: the fields to show,
the form keys they post under, and the JSON document those keys make.

A form key is the field's path with dots (``person.name.latin``); an attribute keeps its ``@``
(``person.@person-id``), free text with attributes its ``#text``; a repeatable element adds
an index (``remarks.0.#text``). Errors from the schema (``/verification-request/person/
name/latin``, ``.../remarks[2]``) map back to the same keys, so each shows beside its field.

No field asks for an internal code: a field that refers to something the case holds is a
picker of those things in words (a person of the case for a ``PersonId``, a received message
for a message id), and every language and country is a select in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from gateway.documents.model import Field
from gateway.localtime import LOCAL_TIME

#: How many instances of a repeatable element the form offers at first.
REPEAT_SLOTS: Final = 1
#: How many instances of an element without a bound a form holds at most.
MAX_UNBOUNDED: Final = 50


@dataclass
class FormField:
    """One input (or group) of a document form."""

    key: str
    name: str
    depth: int
    required: bool
    # group | text | select | date | datetime | boolean | number | country | language |
    # spoken-language | person | message | partner-reference | node
    kind: str
    options: tuple[str, ...] = ()
    sensitivity: str = "operational"
    repeated: bool = False
    children: list[FormField] = field(default_factory=list)
    last: bool = True  # the last instance of a repeated element: "add another" follows it


#: Named types whose values are picked, not typed: (type name, field name or None) -> kind.
_PICKED: Final[dict[tuple[str, str | None], str]] = {
    ("CountryCode", None): "country",
    ("Lang", None): "language",
    ("SpokenLanguage", None): "spoken-language",
    ("PersonId", None): "person",
    ("NodeId", None): "node",  # a unit that has a gateway: this node or a partner
    ("Uuid", "verification"): "message",  # the verification answer a return relies on
    ("Reference", "partner-case-reference"): "partner-reference",
}


def _kind(model: Field) -> str:
    picked = _PICKED.get((model.type_name or "", model.name)) or _PICKED.get(
        (model.type_name or "", None))
    if picked:
        return picked
    if model.enumeration:
        return "select"
    if model.base == "boolean":
        return "boolean"
    if model.base == "date":
        return "date"
    if model.base == "dateTime":
        return "datetime"
    if model.base in ("integer", "positiveInteger", "nonNegativeInteger", "int"):
        return "number"
    return "text"


def _most(model: Field) -> int:
    """How many instances of an element a form may hold: the schema's bound (a form never
    builds more, whatever index a posted key names)."""
    return model.max_occurs if model.max_occurs is not None else MAX_UNBOUNDED


def _slots(key: str, values: dict[str, str] | None, most: int) -> range:
    """As many instances of a repeated element as ``values`` fill (at least one, at most
    ``most``)."""
    if not values:
        return range(REPEAT_SLOTS)
    used = [int(k[len(key) + 1:].split(".", 1)[0]) for k in values
            if k.startswith(f"{key}.") and k[len(key) + 1:].split(".", 1)[0].isdigit()]
    return range(min(most, max(REPEAT_SLOTS, max(used, default=-1) + 1)))


def form_fields(model: Field, prefix: str = "", depth: int = 0,
                required: bool = True, values: dict[str, str] | None = None
                ) -> list[FormField]:
    """The inputs of a model (without the root element itself); a repeated element gets as
    many instances as ``values`` fill."""
    out = [FormField(f"{prefix}@{a.name}", a.name, depth, required and a.min_occurs > 0,
                     _kind(a), a.enumeration, a.sensitivity) for a in model.attributes]
    if model.has_value and (model.children or model.attributes):
        out.append(FormField(f"{prefix}#text", model.name, depth, required, _kind(model),
                             model.enumeration, model.sensitivity))
    for child in model.children:
        slots: list[int | None] = list(_slots(f"{prefix}{child.name}", values, _most(child))) \
            if child.repeated else [None]
        for slot in slots:
            last = slot == slots[-1]
            key = f"{prefix}{child.name}" + (f".{slot}" if slot is not None else "")
            # the first instance of a required element is required, the others are extra
            needed = required and child.min_occurs > 0 and not model.choice and not slot
            if child.children or child.attributes:
                group = FormField(key, child.name, depth, needed, "group",
                                  sensitivity=child.sensitivity, repeated=child.repeated,
                                  last=last)
                group.children = form_fields(child, f"{key}.", depth + 1, needed, values)
                out.append(group)
            else:
                out.append(FormField(key, child.name, depth, needed, _kind(child),
                                     child.enumeration, child.sensitivity, child.repeated,
                                     last=last))
    return out


def local_to_utc(value: str) -> str:
    """A ``datetime-local`` input (the node's zone, to the minute) as the schema's UTC text;
    anything else is left as typed, for the schema to refuse beside its field."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TIME)
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # year 1 or 9999 moved out of the calendar: the schema refuses it
        return value


def utc_to_local(value: str) -> str:
    """The schema's UTC text as a ``datetime-local`` input's value in the node's zone."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")


def _convert(model: Field | None, value: str) -> Any:
    if model is not None and model.base == "boolean":
        return value == "true"
    if model is not None and model.base == "dateTime":
        return local_to_utc(value)
    if model is not None and _kind(model) == "number" and value.strip().isdigit():
        return int(value)
    return value


def document_from_form(model: Field, form: dict[str, str]) -> dict[str, Any]:
    """The JSON document of a posted form; empty inputs are left out, and so is the language
    of a text left empty (a language is offered beside every text, chosen in advance)."""
    document: dict[str, Any] = {}
    for key, raw in form.items():
        value = raw.strip()
        if not value or (key.endswith(".@lang") and not str(
                form.get(f"{key.removesuffix('@lang')}#text", "")).strip()):
            continue
        parts = key.split(".")
        node: Any = document
        current: Field | None = model
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part.isdigit():
                continue
            child = current.child(part) if current is not None and part != "#text" else None
            if current is None or (child is None and part != "#text"):
                break  # not a field of this document: ignored (the form only posts fields)
            repeated = child is not None and child.repeated
            slot = int(parts[index + 1]) if repeated and index + 1 < len(parts) \
                and parts[index + 1].isdigit() else 0
            if child is not None and slot >= _most(child):
                break  # an instance the schema never allows: not a field of this document
            if last or (repeated and index + 1 == len(parts) - 1):
                leaf = _convert(child if child is not None else current, value)
                if repeated:
                    items = node.setdefault(part, [])
                    while len(items) <= slot:
                        items.append(None)
                    items[slot] = leaf
                else:
                    node[part] = leaf
                break
            if repeated:
                items = node.setdefault(part, [])
                while len(items) <= slot:
                    items.append({})
                if not isinstance(items[slot], dict):
                    items[slot] = {}
                node = items[slot]
            else:
                node = node.setdefault(part, {})
            current = child
    compacted: dict[str, Any] = _compact(document)
    return compacted


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_compact(v) for v in value if v not in (None, {})]
    return value


def form_values(model: Field, document: Any, prefix: str = "") -> dict[str, str]:
    """The form keys and values of a JSON document (the inverse of
    :func:`document_from_form`): a saved draft opens in its form as it was left."""
    out: dict[str, str] = {}
    if not isinstance(document, dict):
        if document is not None:
            out[prefix.removesuffix(".") or "#text"] = _text(model, document)
        return out
    for key, value in document.items():
        child = model.child(key) if key != "#text" else None
        if key == "#text":
            out[f"{prefix}#text"] = _text(model, value)
            continue
        if child is None:
            continue
        items = value if child.repeated and isinstance(value, list) else [value]
        for slot, item in enumerate(items):
            name = f"{prefix}{key}" + (f".{slot}" if child.repeated else "")
            if isinstance(item, dict):
                out.update(form_values(child, item, f"{name}."))
            elif item is not None:
                out[name] = _text(child, item)
    return out


def _text(model: Field, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if model.base == "dateTime":
        return utc_to_local(str(value))
    return str(value)
