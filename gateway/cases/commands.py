"""Typed commands of the case use cases, validated once: the local API takes them as request
bodies and the console's form parser builds the same objects (:func:`parse`), so a rule lives
in one place and both answer a refusal naming its field. Code lists come from the lifecycle
and the protocol, not restated here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.cases.people import PersonFacts, presumed_child
from gateway.cases.work import CaseError
from gateway.protocol.envelope import Priority

Kind = Literal["repatriation", "verification", "investigation", "hotline"]
Origin = Literal["hotline", "blo", "partner", "investigation"]
Role = Literal["victim", "suspect", "witness", "relative"]
Sex = Literal["female", "male", "other", "unknown"]
Text = Annotated[str, Field(max_length=4000)]
C = TypeVar("C", bound=BaseModel)


class NewCase(BaseModel):
    """A case to open in the user's unit."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "kind": "repatriation", "origin": "blo", "partner": "kh.blo-bavet",
            "priority": "urgent", "summary": "Girl found at Bavet, says she is from Tây Ninh"}]},
    )
    kind: Kind
    origin: Origin = "blo"
    partner: Annotated[str, Field(max_length=48)] | None = None
    priority: Priority = "routine"
    summary: Text | None = None


class Transition(BaseModel):
    """Move a case to another state."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to": "screening",
                                         "reason": "Interview held with an interpreter"}]},
    )
    to: Annotated[str, Field(min_length=1, max_length=32)]
    reason: Text | None = None


class BestInterests(BaseModel):
    """A supervisor's best-interests decision for a (presumed) child, with its reasons."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "decision": "return",
            "note": "Mother located and assessed by the provincial DOLISA; return is safe."}]},
    )
    note: Annotated[str, Field(min_length=1, max_length=4000)]
    decision: Literal["return", "no-return"] = "return"


class NewPerson(BaseModel):
    """A person added by hand (documents add theirs on their own); without a ``person_ref``
    the case gives the next local one (``L1``...)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "person_ref": "P1", "role": "victim", "name_native": "Nguyễn Thị Hoa",
            "name_latin": "NGUYEN Thi Hoa", "sex": "female", "nationality": "VN",
            "estimated_age": 15, "age_uncertain": True}]},
    )
    person_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]{1,40}$")] | None = None
    role: Role
    name_native: Annotated[str, Field(max_length=200)] | None = None
    name_latin: Annotated[str, Field(max_length=200)] | None = None
    sex: Sex | None = None
    nationality: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    estimated_age: Annotated[int, Field(ge=0, le=120)] | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    age_uncertain: bool = False
    identifiers: list[Annotated[str, Field(max_length=60)]] = Field(
        default_factory=list, max_length=10)
    phones: list[Annotated[str, Field(max_length=30)]] = Field(default_factory=list,
                                                               max_length=10)

    def facts(self, today: date) -> PersonFacts:
        """The person as the case stores it (a child presumed by age, MESSAGES.md)."""
        if not (self.name_native or self.name_latin):
            raise CaseError("invalid-request", "give a name (native or Latin script)",
                            "name_native")
        if self.birth_year is not None and self.birth_year > today.year:
            raise CaseError("invalid-request", "the year of birth is in the future",
                            "birth_year")
        age = self.estimated_age if self.estimated_age is not None else (
            today.year - self.birth_year if self.birth_year is not None else None)
        birth: dict[str, Any] = {}
        if age is not None:
            birth["estimated-age"] = age
        if self.age_uncertain:
            birth["@age-uncertain"] = True
        return PersonFacts(
            person_ref=self.person_ref or "", role=self.role, native=self.name_native,
            latin=self.name_latin, sex=self.sex or "unknown", nationality=self.nationality,
            presumed_child=presumed_child(birth, today), identifiers=self.identifiers,
            phones=self.phones, details=self.model_dump(exclude_none=True))


class NewNote(BaseModel):
    """A note on a case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Interpreter booked for Thursday."}]},
    )
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class NewTask(BaseModel):
    """A task on a case, with its due day and (optionally) the user who owns it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Call the mother in Hảo Đước",
                                         "due": "2026-12-01"}]},
    )
    title: Annotated[str, Field(min_length=1, max_length=200)]
    due: date
    owner_user: Annotated[str, Field(max_length=64)] | None = None


class TaskDone(BaseModel):
    """A task marked done, with how (optional)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Team sent at 16:20."}]})
    note: Annotated[str, Field(max_length=2000)] | None = None


def parse(model: type[C], values: dict[str, Any]) -> C:
    """A command from a posted form (empty inputs left out); the first refusal names its
    field, as the API's does."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v not in ("", None)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise CaseError("invalid-request", f"{where}: {first.get('msg')}", where) from exc


class SearchIn(BaseModel):
    """A search of cases and persons (posted: names and numbers never go in a URL)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"q": "nguyen thi hoa"}]})
    q: Annotated[str, Field(min_length=1, max_length=200)]
