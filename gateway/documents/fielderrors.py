"""A document's validation errors as the fields of its form: schema paths
(``/verification-request/person[2]/sex``) become form keys (``person.1.sex``), libxml2's
English messages become catalog sentences, and every required field left empty is found in one
round (libxml2 names only the first gap of each element)."""

from __future__ import annotations

import re
from typing import Any, Final

from gateway.documents.model import Field
from gateway.protocol.errors import N_, said

_INDEX: Final = re.compile(r"\[(\d+)\]")
_EXPECTED: Final = re.compile(r"Expected is(?: one of)? \( (?:\{[^}]*\})?([a-z][a-z0-9-]*)")
_EXPECTED_LIST: Final = re.compile(r"Expected is(?: one of)? \(([^)]*)\)")
#: libxml2 on a length facet: "... exceeds the allowed maximum length of '200'".
_LIMIT: Final = re.compile(r"allowed (maximum|minimum) length of '(\d+)'")
REQUIRED: Final = "This field is required"
#: Schema messages (libxml2, English) as the sentence the user reads, from the catalogs.
_REASONS: Final = (
    ("Missing child element", REQUIRED),
    ("is not a valid value of the atomic type 'xs:date'", "Not a valid date (YYYY-MM-DD)"),
    ("is not an element of the set", "Choose one of the listed values"),
    ("is not accepted by the pattern", "Not in the expected form"),
    ("length", "Too long or too short"),
    ("is not a field of this document", "Not a field of this document"),
    ("control character", "Contains characters that cannot be sent"),
)


def error_key(path: str, root: str) -> str:
    """The form key of a schema error path (``/alert/person[2]/sex`` -> ``person.1.sex``)."""
    inner = path.removeprefix(f"/{root}").strip("/")
    inner = _INDEX.sub(lambda m: f".{int(m[1]) - 1}", inner)
    return inner.replace("/", ".")


def normal_key(key: str) -> str:
    """A key with the first instance of repeated elements unnumbered (``name.0`` -> ``name``),
    as the form shows its errors."""
    return re.sub(r"\.0(?=\.|$)", "", key)


def locate(key: str, message: str, model: Field | None = None) -> tuple[str, str]:
    """Where a schema error belongs in the form, and what to tell the user there (a
    :class:`Message` where the sentence says a number: the length allowed). Where the
    schema expects one of several elements, the gap is the first required one (an optional
    element before it is never said to be required)."""
    reason: str = next((said for found, said in _REASONS if found in message),
                       "This value is not valid")
    limit = _LIMIT.search(message)
    if limit:
        reason = said(N_("At most {limit} characters") if limit[1] == "maximum"
                      else N_("At least {limit} characters"), limit=int(limit[2]))
    expected = _EXPECTED.search(message)
    if expected and "Missing child" in message:  # the error sits on the parent
        name = _required_of(model, key, message) or expected[1]
        return (f"{key}.{name}" if key else name), REQUIRED
    if expected and "not expected" in message:  # on the next sibling: the gap is before it
        sibling = re.sub(r"\.\d+$", "", key)  # remarks.0 is the first remarks
        parent = sibling.rsplit(".", 1)[0] if "." in sibling else ""
        name = _required_of(model, parent, message) or expected[1]
        return (f"{parent}.{name}" if parent else name), REQUIRED
    return key, reason


def _required_of(model: Field | None, key: str, message: str) -> str | None:
    """Of the elements a schema message expects under ``key``, the first the model requires."""
    found = _EXPECTED_LIST.search(message)
    here = model
    for part in (key.split(".") if key else []):
        if here is None or part.isdigit():
            continue
        here = here.child(part)
    if found is None or here is None:
        return None
    names = [n.strip().split("}")[-1] for n in found[1].split(",")]
    for name in names:
        child = here.child(name)
        if child is not None and child.min_occurs > 0 and not here.choice:
            return name
    return None


def missing_fields(model: Field, document: Any, prefix: str = "") -> list[str]:
    """Every required element or attribute left out of ``document`` (form keys), inside the
    parts that are there: an optional group left empty is not asked for."""
    if not isinstance(document, dict):
        return []
    out = [f"{prefix}@{a.name}" for a in model.attributes
           if a.min_occurs > 0 and a.default is None and f"@{a.name}" not in document]
    for child in model.children:
        value = document.get(child.name)
        if value in (None, "", [], {}):
            if child.min_occurs > 0 and not model.choice:
                out.append(f"{prefix}{child.name}")
            continue
        items = value if isinstance(value, list) else [value]
        for slot, item in enumerate(items):
            name = f"{prefix}{child.name}" + (f".{slot}" if child.repeated and slot else "")
            out.extend(missing_fields(child, item, f"{name}."))
    return out


def field_errors(model: Field, document: Any, errors: list[Any], root: str
                 ) -> dict[str, list[str]]:
    """All errors of a document by form key, each a catalog sentence: the required fields
    left empty, then the schema's own findings."""
    out: dict[str, list[str]] = {}
    for key in missing_fields(model, document):
        out.setdefault(normal_key(key), []).append(REQUIRED)
    for error in errors:
        key, reason = locate(error_key(error.path, root), error.message, model)
        said = out.setdefault(normal_key(key), [])
        if reason not in said:
            said.append(reason)
    return out
