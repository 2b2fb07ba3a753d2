"""Typed commands of the case use cases, validated once: the local API takes them as request
bodies and the console's form parser builds the same objects (:func:`parse`), so a rule lives
in one place and both answer a refusal naming its field. Code lists come from the lifecycle
and the protocol, not restated here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.cases.lifecycle import REFERRAL_KINDS, Kind, Origin, Role
from gateway.cases.people import PersonFacts, presumed_child
from gateway.cases.work import CaseError
from gateway.protocol.encoding import JsonObject
from gateway.protocol.envelope import AttachmentType, Handling, Lang, Priority
from gateway.protocol.errors import N_

Sex = Literal["female", "male", "other", "unknown"]
Text = Annotated[str, Field(max_length=4000)]
Short = Annotated[str, Field(max_length=200)]
Channel = Literal["phone", "sms", "chat", "email", "web", "walk-in", "other"]
Relation = Literal["self", "parent", "relative", "friend", "neighbour", "teacher", "employer",
                   "official", "ngo-worker", "anonymous", "other"]
Danger = Literal["imminent", "not-imminent", "unknown"]
Classification = Literal["trafficking", "smuggling", "labour-dispute", "other", "duplicate"]
Urgency = Literal["immediate", "urgent", "routine"]
Action = Literal["locate", "rescue", "intercept-at-border", "check-address",
                 "provide-information", "other"]
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
    #: the person found, added in the same step (one action from "found a person")
    person: NewPerson | None = None


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


class Referral(BaseModel):
    """Where a person received back was referred (the home side, after the handover)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "kind": "social-protection-centre",
            "facility": "Trung tâm Công tác xã hội tỉnh Tây Ninh",
            "note": "Received with her mother; first assessment on Monday."}]},
    )
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    facility: Annotated[str, Field(min_length=1, max_length=200)]
    note: Text | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in REFERRAL_KINDS:
            raise ValueError(", ".join(REFERRAL_KINDS))
        return value


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
            raise CaseError("invalid-request", N_("give a name (native or Latin script)"),
                            "name_native")
        if self.birth_year is not None and self.birth_year > today.year:
            raise CaseError("invalid-request", N_("the year of birth is in the future"),
                            "birth_year")
        age = self.estimated_age if self.estimated_age is not None else (
            today.year - self.birth_year if self.birth_year is not None else None)
        birth: JsonObject = {}
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


# -- hotline tips ---------------------------------------------------------------------------

class TipPerson(BaseModel):
    """What the caller knows of a person at risk (minimal)."""

    model_config = ConfigDict(extra="forbid")
    name_native: Short | None = None
    name_latin: (
        Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z][A-Za-z '.\-]*$")] | None
    ) = None
    sex: Sex = "unknown"
    estimated_age: Annotated[int, Field(ge=0, le=120)] | None = None
    age_uncertain: bool = False
    nationality: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class TipLocation(BaseModel):
    """Where it happens (possibly abroad)."""

    model_config = ConfigDict(extra="forbid")
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    province: Short | None = None
    district: Short | None = None
    details: Annotated[str, Field(max_length=1000)] | None = None


class TipReporter(BaseModel):
    """Who called: kept apart, shown to supervisors only."""

    model_config = ConfigDict(extra="forbid")
    name: Short | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None


class NewTip(BaseModel):
    """A tip as the operator takes it down."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel": "phone",
                    "reporter_relation": "parent",
                    "danger": "imminent",
                    "narrative": "Con gái 15 tuổi bị giữ ở nhà nghỉ tại Bavet, "
                    "sắp bị chuyển đi tối nay.",
                    "location": {"country": "KH", "province": "Svay Rieng", "district": "Bavet"},
                    "foreign_country": "KH",
                    "child_involved": True,
                    "persons": [
                        {
                            "name_latin": "LO Thi Suong",
                            "sex": "female",
                            "estimated_age": 15,
                            "age_uncertain": True,
                            "nationality": "VN",
                        }
                    ],
                    "reporter_identity": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"},
                }
            ]
        },
    )
    channel: Channel
    received_at: datetime | None = None
    last_seen_at: datetime | None = None
    reporter_relation: Relation
    narrative: Annotated[str, Field(min_length=1, max_length=4000)]
    location: TipLocation | None = None
    foreign_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    child_involved: bool = False
    danger: Danger
    indicators: list[Annotated[str, Field(pattern=r"^[a-z-]{1,40}$")]] = Field(
        default_factory=list, max_length=10
    )
    persons: list[TipPerson] = Field(default_factory=list, max_length=10)
    reporter_identity: TipReporter | None = None


class TipTriage(BaseModel):
    """Classification and urgency."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"classification": "trafficking", "urgency": "immediate"}]},
    )
    classification: Classification
    urgency: Urgency
    duplicate_of: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class Escalation(BaseModel):
    """Open a case; with ``alert_to``, send an immediate alert to that partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "alert_to": "kh.ahtjp",
                    "duty_phone": "+84 24 3826 9111",
                    "requested_action": ["locate", "rescue"],
                }
            ]
        },
    )
    alert_to: Annotated[str, Field(max_length=48)] | None = None
    duty_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()\-]{6,30}$")] | None = None
    requested_action: list[Action] = Field(
        default_factory=lambda: list[Action](["locate", "rescue"]), min_length=1, max_length=6
    )
    situation: Annotated[str, Field(max_length=4000)] | None = None
    last_seen: datetime | None = None
    handling: Handling = "H1"
    # Triage may come in the same call: one action for the operator.
    classification: Literal["trafficking", "smuggling", "labour-dispute", "other"] | None = None
    urgency: Urgency | None = None


# -- documents to partners -------------------------------------------------------------------

class DraftAttachment(BaseModel):
    """A file to send with the document (base64; JPEG, PNG or PDF up to 5 MiB)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    media_type: AttachmentType
    data: Annotated[str, Field(max_length=7 * 1024 * 1024)]


