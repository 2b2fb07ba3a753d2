"""Countries and languages for the forms' selects, named in the reader's language (Babel's
CLDR data), the region's first. The codes are the standards' own: ISO 3166-1 countries and
ISO 639 languages as pycountry lists them, so that no pseudo-locale or grouping of CLDR
("Pseudo-Accents", "European Union", "Unknown Region") is ever offered as a country."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import pycountry
from babel import Locale

#: Viet Nam, Cambodia, Laos, then the neighbours trafficking routes cross.
FIRST_COUNTRIES: Final = ("VN", "KH", "LA", "TH", "CN", "MM", "MY")
#: The region's languages first: the three countries', the common one, the neighbours', and
#: the minority languages officers meet at these borders (BCP 47 tags, as SpokenLanguage).
FIRST_LANGUAGES: Final = ("vi", "km", "lo", "en", "th", "zh", "my", "hmn")
#: Languages a two- or three-letter tag beyond ISO 639-1 may name where CLDR has their name.
_MINORITY: Final = ("hmn", "kjg", "cja", "jra", "rhg", "shn", "kac")


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=8)
def countries(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every ISO 3166-1 country: the region first, then by name."""
    names = {str(k): str(v) for k, v in Locale.parse(lang).territories.items()}
    codes = _country_codes()
    english = {c.alpha_2: c.name for c in pycountry.countries}
    named = {code: names.get(code) or english[code] for code in codes}
    rest = sorted((c for c in codes if c not in FIRST_COUNTRIES), key=lambda c: named[c])
    return tuple((c, named[c]) for c in (*FIRST_COUNTRIES, *rest))


def country_name(code: str | None, lang: str) -> str:
    """A country code's name in ``lang`` (the code itself if it is none)."""
    return dict(countries(lang)).get(code or "", code or "")


@lru_cache(maxsize=8)
def languages(lang: str) -> tuple[tuple[str, str], ...]:
    """(tag, name) of the languages a person may speak, named in ``lang``: the region's
    first, then every ISO 639-1 language CLDR names in ``lang`` (and the minority languages
    it names) by name."""
    names = {str(k): str(v) for k, v in Locale.parse(lang).languages.items()}
    english = {entry.alpha_2: entry.name for entry in pycountry.languages
               if hasattr(entry, "alpha_2")}
    # only the languages CLDR names in the reader's language: never an English name on a
    # Khmer page (a handful of rare languages are left out of the Khmer list)
    tags = {t for t in english if t in names} | {t for t in _MINORITY if t in names}
    named = {tag: names.get(tag) or english.get(tag, tag) for tag in tags | set(FIRST_LANGUAGES)}
    rest = sorted((t for t in tags if t not in FIRST_LANGUAGES), key=lambda t: named[t])
    return tuple((t, named[t]) for t in (*FIRST_LANGUAGES, *rest))


def language_name(tag: str | None, lang: str) -> str:
    """A language tag's name in ``lang`` (the tag itself if it names none)."""
    return dict(languages(lang)).get(tag or "", tag or "")
