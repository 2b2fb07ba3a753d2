"""Countries for the forms' selects: ISO 3166 codes with their names in the user's language
(Babel's CLDR data), the region's first."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from babel import Locale

#: Viet Nam, Cambodia, Laos, then the neighbours trafficking routes cross.
FIRST: Final = ("VN", "KH", "LA", "TH", "CN", "MM", "MY")


@lru_cache(maxsize=8)
def countries(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) pairs: the region first, then every other country by name."""
    names = {str(k): str(v) for k, v in Locale.parse(lang).territories.items()}
    codes = [c for c in names if len(c) == 2 and c.isalpha() and c.isupper()]
    rest = sorted((c for c in codes if c not in FIRST), key=lambda c: names[c])
    return tuple((c, names[c]) for c in (*FIRST, *rest))
