"""Persons as the documents describe them, and the search terms that find them. Pure.

A document names each person once, with a ``person-id`` stable within the conversation
(MESSAGES.md, common ground); this module reads those entries into :class:`PersonFacts`.
Victims and suspects are kept apart by role and never merged.

Search terms are normalised so that ``Nguyễn`` finds ``NGUYEN`` (accents and case dropped for
Latin script, ``đ`` read as ``d``), while Khmer and Lao names keep their marks, which are
letters there, not accents. Phone numbers match with or without the country code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

ADULT_AGE: Final = 18
_PHONE_QUERY: Final = re.compile(r"\+?[0-9][0-9 ().-]{5,}")
_TOKEN: Final = re.compile(r"[\w\u0e80-\u0eff\u1780-\u17ff]+")
#: Where each type keeps its persons, and the role they have in it.
PERSON_FIELDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "verification-request": (("person", "victim"),),
    "repatriation-request": (("person", "victim"),),
    "handover-record": (("person", "victim"),),
    "alert": (("person", "victim"),),
    "suspect-notice": (("suspect", "suspect"),),
}


@dataclass(frozen=True)
class PersonReference:
    """A person a document names by ``person-id`` only (``subject``, ``linked-person``, a
    suspect notice's ``victim``...): where it sits (a form key) and the role it is named in."""

    key: str
    person_ref: str
    role: str


#: The role a person referred to by id only has, by where the reference sits.
_REFERENCE_ROLES: Final = {"guardian": "relative", "suspect": "suspect"}


def person_references(model: Any, document: Any, prefix: str = ""
                      ) -> tuple[set[str], list[PersonReference]]:
    """The persons a document describes (a ``person-id`` beside a name) and the ones it only
    refers to; ``model`` is the type's field model (:class:`gateway.documents.model.Field`)."""
    described: set[str] = set()
    referred: list[PersonReference] = []
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        here = f"{prefix}.{index}" if isinstance(document, list) and prefix else prefix
        for attribute in model.attributes:
            value = item.get(f"@{attribute.name}")
            if attribute.type_name != "PersonId" or not isinstance(value, str):
                continue
            if attribute.name == "person-id" and model.child("name") is not None:
                described.add(value)
                continue
            role = str(item.get("@role") or _REFERENCE_ROLES.get(attribute.name)
                       or _REFERENCE_ROLES.get(model.name) or "victim")
            referred.append(PersonReference(f"{here}.@{attribute.name}".lstrip("."), value,
                                            role if role in ("victim", "suspect", "witness",
                                                             "relative") else "victim"))
        for child in model.children:
            if child.name in item and (child.children or child.attributes):
                more, refs = person_references(
                    child, item[child.name], f"{here}.{child.name}".lstrip("."))
                described |= more
                referred.extend(refs)
    return described, referred


@dataclass
class PersonFacts:
    """One person of one document, ready to store."""

    person_ref: str
    role: str
    native: str | None = None
    latin: str | None = None
    other_names: list[str] = field(default_factory=list)
    sex: str | None = None
    nationality: str | None = None
    presumed_child: bool = False
    identifiers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    retention_until: date | None = None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> str | None:
    """A field that may repeat (a suspect's nationalities), as its first value."""
    values = _as_list(value)
    return str(values[0]) if values else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def presumed_child(birth: Any, today: date) -> bool:
    """ACTIP and CoE Art. 10(3): a child if under 18, or if the age is uncertain and there is
    no proof of adulthood."""
    if not isinstance(birth, dict):
        return False
    if birth.get("@age-uncertain") and not birth.get("@proof-of-adulthood"):
        return True
    if "estimated-age" in birth:
        return int(birth["estimated-age"]) < ADULT_AGE
    born = str(birth.get("date", ""))
    if re.fullmatch(r"\d{4}(-\d{2}){0,2}", born):
        year = int(born[:4])
        month = int(born[5:7]) if len(born) >= 7 else 12
        day = int(born[8:10]) if len(born) == 10 else 28
        age = today.year - year - ((today.month, today.day) < (month, day))
        return age < ADULT_AGE
    return False


def _names(entry: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for key in keys:
        for name in _as_list(entry.get(key)):
            if isinstance(name, dict):
                out.extend(v for v in (name.get("native"), name.get("latin")) if v)
    return out


def persons_in(doc_type: str, data: Any, today: date) -> list[PersonFacts]:
    """The persons a document names (victims, suspects and the victims' relatives)."""
    if not isinstance(data, dict):
        return []
    found: list[PersonFacts] = []
    for key, default_role in PERSON_FIELDS.get(doc_type, ()):
        for entry in _as_list(data.get(key)):
            if not isinstance(entry, dict) or "@person-id" not in entry:
                continue
            role = default_role
            if doc_type == "suspect-notice" and data.get("person-status") == "witness":
                role = "witness"
            name = _mapping(entry.get("name"))
            facts = PersonFacts(
                person_ref=str(entry["@person-id"]), role=role, native=name.get("native"),
                latin=name.get("latin"), other_names=_names(entry, ("other-name", "alias")),
                sex=_first(entry.get("sex")),
                nationality=_first(entry.get("nationality") or entry.get("claimed-nationality")),
                presumed_child=presumed_child(entry.get("birth"), today),
                identifiers=[str(p["number"]) for p in _as_list(entry.get("identity-paper"))
                             if isinstance(p, dict) and p.get("number")],
                phones=[str(p) for p in _as_list(entry.get("phone"))],
                details=entry)
            consent = data.get("consent")
            if isinstance(consent, dict) and consent.get("retention-until"):
                facts.retention_until = date.fromisoformat(str(consent["retention-until"]))
            if role == "suspect" and data.get("review-date"):
                facts.retention_until = date.fromisoformat(str(data["review-date"]))
            found.append(facts)
            found.extend(_relatives(facts, entry))
    return found


def _relatives(person: PersonFacts, entry: dict[str, Any]) -> list[PersonFacts]:
    out: list[PersonFacts] = []
    for index, relative in enumerate(_as_list(entry.get("relative")), start=1):
        if not isinstance(relative, dict):
            continue
        name = _mapping(relative.get("name"))
        out.append(PersonFacts(
            person_ref=f"{person.person_ref}.relative-{index}", role="relative",
            native=name.get("native"), latin=name.get("latin"),
            phones=[str(p) for p in _as_list(relative.get("phone"))], details=relative,
            retention_until=person.retention_until))
    return out


def fold(word: str) -> str:
    """One word, normalised for search."""
    word = unicodedata.normalize("NFC", word).casefold().replace("đ", "d")
    stripped = "".join(c for c in unicodedata.normalize("NFKD", word)
                       if not unicodedata.combining(c))
    return stripped if stripped.isascii() else word


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def phone_terms(phone: str) -> set[str]:
    """A phone number as terms: all its digits, and its last nine (no country code)."""
    digits = _digits(phone)
    if len(digits) < 6:
        return set()
    return {f"p:{digits}", f"p:{digits[-9:]}"}


def terms_of(facts: PersonFacts) -> set[str]:
    """The (clear) search terms of a person; the store keeps them only blind-indexed."""
    terms: set[str] = set()
    for name in [facts.native, facts.latin, *facts.other_names]:
        if name:
            terms |= {f"n:{fold(w)}" for w in _TOKEN.findall(name)}
    for identifier in facts.identifiers:
        clean = re.sub(r"[^0-9A-Za-z]", "", identifier).upper()
        if clean:
            terms.add(f"i:{clean}")
    for phone in facts.phones:
        terms |= phone_terms(phone)
    return terms


def reference_terms(reference: str) -> set[str]:
    """A case reference, findable whole."""
    return {f"r:{reference.upper()}"}


def query_terms(query: str) -> list[set[str]]:
    """A search query as alternatives per word: every word must match one of its terms.

    A query that is only a phone number (``+84 912 345 678``) is one term, spaces and all.
    """
    if _PHONE_QUERY.fullmatch(query.strip()) and phone_terms(query):
        return [phone_terms(query) | {f"i:{_digits(query)}"}]
    words: list[set[str]] = []
    for word in query.split():
        options = {f"n:{fold(w)}" for w in _TOKEN.findall(word)}
        clean = re.sub(r"[^0-9A-Za-z]", "", word).upper()
        if clean:
            options.add(f"i:{clean}")
        options |= phone_terms(word)
        options.add(f"r:{word.upper()}")
        if len(_TOKEN.findall(word)) > 1 and not any(c.isdigit() for c in word):
            # "Thị-Hoa": each part must match; "VN-C02-2026-00001" stays one reference
            words.extend({f"n:{fold(w)}"} for w in _TOKEN.findall(word))
            continue
        words.append(options)
    return [w for w in words if w]
