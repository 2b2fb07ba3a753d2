"""The commands of missing-person reports, validated once: the local API takes them as request
bodies and the console's form builds the same objects (:func:`gateway.cases.commands.parse`).

``MissingPerson`` is the contract for outside scripts (PERSON in docs/missing-persons.md), and
the shape in which a report's person is sealed and later matched: strict by design. Unknown
fields are refused, every text and list is capped, text carries no control characters, a birth
is a real calendar date (or year-month, or year), a country is an ISO 3166-1 alpha-2 code that
exists, an age is a whole number from 0 to 120 (never ``true`` or ``"15"``), and a photo is a
JPEG or PNG by its bytes, not by what the caller says.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal, get_args

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.cases.commands import Relation
from gateway.matching.person import MAX_PLACE
from gateway.protocol.envelope import sniff_media_type

Sex = Literal["female", "male", "unknown"]
#: The kinds of identity paper, as the documents' schema lists them (``PaperKind``).
PaperKind = Literal["passport", "national-id", "birth-certificate", "household-registration",
                    "border-pass", "travel-document", "laissez-passer", "other"]
#: Why a report is closed (the console names them; ``other`` needs a note).
CloseReason = Literal["found-safe", "returned-home", "duplicate", "withdrawn",
                      "recorded-in-error", "other"]
CLOSE_REASONS: Final[tuple[str, ...]] = get_args(CloseReason)
PhotoType = Literal["image/jpeg", "image/png"]
#: The largest photo, decoded (as a compose form's file).
MAX_PHOTO: Final = 5 * 1024 * 1024
#: The most base64 characters a photo of :data:`MAX_PHOTO` bytes takes (with padding).
MAX_PHOTO_TEXT: Final = (MAX_PHOTO + 2) // 3 * 4
_BIRTH: Final = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
#: RFC 3339: a date, a time and its offset (``Z`` or ``+07:00``).
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
#: Punctuation a name may carry beside its letters (``Nguyen T. Lan``, ``Srey-Mom``, ``O'Neil``).
_NAME_MARKS: Final = frozenset(" '.-,")


def _refuse(kind: str, message: str) -> PydanticCustomError:
    """A refusal of the type the console words (:data:`gateway.cases.commands._PROBLEMS`)."""
    return PydanticCustomError(kind, message)


def _clean(value: str, lines: bool = False) -> str:
    """Text as NFC, stripped, with no control character (tabs and line breaks only where
    ``lines``); refused when nothing is left."""
    text = unicodedata.normalize("NFC", value).strip()
    allowed = "\n\r\t" if lines else ""
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text):
        raise _refuse("control_character", "contains a control character")
    if not text:
        raise _refuse("missing", "must not be blank")
    return text


def _line(value: str) -> str:
    return _clean(value)


def _lines(value: str) -> str:
    return _clean(value, lines=True)


def _latin_name(value: str) -> str:
    """A name in Latin letters (accents and đ allowed: ``Nguyễn Thị Lan``), spaces and the
    punctuation of names; it needs at least one letter."""
    text = _clean(value)
    for char in text:
        if char in _NAME_MARKS or unicodedata.category(char) == "Mn":
            continue
        if not (char.isalpha() and "LATIN" in unicodedata.name(char, "")):
            raise _refuse("string_pattern_mismatch", "Latin letters only")
    if not any(c.isalpha() for c in text):
        raise _refuse("string_pattern_mismatch", "Latin letters only")
    return text


def _native_name(value: str) -> str:
    """A name as written, in any script; it needs at least one letter."""
    text = _clean(value)
    if not any(unicodedata.category(c).startswith("L") for c in text):
        raise _refuse("string_pattern_mismatch", "a name needs letters")
    return text


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _country(value: str) -> str:
    if value not in _countries():
        raise _refuse("string_pattern_mismatch", "an ISO 3166-1 alpha-2 country code (VN, KH, LA)")
    return value


def _birth(value: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real one (2011-02-30 is refused), from 1900."""
    if not _BIRTH.fullmatch(value):
        raise _refuse("string_pattern_mismatch", "YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(p) for p in (value + "-01-01").split("-")[:3])
    try:
        date(year, month, day)
    except ValueError as exc:
        raise _refuse("date_parsing", "not a date of the calendar") from exc
    if year < 1900:
        raise _refuse("string_pattern_mismatch", "a year from 1900")
    return value


def _rfc3339(value: Any) -> Any:
    """Only RFC 3339 text with its offset (not a number, not a date alone, not a naive time)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise _refuse("datetime_parsing", "an RFC 3339 time with its offset "
                                          "(2026-11-24T07:50:00+07:00)")
    return value


def _phone(value: str) -> str:
    text = _clean(value)
    if not re.fullmatch(r"\+?[0-9 ().\-]{6,30}", text) or sum(c.isdigit() for c in text) < 6:
        raise _refuse("string_pattern_mismatch", "a phone number (+84 98 765 4321)")
    return text


Line = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_line)]
#: A place of the person's home: no longer than matching compares (refused here, beside its
#: input, rather than by the matching core after the form was read).
HomePlace = Annotated[StrictStr, Field(min_length=1, max_length=MAX_PLACE),
                      AfterValidator(_line)]
LatinName = Annotated[StrictStr, Field(min_length=1, max_length=200),
                      AfterValidator(_latin_name)]
NativeName = Annotated[StrictStr, Field(min_length=1, max_length=200),
                       AfterValidator(_native_name)]
Country = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$"), AfterValidator(_country)]
Birth = Annotated[StrictStr, Field(max_length=10), AfterValidator(_birth)]
Phone = Annotated[StrictStr, Field(max_length=30), AfterValidator(_phone)]
PaperNumber = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,39}$")]
Narrative = Annotated[StrictStr, Field(min_length=1, max_length=4000), AfterValidator(_lines)]
def _since_1900(value: datetime) -> datetime:
    """A time from 1900 on (year 1 at +01:00 would be before year 1 in UTC: no such time)."""
    if value.year < 1900:
        raise _refuse("datetime_parsing", "a time from 1900")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_since_1900)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4000)


class Home(_Strict):
    """Where the person lives (a country and its places, as written)."""

    country: Country | None = None
    province: HomePlace | None = None
    district: HomePlace | None = None
    commune: HomePlace | None = None

    @model_validator(mode="after")
    def _something(self) -> Home:
        if not any((self.country, self.province, self.district, self.commune)):
            raise _refuse("missing", "a home needs a country or a place")
        return self


class Paper(_Strict):
    """An identity paper: its kind, its number, the country that issued it."""

    kind: PaperKind
    number: PaperNumber
    country: Country | None = None


#: A person as an outside script sends one (the OpenAPI example).
PERSON_EXAMPLE: Final[dict[str, Any]] = {
    "name_latin": "NGUYEN Thi Lan", "name_native": "Nguyễn Thị Lan", "sex": "female",
    "birth": "2011-03", "estimated_age": None, "nationality": "VN",
    "home": {"country": "VN", "province": "Tây Ninh", "district": "Bến Cầu",
             "commune": "Long Thuận"},
    "papers": [{"kind": "national-id", "number": "072311000123", "country": "VN"}],
    "phones": ["+84 98 765 4321"]}


class MissingPerson(_Strict):
    """PERSON: who is looked for (the contract for outside scripts; the sealed document)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [PERSON_EXAMPLE]})
    name_latin: LatinName
    name_native: NativeName | None = None
    sex: Sex
    birth: Birth | None = None
    estimated_age: Annotated[StrictInt, Field(ge=0, le=120)] | None = None
    nationality: Country | None = None
    home: Home | None = None
    papers: list[Paper] = Field(default_factory=list, max_length=5)
    phones: list[Phone] = Field(default_factory=list, max_length=5)


