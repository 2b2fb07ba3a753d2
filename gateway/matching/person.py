"""The person the matching compares: the PERSON of the API contract (issue 25), validated.

``PERSON = {"name_latin": str, "name_native": str | null, "sex": "female" | "male" |
"unknown", "birth": "YYYY" | "YYYY-MM" | "YYYY-MM-DD" | null, "estimated_age": int | null,
"nationality": ISO 3166-1 alpha-2 | null, "home": {"country", "province", "district",
"commune"} | null, "papers": [{"kind", "number", "country"}], "phones": [str]}``.

When an estimated age was estimated (a report's date, a message's date) is not part of the
person: it is given to the comparison (``query_asof``, ``candidate_asof``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pycountry

from gateway.protocol.errors import N_, GatewayError

Sex = Literal["female", "male", "unknown"]
SEXES: tuple[Sex, ...] = ("female", "male", "unknown")
MAX_NAME = 200
MAX_PLACE = 120
MAX_PAPERS = 10
MAX_PHONES = 10
MAX_NUMBER = 40
MAX_AGE = 130
_BIRTH = re.compile(r"\A(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?\Z")
_PHONE = re.compile(r"\A\+?[0-9 ()./-]{3,30}\Z")
_FIELDS = frozenset({"name_latin", "name_native", "sex", "birth", "estimated_age",
                     "nationality", "home", "papers", "phones"})
_HOME_FIELDS = ("country", "province", "district", "commune")
_PAPER_FIELDS = ("kind", "number", "country")


class PersonError(GatewayError, ValueError):
    """A PERSON that is not as the contract says; ``field`` names the input that was wrong."""

    code = "invalid-request"

    def __init__(self, message: str, /, *, field: str, **values: object) -> None:
        super().__init__(message, field=field, **values)
        self.field = field


@dataclass(frozen=True, slots=True)
class Home:
    """Where the person lives: a country (alpha-2) and place names as written."""

    country: str | None
    province: str | None
    district: str | None
    commune: str | None


@dataclass(frozen=True, slots=True)
class Paper:
    """An identity paper: its kind (passport, id-card...), number as written, issuing country."""

    kind: str
    number: str
    country: str | None


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the API contract's PERSON describes them (immutable, validated)."""

    name_latin: str
    name_native: str | None = None
    sex: Sex = "unknown"
    birth: str | None = None
    estimated_age: int | None = None
    nationality: str | None = None
    home: Home | None = None
    papers: tuple[Paper, ...] = ()
    phones: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> Person:
        """A person from the contract's JSON, validated strictly (:class:`PersonError`)."""
        if not isinstance(data, dict):
            raise PersonError(N_("{field} must be an object"), field="person")
        unknown = sorted(str(k) for k in data if k not in _FIELDS)
        if unknown:
            raise PersonError(N_("{field} is not a field of a person"), field=unknown[0])
        if "name_latin" not in data:
            raise PersonError(N_("{field} is missing"), field="name_latin")
        latin = _text(data["name_latin"], "name_latin", MAX_NAME, optional=False) or ""
        native = _text(data.get("name_native"), "name_native", MAX_NAME)
        if not latin.strip() and not (native or "").strip():
            raise PersonError(N_("{field}: a person needs a name, in Latin letters or in "
                                 "their script"), field="name_latin")
        sex = data.get("sex", "unknown")
        if sex not in SEXES:
            raise PersonError(N_("{field} must be one of {choices}"), field="sex",
                              choices=", ".join(SEXES))
        return cls(
            name_latin=latin, name_native=native, sex=sex,
            birth=_birth(data.get("birth")),
            estimated_age=_age(data.get("estimated_age")),
            nationality=_country(data.get("nationality"), "nationality"),
            home=_home(data.get("home")),
            papers=tuple(_paper(p, f"papers[{i}]")
                         for i, p in enumerate(_list(data.get("papers"), "papers",
                                                     MAX_PAPERS))),
            phones=tuple(_phone(p, f"phones[{i}]")
                         for i, p in enumerate(_list(data.get("phones"), "phones",
                                                     MAX_PHONES))))

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON of this person (``from_json(p.to_json()) == p``)."""
        home = None if self.home is None else {
            k: getattr(self.home, k) for k in _HOME_FIELDS}
        return {"name_latin": self.name_latin, "name_native": self.name_native,
                "sex": self.sex, "birth": self.birth, "estimated_age": self.estimated_age,
                "nationality": self.nationality, "home": home,
                "papers": [{"kind": p.kind, "number": p.number, "country": p.country}
                           for p in self.papers],
                "phones": list(self.phones)}


#: What no name, place or number holds: control characters, and the bidirectional controls
#: that make a text display as another ("Trojan Source"). The zero-width space and joiners
#: that Khmer and Lao writing use are kept (matching reads past them).
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _text(value: object, field: str, limit: int, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise PersonError(N_("{field} must be text of at most {limit} characters"),
                          field=field, limit=limit)
    hidden = _HIDDEN.search(value)
    if hidden is not None:
        raise PersonError(N_("{field} holds an invisible control character (U+{code}) at "
                             "position {position}"), field=field,
                          code=f"{ord(hidden.group()):04X}", position=hidden.start() + 1)
    return value


def _birth(value: object) -> str | None:
    if value is None:
        return None
    match = _BIRTH.match(value) if isinstance(value, str) else None
    if match is None:
        raise PersonError(N_("{field} must be YYYY, YYYY-MM or YYYY-MM-DD"), field="birth")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        date(year or 0, month or 1, day or 1)
    except ValueError:
        raise PersonError(N_("{field} is not a real date"), field="birth") from None
    if not 1880 <= (year or 0) <= 2200:
        raise PersonError(N_("{field} is not a real date"), field="birth")
    return match.group(0)


def _age(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
        raise PersonError(N_("{field} must be a whole number from 0 to {limit}"),
                          field="estimated_age", limit=MAX_AGE)
    return value


def _country(value: object, field: str) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) != 2 or not value.isascii()
            or pycountry.countries.get(alpha_2=value.upper()) is None):
        raise PersonError(N_("{field} must be an ISO 3166-1 alpha-2 country code"),
                          field=field)
    return value.upper()


def _home(value: object) -> Home | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PersonError(N_("{field} must be an object"), field="home")
    unknown = sorted(str(k) for k in value if k not in _HOME_FIELDS)
    if unknown:
        raise PersonError(N_("{field} is not a field of a person"), field=f"home.{unknown[0]}")
    places = [_text(value.get(k), f"home.{k}", MAX_PLACE) for k in _HOME_FIELDS[1:]]
    return Home(_country(value.get("country"), "home.country"), *places)


def _list(value: object, field: str, limit: int) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise PersonError(N_("{field} must be a list of at most {limit}"), field=field,
                          limit=limit)
    return value


def _paper(value: object, field: str) -> Paper:
    if not isinstance(value, dict):
        raise PersonError(N_("{field} must be an object"), field=field)
    unknown = sorted(str(k) for k in value if k not in _PAPER_FIELDS)
    if unknown:
        raise PersonError(N_("{field} is not a field of a person"),
                          field=f"{field}.{unknown[0]}")
    for key in ("kind", "number"):
        if key not in value:
            raise PersonError(N_("{field} is missing"), field=f"{field}.{key}")
    kind = _text(value["kind"], f"{field}.kind", MAX_PLACE, optional=False) or ""
    number = _text(value["number"], f"{field}.number", MAX_NUMBER, optional=False) or ""
    if not kind.strip() or not any(c.isalnum() for c in number):
        raise PersonError(N_("{field} is missing"), field=f"{field}.number")
    return Paper(kind, number, _country(value.get("country"), f"{field}.country"))


def _phone(value: object, field: str) -> str:
    if not isinstance(value, str) or _PHONE.match(value) is None:
        raise PersonError(N_("{field} is not a phone number"), field=field)
    return value
