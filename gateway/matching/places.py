"""Home places compared with and without accents and with their common abbreviations.

A place name is reduced to a key: Latin letters without marks, the words that only say what
kind of place it is dropped (tỉnh, thành phố, TP., huyện, quận, Q., H., xã, phường, P., thị
xã, khet, province, srok, khan, sangkat, khum, krong, muang, khoueng, ban...), a few known
other names brought to one (TP HCM, Sài Gòn: Hồ Chí Minh; Viangchan: Vientiane), the words run
together and given their phonetic key ("Tay Ninh", "Tây Ninh" and "tỉnh Tây Ninh" are one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.matching.names import phonetic, plain
from gateway.matching.person import Home
from gateway.protocol.errors import N_

#: Levels of agreement of two homes, from the strongest.
COMMUNE, DISTRICT, PROVINCE, COUNTRY, DISAGREE = (
    "commune", "district", "province", "country", "disagree")
LEVELS = (COMMUNE, DISTRICT, PROVINCE, COUNTRY, DISAGREE)

_WORDS = re.compile(r"[a-z0-9]+")
# Words that say the kind of place, dropped wherever they stand ("tp." "TP" "thanh pho").
_KIND_WORDS = frozenset({
    "tp", "tinh", "huyen", "quan", "q", "h", "xa", "phuong", "p", "tx", "tt", "thi", "tran",
    "thanh", "pho", "khet", "province", "provincial", "district", "srok", "khan", "sangkat",
    "khum", "krong", "city", "municipality", "capital", "muang", "meuang", "mueang",
    "khoueng", "khouang", "kwaeng", "ban", "village", "commune", "ward", "town", "phum",
})
# "thanh" and "thi" are also parts of real names (Thanh Hoá, Thị Vải): dropped only as the
# first word of a longer name, with the word that follows them ("thanh pho", "thi xa").
_KIND_PAIRS = (("thanh", "pho"), ("thi", "xa"), ("thi", "tran"))
_KEEP = frozenset({"thanh", "thi", "ban"})
_ALIASES = {
    "hcm": "hochiminh", "tphcm": "hochiminh", "hcmc": "hochiminh", "saigon": "hochiminh",
    "hn": "hanoi", "viangchan": "vientiane", "vientianecapital": "vientiane",
    "phnumpenh": "phnompenh", "champasack": "champasak",
}


def place_key(name: str | None) -> str | None:
    """The comparable key of a place name; None when it has none."""
    if not name:
        return None
    words = _WORDS.findall(plain(name))
    if len(words) > 2 and tuple(words[:2]) in _KIND_PAIRS:
        words = words[2:]
    words = [w for w in words if w not in _KIND_WORDS or w in _KEEP]
    joined = "".join(words)
    if not joined:
        return None
    return phonetic(_ALIASES.get(joined, joined))


@dataclass(frozen=True, slots=True)
class PreparedHome:
    """A home ready to compare: its country and the keys of its places, the names as written
    kept for the reasons."""

    country: str | None
    province: str | None
    district: str | None
    commune: str | None
    written: tuple[str, ...]


def prepare_home(home: Home | None) -> PreparedHome | None:
    """A home ready to compare; None when nothing of it is known."""
    if home is None:
        return None
    made = PreparedHome(home.country, place_key(home.province), place_key(home.district),
                        place_key(home.commune),
                        tuple(p.strip() for p in (home.commune, home.district, home.province)
                              if p and p.strip()))
    if made.country is None and made.province is None and made.district is None:
        return None
    return made


@dataclass(frozen=True, slots=True)
class HomeComparison:
    """How two homes agree (a level of ``LEVELS``), said with a template and its values;
    None: nothing to compare."""

    level: str | None
    template: str
    values: dict[str, str]


def compare_homes(a: PreparedHome, b: PreparedHome) -> HomeComparison:
    """How two homes agree: the deepest place both know and agree on."""
    values = {"ours": ", ".join(a.written) or (a.country or ""),
              "theirs": ", ".join(b.written) or (b.country or "")}
    if a.country and b.country and a.country != b.country:
        return HomeComparison(DISAGREE, N_("home: {ours} ≠ {theirs}"), values)
    if a.province and b.province:
        if a.province != b.province:
            return HomeComparison(DISAGREE, N_("home: {ours} ≠ {theirs}"), values)
        level = PROVINCE
        if a.district and b.district:
            if a.district != b.district:
                return HomeComparison(PROVINCE, N_("home: {ours} = {theirs}"), values)
            level = DISTRICT
            if a.commune and b.commune and a.commune == b.commune:
                level = COMMUNE
        return HomeComparison(level, N_("home: {ours} = {theirs}"), values)
    if a.country and a.country == b.country:
        return HomeComparison(COUNTRY, N_("home: the same country, {country}"),
                              {"country": a.country})
    return HomeComparison(None, "", {})
