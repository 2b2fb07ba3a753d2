"""What a new document can say before the officer types: what the case, the directory and the
user know, and only that (a signed document is evidence: nothing here is a guess).

From the case: its reference and the partner's, the persons it holds (names as written and
romanised, sex, birth or age, nationality), the agreed return's gate, the answer a return
relies on. From the directory: this node's own unit, named in its own language with the
right ``lang`` and in English beside it, for the officers and units of the sending side; the
partner's unit, from the partner directory, for the other side (a handover record names
both). From the user: their name. Pure: the use case gathers :class:`Known` in one read.

The result is a JSON document of the type, pruned so that it never starts an optional group
it cannot finish (the officer would meet a refusal for fields nobody asked for).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Final, TypeAlias

from gateway.documents.model import Field
from gateway.protocol.encoding import JsonObject, JsonValue

#: The language of each country's own documents.
HOME_LANGUAGE: Final = {"VN": "vi", "KH": "km", "LA": "lo"}
#: Groups that name the officer who composes the document (the user), with the own unit.
_COMPOSER: Final = frozenset({"officer", "requesting-officer"})
#: Where a document describes the case's victims (one, or each).
_VICTIMS: Final = frozenset({"person", "subject", "returnee"})


@dataclass(frozen=True)
class UnitNames:
    """A node or unit as documents name it: its id, its country, its names by language."""

    node_id: str
    country: str
    names: dict[str, str]

    def as_unit(self) -> JsonObject:
        """The ``Unit`` of the schemas: the node, and its name in the unit's own language
        and in English, each tagged with its language (never a name under another tag)."""
        home = HOME_LANGUAGE.get(self.country, "en")
        texts: list[JsonValue] = [{"@lang": lang, "#text": self.names[lang]}
                 for lang in dict.fromkeys((home, "en")) if self.names.get(lang)]
        return {"@node": self.node_id, "name": texts} if texts else {"@node": self.node_id}


@dataclass(frozen=True)
class KnownPerson:
    """A person of the case, as the case holds them."""

    person_ref: str
    role: str
    native: str | None
    latin: str | None
    sex: str | None
    nationality: str | None
    birth: JsonObject | None


@dataclass(frozen=True)
class Known:
    """Everything a new document of a case may be filled in from."""

    reference: str
    partner_reference: str | None
    home_side: bool
    own: UnitNames
    partner: UnitNames | None
    composer: str
    persons: tuple[KnownPerson, ...] = ()
    chosen: str | None = None  # the person the officer picked, else the first victim
    return_gate: str | None = None
    verification: str | None = None  # the received answer a return relies on
    answer_due: date | None = None  # when the partner should answer a request

    def victims(self) -> list[KnownPerson]:
        """The victims, the chosen one first."""
        found = [p for p in self.persons if p.role == "victim"]
        return sorted(found, key=lambda p: p.person_ref != self.chosen)

    def suspects(self) -> list[KnownPerson]:
        """The suspects, the chosen one first."""
        found = [p for p in self.persons if p.role == "suspect"]
        return sorted(found, key=lambda p: p.person_ref != self.chosen)


#: What is known for a document before it is cut to the document's model: JSON, with the
#: case's persons as they are (each expanded where the model places a person).
Candidate: TypeAlias = JsonValue | KnownPerson | list[KnownPerson]


def romanised(name: str) -> str | None:
    """A Latin-script name without its marks (``Nguyễn Thị Lan`` -> ``Nguyen Thi Lan``), the
    form travel documents use; None for another script (romanising it is not mechanical)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", name.replace("đ", "d")
                                                      .replace("Đ", "D"))
                      if not unicodedata.combining(c))
    return folded if folded.isascii() and any(c.isalpha() for c in folded) else None


def _person(model: Field, person: KnownPerson, verification: str | None) -> JsonObject:
    out: JsonObject = {"@person-id": person.person_ref}
    if model.child("@verification") is not None and verification:
        out["@verification"] = verification
    name: JsonObject = {k: v for k, v in (("native", person.native), ("latin", person.latin))
                        if v}
    if name:
        out["name"] = name
    if person.sex and person.sex != "unknown":
        out["sex"] = person.sex
    if person.birth:
        out["birth"] = person.birth
    for key in ("nationality", "claimed-nationality"):
        if person.nationality:
            out[key] = person.nationality
    return out


def _officer(known: Known, unit: UnitNames, composer: bool) -> JsonObject:
    out: JsonObject = {"unit": unit.as_unit()}
    if composer and known.composer:
        latin = romanised(known.composer)
        name: JsonObject = ({"latin": latin} if latin == known.composer
                            else {"native": known.composer})
        if latin and latin != known.composer:
            name["latin"] = latin
        out["name"] = name
    return out