class NewDraft(BaseModel):
    """A document as JSON: the same fields as its XML schema (see docs/operations.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "case-closure",
                    "to": "kh.blo-bavet",
                    "priority": "routine",
                    "handling": "H1",
                    "lang": "vi",
                    "document": {
                        "case-reference": "VN-BLO-MOCBAI-2026-00001",
                        "outcome": "reintegrated",
                        "closure-reason": "follow-up-complete",
                        "closed-on": "2026-12-20",
                        "officer": {
                            "name": {"latin": "TRAN Van Nam"},
                            "unit": {"name": [{"@lang": "vi", "#text": "BLO Mộc Bài"}]},
                        },
                    },
                }
            ]
        },
    )
    type: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[str, Field(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}$")] = "1.0"
    to: Annotated[str, Field(min_length=1, max_length=48)]
    ref: Annotated[str, Field(max_length=36)] | None = None
    priority: Priority = "routine"
    handling: Handling = "H0"
    lang: Lang = "vi"
    document: dict[str, Any]
    attachments: list[DraftAttachment] = Field(default_factory=list, max_length=10)


#: The validation problems a form meets, said in the catalogs' words (pydantic's own are
#: English); others keep pydantic's text.
_PROBLEMS: Final = {
    "missing": N_("{where}: required"),
    "string_too_short": N_("{where}: at least {min_length} characters"),
    "string_too_long": N_("{where}: at most {max_length} characters"),
    "too_long": N_("{where}: at most {max_length} items"),
    "string_pattern_mismatch": N_("{where}: not in the expected form"),
    "literal_error": N_("{where}: one of {expected}"),
    "int_parsing": N_("{where}: a whole number"),
    "int_type": N_("{where}: a whole number"),
    "greater_than_equal": N_("{where}: at least {ge}"),
    "less_than_equal": N_("{where}: at most {le}"),
    "date_parsing": N_("{where}: a date (year-month-day)"),
    "date_from_datetime_parsing": N_("{where}: a date (year-month-day)"),
    "datetime_parsing": N_("{where}: a date and time"),
    "datetime_from_date_parsing": N_("{where}: a date and time"),
    "timezone_aware": N_("{where}: a date and time"),
    "bool_parsing": N_("{where}: yes or no"),
    "extra_forbidden": N_("{where}: not a field of this form"),
    "int_from_float": N_("{where}: a whole number"),
    "string_type": N_("{where}: not in the expected form"),
    "not_an_image": N_("{where}: a JPEG or PNG image of at most 5 MiB"),
    "control_character": N_("{where}: contains a control character"),
}


def parse(model: type[C], values: Mapping[str, object]) -> C:
    """A command from a posted form (empty inputs left out); the first refusal names its
    field, as the API's does, in words the catalogs translate."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v not in ("", None)})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        context = {k: str(v).replace(" or ", ", ") for k, v in (first.get("ctx") or {}).items()}
        template = _PROBLEMS.get(first["type"])
        if first["type"] in ("date_parsing", "date_from_datetime_parsing") \
                and "outside expected range" in str(context.get("error", "")):
            # 2011-02-30: in the form of a date, but no day of the calendar
            template = N_("{where}: {value} is not a day of the calendar")
            context = {"value": str(first.get("input"))[:20]}
        if template is not None:
            try:
                template.format(where=where, **context)
            except (KeyError, IndexError, ValueError):
                template = None
        if template is None:
            raise CaseError("invalid-request", N_("{where}: {problem}"), where, where=where,
                            problem=first.get("msg")) from exc
        raise CaseError("invalid-request", template, where, where=where, **context) from exc


NewCase.model_rebuild()


class SearchIn(BaseModel):
    """A search of cases and persons (posted: names and numbers never go in a URL)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"q": "nguyen thi hoa"}]})
    q: Annotated[str, Field(min_length=1, max_length=200)]
