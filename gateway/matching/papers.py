"""Identity papers and phones, normalised to be compared exactly.

A paper's number is upper case without spaces, dashes or dots, compared with its kind and
issuing country: the same paper on both sides is decisive. A phone is brought to E.164 for Viet
Nam (+84), Cambodia (+855) and Laos (+856), from its national form (a leading 0) or its
international one (+, 00); a national number whose country is not known is read in all three.
"""

from __future__ import annotations

from gateway.matching.person import Paper

_KINDS = {
    "passport": "passport", "p": "passport", "pp": "passport",
    "id-card": "id-card", "id": "id-card", "idcard": "id-card", "identity-card": "id-card",
    "national-id": "id-card", "cccd": "id-card", "cmnd": "id-card", "cmt": "id-card",
    "i": "id-card", "c": "id-card", "a": "id-card",
}
#: Country calling codes and the length of the national significant number they take.
CALLING = {"VN": ("84", (9, 10)), "KH": ("855", (8, 9)), "LA": ("856", (8, 9, 10))}
_BY_CODE = sorted(((code, country) for country, (code, _) in CALLING.items()),
                  key=lambda pair: -len(pair[0]))


def paper_kind(kind: str) -> str:
    """A paper's kind brought to one spelling (passport, id-card, or as written)."""
    flat = kind.strip().lower().replace("_", "-").replace(" ", "-")
    return _KINDS.get(flat, flat)


def paper_number(number: str) -> str:
    """A paper's number upper case, letters and digits only."""
    return "".join(c for c in number.upper() if c.isalnum())


def paper_key(paper: Paper) -> tuple[str, str, str | None]:
    """What identifies a paper: its kind, number and issuing country."""
    return paper_kind(paper.kind), paper_number(paper.number), paper.country


def papers_agree(a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> bool:
    """The same paper: same kind and number, and the same country where both say one."""
    return a[0] == b[0] and a[1] == b[1] and (a[2] is None or b[2] is None or a[2] == b[2])


def papers_comparable(a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> bool:
    """Two papers of the same kind and country: a different number says they differ."""
    return a[0] == b[0] and a[2] is not None and a[2] == b[2]


def phone_numbers(phone: str, country: str | None) -> frozenset[str]:
    """The E.164 forms a phone may be (one when its country is known or written)."""
    text = phone.strip()
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        return frozenset()
    if text.startswith("+") or digits.startswith("00"):
        return frozenset({"+" + digits.removeprefix("00")})
    if digits.startswith("0"):
        national = digits.lstrip("0")
        countries = [country] if country in CALLING else list(CALLING)
        return frozenset(f"+{CALLING[c][0]}{national}" for c in countries if c)
    for code, named in _BY_CODE:
        if digits.startswith(code) and len(digits) - len(code) in CALLING[named][1]:
            return frozenset({"+" + digits})
    if country in CALLING:
        return frozenset({f"+{CALLING[country][0]}{digits}"})
    return frozenset({"+" + digits})