def _sides(known: Known) -> tuple[UnitNames | None, UnitNames | None]:
    """(handing over, receiving): the home side receives the person, the finding side hands
    them over."""
    return (known.partner, known.own) if known.home_side else (known.own, known.partner)


def candidate(doc_type: str, known: Known) -> dict[str, Candidate]:
    """Everything known for a document of ``doc_type``, before pruning to its model."""
    victims = known.victims()
    out: dict[str, Candidate] = {"case-reference": known.reference}
    if known.partner_reference:
        out["partner-case-reference"] = known.partner_reference
    for key in _COMPOSER:
        out[key] = _officer(known, known.own, composer=True)
    out["decided-by"] = _officer(known, known.own, composer=False)
    out["found"] = {"unit": known.own.as_unit(), "place": {"country": known.own.country}}
    if known.answer_due:
        out["response-wanted-by"] = known.answer_due.isoformat()
    if doc_type == "repatriation-response":
        out["receiving-agency"] = known.own.as_unit()
    if doc_type == "handover-record":
        if known.return_gate:
            out["gate"] = known.return_gate
        handing, receiving = _sides(known)
        for side, unit in (("handing-over-side", handing), ("receiving-side", receiving)):
            if unit is not None:
                out[side] = {"agency": unit.as_unit(), "official": [{"unit": unit.as_unit()}]}
    # a handover record and an alert name every victim; the other documents, one
    people = victims if doc_type in ("handover-record", "alert") else victims[:1]
    for key in _VICTIMS:
        out[key] = list(people)
    if known.suspects():
        out["suspect"] = known.suspects()[:1]
    return out


def prefill(doc_type: str, model: Field, known: Known) -> JsonObject:
    """The JSON document of a new ``doc_type`` with what is known, in the model's shape:
    each known value goes to the element of its name wherever the type has it (an officer
    at the top, a ``decided-by`` inside the victim's status), a value the model has no place
    for is dropped, and so is an optional group left incomplete."""
    return _fill(model, candidate(doc_type, known), known)


def _fill(model: Field, known_by_name: dict[str, Candidate], known: Known) -> JsonObject:
    out: JsonObject = {}
    for child in model.children:
        shaped: JsonValue
        if child.name in known_by_name:
            shaped = _shape(child, known_by_name[child.name], known)
        elif child.children:
            shaped = _fill(child, known_by_name, known)
            shaped = [shaped] if child.repeated and shaped else shaped
        else:
            continue
        if shaped in (None, {}, []):
            continue
        optional = child.min_occurs == 0 or model.choice
        if optional and (child.children or child.attributes) and not _complete(child, shaped):
            continue
        out[child.name] = shaped
    return out


def _shape(model: Field, value: Candidate, known: Known) -> JsonValue:
    """``value`` cut to ``model``: persons expanded, lists and single values as the model
    wants them, unknown keys dropped, incomplete optional groups dropped."""
    if isinstance(value, KnownPerson):
        value = _person(model, value, known.verification)
    if isinstance(value, list):
        items = [_shape(model, v, known) for v in value]
        items = [i for i in items if i not in (None, {}, [])]
        if not model.repeated:
            return items[0] if items else None
        return items[: model.max_occurs] if model.max_occurs else items
    if isinstance(value, dict):
        if not (model.children or model.attributes):
            return None
        out: JsonObject = {}
        for key, item in value.items():
            child = model.child(key) if key != "#text" else None
            if key == "#text" and model.has_value:
                out[key] = item
                continue
            if child is None:
                continue
            shaped = _shape(child, item, known)
            if shaped in (None, {}, []):
                continue
            optional = child.min_occurs == 0 or model.choice
            if optional and (child.children or child.attributes) and not _complete(child,
                                                                                   shaped):
                continue
            out[key] = shaped
        return out
    if model.children or (model.attributes and not model.has_value):
        return None
    if model.repeated:
        return [value]
    return value


def _complete(model: Field, value: JsonValue) -> bool:
    """Whether every required part of a group is there."""
    if isinstance(value, list):
        return all(_complete(model, v) for v in value)
    if not isinstance(value, dict):
        return True
    for attribute in model.attributes:
        if attribute.min_occurs and f"@{attribute.name}" not in value:
            return False
    if model.has_value and (model.children or model.attributes) and "#text" not in value:
        return False
    for child in model.children:
        if model.choice or not child.min_occurs:
            if child.name in value and not _complete(child, value[child.name]):
                return False
            continue
        if child.name not in value or not _complete(child, value[child.name]):
            return False
    return not (model.choice and not any(c.name in value for c in model.children))
