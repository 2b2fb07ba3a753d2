"""The name book: where names of nodes and units come from, which one wins, the operator's
units file (written, re-read, refused when wrong), and the language a node speaks first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w

from gateway.access import users
from gateway.trust.names import (
    NAME_LANGUAGES,
    UNIT_ID,
    NameBook,
    UnitNamesError,
    home_language,
    read_unit_names,
    write_unit_names,
)
from gateway.trust.partners import PartnerDirectory
from tests.conftest import ALL_TYPES, REPO
from tests.unit.trust.test_partners import partner_data, write

PROFILES = REPO / "partners"


def book(tmp_path: Path) -> NameBook:
    return NameBook(PROFILES, PartnerDirectory(tmp_path / "partners", ALL_TYPES),
                    tmp_path / "units.toml")


def test_a_unit_id_is_what_an_account_may_belong_to() -> None:
    assert UNIT_ID.pattern == users.UNIT.pattern  # trust keeps its own copy (layers)


def test_a_node_speaks_its_countrys_language_first() -> None:
    assert [home_language(n) for n in ("vn.c02", "kh.blo-bavet", "la.atd", "th.dsdw")] == [
        "vi", "km", "lo", "en"]


def test_every_repository_unit_is_named_in_the_four_languages() -> None:
    files = sorted((PROFILES / "units").glob("*.toml"))
    assert [f.stem for f in files] == ["kh", "la", "vn"]
    for path in files:
        units = read_unit_names(path)
        assert units, path.name
        for unit, names in units.items():
            assert unit.startswith(f"{path.stem}."), unit  # each country's file its own
            assert set(names) == set(NAME_LANGUAGES), unit


def test_profiles_units_and_partner_files_name_nodes_in_the_readers_language(
        tmp_path: Path) -> None:
    names = book(tmp_path)
    assert names.name("vn.c02", "km") == "នាយកដ្ឋាននគរបាលព្រហ្មទណ្ឌ ក្រសួងសន្តិសុខសាធារណៈ វៀតណាម"
    assert names.name("kh.blo-bavet", "lo") == (
        "ຫ້ອງການປະສານງານຊາຍແດນ ບາເວັດ (ແຂວງສວາຍຣຽງ), ກຳປູເຈຍ")
    assert names.name("vn.hotline-111", "vi") == "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111"
    assert names.name("vn.hotline-111", "en") == "National Child Protection Hotline 111, Viet Nam"
    assert names.name("vn.hotline-999", "vi") is None  # nobody named it: the id is shown
    assert "vn.hotline-111" in names.known("vn")
    assert "kh.ahtjp" not in names.known("vn")
    # The operator's partner file is their word on a partner: it wins, language by language.
    directory = names.partners
    write(directory.directory, partner_data(name={"vi": "Cục AHTJP (tên riêng)", "en": "x"}))
    assert directory.reload() == []
    assert names.name("kh.ahtjp", "vi") == "Cục AHTJP (tên riêng)"
    assert names.name("kh.ahtjp", "km") == "នាយកដ្ឋានប្រឆាំងការជួញដូរមនុស្ស និងការពារអនីតិជន"


def test_the_operator_names_a_unit_and_the_running_book_reads_it(tmp_path: Path) -> None:
    names = book(tmp_path)
    path = tmp_path / "units.toml"
    assert names.name("kh.hotline-1280", "km") is None
    written = write_unit_names(path, "kh.hotline-1280", {"km": " ខ្សែទូរស័ព្ទបន្ទាន់ ១២៨០ ",
                                                          "en": "Hotline 1280"})
    assert written["kh.hotline-1280"] == {"en": "Hotline 1280", "km": "ខ្សែទូរស័ព្ទបន្ទាន់ ១២៨០"}
    assert names.name("kh.hotline-1280", "km") == "ខ្សែទូរស័ព្ទបន្ទាន់ ១២៨០"
    assert names.name("kh.hotline-1280", "lo") == "Hotline 1280"  # English next
    # A second unit and a second language keep what was there; the repository's own unit
    # names are overridden language by language, not dropped.
    write_unit_names(path, "kh.hotline-1280", {"vi": "Đường dây nóng 1280"})
    write_unit_names(path, "vn.hotline-111", {"en": "Hotline 111 (Tay Ninh desk)"})
    assert read_unit_names(path)["kh.hotline-1280"] == {
        "vi": "Đường dây nóng 1280", "en": "Hotline 1280", "km": "ខ្សែទូរស័ព្ទបន្ទាន់ ១២៨០"}
    assert names.name("vn.hotline-111", "en") == "Hotline 111 (Tay Ninh desk)"
    assert names.name("vn.hotline-111", "vi") == "Tổng đài điện thoại quốc gia bảo vệ trẻ em 111"
    assert oct(path.stat().st_mode & 0o777) == "0o644"  # names are not secrets


@pytest.mark.parametrize(("unit", "names", "said"), [
    ("kh.hotline-1280", {"km": "  "}, "--km: kh.hotline-1280 km: a name is one line"),
    ("kh.hotline-1280", {"km": "a\nb"}, "a name is one line"),
    ("kh.hotline-1280", {"km": "x" * 201}, "1 to 200 characters"),
    ("kh.hotline-1280", {"th": "สายด่วน"}, "--th: kh.hotline-1280 th: a name is kept in vi, en"),
    ("Hotline 1280", {"km": "x"}, "'Hotline 1280' is not a unit id"),
])
def test_a_bad_name_is_refused_and_changes_nothing(tmp_path: Path, unit: str,
                                                   names: dict[str, str], said: str) -> None:
    path = tmp_path / "units.toml"
    write_unit_names(path, "kh.hotline", {"en": "Hotline"})
    before = path.read_bytes()
    with pytest.raises(UnitNamesError) as caught:
        write_unit_names(path, unit, names)
    assert said in str(caught.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize(("text", "said"), [
    ("[units.\"kh.hotline\"\n", "units.toml: not TOML"),
    ("name = \"x\"\n", "units.toml: holds only [units.\"<unit id>\"] tables"),
    ("[units]\n\"kh.hotline\" = \"x\"\n", "[units.\"kh.hotline\"] is a table of names"),
    ("[units.\"kh.hotline\"]\nkm = 3\n", "kh.hotline km: a name is one line"),
    ("[units.\"KH hotline\"]\nkm = \"x\"\n", "'KH hotline' is not a unit id"),
])
def test_a_broken_units_file_is_named_and_the_book_shows_ids_instead(
        tmp_path: Path, text: str, said: str) -> None:
    names = book(tmp_path)
    path = tmp_path / "units.toml"
    path.write_text(tomli_w.dumps({"units": {"kh.hotline-1280": {"en": "Hotline 1280"}}}))
    assert names.name("kh.hotline-1280", "en") == "Hotline 1280"
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a changed file, even within one tick of the clock
    with pytest.raises(UnitNamesError) as caught:
        read_unit_names(path)
    assert str(path) in str(caught.value)
    assert said in str(caught.value)
    assert names.name("kh.hotline-1280", "en") is None  # no stale name from before
    with pytest.raises(UnitNamesError):
        write_unit_names(path, "kh.hotline-1280", {"en": "Hotline"})  # the file is not lost
    assert path.read_text(encoding="utf-8") == text
