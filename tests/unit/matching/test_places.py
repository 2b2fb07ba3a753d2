"""Home places with and without accents and with their abbreviations."""

from __future__ import annotations

import pytest

from gateway.matching.person import Home
from gateway.matching.places import (
    COUNTRY,
    DISAGREE,
    DISTRICT,
    PROVINCE,
    compare_homes,
    place_key,
    prepare_home,
)


@pytest.mark.parametrize(("ours", "theirs"), [
    ("Tây Ninh", "Tay Ninh"), ("Tây Ninh", "tỉnh Tây Ninh"), ("Tây Ninh", "TAY NINH"),
    ("Hồ Chí Minh", "TP HCM"), ("Hồ Chí Minh", "tp. Hồ Chí Minh"), ("Hồ Chí Minh", "TP.HCM"),
    ("Hồ Chí Minh", "Thành phố Hồ Chí Minh"), ("Hồ Chí Minh", "Ho Chi Minh City"),
    ("Hồ Chí Minh", "Sài Gòn"), ("Quận 1", "Q. 1"), ("huyện Gò Dầu", "H. Gò Dầu"),
    ("xã Phước Chỉ", "Phuoc Chi"), ("phường Bến Thành", "P. Ben Thanh"),
    ("Thanh Hóa", "Thanh Hoá"), ("Svay Rieng", "Khet Svay Rieng"),
    ("Svay Rieng", "Svay Rieng Province"), ("Svay Rieng", "Svayrieng"),
    ("Champasak", "Champassak"), ("Vientiane", "Viangchan"),
    ("Savannakhet", "Khoueng Savannakhet")])
def test_the_same_place(ours: str, theirs: str) -> None:
    assert place_key(ours) == place_key(theirs)


@pytest.mark.parametrize(("ours", "theirs"), [
    ("Tây Ninh", "Ninh Bình"), ("Hà Giang", "Hà Nam"), ("Thanh Hóa", "Hòa Bình"),
    ("Kandal", "Kampot"), ("An Giang", "Kiên Giang")])
def test_other_places(ours: str, theirs: str) -> None:
    assert place_key(ours) != place_key(theirs)


def home(province: str | None, district: str | None = None, country: str | None = "VN"
         ) -> Home:
    return Home(country, province, district, None)


def level(a: Home, b: Home) -> str | None:
    x, y = prepare_home(a), prepare_home(b)
    assert x is not None
    assert y is not None
    return compare_homes(x, y).level


def test_homes_compared_to_the_deepest_place_both_know() -> None:
    assert level(home("Tây Ninh", "Gò Dầu"), home("Tay Ninh", "huyen Go Dau")) == DISTRICT
    assert level(home("Tây Ninh", "Gò Dầu"), home("Tay Ninh")) == PROVINCE
    assert level(home("Tây Ninh", "Gò Dầu"), home("Tay Ninh", "Trảng Bàng")) == PROVINCE
    assert level(home("Tây Ninh"), home("An Giang")) == DISAGREE
    assert level(home("Tây Ninh"), home(None)) == COUNTRY
    assert level(home("Svay Rieng", country="KH"), home("Svay Rieng", country="VN")) == DISAGREE


def test_the_reason_says_both_as_written() -> None:
    x, y = prepare_home(home("Tây Ninh")), prepare_home(home("Tay Ninh"))
    assert x is not None
    assert y is not None
    compared = compare_homes(x, y)
    assert compared.template.format(**compared.values) == "home: Tây Ninh = Tay Ninh"


def test_nothing_known_is_nothing_to_compare() -> None:
    assert prepare_home(None) is None
    assert prepare_home(Home(None, None, None, "xã")) is None
