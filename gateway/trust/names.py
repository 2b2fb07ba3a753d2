"""What nodes and units are called, in each language: the one place the console, printed
documents and prefilled forms take a name from.

Names come from the partner directory (an operator's partner file wins, as it is theirs) and
from the repository's profiles (``partners/<id>.toml``, which also name this node itself and
the other units of its country). A unit without a name in the reader's language is shown in
English, then in any language it has, and only as a last resort by its id.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Final

from gateway.trust.partners import PartnerDirectory

#: The languages a name may be kept in (the console's and the documents').
NAME_LANGUAGES: Final = ("vi", "en", "km", "lo")


@lru_cache(maxsize=4)
def _profiles(profiles_dir: Path) -> dict[str, dict[str, str]]:
    """``id -> lang -> name`` of every profile (read once per folder)."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(profiles_dir.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue  # a profile is a convenience; `partners check` reports bad ones
        names = data.get("name")
        if isinstance(names, dict):
            found[str(data.get("id", path.stem))] = {
                str(k): str(v) for k, v in names.items()
                if k in NAME_LANGUAGES and isinstance(v, str) and v.strip()}
    return found


class NameBook:
    """Names of nodes and units by language, over the partner directory and the profiles."""

    def __init__(self, profiles_dir: Path, partners: PartnerDirectory) -> None:
        self.profiles_dir = profiles_dir
        self.partners = partners

    def names(self, node_id: str) -> dict[str, str]:
        """Every name ``node_id`` has, by language (empty when it has none)."""
        names = dict(_profiles(self.profiles_dir).get(node_id, {}))
        found = self.partners.get(node_id)
        if found is not None:
            names.update({k: v for k, v in found.file.name.items()
                          if k in NAME_LANGUAGES and v.strip()})
        return names

    def name(self, node_id: str, lang: str) -> str | None:
        """Its name in ``lang``, else in English, else in any language; None if it has none."""
        names = self.names(node_id)
        return names.get(lang) or names.get("en") or next(iter(names.values()), None)

    def exact(self, node_id: str, lang: str) -> str | None:
        """Its name in ``lang`` only (a signed document names a unit in the language its text
        is tagged with, never in another one)."""
        return self.names(node_id).get(lang)
