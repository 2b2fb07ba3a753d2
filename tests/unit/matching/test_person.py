"""The PERSON of the contract, validated strictly: each wrong field named."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.matching.person import Person, PersonError

FULL: dict[str, Any] = {
    "name_latin": "NGUYEN THI LAN", "name_native": "Nguyễn Thị Lan", "sex": "female",
    "birth": "2011-03-05", "estimated_age": None, "nationality": "VN",
    "home": {"country": "VN", "province": "Tây Ninh", "district": "Gò Dầu", "commune": None},
    "papers": [{"kind": "id-card", "number": "079123456789", "country": "VN"}],
    "phones": ["+84 912 345 678"]}


def test_a_person_round_trips() -> None:
    person = Person.from_json(FULL)
    assert Person.from_json(person.to_json()) == person
    assert Person.from_json({"name_latin": "Lan"}).sex == "unknown"


@pytest.mark.parametrize(("change", "field"), [
    ({"name_latin": None}, "name_latin"), ({"name_latin": "x" * 201}, "name_latin"),
    ({"name_latin": "", "name_native": " "}, "name_latin"), ({"name_native": 3}, "name_native"),
    ({"sex": "f"}, "sex"), ({"birth": "2011-02-30"}, "birth"), ({"birth": "11"}, "birth"),
    ({"birth": "0001"}, "birth"), ({"birth": 2011}, "birth"),
    ({"estimated_age": -1}, "estimated_age"), ({"estimated_age": True}, "estimated_age"),
    ({"estimated_age": "16"}, "estimated_age"), ({"nationality": "VNM"}, "nationality"),
    ({"nationality": "XX"}, "nationality"), ({"home": "Tây Ninh"}, "home"),
    ({"home": {"province": "x", "city": "y"}}, "home.city"),
    ({"home": {"province": ["nested"]}}, "home.province"),
    ({"home": {"country": "ZZ"}}, "home.country"),
    ({"papers": {"kind": "id-card"}}, "papers"),
    ({"papers": [{"kind": "id-card"}]}, "papers[0].number"),
    ({"papers": [{"kind": "id-card", "number": "--"}]}, "papers[0].number"),
    ({"papers": [{"kind": "x", "number": "1", "extra": 1}]}, "papers[0].extra"),
    ({"papers": [{"kind": "x", "number": "1"}] * 11}, "papers"),
    ({"phones": ["call me"]}, "phones[0]"), ({"phones": ["1"] * 11}, "phones"),
    ({"phones": [{"n": 1}]}, "phones[0]"), ({"photo": "x"}, "photo")])
def test_a_wrong_field_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(PersonError) as refused:
        Person.from_json({**FULL, **change})
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError)
    assert refused.value.code == "invalid-request"
    assert field in str(refused.value)


def test_name_latin_is_required_even_with_a_native_name() -> None:
    body = dict(FULL)
    del body["name_latin"]
    with pytest.raises(PersonError, match="name_latin"):
        Person.from_json(body)
    assert Person.from_json({"name_latin": "", "name_native": "សុខ ស្រីមុំ"}).name_native


def test_not_an_object() -> None:
    with pytest.raises(PersonError):
        Person.from_json([FULL])


def test_hostile_sizes_are_refused_or_bounded() -> None:
    with pytest.raises(PersonError, match="name_latin"):
        Person.from_json({"name_latin": "A" * 1_000_000})
    with pytest.raises(PersonError, match="name_native"):
        Person.from_json({"name_latin": "Lan", "name_native": "x\x00y"})
    with pytest.raises(PersonError, match="papers"):
        Person.from_json({"name_latin": "Lan", "papers": [[[]]]})


@pytest.mark.parametrize(("field", "value", "code"), [
    ("name_latin", "Lan\u202egnoyuN", "202E"),  # a right-to-left override: reads as another
    ("name_native", "Nguy\u2066ễn", "2066"),
    ("name_latin", "Lan\nNguyen", "000A"),
    ("name_latin", "Lan\x00", "0000"),
    ("name_native", "\u200fសុខ", "200F"),
])
def test_control_and_direction_characters_are_refused_with_their_place(
        field: str, value: str, code: str) -> None:
    with pytest.raises(PersonError, match=field) as refused:
        Person.from_json({**FULL, field: value})
    assert f"U+{code}" in str(refused.value)


def test_the_zero_width_characters_of_khmer_and_lao_writing_are_kept() -> None:
    kept = Person.from_json({**FULL, "name_native": "សុខ\u200bស្រី\u200cមុំ"})
    assert kept.name_native == "សុខ\u200bស្រី\u200cមុំ"
