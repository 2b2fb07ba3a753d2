"""The schema registry over schemas/: strict schemas, examples and counter-examples."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from lxml import etree

from gateway.documents.registry import RegistryError, SchemaRegistry
from gateway.protocol.problems import Problem
from tests.conftest import SCHEMAS

MESSAGES_TYPES = ["verification-request", "verification-response", "repatriation-request",
                  "repatriation-response", "handover-record", "suspect-notice",
                  "investigation-update", "alert", "case-closure", "periodic-report",
                  "checkpoint", "cosignature"]
XS = "{http://www.w3.org/2001/XMLSchema}"
SENSITIVITY = "{urn:bx:meta}sensitivity"
XSD_FILES = sorted(SCHEMAS.glob("*/*.xsd"))


def test_all_twelve_types_of_messages_md_at_version_1_0(registry: SchemaRegistry) -> None:
    assert registry.types() == sorted(MESSAGES_TYPES)
    for doc_type in MESSAGES_TYPES:
        assert registry.versions(doc_type) == ["1.0"]
        assert registry.resolve(doc_type, "1.0").namespace == f"urn:bx:doc:{doc_type}:1"


@pytest.mark.parametrize("doc_type", MESSAGES_TYPES)
def test_examples_are_valid_and_counter_examples_refused_for_their_reason(
        registry: SchemaRegistry, doc_type: str) -> None:
    examples = sorted((SCHEMAS / doc_type / "examples").glob("*.xml"))
    invalid = sorted((SCHEMAS / doc_type / "invalid").glob("*.xml"))
    assert len(examples) >= 2
    assert len(invalid) >= 3
    for path in examples:
        registry.validate(doc_type, "1.0", path.read_bytes())
    for path in invalid:
        data = path.read_bytes()
        reason = re.search(rb'<!-- INVALID \(expect "([^"]+)"\): (.+?) -->', data, re.S)
        assert reason, f"{path.name} must say why it is invalid"
        with pytest.raises(Problem) as caught:
            registry.validate(doc_type, "1.0", data)
        expected = reason.group(1).decode()
        texts = [caught.value.detail] + [e.message + e.path for e in caught.value.errors]
        assert any(expected in text for text in texts), (path.name, texts)


def test_examples_include_a_presumed_child_and_three_scripts() -> None:
    everything = b"".join(p.read_bytes() for p in SCHEMAS.glob("*/examples/*.xml")).decode()
    assert 'age-uncertain="true"' in everything
    assert re.search("[\u1780-\u17ff]", everything), "Khmer text"
    assert re.search("[\u0e80-\u0eff]", everything), "Lao text"
    assert re.search("[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", everything)


@pytest.mark.parametrize("path", XSD_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_field_is_annotated_with_its_sensitivity(path: Path) -> None:
    tree = etree.parse(str(path))
    declarations = tree.findall(f".//{XS}element") + tree.findall(f".//{XS}attribute")
    assert declarations
    for declaration in declarations:
        found = declaration.findall(f"{XS}annotation/{XS}appinfo/{SENSITIVITY}")
        where = f"{path}:{declaration.sourceline} {declaration.get('name')}"
        assert len(found) == 1, f"{where} has no sensitivity"
        assert found[0].text in {"operational", "personal", "special"}, where


@pytest.mark.parametrize("path", XSD_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schemas_are_strict(path: Path) -> None:
    tree = etree.parse(str(path))
    for escape in ("any", "anyAttribute"):
        assert not tree.findall(f".//{XS}{escape}"), f"{path} uses xs:{escape}"
    for declaration in tree.findall(f".//{XS}element") + tree.findall(f".//{XS}attribute"):
        assert declaration.get("type") not in {"xs:string", "xs:anyType", None} \
            or declaration.find(f"{XS}complexType") is not None \
            or declaration.find(f"{XS}simpleType") is not None, \
            f"{path}:{declaration.sourceline} {declaration.get('name')} is untyped text"


def test_code_lists_of_messages_md_are_enumerations() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in XSD_FILES)
    for code in ["possible-victim", "under-identification", "identified-victim", "repatriation",
                 "investigation", "custody", "confirmed", "not-national", "unable-to-confirm",
                 "need-more-information", "locate", "identify", "information",
                 "arrest-request", "suspect", "wanted", "witness", "recruiter", "transporter",
                 "broker", "harbourer", "exploiter", "financier", "imminent"]:
        assert f'<xs:enumeration value="{code}"/>' in text, code
    for grade in "ABCX1234":
        assert f'<xs:enumeration value="{grade}"/>' in text


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def test_a_broken_schema_refuses_to_load(tmp_path: Path) -> None:
    schemas = _copy(tmp_path)
    path = schemas / "alert" / "1.0.xsd"
    path.write_text(path.read_text(encoding="utf-8").replace('type="Danger"', 'type="Nope"'),
                    encoding="utf-8")
    with pytest.raises(RegistryError, match=r"alert/1\.0\.xsd"):
        SchemaRegistry.load(schemas)


def test_a_schema_that_is_not_xml_refuses_to_load(tmp_path: Path) -> None:
    schemas = _copy(tmp_path)
    (schemas / "alert" / "1.0.xsd").write_text("<xs:schema", encoding="utf-8")
    with pytest.raises(RegistryError):
        SchemaRegistry.load(schemas)


def test_wrong_namespace_or_file_name_refuses_to_load(tmp_path: Path) -> None:
    schemas = _copy(tmp_path)
    path = schemas / "alert" / "1.0.xsd"
    path.write_text(path.read_text(encoding="utf-8").replace("urn:bx:doc:alert:1",
                                                             "urn:bx:doc:alert:2"),
                    encoding="utf-8")
    with pytest.raises(RegistryError, match="targetNamespace"):
        SchemaRegistry.load(schemas)
    schemas = _copy(tmp_path / "again")
    (schemas / "alert" / "1.0.xsd").rename(schemas / "alert" / "v1.xsd")
    with pytest.raises(RegistryError, match=r"MAJOR\.MINOR"):
        SchemaRegistry.load(schemas)


def test_unknown_type_or_major_is_unsupported(registry: SchemaRegistry) -> None:
    assert registry.supports("alert", 1)
    assert not registry.supports("alert", 2)
    for doc_type, version in (("visa-request", "1.0"), ("alert", "2.0"), ("alert", "x")):
        with pytest.raises(Problem) as caught:
            registry.resolve(doc_type, version)
        assert caught.value.code == "unsupported-type"
