"""Machine-readable zones (ICAO 9303 parts 4 and 5): the ICAO specimens read, every check
digit verified, a corrupted digit refused by name."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.matching.mrz import MrzError, alpha2, check_digit, read_mrz
from gateway.matching.person import Person

TODAY = date(2026, 11, 24)
# ICAO Doc 9303 part 4 (TD3) and part 5 (TD1) specimens.
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<\n"
       "7408122F1204159UTO<<<<<<<<<<<6\n"
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")


def test_check_digits() -> None:
    assert check_digit("L898902C3") == 6
    assert check_digit("740812") == 2
    assert check_digit("120415") == 9
    assert check_digit("<<<<") == 0


def test_td3_specimen() -> None:
    zone = read_mrz(TD3, today=TODAY)
    assert (zone.format, zone.kind, zone.number) == ("TD3", "passport", "L898902C3")
    assert (zone.surname, zone.given_names, zone.sex) == ("ERIKSSON", "ANNA MARIA", "female")
    assert (zone.birth, zone.expiry) == ("1974-08-12", "2012-04-15")
    assert (zone.nationality_code, zone.nationality) == ("UTO", None)  # Utopia is no country


def test_td1_specimen() -> None:
    zone = read_mrz(TD1, today=TODAY)
    assert (zone.format, zone.kind, zone.number) == ("TD1", "id-card", "D23145890")
    assert (zone.surname, zone.given_names, zone.birth) == ("ERIKSSON", "ANNA MARIA",
                                                            "1974-08-12")


def test_pasted_on_one_line_with_spaces_and_lower_case() -> None:
    pasted = TD3.replace("\n", "").lower()
    assert read_mrz(" ".join([pasted[:20], pasted[20:]]), today=TODAY).number == "L898902C3"


@pytest.mark.parametrize(("position", "part"), [
    (1, "number"), (14, "birth"), (24, "expiry"), (30, "optional"), (43, "composite")])
def test_td3_a_corrupted_digit_is_refused_by_name(position: int, part: str) -> None:
    one, two = TD3.split("\n")
    digit = two[position]
    changed = str((int(digit) + 1) % 10) if digit.isdigit() else "Z" if digit != "Z" else "Y"
    with pytest.raises(MrzError) as refused:
        read_mrz(f"{one}\n{two[:position]}{changed}{two[position + 1:]}", today=TODAY)
    assert refused.value.part == part
    assert refused.value.code == "invalid-request"


@pytest.mark.parametrize(("line", "position", "part"), [
    (0, 7, "number"), (0, 14, "number"), (1, 3, "birth"), (1, 10, "expiry"),
    (1, 29, "composite")])
def test_td1_a_corrupted_digit_is_refused_by_name(line: int, position: int, part: str
                                                  ) -> None:
    lines = TD1.split("\n")
    digit = lines[line][position]
    lines[line] = (lines[line][:position] + str((int(digit) + 1) % 10)
                   + lines[line][position + 1:])
    with pytest.raises(MrzError) as refused:
        read_mrz("\n".join(lines), today=TODAY)
    assert refused.value.part == part
    assert "check digit" in str(refused.value)


def test_a_vietnamese_passport_fills_the_person() -> None:
    one = "P<VNMNGUYEN<<THI<LAN<<<<<<<<<<<<<<<<<<<<<<<<"
    number, birth, expiry = "C1234567<", "110305", "310304"
    body = (f"{number}{check_digit(number)}VNM{birth}{check_digit(birth)}F"
            f"{expiry}{check_digit(expiry)}{'<' * 14}<")
    composite = check_digit(body[0:10] + body[13:20] + body[21:43])
    zone = read_mrz(f"{one}\n{body}{composite}", today=TODAY)
    assert (zone.nationality, zone.birth, zone.number) == ("VN", "2011-03-05", "C1234567")
    person = Person.from_json(zone.person_fields())
    assert person.name_latin == "NGUYEN THI LAN"
    assert person.papers[0].country == "VN"


def test_alpha3_to_alpha2() -> None:
    assert [alpha2(c) for c in ("VNM", "KHM", "LAO", "THA", "CHN", "D<<", "UTO")] == [
        "VN", "KH", "LA", "TH", "CN", "DE", None]


@pytest.mark.parametrize("text", [
    "", "P<UTO", TD3 + "\nX", TD3.replace("<", "*"), "\n".join(["A" * 30] * 3),
    TD3.replace("7408122", "7413122")])
def test_what_is_not_a_zone_is_refused(text: str) -> None:
    with pytest.raises(MrzError):
        read_mrz(text, today=TODAY)


def test_a_huge_paste_is_refused() -> None:
    with pytest.raises(MrzError):
        read_mrz("P<" * 100_000, today=TODAY)
