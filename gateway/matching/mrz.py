"""An identity paper's machine-readable zone (ICAO Doc 9303): read, every check digit verified.

TD3 (passports: two lines of 44 characters, part 4) and TD1 (identity cards: three lines of
30, part 5). What is read fills a person's name, sex, birth, nationality and paper
(:meth:`MachineReadableZone.person_fields`). A zone whose check digit does not hold is refused
with an error naming that check digit (:class:`MrzError`); nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pycountry

from gateway.protocol.errors import N_, GatewayError

_ALLOWED = re.compile(r"\A[A-Z0-9<]+\Z")
_WEIGHTS = (7, 3, 1)
# Codes of ICAO 9303 part 3 that are not ISO 3166-1 alpha-3.
_SPECIAL = {"D": "DE", "GBD": "GB", "GBN": "GB", "GBO": "GB", "GBP": "GB", "GBS": "GB",
            "RKS": "XK"}


class MrzError(GatewayError, ValueError):
    """A machine-readable zone that cannot be read or whose check digit does not hold
    (``part``: which one, for a check digit)."""

    code = "invalid-request"
    field = "mrz"

    def __init__(self, message: str, /, *, part: str | None = None, **values: object) -> None:
        super().__init__(message, **values)
        self.part = part


@dataclass(frozen=True, slots=True)
class MachineReadableZone:
    """What a machine-readable zone says, its check digits verified."""

    format: str  # "TD1" or "TD3"
    kind: str  # passport, id-card, visa, travel-document
    document_code: str
    issuing_state: str
    number: str
    surname: str
    given_names: str
    sex: str  # female, male, unknown
    birth: str  # YYYY-MM-DD
    expiry: str  # YYYY-MM-DD
    nationality_code: str
    nationality: str | None  # ISO 3166-1 alpha-2, None for a code that is not a country

    def person_fields(self) -> dict[str, object]:
        """The fields of the contract's PERSON this zone fills."""
        return {"name_latin": f"{self.surname} {self.given_names}".strip(), "sex": self.sex,
                "birth": self.birth, "nationality": self.nationality,
                "papers": [{"kind": self.kind, "number": self.number,
                            "country": alpha2(self.issuing_state)}]}


def check_digit(text: str) -> int:
    """ICAO 9303's check digit of a field: weights 7, 3, 1; A-Z are 10-35, '<' is 0."""
    total = 0
    for i, c in enumerate(text):
        value = int(c) if c.isdigit() else 0 if c == "<" else ord(c) - 55
        total += value * _WEIGHTS[i % 3]
    return total % 10


def alpha2(code: str) -> str | None:
    """The ISO 3166-1 alpha-2 of an ICAO 9303 state code (VNM → VN); None if none."""
    code = code.replace("<", "")
    if code in _SPECIAL:
        return _SPECIAL[code]
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    return country.alpha_2 if country is not None else None


def read_mrz(text: str, *, today: date) -> MachineReadableZone:
    """Read a TD1 or TD3 zone as typed or pasted (spaces and line breaks tolerated)."""
    lines = [re.sub(r"\s", "", line).upper() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    if len(lines) == 1 and len(lines[0]) in (88, 90):
        size = 44 if len(lines[0]) == 88 else 30
        lines = [lines[0][i:i + size] for i in range(0, len(lines[0]), size)]
    if [len(line) for line in lines] == [44, 44]:
        made = _td3(lines, today)
    elif [len(line) for line in lines] == [30, 30, 30]:
        made = _td1(lines, today)
    else:
        raise MrzError(N_("machine-readable zone: neither two lines of 44 characters (TD3) "
                          "nor three lines of 30 (TD1)"))
    return made


def _allowed(lines: list[str]) -> None:
    for line in lines:
        if _ALLOWED.match(line) is None:
            raise MrzError(N_("machine-readable zone: only A-Z, 0-9 and < may be written"))


def _verify(field: str, digit: str, part: str, *, optional: bool = False) -> None:
    if optional and digit == "<" and set(field) <= {"<"}:
        return
    if not digit.isdigit() or check_digit(field) != int(digit):
        raise MrzError(_CHECKS[part], part=part)


_CHECKS = {
    "number": N_("machine-readable zone: the check digit of the document number does not "
                 "hold"),
    "birth": N_("machine-readable zone: the check digit of the date of birth does not hold"),
    "expiry": N_("machine-readable zone: the check digit of the date of expiry does not hold"),
    "optional": N_("machine-readable zone: the check digit of the optional data does not "
                   "hold"),
    "composite": N_("machine-readable zone: the composite check digit does not hold"),
}


def _date(text: str, today: date, *, past: bool) -> str:
    try:
        yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:6])
        year = 2000 + yy
        if (past and year > today.year) or (not past and year > today.year + 50):
            year -= 100
        return date(year, mm, dd).isoformat()
    except ValueError:
        if past:
            raise MrzError(N_("machine-readable zone: the date of birth is not a date"),
                           part="birth") from None
        raise MrzError(N_("machine-readable zone: the date of expiry is not a date"),
                       part="expiry") from None


def _sex(code: str) -> str:
    return {"F": "female", "M": "male"}.get(code, "unknown")


def _kind(code: str) -> str:
    first = code[0]
    return {"P": "passport", "V": "visa", "I": "id-card", "A": "id-card",
            "C": "id-card"}.get(first, "travel-document")


def _names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return (surname.replace("<", " ").strip(),
            " ".join(given.replace("<", " ").split()))


def _td3(lines: list[str], today: date) -> MachineReadableZone:
    _allowed(lines)
    one, two = lines
    number, birth, expiry, optional = two[0:9], two[13:19], two[21:27], two[28:42]
    _verify(number, two[9], "number")
    _verify(birth, two[19], "birth")
    _verify(expiry, two[27], "expiry")
    _verify(optional, two[42], "optional", optional=True)
    _verify(two[0:10] + two[13:20] + two[21:43], two[43], "composite")
    surname, given = _names(one[5:44])
    nationality = two[10:13].replace("<", "")
    return MachineReadableZone(
        "TD3", _kind(one[0:2]), one[0:2].replace("<", ""), one[2:5].replace("<", ""),
        number.replace("<", ""), surname, given, _sex(two[20]),
        _date(birth, today, past=True),
        _date(expiry, today, past=False), nationality, alpha2(nationality))


def _td1(lines: list[str], today: date) -> MachineReadableZone:
    _allowed(lines)
    one, two, three = lines
    number, digit = one[5:14], one[14]
    if digit == "<" and one[15] != "<":
        # A number longer than nine: it goes on in the optional data, its check digit last.
        rest = one[15:30].split("<", 1)[0]
        number, digit = number + rest[:-1], rest[-1]
    _verify(number, digit, "number")
    birth, expiry = two[0:6], two[8:14]
    _verify(birth, two[6], "birth")
    _verify(expiry, two[14], "expiry")
    _verify(one[5:30] + two[0:7] + two[8:15] + two[18:29], two[29], "composite")
    surname, given = _names(three)
    nationality = two[15:18].replace("<", "")
    return MachineReadableZone(
        "TD1", _kind(one[0:2]), one[0:2].replace("<", ""), one[2:5].replace("<", ""),
        number.replace("<", ""), surname, given, _sex(two[7]),
        _date(birth, today, past=True),
        _date(expiry, today, past=False), nationality, alpha2(nationality))
