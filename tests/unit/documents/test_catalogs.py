"""The translation catalogs: complete in every locale, nothing fuzzy, every schema label and
code-list value present, and in step with the strings of the code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from gateway.documents.catalog import LOCALES, Catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.model import walk
from gateway.documents.registry import SchemaRegistry
from tests.conftest import REPO, SCHEMAS

TRANSLATIONS = REPO / "translations"
PYBABEL = str(Path(sys.executable).with_name("pybabel"))


def load(locale: str, folder: Path = TRANSLATIONS) -> Catalog:
    with (folder / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def problems_of(catalog: Catalog, expected: set[tuple[str | None, str]]) -> list[str]:
    """What is wrong with a catalog: missing, empty or fuzzy entries."""
    found = {(m.context, m.id): m for m in catalog if m.id}
    out = [f"missing {key}" for key in sorted(expected - set(found), key=str)]
    for key, message in found.items():
        if not message.string:
            out.append(f"untranslated {key}")
        if message.fuzzy:
            out.append(f"fuzzy {key}")
    return out


def schema_labels() -> set[tuple[str | None, str]]:
    forms = DocumentForms(SchemaRegistry.load(SCHEMAS))
    labels: set[tuple[str | None, str]] = set()
    for doc_type in forms.registry.types():
        model = forms.model(doc_type)
        labels.add(("field", doc_type))
        for _, field in walk(model):
            labels.add(("field", field.name))
            labels.update(("code", value) for value in field.enumeration)
    return labels


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str | None, str]]:
    """What ``make translations`` extracts from the code, templates and schemas now."""
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([PYBABEL, "extract", "-F", "babel.cfg", "-k", "both", "-k", "text:2",
                    "-k", "t:2", "-k", "C_:1c,2", "--ignore-dirs", ".* __pycache__ var",
                    "-o", str(out), "."], cwd=REPO, check=True, capture_output=True)
    with out.open("rb") as handle:
        return {(m.context, m.id) for m in read_po(handle) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_catalog_is_complete(locale: str, extracted: set[tuple[str | None, str]]
                                   ) -> None:
    assert problems_of(load(locale), extracted | schema_labels()) == []


def test_the_completeness_check_fails_when_one_string_is_removed(
        tmp_path: Path, extracted: set[tuple[str | None, str]]) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    po = copy / "km" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    removed = text.replace('msgctxt "field"\nmsgid "consent"\nmsgstr "ការយល់ព្រម"\n', "")
    assert removed != text
    po.write_text(removed, encoding="utf-8")
    assert problems_of(load("km", copy), extracted) == ["missing ('field', 'consent')"]
    emptied = text.replace('msgid "Password"\nmsgstr "ពាក្យសម្ងាត់"',
                           'msgid "Password"\nmsgstr ""')
    po.write_text(emptied, encoding="utf-8")
    assert problems_of(load("km", copy), extracted) == ["untranslated (None, 'Password')"]
    po.write_text(text.replace('msgid "Password"\n', '#, fuzzy\nmsgid "Password"\n', 1),
                  encoding="utf-8")
    assert "fuzzy (None, 'Password')" in problems_of(load("km", copy), extracted)


def test_every_schema_label_is_extracted(extracted: set[tuple[str | None, str]]) -> None:
    assert schema_labels() - extracted == set()


def test_the_compiled_catalogs_translate() -> None:
    catalogs = Catalogs(TRANSLATIONS)
    assert catalogs.field("vi", "handover-record") == "Biên bản bàn giao"
    assert catalogs.code("vi", "victim") == "Nạn nhân bị mua bán"
    assert catalogs.field("km", "consent") == "ការយល់ព្រម"
    assert catalogs.field("lo", "nationality") == "ສັນຊາດ"
    assert catalogs.field("en", "mla-needed") == "Mutual legal assistance needed"
    assert catalogs.text("vi", "Not found") == "Không tìm thấy"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_refusal_that_names_its_input_names_it_first_in_every_language(locale: str) -> None:
    """The console shows a refusal beside the input it names without the input's path
    (``web/console/pages.py::beside`` drops the ``{where}: `` it starts with): every
    translation keeps it first."""
    moved = [m.id for m in load(locale) if isinstance(m.id, str)
             and m.id.startswith("{where}: ") and not str(m.string).startswith("{where}: ")]
    assert moved == []
