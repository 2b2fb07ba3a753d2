"""The ``alert`` an escalated tip sends to a partner (MESSAGES.md, alert): built from the tip
as recorded and what the operator adds on escalating; signed afterwards, so nothing in it is
made up here (no translated names, no guessed times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.access.sessions import Principal
from gateway.cases.commands import Escalation
from gateway.cases.tip_views import PersonAtRisk, TipView
from gateway.cases.work import CaseWork
from gateway.trust.names import NAME_LANGUAGES, home_language

#: The language an escalated alert is written in (its situation, and its contact unit's name).
ALERT_LANG: Final = "vi"


def birth(person: PersonAtRisk) -> dict[str, object]:
    """A caller's person's age as the documents' ``birth`` element carries it."""
    found: dict[str, object] = {}
    if person.get("estimated_age") is not None:
        found["estimated-age"] = person["estimated_age"]
    if person.get("age_uncertain"):
        found["@age-uncertain"] = True
    return found


def _utc_text(value: str | datetime) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        value.replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact_unit_names(cw: CaseWork, unit: str, lang: str, reader: str | None
                       ) -> list[dict[str, str]]:
    """The alert's contact unit by its names (``Unit/name``, each tagged with its language):
    in the alert's language, in the reading partner's and in English, as far as the unit has
    them (never a translation made up here: the alert is signed). A unit with none of these
    is named in a language it has; one with no name anywhere, by its id (``gateway users
    unit`` names it)."""
    names = cw.node.names.names(unit)
    wanted = [lang, home_language(reader) if reader else lang, "en"]
    chosen = [code for code in dict.fromkeys(wanted) if names.get(code)]
    if not chosen:
        chosen = [code for code in NAME_LANGUAGES if names.get(code)][:1]
    if not chosen:
        return [{"@lang": lang, "#text": unit}]
    return [{"@lang": code, "#text": names[code]} for code in chosen]


def alert_document(cw: CaseWork, tip: TipView, case_reference: str, body: Escalation,
                   principal: Principal) -> dict[str, object]:
    """The alert's document (as the forms take it) for the case opened from ``tip``."""
    location = tip.location or {}
    place: dict[str, object] = {"country": location.get("country") or tip.foreign_country}
    for key in ("province", "district"):
        if location.get(key):
            place[key] = location[key]
    if location.get("details"):
        place["details"] = [{"@lang": ALERT_LANG, "#text": location["details"]}]
    persons = []
    for index, person in enumerate(tip.persons, start=1):
        entry: dict[str, object] = {"@person-id": f"A{index}"}
        if person.get("name_latin"):
            entry["name"] = {k: v for k, v in (("native", person.get("name_native")),
                                               ("latin", person["name_latin"])) if v}
        entry["sex"] = person["sex"]
        if birth(person):
            entry["birth"] = birth(person)
        if person.get("nationality"):
            entry["nationality"] = person["nationality"]
        persons.append(entry)
    last_seen = body.last_seen or tip.last_seen_at
    assert last_seen is not None, "the caller checks that the alert says when"
    now = cw.clock()
    return {
        "case-reference": case_reference, "person": persons, "last-known-location": place,
        "last-seen": _utc_text(last_seen),
        "danger": "imminent" if tip.danger == "imminent" else "not-imminent",
        "situation": [{"@lang": ALERT_LANG, "#text": body.situation or tip.narrative}],
        "reporter-relation": tip.reporter_relation,
        "requested-action": list(body.requested_action),
        "contact": {"unit": {"@node": cw.node.node_id,
                             "name": contact_unit_names(cw, principal.unit, ALERT_LANG,
                                                        body.alert_to)},
                    "duty-phone": body.duty_phone or "",
                    "available-until": (now + timedelta(hours=12)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")}}
