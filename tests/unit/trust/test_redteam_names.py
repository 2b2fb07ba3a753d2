"""Red team of issue 22: unit names travel in signed documents (prefilled) and head every
page; the operator's units file holds them to one line of 1 to 200 characters
(``names.check_name``).

FAILS on the code as red-teamed (the finding of the report): ``check_name`` lets through
characters XML cannot carry, so a name an operator pastes with one makes every document that
prefills it refused on a field nobody typed; and a partner's file (the profile it hands over)
is held to nothing at all.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from gateway.trust.names import UnitNamesError, check_name
from gateway.trust.partners import PartnerFileError, read_partner_file
from tests.conftest import ALL_TYPES, REPO


@pytest.mark.parametrize("name", ["Đồn\x0bBiên phòng", "BLO\x00Mộc Bài", "BLO\x1b[8m"])
def test_a_unit_name_xml_cannot_carry_is_refused(name: str) -> None:
    # FAILS: accepted as it is
    with pytest.raises(UnitNamesError):
        check_name("vn.blo-mocbai", "vi", name, "--vi")


@pytest.mark.parametrize("name", ["x" * 5000, "Bavet\u000bOffice"])
def test_a_partners_name_is_held_to_the_units_rule(tmp_path: Path, name: str) -> None:
    profile = tomllib.loads((REPO / "partners" / "kh.blo-bavet.toml").read_text("utf-8"))
    profile["name"]["en"] = name
    path = tmp_path / "kh.blo-bavet.toml"
    path.write_text(tomli_w.dumps(profile), encoding="utf-8")
    # FAILS: read, and the name then goes into every document addressed to the partner
    with pytest.raises(PartnerFileError):
        read_partner_file(path, ALL_TYPES, profile=True)