class Place(_Strict):
    """Where the person was last seen."""

    country: Country | None = None
    province: Line | None = None
    district: Line | None = None
    commune: Line | None = None
    details: Annotated[StrictStr, Field(min_length=1, max_length=500),
                       AfterValidator(_line)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Place:
        if not any((self.country, self.province, self.district, self.commune, self.details)):
            raise _refuse("missing", "a place needs a country, a place name or details")
        return self


class LastSeen(_Strict):
    """When and where the person was last seen (either may be unknown, not both)."""

    time: Moment | None = None
    place: Place | None = None

    @model_validator(mode="after")
    def _something(self) -> LastSeen:
        if self.time is None and self.place is None:
            raise _refuse("missing", "say when or where (or leave last_seen out)")
        return self


class Reporter(_Strict):
    """Who reported the person missing: kept apart, shown to supervisors only."""

    name: Line | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _something(self) -> Reporter:
        if self.name is None and self.phone is None:
            raise _refuse("missing", "a name or a phone (or leave reporter out)")
        return self


class Photo(_Strict):
    """A photo of the person: base64 of a JPEG or PNG of at most 5 MiB."""

    media_type: PhotoType
    data: Annotated[StrictStr, Field(min_length=4, max_length=MAX_PHOTO_TEXT)]

    @field_validator("data")
    @classmethod
    def _an_image(cls, value: str, info: ValidationInfo) -> str:
        said = info.data.get("media_type")
        if said is not None and sniff_media_type(photo_bytes(value)) != said:
            raise _refuse("not_an_image", "not a JPEG or PNG image (by its bytes)")
        return value

    def image(self) -> bytes:
        """The photo's bytes."""
        return photo_bytes(self.data)


def photo_bytes(text: str) -> bytes:
    """A photo's base64 (standard alphabet, strictly), decoded; at most :data:`MAX_PHOTO`."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("not_an_image", "not base64") from exc
    if not data or len(data) > MAX_PHOTO:
        raise _refuse("not_an_image", "a photo of at most 5 MiB")
    return data


class NewMissingPerson(_Strict):
    """A missing-person report as the operator (or a script) takes it down."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "person": PERSON_EXAMPLE,
            "last_seen": {"time": "2026-11-02T18:30:00+07:00",
                          "place": {"country": "VN", "province": "Tây Ninh",
                                    "details": "Mộc Bài border gate, the market"}},
            "reporter_relation": "parent",
            "narrative": "Left with a woman who promised work in a restaurant in Phnom Penh; "
                         "no news since.",
            "reporter": {"name": "Nguyễn Văn Hùng", "phone": "+84 98 765 4321"}}]})
    person: MissingPerson
    last_seen: LastSeen | None = None
    reporter_relation: Relation
    narrative: Narrative | None = None
    reporter: Reporter | None = None
    photo: Photo | None = None


class CloseReport(_Strict):
    """Close a report: why (a code), and a note (the use case needs one for ``other``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "returned-home",
                                         "note": "Came home on 20 November; mother called."}]})
    reason: CloseReason
    note: Annotated[StrictStr, Field(min_length=1, max_length=1000),
                    AfterValidator(_lines)] | None = None


class MatchQuery(_Strict):
    """``POST /api/matches``: a found person (PERSON), and how many matches to answer."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "person": PERSON_EXAMPLE, "limit": 10}]})
    person: MissingPerson
    limit: Annotated[StrictInt, Field(ge=1, le=50)] = 10
