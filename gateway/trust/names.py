"""What nodes and units are called, in each language: the one place the console, printed
documents, signed documents and prefilled forms take a name from; and the language a node
speaks first (its country's).

Names come from, the later winning language by language:

1. the repository's profiles (``partners/<id>.toml``, ``[name]``), which name every partner
   agency and this node itself;
2. the repository's unit names (``partners/units/*.toml``), for units that are not partner
   nodes, such as the hotlines ``vn.hotline-111``;
3. the operator's units file (``<BX_DATA_DIR>/units.toml``, written by ``gateway users unit``),
   where an operator names the units of their node;
4. the operator's partner files (a partner's own file is the operator's word on it).

Both units files hold one table per unit::

    [units."vn.hotline-111"]
    vi = "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111"
    en = "National Child Protection Hotline 111, Viet Nam"

A unit without a name in the reader's language is shown in English, then in any language it
has, and only as a last resort by its id.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Final

import tomli_w

from gateway.protocol.errors import N_, GatewayError
from gateway.trust.files import one_line, write_atomically
from gateway.trust.partners import PartnerDirectory

log = logging.getLogger("gateway.trust")

#: The languages a name may be kept in (the console's and the documents').
NAME_LANGUAGES: Final = ("vi", "en", "km", "lo")
#: The language each member country speaks, by the prefix of its nodes' ids.
COUNTRY_LANGUAGES: Final = {"vn": "vi", "kh": "km", "la": "lo"}
#: The operator's units file, in the node's data folder.
UNITS_FILE: Final = "units.toml"
#: The repository's unit names, a folder beside the profiles.
REPOSITORY_UNITS: Final = "units"
#: What a unit id looks like (gateway.access.users.UNIT; trust may not import access).
UNIT_ID: Final = re.compile(r"[a-z]{2}\.[a-z0-9-]{2,40}")
#: The longest name kept (a unit's name is printed in headers and signed documents).
MAX_NAME: Final = 200

Names = dict[str, dict[str, str]]


def home_language(node_id: str) -> str:
    """The language of a node's country (from its id): vi, km or lo; English for another."""
    return COUNTRY_LANGUAGES.get(node_id.split(".", 1)[0], "en")


class UnitNamesError(GatewayError):
    """A units file, or a name given for one, that cannot be used; the message names the file
    (or the option) and what is wrong."""


def units_file(data_dir: Path) -> Path:
    """The operator's units file of the node whose data folder is ``data_dir``."""
    return data_dir / UNITS_FILE


def check_name(unit: str, lang: str, text: object, where: str) -> str:
    """``text`` as a name of ``unit`` in ``lang``, stripped; raise :class:`UnitNamesError`
    saying ``where`` (a file or an option) if it cannot be one."""
    if not UNIT_ID.fullmatch(unit):
        raise UnitNamesError(N_("{where}: {unit!r} is not a unit id such as vn.hotline-111"),
                             where=where, unit=unit)
    if lang not in NAME_LANGUAGES:
        raise UnitNamesError(N_("{where}: {unit} {lang}: a name is kept in vi, en, km or lo"),
                             where=where, unit=unit, lang=lang)
    cleaned = text.strip() if isinstance(text, str) else ""
    if not one_line(cleaned, MAX_NAME):
        raise UnitNamesError(N_("{where}: {unit} {lang}: a name is one line of 1 to {most} "
                                "characters"), where=where, unit=unit, lang=lang,
                             most=MAX_NAME)
    return cleaned


def read_unit_names(path: Path) -> Names:
    """``unit -> lang -> name`` of a units file (nothing when there is no file); raise
    :class:`UnitNamesError` naming the file and the entry that is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UnitNamesError(N_("{where}: cannot be read: {error}"), where=path,
                             error=exc) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnitNamesError(N_("{where}: not TOML: {error}"), where=path, error=exc) from exc
    units = data.get("units", {})
    if set(data) - {"units"} or not isinstance(units, dict):
        raise UnitNamesError(N_("{where}: holds only [units.\"<unit id>\"] tables"),
                             where=path)
    found: Names = {}
    for unit, names in units.items():
        if not isinstance(names, dict):
            raise UnitNamesError(N_("{where}: [units.\"{unit}\"] is a table of names by "
                                    "language"), where=path, unit=unit)
        found[unit] = {lang: check_name(unit, lang, value, str(path))
                       for lang, value in names.items()}
    return found


def write_unit_names(path: Path, unit: str, names: dict[str, str]) -> Names:
    """Set the names of ``unit`` (by language) in the units file at ``path``, keeping its
    other names and units; answers the file's names. A broken file is left as it is."""
    given = {lang: check_name(unit, lang, text, f"--{lang}") for lang, text in names.items()}
    found = read_unit_names(path)
    found[unit] = {**found.get(unit, {}), **given}
    ordered: Names = {u: {str(lang): found[u][lang] for lang in NAME_LANGUAGES
                          if lang in found[u]} for u in sorted(found)}
    header = ("# Names of this node's units that are not partners, by language: the console\n"
              "# and signed documents show them. 'gateway users unit' writes this file.\n")
    body = header + tomli_w.dumps({"units": ordered})
    write_atomically(path, body.encode("utf-8"), mode=0o644)
    return ordered


@lru_cache(maxsize=4)
def _profiles(profiles_dir: Path) -> Names:
    """``id -> lang -> name`` of every profile and of the repository's units (read once per
    folder: they change with the code)."""
    found: Names = {}
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
    for path in sorted((profiles_dir / REPOSITORY_UNITS).glob("*.toml")):
        try:
            units = read_unit_names(path)
        except UnitNamesError as exc:  # a test keeps the repository's files good
            log.warning("unit names not read: %s", exc)
            continue
        for unit, names in units.items():
            found[unit] = {**found.get(unit, {}), **names}
    return found


class NameBook:
    """Names of nodes and units by language, over the profiles, the units files and the
    partner directory. The operator's units file is read again when it changes (``gateway
    users unit`` writes it while the node runs)."""

    def __init__(self, profiles_dir: Path, partners: PartnerDirectory,
                 units_path: Path | None = None) -> None:
        self.profiles_dir = profiles_dir
        self.partners = partners
        self.units_path = units_path
        self._lock = threading.Lock()
        self._units_seen: tuple[int, int] | None = None
        self._units: Names = {}

    def operator_units(self) -> Names:
        """The operator's unit names; a broken file names nothing (and is logged once per
        change), so the console shows ids rather than stale or half-read names."""
        if self.units_path is None:
            return {}
        try:
            info = self.units_path.stat()
            seen: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except OSError:
            seen = None
        with self._lock:
            if seen == self._units_seen:
                return self._units
        try:
            units = read_unit_names(self.units_path) if seen else {}
        except UnitNamesError as exc:
            log.warning("unit names not read: %s", exc)
            units = {}
        with self._lock:
            self._units_seen, self._units = seen, units
        return units

    def names(self, node_id: str) -> dict[str, str]:
        """Every name ``node_id`` has, by language (empty when it has none)."""
        names = dict(_profiles(self.profiles_dir).get(node_id, {}))
        names.update(self.operator_units().get(node_id, {}))
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

    def known(self, country: str | None = None) -> list[str]:
        """Every node and unit that has a name (of one country, by its id's prefix)."""
        ids = {*_profiles(self.profiles_dir), *self.operator_units(),
               *(p.node_id for p in self.partners.all())}
        return sorted(i for i in ids if country is None or i.startswith(f"{country}."))
