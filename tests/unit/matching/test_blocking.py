"""Blocking keys: every variation keeps a key in common with its original; a common surname
alone is not a key."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.matching.blocking import blocking_keys, shortlist
from gateway.matching.model import prepare
from gateway.matching.person import Person

ASOF = date(2026, 3, 1)


def keys(name: str, native: str | None = None, **more: Any) -> frozenset[str]:
    return blocking_keys(prepare(Person.from_json(
        {"name_latin": name, "name_native": native, **more}), ASOF))


@pytest.mark.parametrize(("original", "variant"), [
    ("Nguyễn Thị Lan", "NGUYEN THI LAN"), ("Nguyễn Thị Lan", "Lan Nguyen"),
    ("Nguyễn Thị Lan", "Nguyen T. Lan"), ("Nguyễn Thị Lan", "Nguyễn Lan"),
    ("Hoàng Thị Mai", "Huynh Thi Mai"), ("Vũ Văn Long", "Vo Van Long"),
    ("Nguyễn Thị Phương", "Nguyen Thi Phuogn"), ("Lê Thị Hòa", "Le Thi Hoa"),
    ("Sok Sreymom", "SOK SREY MOM"), ("Sok Sreymom", "Sok Srey-Mom"),
    ("Souksavanh Keo", "Souksavan Keo"), ("Somphone Vongsa", "Sompone Wongsa"),
    ("Khamphone Keo", "Kham Phone Keo"), ("Nguyễn Văn Anh", "Nguyen Van Ahn")])
def test_every_variation_shares_a_key(original: str, variant: str) -> None:
    # Without a birth or a province: the name alone must do.
    assert keys(original) & keys(variant)


def test_native_script_only_shares_a_key() -> None:
    assert keys("SOK SREYMOM", "សុខ ស្រីមុំ") & keys("", "សុខ ស្រីមុំ")
    assert keys("VILAY KEO", "ວິໄລ ແກ້ວ") & keys("", "ວິໄລ ແກ້ວ")
    assert keys("VILAY KEO") & keys("", "ວິໄລ ແກ້ວ")


def test_a_common_surname_alone_is_not_a_key() -> None:
    made = keys("Nguyễn Thị Lan", birth="2011", home={"country": "VN", "province": "Tây Ninh"})
    assert "n:nguien" not in made
    assert "n:nguien|y:2011" in made
    assert "n:nguien|p:tainin" in made
    assert "n:lan" in made
    assert not keys("Nguyễn Thị Lan") & keys("Nguyễn Văn Hùng")


def test_an_estimated_age_is_indexed_under_its_years() -> None:
    made = keys("Nguyễn Thị Lan", estimated_age=16)
    assert {"n:nguien|y:2007", "n:nguien|y:2012"} <= made
    assert keys("Nguyễn Lan Anh", birth="2011") & keys("Nguyen Lan Anh", estimated_age=16)


def test_papers_and_phones_are_keys() -> None:
    paper = [{"kind": "CCCD", "number": "079 123", "country": "VN"}]
    assert "d:id-card|079123" in keys("Lan", papers=paper)
    assert "t:+84912345678" in keys("Lan", phones=["0912345678"], nationality="VN")


def test_the_shortlist_keeps_those_sharing_the_most_keys() -> None:
    postings = [[1, 2, 3], [2, 3], [3], [4]]
    assert shortlist(postings, 2) == [3, 2]
    assert shortlist(postings) == [3, 2, 1, 4]
    assert shortlist([], 5) == []


def test_two_variations_at_once_still_share_a_key() -> None:
    assert keys("Khamsing Manivong") & keys("KHAM SING MANOWONG")
    assert keys("Prum Kosal") & keys("", "ព្រំ កុសល")
    assert keys("SENGPHET THAMMAVONG") & keys("Seng Phet Thammavongs")
